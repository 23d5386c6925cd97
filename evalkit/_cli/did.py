"""``evalkit did``: run one difference-in-differences estimator on a data file.

The command reads FILE with the ingest readers, calls :func:`evalkit.did.estimate`
and prints either a human summary or, with ``--json``, ``result.to_dict()``.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from evalkit._cli._bounds import numbers, whole
from evalkit._cli._output import echo, echo_json
from evalkit.spec import (
    BASE_PERIODS,
    CONTROLS,
    ESTIMATORS,
    FEW_TREATED_THRESHOLD,
    INFERENCES,
    MAX_DRAWS,
    METHODS,
    RESTRICTIONS,
    SEED_MAX,
    SENSITIVITY_TARGETS,
    VCOVS,
)


def add_parser(subparsers: Any) -> None:
    """Add ``evalkit did`` and its options (the allowed values come from :mod:`evalkit.spec`)."""
    parser = subparsers.add_parser(
        "did",
        help="run one difference-in-differences estimator on a data file",
        description=(
            "Estimate a difference-in-differences effect from FILE (CSV, XLSX, SAV, DTA or "
            "Parquet). Give either --cohort G (first treated period; 0 or empty = never "
            "treated) or --treated D (treatment indicator per row; with --post P, D is the "
            "group indicator and the treatment is D x P)."
        ),
    )
    _add_columns(parser)
    _add_estimator(parser)
    _add_inference(parser)
    _add_sensitivity_and_output(parser)
    parser.set_defaults(handler=run)


def _add_columns(parser: argparse.ArgumentParser) -> None:
    """Add the data file and the columns that name outcome, unit, time and treatment."""
    parser.add_argument("--data", required=True, metavar="FILE", help="input data file")
    parser.add_argument("--outcome", required=True, metavar="Y", help="outcome column")
    parser.add_argument(
        "--unit",
        metavar="ID",
        help="unit id column (optional for a 2x2 on repeated cross-sections)",
    )
    parser.add_argument("--time", metavar="T", help="time period column")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--cohort", metavar="G", help="first treated period per unit (0 or empty = never treated)"
    )
    group.add_argument(
        "--treated", metavar="D", help="treatment (or group, with --post) indicator column"
    )
    parser.add_argument("--post", metavar="P", help="post-period indicator column (with --treated)")


def _add_estimator(parser: argparse.ArgumentParser) -> None:
    """Add the estimator and the specification it is run with."""
    parser.add_argument(
        "--estimator", choices=ESTIMATORS, default="twfe", help="estimator (default: twfe)"
    )
    parser.add_argument(
        "--control",
        choices=CONTROLS,
        default="never",
        help="comparison group for callaway_santanna (default: never)",
    )
    parser.add_argument(
        "--method", choices=METHODS, default="dr", help="callaway_santanna method (default: dr)"
    )
    parser.add_argument(
        "--base-period",
        choices=BASE_PERIODS,
        default="varying",
        help="callaway_santanna base period of pre-treatment effects (default: varying)",
    )
    parser.add_argument(
        "--anticipation",
        type=whole(0),
        default=0,
        metavar="K",
        help="periods before the first treated period that count as treated (default: 0)",
    )
    parser.add_argument(
        "--covariates", default="", metavar="A,B", help="comma-separated covariate columns"
    )
    parser.add_argument("--cluster", metavar="C", help="cluster column (default: the unit)")


def _add_inference(parser: argparse.ArgumentParser) -> None:
    """Add variance, inference and its few-treated rule; the synthetic and subgroup options."""
    parser.add_argument("--vcov", choices=VCOVS, help="variance estimator for analytic inference")
    parser.add_argument(
        "--inference",
        choices=INFERENCES,
        help="inference method (default: analytic, or the few-treated method "
        "when fewer than --few-treated-threshold clusters are treated)",
    )
    parser.add_argument(
        "--few-treated-threshold",
        type=whole(1),
        default=FEW_TREATED_THRESHOLD,
        metavar="N",
        help=f"fewer treated clusters than N count as few (default: {FEW_TREATED_THRESHOLD})",
    )
    parser.add_argument(
        "--subgroup",
        metavar="S",
        help="triple_differences: 0/1 column, 1 for the group the pilot targets inside a unit",
    )
    parser.add_argument(
        "--base",
        choices=("did", "synthetic_did", "synthetic_control"),
        help="triple_differences: estimator applied to the subgroup differences (default: did)",
    )
    parser.add_argument(
        "--n-placebo",
        type=whole(1, MAX_DRAWS),
        metavar="N",
        help="synthetic estimators: placebo assignments (default 199; all when fewer)",
    )


def _add_sensitivity_and_output(parser: argparse.ArgumentParser) -> None:
    """Add HonestDiD sensitivity, seed, level and the JSON output."""
    parser.add_argument(
        "--sensitivity",
        choices=RESTRICTIONS,
        help=(
            "event_study, sun_abraham, imputation, callaway_santanna (universal base period): "
            "HonestDiD robust intervals when parallel trends may fail"
        ),
    )
    parser.add_argument(
        "--bounds",
        metavar="B1,B2",
        type=numbers(0.0),
        help="values of Mbar (relative_magnitudes; default 0.5,1,1.5,2) or M (smoothness)",
    )
    parser.add_argument(
        "--sensitivity-target",
        choices=SENSITIVITY_TARGETS,
        help="effect the sensitivity analysis is about: mean of the post periods (default) "
        "or the first",
    )
    parser.add_argument(
        "--seed", type=whole(0, SEED_MAX), default=0, help="random seed (default: 0)"
    )
    parser.add_argument("--alpha", type=_alpha, default=0.05, help="1 - confidence level")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace) -> int:
    from evalkit.did import estimate

    spec = _spec(args)
    if isinstance(spec, str):  # an option that cannot reach the estimate: a usage error
        echo(f"evalkit did: {spec}", err=True)
        return 2
    frame = _read_data(args.data)
    result = estimate(
        frame,
        spec,
        outcome=args.outcome,
        unit=args.unit,
        time=args.time,
        cohort=args.cohort,
        treated=args.treated,
        post=args.post,
    )
    if args.json:
        echo_json(result.to_dict(), indent=2, allow_nan=False, default=_jsonable)
        for note in result.notes:  # in words for the person running it; the JSON has them too
            echo(f"warning: {note.text}", err=True)
    else:
        echo(result.summary())  # ends with the notes, one "warning: ..." line each
    return 0


def _spec(args: argparse.Namespace) -> Any:
    """Return the specification of the options given, or the line that refuses one of them.

    An option the chosen estimator would not read (:data:`evalkit.spec.READ_BY`) is
    refused rather than ignored, so that every option given reaches the estimate.
    """
    from evalkit.spec import READ_BY, Spec, unread

    extra: dict[str, Any] = {}
    if args.sensitivity:
        extra = {"sensitivity": args.sensitivity}
        extra["sensitivity_target"] = args.sensitivity_target or "mean"
        if args.bounds:
            extra["bounds"] = args.bounds
    else:
        for given, flag in (
            (args.bounds, "--bounds"),
            (args.sensitivity_target, "--sensitivity-target"),
        ):
            if given:
                return f"{flag} needs --sensitivity"
    options = {"subgroup": args.subgroup, "base": args.base, "n_placebo": args.n_placebo}
    spec = Spec(
        estimator=args.estimator,
        control=args.control,
        method=args.method,
        base_period=args.base_period,
        anticipation=args.anticipation,
        covariates=tuple(c.strip() for c in args.covariates.split(",") if c.strip()),
        cluster=args.cluster,
        vcov=args.vcov,
        inference=args.inference,
        few_treated_threshold=args.few_treated_threshold,
        seed=args.seed,
        alpha=args.alpha,
        options={**extra, **{k: v for k, v in options.items() if v is not None}},
    )
    refused = unread(spec)
    if not refused:
        return spec
    name, why = refused[0]
    shown: str = spec.estimator
    if spec.inference is not None and (
        READ_BY[name][2] is not None or (shown, spec.inference) == ("twfe", "conformal")
    ):  # refused for this inference, not for the estimator as such
        shown += f" --inference {spec.inference}"
    return f"--{name.replace('_', '-')} does not apply to --estimator {shown}: {why}"


def _alpha(text: str) -> float:
    """Parse ``--alpha``: a number strictly between 0 and 1 (a usage error otherwise)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1; got {text!r}")
    return value


def _read_data(path: str) -> Any:
    """Read FILE with the ingest readers."""
    from pathlib import Path

    from evalkit.errors import IngestError
    from evalkit.ingest import read_frame

    file = Path(path)
    if not file.is_file():
        raise IngestError(f"{file}: no such file")
    return read_frame(file)


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars for ``json.dumps``."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

"""The entry point :func:`estimate`: check options, run an estimator, choose honest inference."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from evalkit.did import inference as inf
from evalkit.did._common import (
    MIN_SIDE_ANALYTIC,
    WildWeights,
    analytic_row,
    check_choice,
    few_treated_default,
    few_treated_note,
    t_df,
)
from evalkit.did._data import Prepared, anticipate, prepare
from evalkit.did._event import event_study_result
from evalkit.did._event_sensitivity import SENSITIVITY_OPTIONS
from evalkit.did._modern import modern_result
from evalkit.did._synth_result import SYNTHETIC_ESTIMATORS, SYNTHETIC_INFERENCE, synthetic_result
from evalkit.did.bacon import bacon_decomposition
from evalkit.did.conley_taber import conley_taber
from evalkit.did.cs._sensitivity import with_sensitivity
from evalkit.did.notes import Note, Notes
from evalkit.did.regression import Fit, twfe, two_by_two
from evalkit.did.results import DidResult, tidy_frame
from evalkit.did.wild import wild_bootstrap
from evalkit.errors import EstimationError
from evalkit.spec import Estimator, Inference, Spec, Vcov, as_spec

__all__ = [
    "MIN_SIDE_ANALYTIC",
    "Estimator",
    "Inference",
    "Spec",
    "Vcov",
    "estimate",
    "few_treated_default",
]

_REG_OPTIONS = {
    "weights",
    "n_boot",
    "n_perm",
    "n_sim",
    "max_enumerate",
    "ferman_pinto",
    "min_e",
    "max_e",
    "leads",
    "horizons",
    *SENSITIVITY_OPTIONS,
}


def estimate(
    data: pd.DataFrame,
    spec: Spec | None = None,
    *,
    outcome: str,
    unit: str | None = None,
    time: str | None = None,
    cohort: str | None = None,
    treated: str | None = None,
    post: str | None = None,
    notes: Notes | None = None,
    **choices: Any,
) -> Any:
    """Estimate a difference-in-differences effect.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per unit and period (or per respondent for a 2×2 on
        repeated cross-sections).
    spec : Spec, optional
        The analysis choices (:class:`evalkit.spec.Spec`). Without it, give
        them as keywords (``estimator="twfe"``, ``control=...``, see the Spec's
        fields); keywords that are no Spec field are tuning options.
    outcome : str
        Outcome column (rows with a missing outcome are dropped, and the result
        carries a note that counts them).
    unit, time : str, optional
        Unit id (strings work) and period columns. Periods are numbers, or any
        sortable values (dates, ``"2025-10"``) counted in positions.
    cohort : str, optional
        First treated period of each unit, in the time column's units; 0 or empty
        means never treated. Exclusive with ``treated``.
    treated : str, optional
        Treatment indicator per row (1 when that unit is treated in that period);
        with ``post`` it is the group indicator and the treatment is ``treated × post``.
    post : str, optional
        Post-period indicator (2×2).
    notes : Notes, optional
        A collector that receives every note as it arises, so that a caller keeps
        what was noted before an estimate failed; on success it holds the result's
        notes.
    **choices
        Spec fields when ``spec`` is not given: ``estimator`` (required; one of
        :data:`evalkit.spec.ESTIMATORS`), ``control``, ``method``,
        ``base_period``, ``anticipation``, ``covariates``, ``cluster``, ``vcov``,
        ``inference``, ``few_treated_threshold``, ``alpha``, ``event_window``,
        ``seed``. Inference: default analytic, unless there are few clusters
        (:func:`few_treated_default`: fewer than 10, or ``few_treated_threshold`` if
        larger, treated or comparison clusters); then randomization inference
        (``"permutation"``), with a note saying why; for Callaway–Sant'Anna fewer than
        ``few_treated_threshold`` treated clusters (units when there is no cluster).
        When the treatment does not switch on per cluster, Conley–Taber and then the
        wild bootstrap are tried. Other keywords are tuning
        options: 2×2, TWFE and event study ``weights`` ("rademacher"/"webb"),
        ``n_boot`` (9999), ``n_perm`` (1999), ``n_sim`` (1999), ``max_enumerate``
        (20000), ``ferman_pinto`` (True), event study ``min_e``/``max_e``,
        ``sensitivity`` ("relative_magnitudes"/"smoothness": HonestDiD robust
        intervals, see :func:`evalkit.did.sensitivity`; also for Sun–Abraham),
        ``bounds`` (Mbar or M values), ``sensitivity_target`` ("mean" of the
        post-period effects, default, or "first"); imputation ``leads`` (5) and
        ``horizons`` (True: every event time; False: the overall effect only);
        Callaway–Sant'Anna ``n_perm`` (999), ``max_enumerate`` (1000), ``panel``,
        ``bootstrap``/``n_boot``, ``balance_e``, ... The synthetic estimators
        (``synthetic_did``, ``synthetic_control``, ``triple_differences``; balanced
        panel, ``treated`` or ``cohort``) take ``inference`` ``"placebo"`` (default),
        ``"conformal"`` (one start date) or ``"jackknife"`` (more than one treated
        unit), and options ``n_placebo``, ``grid``, ``eta_omega``; triple
        differences also ``subgroup`` and ``base`` (see :mod:`evalkit.did.synthetic`).
        TWFE also takes ``"conformal"`` on a balanced panel with one start date.

    Returns
    -------
    DidResult or CsResult
        A frozen result with ``tidy()``, ``summary()``, ``to_dict()``, ``_repr_html_()``.
        Its ``notes`` are every warning of this estimate (dropped rows, one-unit
        cohorts, few treated clusters, coarse inference), as codes with values and
        English text (``warnings``); no Python warning is issued.

    Raises
    ------
    EstimationError
        Bad options or data (the message names the column, unit or rows).
    """
    spec = as_spec(spec, choices)
    sink = Notes() if notes is None else notes
    design = {"cohort": cohort, "treated": treated, "post": post}
    result = _estimate(data, spec, sink, outcome=outcome, unit=unit, time=time, **design)
    sink.add(*result.notes)
    return result


def _estimate(
    data: pd.DataFrame,
    spec: Spec,
    sink: Notes,
    *,
    outcome: str,
    unit: str | None,
    time: str | None,
    cohort: str | None,
    treated: str | None,
    post: str | None,
) -> Any:
    """Run the estimator of ``spec``; ``sink`` gets the notes that arise before a failure."""
    columns = {"outcome": outcome, "unit": unit, "time": time}
    if spec.estimator in SYNTHETIC_ESTIMATORS or (
        spec.estimator == "twfe" and spec.inference == "conformal"
    ):
        return synthetic_result(
            data, spec, outcome=outcome, unit=unit, time=time, treated=treated, cohort=cohort
        )
    if spec.inference in SYNTHETIC_INFERENCE:
        raise EstimationError(
            f"inference={spec.inference!r} is for the synthetic estimators "
            f"({', '.join(SYNTHETIC_ESTIMATORS)}; twfe also offers 'conformal'); estimator "
            f"{spec.estimator!r} offers 'analytic', 'bootstrap', 'wild', 'permutation', "
            "'conley_taber'"
        )
    if spec.estimator == "callaway_santanna":
        asked = {o: spec.options[o] for o in SENSITIVITY_OPTIONS if spec.options.get(o) is not None}
        if not asked:
            return _callaway_santanna(data, spec, cohort=cohort, treated=treated, **columns)
        rest = {k: v for k, v in spec.options.items() if k not in SENSITIVITY_OPTIONS}
        result = _callaway_santanna(
            data, spec.with_(options=rest), cohort=cohort, treated=treated, **columns
        )
        return with_sensitivity(result, asked, seed=spec.seed)
    prep, chosen_vcov = _regression_data(
        data, spec, **columns, cohort=cohort, treated=treated, post=post
    )
    sink.add(*prep.notes)
    if spec.estimator == "event_study":
        return event_study_result(prep, chosen_vcov, spec)
    if spec.estimator in ("imputation", "sun_abraham"):
        return modern_result(prep, spec)
    fit = two_by_two(prep, chosen_vcov) if spec.estimator == "2x2" else twfe(prep, chosen_vcov)
    components = bacon_decomposition(prep) if spec.estimator == "bacon" else None
    return _coefficient_result(spec, prep, fit, chosen_vcov, components, sink)


def _regression_data(data: pd.DataFrame, spec: Spec, **design: Any) -> tuple[Prepared, str]:
    """Check the regression estimators' options, prepare the data, choose the variance.

    Shared by :func:`estimate` and :func:`evalkit.did.several.estimate_inferences`.
    """
    unknown = set(spec.options) - _REG_OPTIONS
    if unknown:
        raise EstimationError(
            f"unknown option(s) {', '.join(sorted(unknown))} for estimator {spec.estimator!r}; "
            f"allowed: {', '.join(sorted(_REG_OPTIONS))}"
        )
    event_studies = ("event_study", "sun_abraham", "imputation")
    if spec.estimator not in event_studies and any(
        spec.options.get(o) is not None for o in SENSITIVITY_OPTIONS
    ):
        raise EstimationError(
            "the sensitivity analysis (sensitivity=, bounds=) needs an event study "
            "(estimator='event_study', 'sun_abraham', 'imputation' or 'callaway_santanna'); "
            f"got {spec.estimator!r}"
        )
    prep = prepare(data, **design, covariates=spec.covariates, cluster=spec.cluster)
    prep = anticipate(prep, spec.anticipation)
    vcov = spec.vcov
    if vcov is None:
        vcov = "cluster" if (prep.has_unit or prep.cluster_given) else "hetero"
    return prep, vcov


def _callaway_santanna(
    data: pd.DataFrame,
    spec: Spec,
    *,
    cohort: str | None,
    treated: str | None,
    **columns: Any,
) -> Any:
    from evalkit.did.cs import callaway_santanna

    if cohort is None:
        raise EstimationError(
            "callaway_santanna needs cohort= (the first treated period of each unit; 0 or "
            "empty means never treated)"
        )
    kwargs = dict(spec.options)
    n_perm = int(kwargs.pop("n_perm", 999))
    max_enumerate = int(kwargs.pop("max_enumerate", 1000))
    inference, threshold = spec.inference, spec.few_treated_threshold
    if spec.event_window is not None:
        kwargs.setdefault("min_e", spec.event_window[0])
        kwargs.setdefault("max_e", spec.event_window[1])
    kwargs.update(
        columns,
        control=spec.control,
        method=spec.method,
        base_period=spec.base_period,
        anticipation=spec.anticipation,
        covariates=spec.covariates,
        cluster=spec.cluster,
        seed=spec.seed,
        alpha=spec.alpha,
    )
    if inference in ("bootstrap", "wild") and "bootstrap" not in kwargs:
        kwargs["bootstrap"] = True
    elif inference not in (None, "analytic", "bootstrap", "wild", "permutation"):
        raise EstimationError(
            f"inference={inference!r} is not available for callaway_santanna; allowed: "
            "'analytic', 'bootstrap', 'permutation'"
        )
    result = callaway_santanna(data, cohort=cohort, **kwargs)
    k, g = result.n_treated_clusters, result.n_clusters
    # One rule for every estimator: influence-function intervals over-rejected a true null
    # 7-11 % with 6 treated of 18 municipalities in the harness, as CR1 does for TWFE.
    default = inference is None and few_treated_default(k, g - k, threshold) != "analytic"
    if not (inference == "permutation" or default):
        return result
    from evalkit.did.cs._randomization import with_permutation

    # The permutation p-values replace the warning that the analytic intervals are unreliable.
    notes = [n for n in result.notes if n.code != "cs_few_treated_clusters"]
    if default:
        notes.insert(
            0,
            Note(
                "cs_few_treated_permutation",
                {
                    "treated": k,
                    "comparison": g - k,
                    "clusters": g,
                    "threshold": max(threshold, MIN_SIDE_ANALYTIC),
                },
            ),
        )
    if kwargs.get("cluster") is None:  # no cluster named: each unit is its own cluster
        kwargs["cluster"] = columns.get("unit")
    try:
        out = with_permutation(
            data,
            result,
            {"cohort": cohort, **kwargs},
            n_perm=n_perm,
            max_enumerate=max_enumerate,
            seed=spec.seed,
            alpha=spec.alpha,
            notes=notes,
        )
    except EstimationError as exc:
        if not default:
            raise
        note = Note("cs_permutation_failed", {"reason": str(exc)})
        return replace(result, notes=(*result.notes, note))
    if default or k < threshold:
        rows_note = Note("cs_rows_descriptive", {"treated": k})
        out = replace(out, notes=(*out.notes, rows_note))
    return out


def _coefficient_result(
    spec: Spec,
    prep: Prepared,
    fit: Fit,
    vcov: str,
    components: pd.DataFrame | None,
    sink: Notes | None = None,
) -> DidResult:
    """Infer on ``fit`` as ``spec`` says; ``sink`` gets the notes made before it resamples."""
    estimator, inference, seed, alpha = spec.estimator, spec.inference, spec.seed, spec.alpha
    threshold, options = spec.few_treated_threshold, spec.options
    row = analytic_row(fit.model, fit.term, alpha)
    messages: list[Note] = list(prep.notes)
    k = prep.n_treated_clusters
    few = prep.has_unit or prep.cluster_given
    few = few and few_treated_default(k, prep.n_clusters - k, threshold) != "analytic"
    chosen = inference or ("permutation" if few else "analytic")
    if chosen == "bootstrap":
        chosen = "wild"
    if inference is None and few:
        messages.append(few_treated_note(prep, threshold))
    elif chosen == "analytic" and vcov == "cluster" and k < threshold:
        messages.append(Note("few_treated_cr1", {"treated": k, "clusters": prep.n_clusters}))
    if sink is not None:
        sink.add(*messages)
    detail: dict[str, Any] = {"vcov": vcov, "df": t_df(fit.model)}
    outcome: inf.InferenceOutcome | None = None
    notes: list[Note] = []
    if chosen != "analytic" and inference is None:
        for method in ("permutation", "conley_taber", "wild"):
            try:
                outcome = _resample(method, fit, seed, alpha, options)
            except EstimationError as exc:
                notes.append(Note("inference_failed", {"method": method, "reason": str(exc)}))
                continue
            if outcome is not None:
                chosen = method
                break
            notes.append(Note("conley_taber_needs_common_start"))
        if outcome is None:
            chosen = "analytic"
            notes.append(Note("no_few_treated_inference"))
    elif chosen != "analytic":
        outcome = _resample(chosen, fit, seed, alpha, options)
        if outcome is None:
            raise EstimationError(
                f"inference={chosen!r} needs a treatment that starts at the same period for "
                "every row of a cluster; use inference='wild' or 'analytic'"
            )
    if chosen == "wild" and k < threshold:
        notes.append(Note("wild_unreliable", {"treated": k}))
    if outcome is not None:
        notes.extend(outcome.messages)
    messages.extend(notes)
    if outcome is not None:
        detail = {**outcome.detail, "analytic_se": row["std_error"], "vcov": vcov}
        row.update(p_value=outcome.p_value, conf_low=outcome.ci_low, conf_high=outcome.ci_high)
        if chosen in ("permutation", "conley_taber"):
            row.update(std_error=math.nan, statistic=math.nan)
    row["term"] = "ATT" if estimator != "2x2" else "ATT (group × post)"
    extra: dict[str, Any] = {}
    if components is not None:
        extra["components"] = components.to_dict("records")
        total = float((components["weight"] * components["estimate"]).sum())
        if not np.isclose(total, row["estimate"], rtol=1e-6, atol=1e-8):
            raise EstimationError("internal check failed: Bacon components do not add up to TWFE")
    return DidResult(
        estimator=estimator,
        att=row["estimate"],
        se=row["std_error"],
        ci_low=row["conf_low"],
        ci_high=row["conf_high"],
        p_value=row["p_value"],
        n_obs=len(prep.frame),
        n_units=prep.n_units,
        n_clusters=prep.n_clusters,
        n_treated_clusters=k,
        inference=chosen,
        alpha=alpha,
        notes=tuple(messages),
        table=tidy_frame([row]),
        inference_detail=detail,
        extra=extra,
    )


def _resample(
    chosen: str, fit: Fit, seed: int, alpha: float, options: Mapping[str, Any]
) -> inf.InferenceOutcome | None:
    design = fit.design
    if design is None:
        return None
    if chosen == "wild":
        weights = options.get("weights", "rademacher")
        check_choice("weights", weights, WildWeights)
        return wild_bootstrap(
            design, weights=weights, n_boot=int(options.get("n_boot", 9999)), seed=seed, alpha=alpha
        )
    if design.role is None:
        return None
    if chosen == "permutation":
        return inf.randomization(
            design,
            n_perm=int(options.get("n_perm", 1999)),
            max_enumerate=int(options.get("max_enumerate", 20_000)),
            seed=seed,
            alpha=alpha,
        )
    return conley_taber(
        design,
        ferman_pinto=bool(options.get("ferman_pinto", True)),
        n_sim=int(options.get("n_sim", 1999)),
        max_enumerate=int(options.get("max_enumerate", 20_000)),
        seed=seed,
        alpha=alpha,
    )

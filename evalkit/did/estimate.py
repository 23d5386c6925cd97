"""The entry point :func:`estimate`: check options, run an estimator, choose honest inference."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalkit.did import inference as inf
from evalkit.did._common import (
    WildWeights,
    analytic_row,
    check_choice,
    few_treated_note,
    t_df,
)
from evalkit.did._data import Prepared, prepare
from evalkit.did._event import event_study_result
from evalkit.did._event_sensitivity import SENSITIVITY_OPTIONS
from evalkit.did._modern import modern_result
from evalkit.did.bacon import bacon_decomposition
from evalkit.did.conley_taber import conley_taber
from evalkit.did.notes import Note, warn
from evalkit.did.regression import Fit, twfe, two_by_two
from evalkit.did.results import DidResult, tidy_frame
from evalkit.did.wild import wild_bootstrap
from evalkit.errors import DroppedRowsWarning, EstimationError, FewTreatedClustersWarning

__all__ = ["Estimator", "Inference", "Vcov", "estimate"]

Estimator = Literal[
    "2x2", "twfe", "event_study", "callaway_santanna", "bacon", "imputation", "sun_abraham"
]
Control = Literal["never", "notyet"]
Method = Literal["dr", "ipw", "reg"]
Vcov = Literal["iid", "hetero", "cluster"]
Inference = Literal["analytic", "bootstrap", "wild", "permutation", "conley_taber"]

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
    *SENSITIVITY_OPTIONS,
}


def estimate(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str | None = None,
    time: str | None = None,
    cohort: str | None = None,
    treated: str | None = None,
    post: str | None = None,
    estimator: Estimator,
    control: Control = "never",
    method: Method = "dr",
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    vcov: Vcov | None = None,
    inference: Inference | None = None,
    seed: int = 0,
    alpha: float = 0.05,
    few_treated_threshold: int = 5,
    **options: Any,
) -> Any:
    """Estimate a difference-in-differences effect.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per unit and period (or per respondent for a 2×2 on
        repeated cross-sections).
    outcome : str
        Outcome column (rows with a missing outcome are dropped with a
        :class:`~evalkit.errors.DroppedRowsWarning`).
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
    estimator : {"2x2", "twfe", "event_study", "callaway_santanna", "bacon", "imputation", \
"sun_abraham"}
        The estimator. ``"callaway_santanna"`` dispatches to
        :func:`evalkit.did.cs.callaway_santanna`; ``"imputation"`` is Borusyak,
        Jaravel & Spiess (2024) (:mod:`evalkit.did.imputation`), ``"sun_abraham"``
        Sun & Abraham (2021) (:mod:`evalkit.did.sun_abraham`); both need ``cohort``
        and give an ``event_study`` list beside the overall effect.
    control : {"never", "notyet"}
        Comparison group (Callaway–Sant'Anna).
    method : {"dr", "ipw", "reg"}
        Doubly robust, inverse probability weighting or outcome regression (Callaway–Sant'Anna).
    covariates : sequence of str
        Covariate columns.
    cluster : str, optional
        Cluster column (e.g. municipality); defaults to the unit.
    vcov : {"iid", "hetero", "cluster"}, optional
        Analytic variance; default ``"cluster"`` (CR1) when there is a unit or
        cluster column, else ``"hetero"`` (HC1).
    inference : {"analytic", "bootstrap", "wild", "permutation", "conley_taber"}, optional
        Inference method. Default: ``"analytic"``, unless fewer than
        ``few_treated_threshold`` clusters are treated; then ``"conley_taber"``
        (with the Ferman–Pinto correction) and a :class:`FewTreatedClustersWarning`
        saying why. For 2×2/TWFE/event study ``"bootstrap"`` means the wild
        cluster bootstrap. Resampling methods apply to the headline coefficient of
        2×2, TWFE and Bacon, and for the event study to every event time, the
        headline mean and the joint pre-trend test. Callaway–Sant'Anna offers
        ``"analytic"``, ``"bootstrap"`` (multiplier) and ``"permutation"`` (cohorts
        re-assigned to clusters, overall values of the aggregations); with a
        ``cluster`` and fewer than ``few_treated_threshold`` treated clusters the
        default is ``"permutation"``.
    seed : int
        Seed of every random draw.
    alpha : float
        1 − confidence level.
    few_treated_threshold : int
        Fewer treated clusters than this switch the default inference.
    **options
        2×2, TWFE and event study: ``weights`` ("rademacher"/"webb"), ``n_boot``
        (9999), ``n_perm`` (1999), ``n_sim`` (1999), ``max_enumerate`` (20000),
        ``ferman_pinto`` (True); event study also ``min_e``, ``max_e`` (binned end
        points), ``sensitivity`` ("relative_magnitudes" or "smoothness": HonestDiD
        robust intervals, see :func:`evalkit.did.sensitivity`), ``bounds`` (values of
        Mbar or M) and ``sensitivity_target`` ("mean" of the post-period effects, the
        default, or "first"); with Conley–Taber inference the sensitivity bounds use
        its placebo draws. Sun–Abraham takes the sensitivity options too;
        imputation takes ``leads`` (pre-trend event times, default 5).
        Callaway–Sant'Anna: ``n_perm`` (999), ``max_enumerate`` (1000) for
        permutation; the rest passed on (``base_period``, ``anticipation``,
        ``panel``, ``bootstrap``/``n_boot``, ``min_e``/``max_e``/``balance_e``, ...).

    Returns
    -------
    DidResult or CsResult
        A frozen result with ``tidy()``, ``summary()``, ``to_dict()``, ``_repr_html_()``.

    Raises
    ------
    EstimationError
        Bad options or data (the message names the column, unit or rows).
    """
    check_choice("estimator", estimator, Estimator)
    check_choice("control", control, Control)
    check_choice("method", method, Method)
    if vcov is not None:
        check_choice("vcov", vcov, Vcov)
    if inference is not None:
        check_choice("inference", inference, Inference)
    if not 0 < alpha < 1:
        raise EstimationError(f"alpha must be between 0 and 1; got {alpha!r}")
    if isinstance(covariates, str):
        covariates = (covariates,)
    if estimator == "callaway_santanna":
        return _callaway_santanna(
            data,
            outcome=outcome,
            unit=unit,
            time=time,
            cohort=cohort,
            treated=treated,
            control=control,
            method=method,
            covariates=covariates,
            cluster=cluster,
            seed=seed,
            alpha=alpha,
            inference=inference,
            threshold=few_treated_threshold,
            **options,
        )
    prep, chosen_vcov = _regression_data(
        data,
        estimator,
        options,
        vcov,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        treated=treated,
        post=post,
        covariates=covariates,
        cluster=cluster,
    )
    if estimator == "event_study":
        return event_study_result(
            prep, chosen_vcov, alpha, inference, few_treated_threshold, seed, options
        )
    if estimator in ("imputation", "sun_abraham"):
        result = modern_result(
            estimator,
            prep,
            alpha=alpha,
            inference=inference,
            threshold=few_treated_threshold,
            seed=seed,
            options=options,
        )
        for note in result.notes:
            dropped = note.code == "imputation_dropped"
            warn(note, DroppedRowsWarning if dropped else FewTreatedClustersWarning, stacklevel=2)
        return result
    fit = two_by_two(prep, chosen_vcov) if estimator == "2x2" else twfe(prep, chosen_vcov)
    components = bacon_decomposition(prep) if estimator == "bacon" else None
    return _coefficient_result(
        estimator,
        prep,
        fit,
        chosen_vcov,
        inference,
        seed,
        alpha,
        few_treated_threshold,
        options,
        components,
    )


def _regression_data(
    data: pd.DataFrame,
    estimator: str,
    options: dict[str, Any],
    vcov: str | None,
    **design: Any,
) -> tuple[Prepared, str]:
    """Check the regression estimators' options, prepare the data, choose the variance.

    Shared by :func:`estimate` and :func:`evalkit.did.several.estimate_inferences`.
    """
    unknown = set(options) - _REG_OPTIONS
    if unknown:
        raise EstimationError(
            f"unknown option(s) {', '.join(sorted(unknown))} for estimator {estimator!r}; "
            f"allowed: {', '.join(sorted(_REG_OPTIONS))}"
        )
    event_studies = ("event_study", "sun_abraham", "imputation")
    if estimator not in event_studies and any(
        options.get(o) is not None for o in SENSITIVITY_OPTIONS
    ):
        raise EstimationError(
            f"the sensitivity analysis (sensitivity=, bounds=) needs estimator='event_study'; "
            f"got {estimator!r}"
        )
    prep = prepare(data, **design)
    if vcov is None:
        vcov = "cluster" if (prep.has_unit or prep.cluster_given) else "hetero"
    return prep, vcov


def _callaway_santanna(
    data: pd.DataFrame,
    *,
    cohort: str | None,
    treated: str | None,
    inference: str | None,
    threshold: int,
    **kwargs: Any,
) -> Any:
    from evalkit.did.cs import callaway_santanna

    if cohort is None:
        raise EstimationError(
            "callaway_santanna needs cohort= (the first treated period of each unit; 0 or "
            "empty means never treated)"
        )
    n_perm = int(kwargs.pop("n_perm", 999))
    max_enumerate = int(kwargs.pop("max_enumerate", 1000))
    if inference in ("bootstrap", "wild") and "bootstrap" not in kwargs:
        kwargs["bootstrap"] = True
    elif inference not in (None, "analytic", "bootstrap", "wild", "permutation"):
        raise EstimationError(
            f"inference={inference!r} is not available for callaway_santanna; allowed: "
            "'analytic', 'bootstrap', 'permutation'"
        )
    if not (inference == "permutation" or (inference is None and kwargs.get("cluster"))):
        return callaway_santanna(data, cohort=cohort, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = callaway_santanna(data, cohort=cohort, **kwargs)
    k, g = result.n_treated_clusters, result.n_clusters
    default = inference is None and k < threshold
    if not (inference == "permutation" or default):
        _rewarn(caught, drop=())
        return result
    from evalkit.did.cs._randomization import with_permutation

    few = [str(w.message) for w in caught if issubclass(w.category, FewTreatedClustersWarning)]
    notes = [n for n in result.notes if n.text not in few]
    if default:
        notes.insert(
            0,
            Note(
                "cs_few_treated_permutation", {"treated": k, "clusters": g, "threshold": threshold}
            ),
        )
    try:
        out = with_permutation(
            data,
            result,
            {"cohort": cohort, **kwargs},
            n_perm=n_perm,
            max_enumerate=max_enumerate,
            seed=int(kwargs.get("seed", 0)),
            alpha=float(kwargs.get("alpha", 0.05)),
            notes=notes,
        )
    except EstimationError as exc:
        if not default:
            raise
        _rewarn(caught, drop=())
        note = Note("cs_permutation_failed", {"reason": str(exc)})
        warn(note, FewTreatedClustersWarning, stacklevel=3)
        return replace(result, notes=(*result.notes, note))
    if k < threshold:
        rows_note = Note("cs_rows_descriptive", {"treated": k})
        out = replace(out, notes=(*out.notes, rows_note))
    _rewarn(caught, drop=few)
    for note in out.notes:
        if note not in result.notes:
            warn(note, FewTreatedClustersWarning, stacklevel=3)
    return out


def _rewarn(caught: list[warnings.WarningMessage], drop: Sequence[str]) -> None:
    """Warn again what the estimator warned, except the messages in ``drop``."""
    for w in caught:
        if str(w.message) not in drop:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _coefficient_result(
    estimator: str,
    prep: Prepared,
    fit: Fit,
    vcov: str,
    inference: str | None,
    seed: int,
    alpha: float,
    threshold: int,
    options: dict[str, Any],
    components: pd.DataFrame | None,
) -> DidResult:
    row = analytic_row(fit.model, fit.term, alpha)
    messages: list[Note] = []
    k = prep.n_treated_clusters
    few = prep.has_unit or prep.cluster_given
    few = few and k < threshold
    chosen = inference or ("conley_taber" if few else "analytic")
    if chosen == "bootstrap":
        chosen = "wild"
    if inference is None and few:
        note = few_treated_note(prep, threshold)
        warn(note, FewTreatedClustersWarning, stacklevel=3)
        messages.append(note)
    elif chosen == "analytic" and vcov == "cluster" and k < threshold:
        note = Note("few_treated_cr1", {"treated": k, "clusters": prep.n_clusters})
        warn(note, FewTreatedClustersWarning, stacklevel=3)
        messages.append(note)
    detail: dict[str, Any] = {"vcov": vcov, "df": t_df(fit.model)}
    outcome: inf.InferenceOutcome | None = None
    notes: list[Note] = []
    if chosen != "analytic" and inference is None:
        for method in ("conley_taber", "wild"):
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
    for note in notes:
        warn(note, FewTreatedClustersWarning, stacklevel=3)
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
    chosen: str, fit: Fit, seed: int, alpha: float, options: dict[str, Any]
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

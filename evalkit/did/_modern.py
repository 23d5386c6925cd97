"""Results of the imputation and Sun–Abraham event studies, in the shape of :class:`DidResult`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from evalkit.did._data import Prepared
from evalkit.did._event import event_records, sensitivity_extra
from evalkit.did._event_sensitivity import event_sensitivity
from evalkit.did.imputation import imputation
from evalkit.did.notes import Note
from evalkit.did.results import DidResult, tidy_frame
from evalkit.did.sun_abraham import sun_abraham
from evalkit.errors import EstimationError
from evalkit.spec import Spec

__all__ = ["modern_result"]


def _row(term: str, att: float, se: float, crit: float, p: float) -> dict[str, Any]:
    return {
        "term": term,
        "estimate": att,
        "std_error": se,
        "statistic": att / se if se > 0 else math.nan,
        "p_value": p,
        "conf_low": att - crit * se,
        "conf_high": att + crit * se,
    }


def modern_result(prep: Prepared, spec: Spec) -> DidResult:
    """Fit ``"imputation"`` or ``"sun_abraham"`` and build the result.

    Parameters
    ----------
    prep : Prepared
        The panel (cohorts already moved by the anticipation periods).
    spec : Spec
        The specification: only analytic inference is available; fewer treated
        clusters than ``few_treated_threshold`` get a note that the intervals are
        too narrow; options ``leads`` (imputation; default 5) and the sensitivity
        options (Sun–Abraham).

    Returns
    -------
    DidResult
        Headline overall effect, one row per event time (``event_study`` in JSON).
    """
    _refuse_unsupported(spec)
    k = prep.n_treated_clusters
    fit = _imputation_fit(prep, spec) if spec.estimator == "imputation" else _sa_fit(prep, spec)
    notes = list(fit.notes)
    if k < spec.few_treated_threshold:
        # the headline effect's p-value is CR1 too, not only the event times' intervals
        notes.insert(0, Note("modern_few_treated_cr1", {"treated": k, "clusters": prep.n_clusters}))
    test = _TTest(fit.df, spec.alpha)
    overall = "ATT (all treated rows)" if spec.estimator == "imputation" else "ATT (cells e ≥ 0)"
    head = test.row(overall, fit.att, fit.se)
    rows = [
        {**test.row(f"event_time::{e}", float(b), float(s)), "event_time": e}
        for e, b, s in zip(fit.times, fit.betas, fit.ses, strict=True)
    ]
    extra = {**fit.extra, "event_study": event_records(rows)}
    return DidResult(
        estimator=spec.estimator,
        att=fit.att,
        se=fit.se,
        ci_low=head["conf_low"],
        ci_high=head["conf_high"],
        p_value=head["p_value"],
        n_obs=fit.n_obs,
        n_units=prep.n_units,
        n_clusters=prep.n_clusters,
        n_treated_clusters=k,
        inference="analytic",
        alpha=spec.alpha,
        notes=(*prep.notes, *notes),
        table=tidy_frame([{**head, "event_time": None}, *rows]),
        inference_detail={"vcov": "cluster", "df": fit.df if math.isfinite(fit.df) else None},
        extra=extra,
    )


@dataclass(frozen=True)
class _Fit:
    """An event study's overall effect and its effects by event time."""

    att: float
    se: float
    df: float  # degrees of freedom of the t reference (inf: normal)
    n_obs: int
    times: list[int]
    betas: np.ndarray
    ses: np.ndarray
    notes: tuple[Note, ...]
    extra: dict[str, Any]


def _refuse_unsupported(spec: Spec) -> None:
    """Refuse anticipation and any inference but the analytic one."""
    if spec.anticipation:
        raise EstimationError(
            f"{spec.estimator} does not take anticipation periods here; register the start of "
            "the anticipation as the cohort, or use estimator='event_study'"
        )
    if spec.inference not in (None, "analytic"):
        raise EstimationError(
            f"inference={spec.inference!r} is not available for {spec.estimator}; allowed: "
            "'analytic' (cluster-robust). With few treated clusters use event_study or twfe "
            "with inference='conley_taber'"
        )


def _imputation_fit(prep: Prepared, spec: Spec) -> _Fit:
    """Fit Borusyak–Jaravel–Spiess imputation (no sensitivity: it lacks a joint covariance)."""
    options = spec.options
    if options.get("sensitivity"):
        raise EstimationError(
            "the sensitivity analysis needs the event study's joint covariance; use "
            "estimator='event_study' or 'sun_abraham'"
        )
    fit = imputation(
        prep, leads=int(options.get("leads", 5)), horizons=bool(options.get("horizons", True))
    )
    h = fit.horizons
    times = h["event_time"].astype(int).tolist()
    return _Fit(
        fit.att, fit.se, math.inf, fit.n_obs, times, h["att"].to_numpy(), h["se"].to_numpy(),
        tuple(fit.notes), {"reference_period": None},
    )  # fmt: skip


def _sa_fit(prep: Prepared, spec: Spec) -> _Fit:
    """Fit Sun–Abraham, with the registered sensitivity analysis on its event times."""
    options = spec.options
    min_e, max_e = spec.event_window or (options.get("min_e"), options.get("max_e"))
    sa = sun_abraham(prep, min_e, max_e)
    ses = np.sqrt(np.clip(np.diag(sa.vcov), 0, None))
    extra: dict[str, Any] = {"reference_period": -1}
    notes: tuple[Note, ...] = ()
    if options.get("sensitivity"):
        sens = event_sensitivity(
            sa.event_times,
            sa.beta,
            sa.vcov,
            options,
            alpha=spec.alpha,
            placebo=None,
            treated=prep.n_treated_clusters,
            clusters=prep.n_clusters,
            seed=spec.seed,
            few_treated_threshold=spec.few_treated_threshold,
        )
        notes = tuple(sens.notes)
        extra.update(sensitivity_extra(sens))
    return _Fit(sa.att, sa.se, sa.df, len(prep.frame), sa.event_times, sa.beta, ses, notes, extra)


class _TTest:
    """Intervals and p-values from a t reference with ``df`` degrees of freedom (inf: normal)."""

    def __init__(self, df: float, alpha: float) -> None:
        self.df = df
        normal = math.isinf(df)
        self.crit = float(
            special.ndtri(1 - alpha / 2) if normal else special.stdtrit(df, 1 - alpha / 2)
        )

    def p_value(self, b: float, s: float) -> float:
        if not s > 0:
            return math.nan
        tail = (
            special.ndtr(-abs(b / s))
            if math.isinf(self.df)
            else special.stdtr(self.df, -abs(b / s))
        )
        return float(2 * tail)

    def row(self, term: str, att: float, se: float) -> dict[str, Any]:
        return _row(term, att, se, self.crit, self.p_value(att, se))

"""Results of the imputation and Sun–Abraham event studies, in the shape of :class:`DidResult`."""

from __future__ import annotations

import math
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
    estimator, alpha, inference, seed = spec.estimator, spec.alpha, spec.inference, spec.seed
    threshold, options = spec.few_treated_threshold, spec.options
    if spec.anticipation:
        raise EstimationError(
            f"{estimator} does not take anticipation periods here; register the start of "
            "the anticipation as the cohort, or use estimator='event_study'"
        )
    if inference not in (None, "analytic"):
        raise EstimationError(
            f"inference={inference!r} is not available for {estimator}; allowed: 'analytic' "
            "(cluster-robust). With few treated clusters use event_study or twfe with "
            "inference='conley_taber'"
        )
    notes: list[Note] = []
    k = prep.n_treated_clusters
    extra: dict[str, Any] = {"reference_period": -1}
    if estimator == "imputation":
        if options.get("sensitivity"):
            raise EstimationError(
                "the sensitivity analysis needs the event study's joint covariance; use "
                "estimator='event_study' or 'sun_abraham'"
            )
        fit = imputation(
            prep, leads=int(options.get("leads", 5)), horizons=bool(options.get("horizons", True))
        )
        notes.extend(fit.notes)
        att, se, df, n_obs = fit.att, fit.se, math.inf, fit.n_obs
        times = fit.horizons["event_time"].astype(int).tolist()
        betas, ses = fit.horizons["att"].to_numpy(), fit.horizons["se"].to_numpy()
        extra["reference_period"] = None
    else:
        min_e, max_e = spec.event_window or (options.get("min_e"), options.get("max_e"))
        sa = sun_abraham(prep, min_e, max_e)
        att, se, df, n_obs = sa.att, sa.se, sa.df, len(prep.frame)
        times, betas = sa.event_times, sa.beta
        ses = np.sqrt(np.clip(np.diag(sa.vcov), 0, None))
        if options.get("sensitivity"):
            sens = event_sensitivity(
                times,
                sa.beta,
                sa.vcov,
                options,
                alpha=alpha,
                placebo=None,
                treated=k,
                clusters=prep.n_clusters,
                seed=seed,
                few_treated_threshold=threshold,
            )
            notes.extend(sens.notes)
            extra.update(sensitivity_extra(sens))
    if k < threshold:
        notes.insert(0, Note("event_few_treated_cr1", {"treated": k, "clusters": prep.n_clusters}))
    crit = float(
        special.ndtri(1 - alpha / 2) if math.isinf(df) else special.stdtrit(df, 1 - alpha / 2)
    )

    def p_of(b: float, s: float) -> float:
        if not s > 0:
            return math.nan
        return float(
            2 * (special.ndtr(-abs(b / s)) if math.isinf(df) else special.stdtr(df, -abs(b / s)))
        )

    head = _row(
        "ATT (all treated rows)" if estimator == "imputation" else "ATT (cells e ≥ 0)",
        att,
        se,
        crit,
        p_of(att, se),
    )
    rows = [
        {
            **_row(f"event_time::{e}", float(b), float(s), crit, p_of(float(b), float(s))),
            "event_time": e,
        }
        for e, b, s in zip(times, betas, ses, strict=True)
    ]
    extra["event_study"] = event_records(rows)
    return DidResult(
        estimator=estimator,
        att=att,
        se=se,
        ci_low=head["conf_low"],
        ci_high=head["conf_high"],
        p_value=head["p_value"],
        n_obs=n_obs,
        n_units=prep.n_units,
        n_clusters=prep.n_clusters,
        n_treated_clusters=k,
        inference="analytic",
        alpha=alpha,
        notes=(*prep.notes, *notes),
        table=tidy_frame([{**head, "event_time": None}, *rows]),
        inference_detail={"vcov": "cluster", "df": df if math.isfinite(df) else None},
        extra=extra,
    )

"""Results of the imputation and Sun–Abraham event studies, in the shape of :class:`DidResult`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special

from evalkit.did._common import MIN_SIDE_ANALYTIC, few_treated_default
from evalkit.did._data import Prepared
from evalkit.did._event import event_records, sensitivity_extra
from evalkit.did._event_sensitivity import event_sensitivity
from evalkit.did.imputation import imputation
from evalkit.did.notes import Note
from evalkit.did.results import DidResult, tidy_frame
from evalkit.did.sun_abraham import sun_abraham
from evalkit.errors import EstimationError
from evalkit.spec import Spec

if TYPE_CHECKING:
    from evalkit.did.inference import InferenceOutcome

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
        The specification. Inference of the overall effect: ``"permutation"``
        (cohorts re-assigned to clusters, :mod:`evalkit.did._modern_inference`),
        ``"analytic"`` (CR1), or None: the few-treated rule of TWFE
        (:func:`few_treated_default`). The event times' intervals are CR1; fewer
        treated clusters than ``few_treated_threshold`` get a note that they are
        descriptive. Options ``leads`` (imputation; default 5), ``n_perm`` (1999),
        ``max_enumerate`` (20000) and the sensitivity options (Sun–Abraham).

    Returns
    -------
    DidResult
        Headline overall effect, one row per event time (``event_study`` in JSON).
    """
    _refuse_unsupported(spec)
    k = prep.n_treated_clusters
    fit = _imputation_fit(prep, spec) if spec.estimator == "imputation" else _sa_fit(prep, spec)
    test = _TTest(fit.df, spec.alpha)
    overall = "ATT (all treated rows)" if spec.estimator == "imputation" else "ATT (cells e ≥ 0)"
    head = test.row(overall, fit.att, fit.se)
    rows = [
        {**test.row(f"event_time::{e}", float(b), float(s)), "event_time": e}
        for e, b, s in zip(fit.times, fit.betas, fit.ses, strict=True)
    ]
    detail: dict[str, Any] = {"vcov": "cluster", "df": _finite(fit.df)}
    head_notes = _few_treated_notes(prep, spec)
    if _permutes(prep, spec):
        head, detail, head_notes = _permuted_head(prep, spec, fit, head, head_notes)
        if "assignments" in detail:
            rows, head_notes = _permuted_event_times(prep, spec, rows, head_notes)
            cr1 = [r["event_time"] for r in rows if not math.isnan(r["std_error"])]
            left = f" but {cr1} (CR1)" if cr1 else ""
            detail["event_times"] = f"randomization inference, as the overall effect{left}"
    inference = "permutation" if "assignments" in detail else "analytic"
    extra = {**fit.extra, "event_study": event_records(rows)}
    return DidResult(
        estimator=spec.estimator,
        att=fit.att,
        se=head["std_error"],
        ci_low=head["conf_low"],
        ci_high=head["conf_high"],
        p_value=head["p_value"],
        n_obs=fit.n_obs,
        n_units=prep.n_units,
        n_clusters=prep.n_clusters,
        n_treated_clusters=k,
        inference=inference,
        alpha=spec.alpha,
        notes=(*prep.notes, *head_notes, *fit.notes),
        table=tidy_frame([{**head, "event_time": None}, *rows]),
        inference_detail=detail,
        extra=extra,
    )


def _finite(x: float) -> float | None:
    """``x``, or None for an infinite degrees of freedom (JSON has no inf)."""
    return x if math.isfinite(x) else None


def _few_treated_notes(prep: Prepared, spec: Spec) -> list[Note]:
    """Return the notes that CR1 intervals are descriptive (fewer treated than the threshold).

    The headline's note is replaced when randomization inference takes over the overall
    effect; the event times keep CR1 intervals, so their note stays.
    """
    k = prep.n_treated_clusters
    if k >= spec.few_treated_threshold:
        return []
    facts = {"treated": k, "clusters": prep.n_clusters}
    return [Note("few_treated_cr1", facts), Note("modern_few_treated_cr1", facts)]


def _permutes(prep: Prepared, spec: Spec) -> bool:
    """Whether the overall effect gets randomization inference (asked, or the few-treated rule)."""
    if spec.inference == "permutation":
        return True
    k, g = prep.n_treated_clusters, prep.n_clusters
    return spec.inference is None and few_treated_default(k, g - k, spec.few_treated_threshold) != (
        "analytic"
    )


def _permuted_head(
    prep: Prepared, spec: Spec, fit: _Fit, head: dict[str, Any], notes: list[Note]
) -> tuple[dict[str, Any], dict[str, Any], list[Note]]:
    """Headline row, inference details and notes under cohort randomization inference.

    Under the default (``inference=None``) a design that cannot be permuted (clusters
    mixing cohorts) keeps the CR1 headline with a note saying why; an explicit
    ``permutation`` raises instead.
    """
    from evalkit.did._modern_inference import cohort_randomization, imputation_statistic
    from evalkit.did._sun_abraham_inference import sun_abraham_statistic

    if spec.estimator == "imputation":
        statistic = imputation_statistic(prep)
    else:
        statistic = sun_abraham_statistic(prep, *_sa_window(spec))
    try:
        effects, (out,) = cohort_randomization(prep, statistic, **_draws(spec))
    except EstimationError as exc:
        if spec.inference == "permutation":
            raise
        failed = Note("modern_permutation_failed", {"reason": str(exc)})
        return head, {"vcov": "cluster", "df": _finite(fit.df)}, [failed, *notes]
    att = float(effects[0])
    if not math.isclose(att, fit.att, rel_tol=1e-6, abs_tol=1e-9):
        raise EstimationError("internal check failed: the permutation re-estimate differs")
    k, g = prep.n_treated_clusters, prep.n_clusters
    chose = []
    if spec.inference is None:
        threshold = max(spec.few_treated_threshold, MIN_SIDE_ANALYTIC)
        facts = {"treated": k, "comparison": g - k, "clusters": g, "threshold": threshold}
        chose = [Note("few_treated_permutation", facts)]
    # the headline is no longer CR1; the event times are, and their note stays
    rest = [n for n in notes if n.code != "few_treated_cr1"]
    new_head = {
        **head,
        "std_error": math.nan,
        "statistic": math.nan,
        "p_value": out.p_value,
        "conf_low": out.ci_low,
        "conf_high": out.ci_high,
    }
    detail = {**out.detail, "analytic_se": head["std_error"], "analytic_p_value": head["p_value"]}
    return new_head, detail, [*chose, *out.messages, *rest]


def _draws(spec: Spec) -> dict[str, Any]:
    """Return the assignments, seed and level of the spec's randomization inference."""
    options = spec.options
    return {
        "n_perm": int(options.get("n_perm", 1999)),
        "max_enumerate": int(options.get("max_enumerate", 20_000)),
        "seed": spec.seed,
        "alpha": spec.alpha,
    }


def _permuted_event_times(
    prep: Prepared, spec: Spec, rows: list[dict[str, Any]], notes: list[Note]
) -> tuple[list[dict[str, Any]], list[Note]]:
    """Event times under the randomization inference of the overall effect.

    Each event time's p-value and interval come from the same assignments as the
    overall effect's (:mod:`evalkit.did._modern_inference`): every Sun–Abraham
    coefficient; imputation's effects ``e ≥ 0`` and the leads of its pre-trend test.
    Leads that cannot be re-estimated so (collinear under the observed cohorts, or
    not as pyfixest fitted them) keep CR1, and the note says so.
    """
    from evalkit.did._modern_inference import cohort_randomization

    tested: dict[int, tuple[float, InferenceOutcome]] = {}
    for times, statistic, strict in _event_groups(prep, spec, rows):
        try:
            effects, outcomes = cohort_randomization(
                prep, statistic, **_draws(spec), what="effect at the event time"
            )
        except EstimationError:
            if strict:
                raise
            continue
        group = dict(zip(times, zip(effects, outcomes, strict=True), strict=True))
        same = [
            math.isclose(f, _estimate(rows, e), rel_tol=1e-6, abs_tol=1e-9)
            for e, (f, _) in group.items()
        ]
        if not all(same):
            if strict:
                raise EstimationError("internal check failed: an event-time re-estimate differs")
            continue
        tested.update(group)
    out = []
    for row in rows:
        if row["event_time"] in tested:
            o = tested[row["event_time"]][1]
            row = {**row, "std_error": math.nan, "statistic": math.nan, "p_value": o.p_value}
            row.update(conf_low=o.ci_low, conf_high=o.ci_high)
        out.append(row)
    # the CR1 note now speaks of imputation's leads left CR1 alone (none: it goes)
    cr1 = len(tested) < len(rows)
    kept = [
        Note("imputation_leads_cr1", n.values) if n.code == "modern_few_treated_cr1" else n
        for n in notes
        if cr1 or n.code != "modern_few_treated_cr1"
    ]
    extra = [
        m for _, o in tested.values() for m in o.messages if m.code == "permutation_not_identified"
    ]
    return out, [*kept, *dict.fromkeys(extra)]


def _estimate(rows: list[dict[str, Any]], event_time: int) -> float:
    return float(next(r["estimate"] for r in rows if r["event_time"] == event_time))


def _event_groups(
    prep: Prepared, spec: Spec, rows: list[dict[str, Any]]
) -> list[tuple[list[int], Any, bool]]:
    """Event times with the statistic that re-estimates them, and whether it must succeed."""
    from evalkit.did._modern_inference import (
        imputation_event_statistic,
        imputation_lead_statistic,
    )
    from evalkit.did._sun_abraham_inference import sun_abraham_event_statistic

    times = [int(r["event_time"]) for r in rows]
    if spec.estimator != "imputation":
        return [(times, sun_abraham_event_statistic(prep, *_sa_window(spec), times), True)]
    post = [e for e in times if e >= 0]
    leads = [e for e in times if e < 0]
    groups = [(post, imputation_event_statistic(prep, post), True)] if post else []
    if leads:  # pyfixest fitted them: where our re-estimate cannot follow, they keep CR1
        groups.append((leads, imputation_lead_statistic(prep, leads), False))
    return groups


def _sa_window(spec: Spec) -> tuple[int | None, int | None]:
    """Sun–Abraham's event window: the spec's, else the ``min_e``/``max_e`` options."""
    return spec.event_window or (spec.options.get("min_e"), spec.options.get("max_e"))


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
    if spec.inference not in (None, "analytic", "permutation"):
        raise EstimationError(
            f"inference={spec.inference!r} is not available for {spec.estimator}; allowed: "
            "'analytic' (cluster-robust) and 'permutation' (cohorts re-assigned to clusters, "
            "the default with few treated or comparison clusters)"
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
    sa = sun_abraham(prep, *_sa_window(spec))
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

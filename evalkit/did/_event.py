"""The TWFE event study result: analytic rows, the headline mean, the pre-test and resampling."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from evalkit.did import inference as inf
from evalkit.did._common import (
    WildWeights,
    analytic_row,
    check_choice,
    few_treated_default,
    few_treated_note,
    quiet_coefs,
    t_df,
)
from evalkit.did._data import Prepared
from evalkit.did._event_sensitivity import event_sensitivity
from evalkit.did.conley_taber import Placebos, conley_taber_combinations, conley_taber_placebos
from evalkit.did.notes import Note
from evalkit.did.regression import _name, event_design, event_study
from evalkit.did.results import DidResult, tidy_frame
from evalkit.did.wild import wild_bootstrap_combinations, wild_joint_test
from evalkit.errors import EstimationError
from evalkit.spec import Spec

__all__ = ["event_extra", "event_records", "event_study_result", "sensitivity_extra"]


def event_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the ``event_study`` JSON records of tidy event-time rows."""
    return [
        {
            "event_time": r["event_time"],
            "att": r["estimate"],
            "se": r["std_error"],
            "ci_low": r["conf_low"],
            "ci_high": r["conf_high"],
            "p_value": r["p_value"],
        }
        for r in rows
    ]


def event_study_result(prep: Prepared, vcov: str, spec: Spec) -> DidResult:
    """Fit the TWFE event study and attach the chosen (or few-treated default) inference.

    Parameters
    ----------
    prep : Prepared
        Panel frame with cohorts.
    vcov : {"iid", "hetero", "cluster"}
        Analytic variance of the fit.
    spec : Spec
        Inference ``"analytic"``, ``"wild"`` (or ``"bootstrap"``), ``"permutation"``,
        ``"conley_taber"``, or None for randomization inference (``"permutation"``)
        with few clusters (:func:`evalkit.did._common.few_treated_default`), else
        analytic; the event window (end points binned) or the options
        ``min_e``/``max_e``; the anticipation (cohorts already moved by
        :func:`~evalkit.did._data.anticipate`: event times are labelled from the
        registered start, the reference period is ``-1 - anticipation``), alpha,
        seed and the resampling options.

    Returns
    -------
    DidResult
        Headline mean of the post-period event times, one row per event time, the
        pre-trend test, warnings that say why when few clusters are treated.
    """
    window = _fit_window(spec)
    fit = _analytic_fit(prep, vcov, spec, window)
    k, threshold = prep.n_treated_clusters, spec.few_treated_threshold
    few = few_treated_default(k, prep.n_clusters - k, threshold) != "analytic"
    few = few and (prep.has_unit or prep.cluster_given)
    chosen, detail, draws, design = _infer(prep, vcov, spec, fit, window, few)
    if spec.options.get("sensitivity"):
        if draws is None and few and design is not None and design.role is not None:
            draws = _sensitivity_placebos(design, fit.w_kept, spec.seed, spec.options)
        sens = event_sensitivity(
            fit.kept,
            fit.coefs[fit.pos],
            fit.vc[np.ix_(fit.pos, fit.pos)],
            spec.options,
            alpha=spec.alpha,
            placebo=None if draws is None else draws.placebo,
            placebo_groups=None if draws is None else draws.groups,
            treated=k,
            clusters=prep.n_clusters,
            seed=spec.seed,
            anticipation=spec.anticipation,
            few_treated_threshold=threshold,
        )
        fit.messages.extend(sens.notes)
        fit.extra_sensitivity = sensitivity_extra(sens)
    extra = event_extra(fit.rows, fit.pretrend, -1 - spec.anticipation)
    extra.update(fit.extra_sensitivity)
    return DidResult(
        estimator="event_study",
        att=fit.head["estimate"],
        se=fit.head["std_error"],
        ci_low=fit.head["conf_low"],
        ci_high=fit.head["conf_high"],
        p_value=fit.head["p_value"],
        n_obs=len(prep.frame),
        n_units=prep.n_units,
        n_clusters=prep.n_clusters,
        n_treated_clusters=k,
        inference=chosen,
        alpha=spec.alpha,
        notes=(*prep.notes, *fit.messages),
        table=tidy_frame([fit.head, *fit.rows]),
        inference_detail=detail,
        extra=extra,
    )


def sensitivity_extra(sens: Any) -> dict[str, Any]:
    """Return an event study's JSON additions for its HonestDiD analysis.

    ``sensitivity`` (rows ``bound, lb, ub``) and ``sensitivity_analysis`` (the whole
    analysis without its notes, which the result carries).
    """
    whole = sens.to_dict()
    return {
        "sensitivity": [{"bound": r["bound"], "lb": r["lb"], "ub": r["ub"]} for r in whole["rows"]],
        "sensitivity_analysis": {
            key: value for key, value in whole.items() if key not in ("warnings", "warning_codes")
        },
    }


Window = tuple[int | None, int | None]


def _fit_window(spec: Spec) -> Window:
    """Return the event window in the fit's event times (counted from the moved cohort)."""
    lead, options = spec.anticipation, spec.options
    min_e, max_e = spec.event_window or (options.get("min_e"), options.get("max_e"))
    if min_e is not None and min_e > -1 - lead:
        raise EstimationError(
            f"min_e must be ≤ {-1 - lead}, the reference period (-1 less {lead} anticipation "
            f"period(s)); got {min_e} (min_e is the event window's first event time)"
        )
    return (
        None if min_e is None else int(min_e) + lead,
        None if max_e is None else int(max_e) + lead,
    )


@dataclass
class _Fit:
    """The analytic event study: its rows, headline, pre-test and what inference needs."""

    model: Any
    kept: list[int]
    pos: list[int]
    post: list[int]
    pre: list[int]
    w_kept: NDArray[np.float64]
    coefs: NDArray[np.float64]
    vc: NDArray[np.float64]
    df: float
    se: float
    rows: list[dict[str, Any]]
    head: dict[str, Any]
    pretrend: dict[str, Any]
    messages: list[Note]
    extra_sensitivity: dict[str, Any] = field(default_factory=dict)


def _analytic_fit(prep: Prepared, vcov: str, spec: Spec, window: Window) -> _Fit:
    """Fit the event study; rows, the mean of the post event times and the Wald pre-test."""
    lead, alpha = spec.anticipation, spec.alpha
    model, times = event_study(prep, vcov, *window)
    coefs, ses = quiet_coefs(model)
    fitted = (coefs, ses, t_df(model))  # read once for all rows, not once per row
    kept = [e for e in times if _name(e) in coefs.index and np.isfinite(coefs[_name(e)])]
    messages: list[Note] = []
    dropped = sorted(set(times) - set(kept))
    if dropped:
        messages.append(
            Note("event_times_dropped", {"event_times": [int(e) - lead for e in dropped]})
        )
    rows = []
    for e in kept:
        r = analytic_row(model, _name(e), alpha, strict=False, fitted=fitted)
        rows.append({"term": f"event_time::{e - lead}", **r, "event_time": e - lead})
    post = [i for i, e in enumerate(kept) if e - lead >= 0]
    if not post:
        raise EstimationError("no post-treatment event time (e ≥ 0) could be estimated")
    names = list(coefs.index)
    pos = [names.index(_name(e)) for e in kept]
    w_kept = np.zeros(len(kept))
    w_kept[post] = 1.0 / len(post)
    w = np.zeros(len(names))
    w[pos] = w_kept
    vc = np.asarray(model._vcov)
    att = float(w @ coefs.to_numpy())
    se = float(np.sqrt(max(float(w @ vc @ w), 0.0)))
    if not (np.isfinite(se) and se > 0):
        raise EstimationError(
            "the outcome has no variation left once unit and period effects are taken out; "
            "there is no effect to estimate"
        )
    df = fitted[2]
    crit = special.stdtrit(df, 1 - alpha / 2)
    head = {
        "term": "ATT (mean of e ≥ 0)",
        "estimate": att,
        "std_error": se,
        "statistic": att / se,
        "p_value": float(2 * special.stdtr(df, -abs(att / se))),
        "conf_low": att - crit * se,
        "conf_high": att + crit * se,
        "event_time": None,
    }
    pre = [i for i, e in enumerate(kept) if e < -1]
    fit = _Fit(
        model=model,
        kept=kept,
        pos=pos,
        post=post,
        pre=pre,
        w_kept=w_kept,
        coefs=coefs.to_numpy(),
        vc=vc,
        df=df,
        se=se,
        rows=rows,
        head=head,
        pretrend={},
        messages=messages,
    )
    fit.pretrend = _wald_pretrend(fit)
    return fit


def _wald_pretrend(fit: _Fit) -> dict[str, Any]:
    """Return the analytic joint test that every pre-period (e < -1) effect is zero."""
    if not fit.pre:
        return {"statistic": None, "p_value": None, "df": 0}
    at = [fit.pos[i] for i in fit.pre]
    b, v = fit.coefs[at], fit.vc[np.ix_(at, at)]
    stat = float(b @ np.linalg.pinv(v) @ b) / len(fit.pre)
    return {
        "statistic": stat,
        "p_value": float(special.fdtrc(len(fit.pre), fit.df, stat)),
        "df": len(fit.pre),
        "test": "Wald F, all pre-period (e < -1) effects zero",
    }


def _infer(
    prep: Prepared, vcov: str, spec: Spec, fit: _Fit, window: Window, few: bool
) -> tuple[str, dict[str, Any], Placebos | None, Any]:
    """Resample when the inference asks for it; return the method, its detail, its draws, design.

    The headline, the rows and the pre-test of ``fit`` are updated in place.
    """
    inference = "wild" if spec.inference == "bootstrap" else spec.inference
    k, threshold = prep.n_treated_clusters, spec.few_treated_threshold
    chosen = inference or ("permutation" if few else "analytic")
    detail: dict[str, Any] = {"vcov": vcov, "df": fit.df}
    design = event_design(prep, fit.kept, *window) if chosen != "analytic" else None
    if chosen in ("conley_taber", "permutation") and design is not None and design.role is None:
        if inference is not None:
            raise EstimationError(
                f"inference={chosen!r} needs a treatment that starts at the same period for "
                "every row of a cluster; use inference='wild' or 'analytic'"
            )
        chosen = "wild"  # as for TWFE: the few-treated default falls back to the bootstrap
        fit.messages.append(Note("event_wild_instead_of_conley_taber"))
    if design is None:
        if k < threshold and (prep.has_unit or prep.cluster_given):
            fit.messages.append(
                Note("event_few_treated_cr1", {"treated": k, "clusters": prep.n_clusters})
            )
        return chosen, detail, None, None
    if inference is None:
        fit.messages.append(few_treated_note(prep, threshold))
    post_shift = np.zeros(len(fit.kept))
    post_shift[fit.post] = 1.0
    outcomes, joint_p, draws = _event_resample(
        chosen, design, fit.w_kept, post_shift, fit.pre, spec.seed, spec.alpha, spec.options
    )
    for row, out in zip([fit.head, *fit.rows], outcomes, strict=True):
        row.update(p_value=out.p_value, conf_low=out.ci_low, conf_high=out.ci_high)
        if chosen != "wild":  # permutation and Conley–Taber give no standard error
            row.update(std_error=math.nan, statistic=math.nan)
    fit.messages.extend(outcomes[0].messages)
    if chosen == "wild" and k < threshold:
        fit.messages.append(Note("event_wild_unreliable", {"treated": k}))
    detail = {**outcomes[0].detail, "analytic_se": fit.se, "vcov": vcov}
    if fit.pre:
        fit.pretrend = {
            "statistic": None,
            "p_value": joint_p,
            "df": len(fit.pre),
            "test": _PRETREND_TEST[chosen],
        }
    return chosen, detail, draws, design


def event_extra(
    rows: list[dict[str, Any]], pretrend: dict[str, Any], reference: int
) -> dict[str, Any]:
    """Return the event study's JSON additions: one row per event time, pre-trend, reference.

    Parameters
    ----------
    rows : list of dict
        Tidy rows with ``event_time``.
    pretrend : dict
        The pre-trend test.
    reference : int
        The omitted event time.

    Returns
    -------
    dict
        ``event_study``, ``pretrend`` and ``reference_period``.
    """
    return {
        "event_study": event_records(rows),
        "pretrend": pretrend,
        "reference_period": reference,
    }


_PRETREND_TEST = {
    "conley_taber": "Conley–Taber placebo test, all pre-period (e < -1) effects zero",
    "permutation": "randomization test of no effect, statistic from the pre-period (e < -1) "
    "coefficients",
    "wild": "wild cluster bootstrap (restricted), all pre-period (e < -1) effects zero, "
    "statistic the sum of squared CR1 t",
}


def _sensitivity_placebos(
    design: inf.LinearDesign, w_post: np.ndarray, seed: int, options: Mapping[str, Any]
) -> Placebos:
    """Conley–Taber placebo draws for the sensitivity analysis when the p-values came elsewhere.

    With few treated clusters the CR1 covariance of the coefficients understates their
    error, whatever test gave the p-values (the default, permutation, gives no
    covariance at all), so the robust intervals are built from the comparison clusters'
    placebo estimates (Conley & Taber 2011), as with Conley–Taber inference.
    """
    return conley_taber_placebos(
        design,
        w_post,
        ferman_pinto=bool(options.get("ferman_pinto", True)),
        n_sim=int(options.get("n_sim", 1999)),
        max_enumerate=int(options.get("max_enumerate", 20_000)),
        seed=seed,
    )


def _event_resample(
    chosen: str,
    design: inf.LinearDesign,
    w_post: np.ndarray,
    post_shift: np.ndarray,
    pre: list[int],
    seed: int,
    alpha: float,
    options: Mapping[str, Any],
) -> tuple[list[inf.InferenceOutcome], float | None, Placebos | None]:
    """Resampling inference for the headline mean and every event time, and the pre-test.

    Returns one outcome per quantity (headline first, then each event time in order),
    the p-value of the joint pre-period test (None without pre-periods) and, for
    Conley–Taber, the placebo draws (for the sensitivity analysis).
    """
    m = len(w_post)
    units = [np.eye(m)[i] for i in range(m)]
    combos = [w_post, *units]
    if chosen == "conley_taber":
        fp = bool(options.get("ferman_pinto", True))
        n_sim = int(options.get("n_sim", 1999))
        max_enum = int(options.get("max_enumerate", 20_000))
        draws = conley_taber_placebos(
            design, w_post, ferman_pinto=fp, n_sim=n_sim, max_enumerate=max_enum, seed=seed
        )
        outcomes, joint_p = conley_taber_combinations(
            design,
            combos,
            ferman_pinto=fp,
            n_sim=n_sim,
            max_enumerate=max_enum,
            seed=seed,
            alpha=alpha,
            joint=pre,
            draws=draws,
        )
        return outcomes, joint_p, draws
    if chosen == "permutation":
        # The headline's interval inverts "the same effect tau in every period after the
        # start"; an event time's interval inverts "effect tau at that event time only".
        outcomes, joint_p = inf.randomization_combinations(
            design,
            combos,
            [post_shift, *units],
            n_perm=int(options.get("n_perm", 1999)),
            max_enumerate=int(options.get("max_enumerate", 20_000)),
            seed=seed,
            alpha=alpha,
            joint=pre,
        )
        return outcomes, joint_p, None
    weights = options.get("weights", "rademacher")
    check_choice("weights", weights, WildWeights)
    n_boot = int(options.get("n_boot", 9999))
    outcomes = wild_bootstrap_combinations(
        design, combos, weights=weights, n_boot=n_boot, seed=seed, alpha=alpha
    )
    joint_p = (
        wild_joint_test(design, pre, weights=weights, n_boot=n_boot, seed=seed) if pre else None
    )
    return outcomes, joint_p, None

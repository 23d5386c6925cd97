"""2×2, TWFE and the TWFE event study from a panel's sufficient statistics.

On a balanced panel the two-way within transformation of a regressor that depends on
the cohort and period alone, ``x(g, t)``, is again such a function, and the within
outcome summed over the units of one cluster and cohort follows from ``S`` and ``N``
(see :mod:`evalkit.did.engine._stats`). So ``X'X``, ``X'y`` and the cluster scores
``sum_{i in c} x_it e_it`` need nothing but the grouped sums; the variance is CR1 with
pyfixest's small-sample factor, so the numbers equal :func:`evalkit.did.estimate`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from evalkit.did._event import event_extra
from evalkit.did.engine._stats import PanelStats
from evalkit.did.results import DidResult, tidy_frame
from evalkit.errors import EstimationError

__all__ = ["linear_in_engine"]

Array = np.ndarray


def _within(stats: PanelStats, x: Array) -> tuple[Array, Array]:
    """Return two-way demeaned regressors x̃ (g, t, k) and within outcome sums (c, g, t)."""
    s, n = stats.s, stats.n
    n_g = n.sum(axis=0)
    units, periods = n_g.sum(), s.shape[2]
    y_t = s.sum(axis=(0, 1)) / units
    y_all = y_t.mean()
    unit_part = s.sum(axis=2, keepdims=True) / periods
    y_w = s - unit_part - n[:, :, None] * (y_t - y_all)[None, None, :]
    x_g = x.mean(axis=1, keepdims=True)
    x_t = np.einsum("g,gtk->tk", n_g, x) / units
    x_w = x - x_g - x_t[None, :, :] + x_t.mean(axis=0)[None, None, :]
    return x_w, y_w


def _fit(stats: PanelStats, x: Array, y: Array) -> tuple[Array, Array]:
    """Return the coefficients and the sandwich ``B⁻¹ (Σ_c s_c s_c') B⁻¹`` (before the factor).

    ``x`` holds the regressors per cohort and period, ``y`` the outcome sums per cluster,
    cohort and period; the cluster score is ``s_c = Σ_{g,t} x(g,t) (y_cgt - N_cg x(g,t)'β)``.
    """
    n_g = stats.n.sum(axis=0)
    xtx = np.einsum("g,gtk,gtl->kl", n_g, x, x)
    xty = np.einsum("gtk,cgt->k", x, y)
    if np.linalg.matrix_rank(xtx) < xtx.shape[0]:
        raise EstimationError(
            "the regressors are collinear with the unit and period effects; the in-engine path "
            "cannot drop terms (use the in-memory estimator)"
        )
    beta = np.linalg.solve(xtx, xty)
    fitted = np.einsum("gtk,k->gt", x, beta)
    resid = y - stats.n[:, :, None] * fitted[None, :, :]
    scores = np.einsum("gtk,cgt->ck", x, resid)
    bread = np.linalg.inv(xtx)
    return beta, bread @ (scores.T @ scores) @ bread


def _row(term: str, est: float, se: float, df: float, alpha: float) -> dict[str, Any]:
    crit = float(special.stdtrit(df, 1 - alpha / 2))
    return {
        "term": term,
        "estimate": est,
        "std_error": se,
        "statistic": est / se,
        "p_value": float(2 * special.stdtr(df, -abs(est / se))),
        "conf_low": est - crit * se,
        "conf_high": est + crit * se,
    }


def _adjust(stats: PanelStats, k_params: int) -> tuple[float, float]:
    """Pyfixest's CR1 factor ``G/(G-1) (N-1)/(N-k)`` and the t degrees of freedom ``G-1``."""
    g = len(stats.clusters)
    n_obs = stats.n_units * len(stats.periods)
    return g / (g - 1) * (n_obs - 1) / (n_obs - k_params), float(g - 1)


def _fe_params(stats: PanelStats, k: int) -> int:
    """Parameters pyfixest counts for ``y ~ C(small) + x | large`` (units nested in clusters)."""
    units, periods = stats.n_units, len(stats.periods)
    if periods <= units:  # period dummies, unit effects absorbed and nested in the clusters
        return periods + k
    return units - 1 + k + periods  # unit dummies, period effects absorbed, not nested


def _event_regressors(
    stats: PanelStats, min_e: int | None, max_e: int | None
) -> tuple[Array, list[int]]:
    g, t = stats.cohorts[:, None], stats.periods[None, :]
    treated = np.broadcast_to(g > 0, (g.size, t.size))
    rel = np.where(treated, t - g, np.iinfo(np.int64).min)
    if min_e is not None:
        rel = np.where(treated & (rel < min_e), min_e, rel)
    if max_e is not None:
        rel = np.where(treated & (rel > max_e), max_e, rel)
    present = (stats.cohort_sizes > 0)[:, None] & treated
    times = sorted({int(e) for e in rel[present]} - {-1})
    x = np.stack([(treated & (rel == e)).astype(float) for e in times], axis=2)
    return x, times


def linear_in_engine(
    stats: PanelStats,
    estimator: str,
    *,
    alpha: float = 0.05,
    min_e: int | None = None,
    max_e: int | None = None,
) -> DidResult:
    """Estimate the 2×2, TWFE or event study from sufficient statistics (CR1 by cluster).

    Parameters
    ----------
    stats : PanelStats
        From :func:`evalkit.did.engine.panel_statistics`.
    estimator : {"2x2", "twfe", "event_study"}
        The estimator.
    alpha : float
        1 − confidence level.
    min_e, max_e : int, optional
        Binned end points of the event study.

    Returns
    -------
    DidResult
        As :func:`evalkit.did.estimate` with ``inference='analytic'`` and clusters;
        ``inference_detail['path']`` names the engine.
    """
    g, t = stats.cohorts[:, None], stats.periods[None, :]
    extra: dict[str, Any] = {}
    if estimator == "2x2":
        starts = stats.cohorts[(stats.cohorts > 0) & (stats.cohort_sizes > 0)]
        if starts.size != 1:
            raise EstimationError(
                f"the 2x2 estimator needs one treated cohort; found {starts.size}; use "
                "estimator='twfe' or 'callaway_santanna'"
            )
        grp = np.broadcast_to(g > 0, (g.size, t.size)).astype(float)
        post = np.broadcast_to(t >= starts[0], grp.shape).astype(float)
        x = np.stack([np.ones_like(grp), grp, post, grp * post], axis=2)
        beta, vc = _fit(stats, x, stats.s)
        factor, df = _adjust(stats, 4)
        term, pick = "ATT (group × post)", 3
        rows = [_row(term, float(beta[pick]), float(np.sqrt(factor * vc[pick, pick])), df, alpha)]
    elif estimator == "twfe":
        d = ((g > 0) & (t >= g)).astype(float)[:, :, None]
        x_w, y_w = _within(stats, d)
        beta, vc = _fit(stats, x_w, y_w)
        factor, df = _adjust(stats, _fe_params(stats, 1))
        rows = [_row("ATT", float(beta[0]), float(np.sqrt(factor * vc[0, 0])), df, alpha)]
    elif estimator == "event_study":
        x, times = _event_regressors(stats, min_e, max_e)
        x_w, y_w = _within(stats, x)
        beta, vc = _fit(stats, x_w, y_w)
        factor, df = _adjust(stats, _fe_params(stats, len(times)))
        vc = factor * vc
        rows, extra = _event_rows(beta, vc, times, df, alpha)
    else:
        raise EstimationError(
            f"estimator {estimator!r} does not run in the engine; choose '2x2', 'twfe', "
            "'event_study' or 'callaway_santanna'"
        )
    head = rows[0]
    return DidResult(
        estimator=estimator,
        att=head["estimate"],
        se=head["std_error"],
        ci_low=head["conf_low"],
        ci_high=head["conf_high"],
        p_value=head["p_value"],
        n_obs=stats.n_units * len(stats.periods),
        n_units=stats.n_units,
        n_clusters=len(stats.clusters),
        n_treated_clusters=stats.n_treated_clusters,
        inference="analytic",
        alpha=alpha,
        notes=(),
        table=tidy_frame(rows),
        inference_detail={"vcov": "cluster", "df": df, "path": f"engine:{stats.backend}"},
        extra=extra,
    )


def _event_rows(
    beta: Array, vc: Array, times: list[int], df: float, alpha: float
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Headline (mean of e ≥ 0), one row per event time, and the pre-trend F test."""
    rows = [
        {
            **_row(f"event_time::{e}", float(b), float(np.sqrt(vc[i, i])), df, alpha),
            "event_time": e,
        }
        for i, (e, b) in enumerate(zip(times, beta, strict=True))
    ]
    post = [i for i, e in enumerate(times) if e >= 0]
    w = np.zeros(len(times))
    w[post] = 1.0 / len(post)
    head = {
        **_row("ATT (mean of e ≥ 0)", float(w @ beta), float(np.sqrt(w @ vc @ w)), df, alpha),
        "event_time": None,
    }
    pre = [i for i, e in enumerate(times) if e < -1]
    pretrend: dict[str, Any] = {"statistic": None, "p_value": None, "df": 0}
    if pre:
        b = beta[pre]
        stat = float(b @ np.linalg.pinv(vc[np.ix_(pre, pre)]) @ b) / len(pre)
        pretrend = {
            "statistic": stat,
            "p_value": float(special.fdtrc(len(pre), df, stat)),
            "df": len(pre),
            "test": "Wald F, all pre-period (e < -1) effects zero",
        }
    extra = event_extra(rows, pretrend, -1)
    return [head, *rows], extra

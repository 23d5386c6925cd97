"""Randomization inference for imputation and Sun–Abraham, and imputation's statistics.

With one or a few treated municipalities the cluster-robust (CR1) p-values of these
estimators are far too small (one pilot of twelve: p of order 1e-7 under a modest
effect). As for TWFE and Callaway–Sant'Anna, the treatment timing is the random
part: every cluster keeps its units and rows, and the cohorts (first treated
periods, 0 = never) are re-assigned among the clusters, keeping how many clusters
start in each period. Under each assignment the overall effect is estimated again
exactly as for the data, and the observed one is compared with them:

* p-value of the sharp null of no effect: the share of assignments (the observed one
  included) whose ``|ATT|`` is at least the observed one, never below
  ``1 / assignments``;
* interval by test inversion of the sharp null "a constant effect tau in every treated
  row", ``Y(0) = Y − tau · D``: both estimators are linear in the outcome for a fixed
  assignment, so each assignment is estimated on ``Y`` and on the observed ``D`` and
  ``p(tau)`` follows for any tau (as :func:`evalkit.did.inference.randomization`).

Every distinct assignment is used when there are at most ``max_enumerate``; otherwise
the observed one and ``n_perm`` seeded draws over the clusters in sorted label order
(the conventions of the TWFE path). An assignment under which the effect is not defined
(a unit without untreated rows, collinear cells) depends on the assignment alone, not
on the outcome, so it is left out with a note and the test stays exact. The effects
per event time are tested the same way, each against its own shift ``D_e`` (the rows
at event time ``e``). Sun–Abraham's statistics are in
:mod:`evalkit.did._sun_abraham_inference`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from evalkit.did._data import CLUSTER, COHORT, TIME, UNIT, Prepared, Y
from evalkit.did._permutation import (
    cohort_roles,
    draw_assignments,
    invert,
    sharp_null_p,
    size_note,
    unbounded_note,
)
from evalkit.did._twoway import TwoWay
from evalkit.did.inference import InferenceOutcome
from evalkit.did.notes import Note
from evalkit.errors import EstimationError

__all__ = [
    "EventStatistic",
    "Statistic",
    "codes",
    "cohort_randomization",
    "imputation_event_statistic",
    "imputation_lead_statistic",
    "imputation_statistic",
    "observed_d",
]

#: A statistic: row cohorts under an assignment → overall effect of Y and of the observed D.
Statistic = Callable[[np.ndarray], tuple[float, float]]
#: Row cohorts under an assignment → per event time, its effect on Y and on its own D_e.
EventStatistic = Callable[[np.ndarray], np.ndarray]


def codes(prep: Prepared) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Return the unit and period codes of the rows, and their numbers."""
    f = prep.frame
    unit = pd.factorize(f[UNIT], sort=True)[0]
    period = pd.factorize(f[TIME], sort=True)[0]
    return unit, period, int(unit.max()) + 1, int(period.max()) + 1


def observed_d(prep: Prepared) -> np.ndarray:
    """Return the observed treatment of every row (cohort > 0 and period ≥ cohort)."""
    t, g = prep.frame[TIME].to_numpy(), prep.frame[COHORT].to_numpy()
    return ((g > 0) & (t >= g)).astype(float)


#: Largest unit × period table for the dense two-way solve of the imputation statistic.
_DENSE_CELLS = 200_000


def _dense_two_way(
    cell: np.ndarray, n_u: int, n_t: int, r_unit: np.ndarray, r_period: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`TwoWay.solve` with a dense unit × period count table (same normalisation)."""
    c = np.bincount(cell, minlength=n_u * n_t).reshape(n_u, n_t).astype(float)
    n_unit, n_period = c.sum(axis=1), c.sum(axis=0)
    inv_u = np.divide(1.0, n_unit, out=np.zeros_like(n_unit), where=n_unit > 0)
    scaled = inv_u[:, None] * c
    schur = np.diag(n_period) - c.T @ scaled
    rhs = r_period - scaled.T @ r_unit
    live = np.flatnonzero(n_period > 0)
    lam = np.full(r_period.shape, np.nan)
    lam[live[0]] = 0.0
    keep = live[1:]  # one period effect is fixed at 0 (the unit effects absorb the level)
    if len(keep):
        lam[keep] = np.linalg.solve(schur[np.ix_(keep, keep)], rhs[keep])
    a = inv_u[:, None] * (r_unit - c @ np.nan_to_num(lam))
    a[n_unit == 0] = np.nan
    return a, lam


def _two_way_effects(
    u0: np.ndarray, p0: np.ndarray, n_u: int, n_t: int, columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the unit and period effects of each column of ``columns`` on rows ``u0``, ``p0``."""
    k = columns.shape[1]
    r_unit = np.column_stack([np.bincount(u0, columns[:, j], n_u) for j in range(k)])
    r_period = np.column_stack([np.bincount(p0, columns[:, j], n_t) for j in range(k)])
    if n_u * n_t <= _DENSE_CELLS:  # small panels: dense counts beat building sparse ones
        return _dense_two_way(u0 * n_t + p0, n_u, n_t, r_unit, r_period)
    return TwoWay(u0, p0, n_u, n_t).solve(r_unit, r_period)


def imputation_statistic(prep: Prepared) -> Statistic:
    """Borusyak–Jaravel–Spiess's overall effect as a function of the rows' cohorts.

    Parameters
    ----------
    prep : Prepared
        The panel the estimate was made on.

    Returns
    -------
    Statistic
        ``cohorts → (ATT of Y, ATT of the observed D)``: unit and period effects on the
        rows untreated under those cohorts, mean of ``Y − Ŷ(0)`` over the treated rows
        (rows whose ``Ŷ(0)`` is not defined are dropped, as the estimator does); NaN
        when no treated row is left.
    """
    unit, period, n_u, n_t = codes(prep)
    t = prep.frame[TIME].to_numpy()
    yd = np.column_stack([prep.frame[Y].to_numpy(dtype=float), observed_d(prep)])

    def stat(g: np.ndarray) -> tuple[float, float]:
        treated = (g > 0) & (t >= g)
        a, lam = _two_way_effects(unit[~treated], period[~treated], n_u, n_t, yd[~treated])
        tau = yd[treated] - (a[unit[treated]] + lam[period[treated]])
        tau = tau[np.isfinite(tau).all(axis=1)]
        if not len(tau):
            return math.nan, math.nan
        return float(tau[:, 0].mean()), float(tau[:, 1].mean())

    return stat


def imputation_event_statistic(prep: Prepared, times: Sequence[int]) -> EventStatistic:
    """Borusyak–Jaravel–Spiess's effects at event times ``times`` as a function of cohorts.

    The sharp null of the interval at event time ``e`` is "an effect tau in the rows
    treated for ``e`` periods, none elsewhere": ``Y(0) = Y − tau · D_e``, where ``D_e``
    marks those rows under the observed cohorts. The estimator is linear in the outcome
    for a fixed assignment, so each assignment is estimated on ``Y`` and on every
    ``D_e`` at once (one two-way solve with ``1 + len(times)`` columns).

    Parameters
    ----------
    prep : Prepared
        The panel the estimate was made on.
    times : sequence of int
        Event times ``e ≥ 0`` of the estimate.

    Returns
    -------
    EventStatistic
        ``cohorts → array (len(times), 2)``: per event time the mean of ``Y − Ŷ(0)``
        and of ``D_e − D̂_e(0)`` over the rows treated for ``e`` periods under those
        cohorts (rows without ``Ŷ(0)`` dropped, as the estimator does); NaN where no
        such row is left.
    """
    unit, period, n_u, n_t = codes(prep)
    t = prep.frame[TIME].to_numpy(dtype=float)
    g_obs = prep.frame[COHORT].to_numpy(dtype=float)
    d_obs = observed_d(prep) > 0
    marks = [(d_obs & (t - g_obs == e)).astype(float) for e in times]
    v = np.column_stack([prep.frame[Y].to_numpy(dtype=float), *marks])

    def stat(g: np.ndarray) -> np.ndarray:
        treated = (g > 0) & (t >= g)
        a, lam = _two_way_effects(unit[~treated], period[~treated], n_u, n_t, v[~treated])
        tau = v[treated] - (a[unit[treated]] + lam[period[treated]])
        ok = np.isfinite(tau).all(axis=1)
        since = (t - g)[treated]
        out = np.full((len(times), 2), np.nan)
        for i, e in enumerate(times):
            at = ok & (since == e)
            if at.any():
                out[i] = tau[at, 0].mean(), tau[at, 1 + i].mean()
        return out

    return stat


def imputation_lead_statistic(prep: Prepared, times: Sequence[int]) -> EventStatistic:
    """Return imputation's pre-trend lead coefficients as a function of cohorts.

    As :func:`evalkit.did.imputation.imputation` fits them with pyfixest: on the rows
    untreated under the cohorts, the outcome on indicators of the event times ``times``
    (all ``< 0``) with unit and period effects (Frisch–Waugh–Lovell: both sides
    residualised on the two-way effects, then a small solve). The sharp null of the
    interval at lead ``e`` is a shift tau in the rows at event time ``e`` under the
    observed cohorts, none elsewhere (``Y(0) = Y − tau · D_e``).

    Returns
    -------
    EventStatistic
        ``cohorts → array (len(times), 2)``: per lead its coefficient on ``Y`` and on
        ``D_e``; NaN when the leads are collinear with the effects.
    """
    unit, period, n_u, n_t = codes(prep)
    t = prep.frame[TIME].to_numpy(dtype=float)
    g_obs = prep.frame[COHORT].to_numpy(dtype=float)
    marks = [((g_obs > 0) & (t - g_obs == e)).astype(float) for e in times]
    v = np.column_stack([prep.frame[Y].to_numpy(dtype=float), *marks])
    k = len(times)

    def stat(g: np.ndarray) -> np.ndarray:
        rows = ~((g > 0) & (t >= g))
        leads = np.column_stack([((g > 0) & (t - g == e))[rows] for e in times])
        both = np.column_stack([v[rows], leads.astype(float)])
        u0, p0 = unit[rows], period[rows]
        a, lam = _two_way_effects(u0, p0, n_u, n_t, both)
        resid = both - (np.nan_to_num(a)[u0] + np.nan_to_num(lam)[p0])
        lr = resid[:, 1 + k :]
        gram = lr.T @ lr
        if np.linalg.cond(gram) > 1e12:
            return np.full((k, 2), np.nan)
        beta = np.linalg.solve(gram, lr.T @ resid[:, : 1 + k])  # leads × (Y, D_e…)
        return np.column_stack([beta[:, 0], np.diag(beta[:, 1:])])

    return stat


def _cluster_roles(prep: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cluster code of every row, cohort code of every cluster, cohort value of each code."""
    f = prep.frame
    row_cluster = pd.factorize(f[CLUSTER], sort=True)[0]  # sorted labels: stable draws
    role, values = cohort_roles(row_cluster, f[COHORT].to_numpy(dtype=float))
    return row_cluster, role, values


def cohort_randomization(
    prep: Prepared,
    statistic: Statistic | EventStatistic,
    *,
    n_perm: int = 1999,
    max_enumerate: int = 20_000,
    seed: int = 0,
    alpha: float = 0.05,
    what: str = "overall effect",
) -> tuple[np.ndarray, list[InferenceOutcome]]:
    """Randomization inference for effects over the assignment of cohorts.

    Parameters
    ----------
    prep : Prepared
        The panel (every cluster's units share one cohort).
    statistic : Statistic or EventStatistic
        :func:`imputation_statistic` or :func:`sun_abraham_statistic` (the overall
        effect), or :func:`imputation_event_statistic` (one effect per event time).
    n_perm : int
        Random assignments besides the observed one when there are more than
        ``max_enumerate`` distinct ones.
    max_enumerate : int
        Use every distinct assignment when there are at most this many.
    seed : int
        Seed of the random assignments.
    alpha : float
        1 − confidence level.
    what : str
        The effect, as the details name it.

    Returns
    -------
    effects : numpy.ndarray
        The observed effects as re-estimated (the caller checks them).
    outcomes : list of InferenceOutcome
        Per effect: p-value, interval (±inf when the design cannot reach alpha),
        details, notes. Every effect is tested over the same assignments.
    """
    row_cluster, role, values = _cluster_roles(prep)
    if not (role > 0).any():
        raise EstimationError("no treated cluster: there is no assignment to permute")
    assignments, enumerated = draw_assignments(role, max_enumerate, n_perm, seed)
    stats = np.array([_pairs(statistic(values[a[row_cluster]])) for a in assignments])
    observed = _pairs(statistic(values[role[row_cluster]]))
    detail: dict[str, object] = {
        "method": "randomization inference over the assignment of cohorts to clusters",
        "assignments": len(assignments),
        "enumerated": bool(enumerated),
        "smallest_p_value": 1.0 / len(assignments),
        "seed": int(seed),
        "draw_order": "sorted cluster labels",
        "statistic": f"{what}, re-estimated under each assignment",
    }
    outcomes = [
        _outcome(stats[:, j], observed[j], role, alpha, detail) for j in range(len(observed))
    ]
    return observed[:, 0], outcomes


def _pairs(values: tuple[float, float] | np.ndarray) -> np.ndarray:
    """Return a statistic's value as effects × (on Y, on D): one row for an overall effect."""
    return np.reshape(np.asarray(values, dtype=float), (-1, 2))


def _outcome(
    stats: np.ndarray, observed: np.ndarray, role: np.ndarray, alpha: float, base: dict
) -> InferenceOutcome:
    """p-value, interval and notes of one effect from its values under every assignment.

    An assignment under which the effect is not defined depends on the assignment
    alone, not on the outcome, so it is left out with a note and the test stays exact.
    """
    obs_y, obs_d = float(observed[0]), float(observed[1])
    if not (math.isfinite(obs_y) and math.isfinite(obs_d) and obs_d != 0):
        raise EstimationError("the effect is not defined under the observed assignment")
    messages: list[Note] = []
    ok = np.isfinite(stats).all(axis=1)
    if not ok.all():
        left = {"left_out": int((~ok).sum()), "assignments": len(stats)}
        messages.append(Note("permutation_not_identified", left))
        stats = stats[ok]
    n = len(stats)
    detail = {**base, "assignments": int(n), "smallest_p_value": 1.0 / n}  # identified ones
    pfun = sharp_null_p(stats[:, 0], stats[:, 1], obs_y, obs_d)
    lo, hi = -math.inf, math.inf
    unbounded = unbounded_note("permutation_unbounded", n, alpha, role)
    if unbounded is not None:  # no p-value can reach alpha: say so instead of an interval
        messages.append(unbounded)
    else:
        detail["exact_size"], coarse = size_note(np.abs(stats[:, 0]), alpha)
        messages.extend([coarse] if coarse else [])
        lo, hi = invert(pfun, obs_y / obs_d, float(np.std(stats[:, 0])) or 1.0, alpha)
    return InferenceOutcome(pfun(0.0), lo, hi, detail, tuple(messages))

"""Randomization inference for the overall effect of imputation and Sun–Abraham.

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
on the outcome, so it is left out with a note and the test stays exact.
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
    "cohort_randomization",
    "imputation_event_statistic",
    "imputation_statistic",
    "sun_abraham_event_statistic",
    "sun_abraham_statistic",
]

#: A statistic: row cohorts under an assignment → overall effect of Y and of the observed D.
Statistic = Callable[[np.ndarray], tuple[float, float]]
#: Row cohorts under an assignment → per event time, its effect on Y and on its own D_e.
EventStatistic = Callable[[np.ndarray], np.ndarray]
#: Condition number above which the Sun–Abraham cells count as not identified.
_SINGULAR_COND = 1e12


def _codes(prep: Prepared) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Return the unit and period codes of the rows, and their numbers."""
    f = prep.frame
    unit = pd.factorize(f[UNIT], sort=True)[0]
    period = pd.factorize(f[TIME], sort=True)[0]
    return unit, period, int(unit.max()) + 1, int(period.max()) + 1


def _observed_d(prep: Prepared) -> np.ndarray:
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
    unit, period, n_u, n_t = _codes(prep)
    t = prep.frame[TIME].to_numpy()
    yd = np.column_stack([prep.frame[Y].to_numpy(dtype=float), _observed_d(prep)])

    def stat(g: np.ndarray) -> tuple[float, float]:
        treated = (g > 0) & (t >= g)
        u0, p0 = unit[~treated], period[~treated]
        r_unit = np.column_stack([np.bincount(u0, yd[~treated, j], n_u) for j in (0, 1)])
        r_period = np.column_stack([np.bincount(p0, yd[~treated, j], n_t) for j in (0, 1)])
        if n_u * n_t <= _DENSE_CELLS:  # small panels: dense counts beat building sparse ones
            a, lam = _dense_two_way(u0 * n_t + p0, n_u, n_t, r_unit, r_period)
        else:
            a, lam = TwoWay(u0, p0, n_u, n_t).solve(r_unit, r_period)
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
    unit, period, n_u, n_t = _codes(prep)
    t = prep.frame[TIME].to_numpy(dtype=float)
    g_obs = prep.frame[COHORT].to_numpy(dtype=float)
    d_obs = _observed_d(prep) > 0
    marks = [(d_obs & (t - g_obs == e)).astype(float) for e in times]
    v = np.column_stack([prep.frame[Y].to_numpy(dtype=float), *marks])

    def stat(g: np.ndarray) -> np.ndarray:
        treated = (g > 0) & (t >= g)
        u0, p0 = unit[~treated], period[~treated]
        r_unit = np.column_stack([np.bincount(u0, v[~treated, j], n_u) for j in range(v.shape[1])])
        r_period = np.column_stack(
            [np.bincount(p0, v[~treated, j], n_t) for j in range(v.shape[1])]
        )
        if n_u * n_t <= _DENSE_CELLS:
            a, lam = _dense_two_way(u0 * n_t + p0, n_u, n_t, r_unit, r_period)
        else:
            a, lam = TwoWay(u0, p0, n_u, n_t).solve(r_unit, r_period)
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


#: Largest number of cluster × period blocks for the block path of Sun–Abraham (its
#: residualised Gram is blocks × blocks).
_MAX_BLOCKS = 4_000


def sun_abraham_statistic(prep: Prepared, min_e: int | None, max_e: int | None) -> Statistic:
    """Sun–Abraham's overall effect (cells ``e ≥ 0``, row-weighted) as a function of cohorts.

    The unit and period effects are those of every row whatever the assignment, and a
    cohort × event-time dummy is a sum of cluster × period blocks (a cluster's units
    share one cohort), so the residualised Gram of the blocks and their inner products
    with the residualised ``Y`` and ``D`` are computed once (Frisch–Waugh–Lovell); an
    assignment then only sums blocks into cells and solves a cells × cells system,
    instead of a pyfixest fit per assignment.

    Parameters
    ----------
    prep : Prepared
        The panel the estimate was made on (never-treated units present).
    min_e, max_e : int, optional
        The event window of the estimate (binned ends).

    Returns
    -------
    Statistic
        ``cohorts → (ATT of Y, ATT of the observed D)``; NaN when the cells are collinear
        with the fixed effects or no cell has ``e ≥ 0``.

    Raises
    ------
    EstimationError
        More than ``_MAX_BLOCKS`` cluster × period blocks.
    """
    cells = _SunAbrahamCells(prep, min_e, max_e, _observed_d(prep)[:, None])

    def stat(g: np.ndarray) -> tuple[float, float]:
        fitted = cells.fit(g)
        if fitted is None:
            return math.nan, math.nan
        beta, rel, size = fitted
        post = rel >= 0
        if not post.any():
            return math.nan, math.nan
        w = np.where(post, size, 0.0)
        att = (w / w.sum()) @ beta
        return float(att[0]), float(att[1])

    return stat


def sun_abraham_event_statistic(
    prep: Prepared, min_e: int | None, max_e: int | None, times: Sequence[int]
) -> EventStatistic:
    """Sun–Abraham's event-time coefficients ``times`` as a function of cohorts.

    As :func:`sun_abraham_statistic`, with one shift per event time: the sharp null of
    the interval at ``e`` is an effect tau in the rows at event time ``e`` (binned at the
    window's ends) under the observed cohorts, none elsewhere (``Y(0) = Y − tau · D_e``).

    Returns
    -------
    EventStatistic
        ``cohorts → array (len(times), 2)``: per event time the row-weighted mean of the
        cohorts' cells at ``e`` on ``Y`` and on ``D_e``; NaN where there is no such cell.
    """
    rel_obs = _event_times(prep, prep.frame[COHORT].to_numpy(dtype=float), min_e, max_e)
    treated = prep.frame[COHORT].to_numpy(dtype=float) > 0
    marks = np.column_stack([(treated & (rel_obs == e)).astype(float) for e in times])
    cells = _SunAbrahamCells(prep, min_e, max_e, marks)

    def stat(g: np.ndarray) -> np.ndarray:
        out = np.full((len(times), 2), np.nan)
        fitted = cells.fit(g)
        if fitted is None:
            return out
        beta, rel, size = fitted
        for i, e in enumerate(times):
            at = rel == e
            if at.any():
                w = size[at] / size[at].sum()
                out[i] = w @ beta[at, 0], w @ beta[at, 1 + i]
        return out

    return stat


def _event_times(prep: Prepared, g: np.ndarray, min_e: int | None, max_e: int | None) -> np.ndarray:
    """Return every row's event time ``t − g``, binned at the window's ends (as the estimator)."""
    rel = prep.frame[TIME].to_numpy(dtype=float) - g
    return np.clip(rel, min_e, max_e) if min_e is not None or max_e is not None else rel


class _SunAbrahamCells:
    """Sun–Abraham's cohort × event-time cells under any assignment, from blocks fitted once.

    ``fit(cohorts)`` returns the cells' coefficients on ``Y`` and on each column of
    ``shifts`` (cells × (1 + shifts)), each cell's event time and its number of rows; None
    when no cell is formed or the cells are collinear with the fixed effects.
    """

    def __init__(
        self, prep: Prepared, min_e: int | None, max_e: int | None, shifts: np.ndarray
    ) -> None:
        unit, period, n_u, n_t = _codes(prep)
        self.t_val = np.sort(prep.frame[TIME].unique())
        self.row_cluster = pd.factorize(prep.frame[CLUSTER], sort=True)[0]
        n_b = (int(self.row_cluster.max()) + 1) * n_t
        if n_b > _MAX_BLOCKS:
            raise EstimationError(
                f"permutation inference for sun_abraham handles up to {_MAX_BLOCKS} cluster × "
                f"period blocks; this panel has {n_b}"
            )
        block = self.row_cluster * n_t + period
        two = TwoWay(unit, period, n_u, n_t)
        # M B (B: block indicators, M: residual maker of unit and period effects), via Z'B
        zu_b = np.zeros((n_u, n_b))
        np.add.at(zu_b, (unit, block), 1.0)
        zt_b = np.zeros((n_t, n_b))
        np.add.at(zt_b, (period, block), 1.0)
        a, lam = two.solve(zu_b, zt_b)
        a, lam = np.nan_to_num(a), np.nan_to_num(lam)
        self.sizes = np.bincount(block, minlength=n_b).astype(float)
        self.gram = np.diag(self.sizes) - zu_b.T @ a - zt_b.T @ lam  # B'MB
        v = np.column_stack([prep.frame[Y].to_numpy(dtype=float), shifts])
        k = v.shape[1]
        va, vl = two.solve(
            np.column_stack([np.bincount(unit, v[:, j], n_u) for j in range(k)]),
            np.column_stack([np.bincount(period, v[:, j], n_t) for j in range(k)]),
        )
        resid = v - (va[unit] + vl[period])
        self.b_v = np.column_stack([np.bincount(block, resid[:, j], n_b) for j in range(k)])
        self.b_cluster, b_period = np.divmod(np.arange(n_b), n_t)
        self.b_time = self.t_val[b_period]
        self.window = (min_e, max_e)

    def fit(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Return (coefficients, event time, rows) of the cells under row cohorts ``g``."""
        g_cluster = np.zeros(len(self.b_cluster) // len(self.t_val))
        g_cluster[self.row_cluster] = g  # every row of a cluster has its cohort
        gb = g_cluster[self.b_cluster]
        rel = self.b_time - gb
        if self.window != (None, None):
            rel = np.clip(rel, *self.window)
        in_cell = (gb > 0) & (rel != -1) & (self.sizes > 0)
        if not in_cell.any():
            return None
        # cohort × event-time cells as one integer key (numpy: pandas' MultiIndex is slow here)
        span = float(rel.max() - rel.min() + 1)
        key = gb[in_cell] * span + (rel[in_cell] - rel.min())
        uniq, codes = np.unique(key, return_inverse=True)
        c = len(uniq)
        # Sum the blocks into cells with bincount, not with products of 0/1 matrices:
        # threaded BLAS on these small products spun 20x the CPU on a loaded machine.
        idx = np.flatnonzero(in_cell)
        pair = (codes[:, None] * c + codes[None, :]).ravel()
        cells = np.bincount(pair, self.gram[np.ix_(idx, idx)].ravel(), c * c).reshape(c, c)
        if np.linalg.cond(cells) > _SINGULAR_COND:
            return None
        k = self.b_v.shape[1]
        rhs = np.column_stack([np.bincount(codes, self.b_v[idx, j], c) for j in range(k)])
        cell_rel = np.zeros(c)
        cell_rel[codes] = rel[in_cell]
        return np.linalg.solve(cells, rhs), cell_rel, np.bincount(codes, self.sizes[idx], c)


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

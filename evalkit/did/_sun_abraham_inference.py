"""Sun–Abraham's overall effect and event-time coefficients as functions of the cohorts.

The statistics that :func:`evalkit.did._modern_inference.cohort_randomization` re-computes
under every assignment of cohorts to clusters. The unit and period effects are those of
every row whatever the assignment, and a cohort × event-time dummy is a sum of
cluster × period blocks (a cluster's units share one cohort), so the residualised Gram
of the blocks and their inner products with the residualised outcome and shifts are
computed once (Frisch–Waugh–Lovell); an assignment then only sums blocks into cells and
solves a cells × cells system, instead of a pyfixest fit per assignment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.did._data import CLUSTER, COHORT, TIME, Prepared, Y
from evalkit.did._modern_inference import EventStatistic, Statistic, codes, observed_d
from evalkit.did._twoway import TwoWay
from evalkit.errors import EstimationError

__all__ = ["sun_abraham_event_statistic", "sun_abraham_statistic"]

#: Condition number above which the Sun–Abraham cells count as not identified.
_SINGULAR_COND = 1e12

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
    cells = _SunAbrahamCells(prep, min_e, max_e, observed_d(prep)[:, None])

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
        unit, period, n_u, n_t = codes(prep)
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

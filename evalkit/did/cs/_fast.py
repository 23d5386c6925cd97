"""Fast path for balanced panels without covariates: influence functions by cohort.

Without covariates every 2×2 estimator is the difference between the mean
outcome change of the treated cohort and that of the comparison units, and the
influence function of unit ``i`` in cell ``j`` is

    psi[i, j] = a[c_i, j] * (y_i[t_j] - y_i[b_j] - mu[c_i, j])

where ``c_i`` is the unit's cohort, ``a`` is ``n / n_treated`` for the treated
cohort, ``-n / n_control`` for each comparison cohort and 0 otherwise. So the
unit-by-cell matrix never has to exist: its cross-products follow from the
per-cohort cross-products of the (cohort-centred) outcomes, and multiplier
bootstrap draws from per-cohort products of the multipliers with the outcomes
(``draws × units × periods`` instead of ``draws × units × cells``). The numbers
are the same as those of the general path (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evalkit.did.cs._data import CsData
from evalkit.did.notes import Note, as_number

__all__ = [
    "UNIT_CHUNK",
    "CohortIF",
    "Draw",
    "comparison_cohorts",
    "fast_cells",
    "no_comparison",
]

Array = NDArray[np.float64]

#: ``draw(bern, low, step) -> (cell draws, multiplier sums per cohort)``.
Draw = Callable[[NDArray[np.float32], float, float], tuple[Array, Array]]

#: Units centred at a time: the outcomes are read from the prepared panel block
#: by block instead of being copied whole (sorted, centred, in single precision).
UNIT_CHUNK = 1 << 13


@dataclass(frozen=True)
class CohortIF:
    """Influence functions of all cells, stored per cohort.

    Attributes
    ----------
    order : ndarray
        Units sorted by cohort (positions into the original unit order).
    bounds : ndarray
        Start of each cohort's block in ``order`` (length cohorts + 1).
    y : ndarray
        Outcomes, units × periods, in the original unit order (the prepared
        panel itself, not a copy).
    means : ndarray
        Cohorts × periods mean outcomes.
    a : ndarray
        Cohorts × cells scale factors.
    m : ndarray
        Cohorts × cells centred means (``mu - cohort mean change``).
    t_idx, b_idx : ndarray
        Period and base-period index of each cell.
    n : int
        Number of units.
    """

    order: NDArray[np.int64]
    bounds: NDArray[np.int64]
    y: Array
    means: Array
    a: Array
    m: Array
    t_idx: NDArray[np.int64]
    b_idx: NDArray[np.int64]
    n: int

    def _z(self, q: Array) -> Array:
        """Apply the cell contrasts (t minus base) to the period columns of ``q``."""
        return q[..., self.t_idx] - q[..., self.b_idx]

    def _centred(self, c: int) -> Iterator[tuple[slice, Array]]:
        """Yield the positions (in ``order``) and outcomes centred within cohort ``c``, by block."""
        for lo in range(int(self.bounds[c]), int(self.bounds[c + 1]), UNIT_CHUNK):
            pos = slice(lo, min(lo + UNIT_CHUNK, int(self.bounds[c + 1])))
            yield pos, self.y[self.order[pos]] - self.means[c]

    def moments(self) -> tuple[Array, Array, Array]:
        """Return ``gram``, ``cross`` and ``count_gram`` (see ``_inference.Moments``)."""
        k = self.t_idx.size
        nc = self.bounds.size - 1
        nt = self.y.shape[1]
        gram = np.zeros((k, k))
        cross = np.zeros((k, nc))
        counts = np.diff(self.bounds).astype(np.float64)
        for c in range(nc):
            q = np.zeros((nt, nt))  # periods × periods
            for _, block in self._centred(c):
                # einsum's own loop: a tiny product, not worth BLAS threads (which stall
                # badly on a busy machine).
                q += np.einsum("ij,ik->jk", block, block)
            zqz = self._z(self._z(q).T)  # cells × cells
            a_c, m_c = self.a[c], self.m[c]
            gram += np.outer(a_c, a_c) * (zqz + counts[c] * np.outer(m_c, m_c))
            cross[:, c] = -a_c * counts[c] * m_c
        return gram, cross, np.diag(counts)

    def drawer(self) -> Draw:
        """Return a function that turns multiplier indicators into cell draws.

        The multipliers are ``low + step * bern`` with ``bern`` a 0/1 matrix
        (two-point weights), so that only ``bern`` is multiplied: the outcomes
        are centred within cohort, which makes the ``low`` part vanish up to a
        rounding term that is added back exactly. The centred outcomes, with a
        column of ones, are copied once in single precision (half the size of
        the panel) for all draws.

        Returns
        -------
        callable
            ``draw(bern, low, step)`` with ``bern`` draws × units 0/1 indicators
            (single precision, units in ``order``) and the two multiplier values
            ``low`` and ``low + step``; it returns the cell draws ``v @ psi``
            (draws × cells) and ``v`` summed per cohort (draws × cohorts).
        """
        nc = self.bounds.size - 1
        nt = self.y.shape[1]
        single = np.ones((self.n, nt + 1), dtype=np.float32)
        colsum = np.zeros((nc, nt))
        for c in range(nc):
            for pos, block in self._centred(c):
                single[pos, :nt] = block
                colsum[c] += block.sum(axis=0)

        def draw(bern: NDArray[np.float32], low: float, step: float) -> tuple[Array, Array]:
            cell = np.zeros((bern.shape[0], self.t_idx.size))
            sums = np.empty((bern.shape[0], nc))
            for c in range(nc):
                lo, hi = self.bounds[c], self.bounds[c + 1]
                q = (bern[:, lo:hi] @ single[lo:hi]).astype(np.float64)
                sums[:, c] = low * (hi - lo) + step * q[:, nt]
                if not self.a[c].any():
                    continue
                p = self._z(step * q[:, :nt] + low * colsum[c])
                cell += (p - np.outer(sums[:, c], self.m[c])) * self.a[c]
            return cell, sums

        return draw

    def materialise(self) -> Array:
        """Return the units × cells influence-function matrix in the original unit order."""
        out = np.zeros((self.n, self.t_idx.size), order="F")
        nc = self.bounds.size - 1
        for c in range(nc):
            if not self.a[c].any():
                continue
            for pos, block in self._centred(c):
                out[self.order[pos]] = (self._z(block) - self.m[c]) * self.a[c]
        return out


def comparison_cohorts(
    values: Array, g: float, last: float, control: str, anticipation: int
) -> NDArray[np.bool_]:
    """Cohorts that compare with cohort ``g`` in a cell whose later period is ``last``.

    Never treated (``control='never'``), or also not yet treated by ``last`` plus the
    anticipation periods (``'notyet'``); cohort ``g`` itself never.
    """
    if control == "never":
        return np.asarray(values == 0)
    return np.asarray((values == 0) | ((values > last + anticipation) & (values != g)))


def no_comparison(g: float, t: float) -> Note:
    """Return the note for a cell without comparison units."""
    return Note("cs_cell_no_comparison", {"group": as_number(g), "time": as_number(t)})


def fast_cells(
    data: CsData,
    cells: list[tuple[float, int, int]],
    control: str,
    anticipation: int,
) -> tuple[Array, NDArray[np.bool_], CohortIF, list[Note]]:
    """Estimate the cells of a balanced panel without covariates.

    Parameters
    ----------
    data : CsData
        Prepared panel arrays.
    cells : list of (cohort, period index, base index)
        The cells.
    control : {"never", "notyet"}
        Comparison group.
    anticipation : int
        Periods of anticipation.

    Returns
    -------
    att : ndarray
        Estimates (0 for reference cells).
    keep : ndarray of bool
        Cells that could be estimated.
    CohortIF
        Their influence functions.
    list of Note
        Cells skipped and why.
    """
    periods = data.periods.astype(np.float64)
    values, code, counts = np.unique(data.unit_cohort, return_inverse=True, return_counts=True)
    order = np.argsort(code, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    # Cohort sums period by period: each column of the panel is read in place.
    means = (
        np.column_stack([np.bincount(code, weights=col, minlength=values.size) for col in data.y.T])
        / counts[:, None]
    )
    n = data.n_units
    k = len(cells)
    nc = values.size
    a = np.zeros((nc, k))
    m = np.zeros((nc, k))
    att = np.zeros(k)
    keep = np.ones(k, dtype=bool)
    skipped: list[Note] = []
    t_idx = np.array([c[1] for c in cells], dtype=np.int64)
    b_idx = np.array([c[2] for c in cells], dtype=np.int64)
    change = means[:, t_idx] - means[:, b_idx]  # cohorts × cells mean outcome change
    for j, (g, c, b) in enumerate(cells):
        if c == b:
            continue
        gi = int(np.searchsorted(values, g))
        ctrl = comparison_cohorts(values, g, periods[max(c, b)], control, anticipation)
        n0 = counts[ctrl].sum()
        if n0 == 0:
            skipped.append(no_comparison(g, periods[c]))
            keep[j] = False
            continue
        mu1 = change[gi, j]
        mu0 = float(counts[ctrl] @ change[ctrl, j]) / n0
        att[j] = mu1 - mu0
        a[gi, j] = n / counts[gi]
        a[ctrl, j] = -n / n0
        m[ctrl, j] = mu0 - change[ctrl, j]
    cif = CohortIF(
        order.astype(np.int64),
        bounds,
        data.y,
        means,
        a[:, keep],
        m[:, keep],
        t_idx[keep],
        b_idx[keep],
        n,
    )
    return att, keep, cif, skipped

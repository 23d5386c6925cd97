"""Group-time average treatment effects ATT(g, t) and their influence functions.

The cells, base periods and comparison groups follow Callaway & Sant'Anna
(2021) as implemented by R ``did``: a varying base period compares each
pre-treatment period with the one before it and every post-treatment period
with the last period before treatment (less anticipation); a universal base
period compares every period with that last pre-treatment period, and the
reference cell itself is reported as 0 without a standard error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import NDArray

from evalkit.did.cs import _twobytwo as tb
from evalkit.did.cs._data import CsData
from evalkit.did.cs._fast import CohortIF, fast_cells
from evalkit.did.notes import Note, as_number

__all__ = ["GroupTime", "cells_of", "group_time"]

Array = NDArray[np.float64]

_PANEL: dict[str, Callable[[Array, Array, Array], tuple[float, Array]]] = {
    "dr": tb.dr_panel,
    "ipw": tb.ipw_panel,
    "reg": tb.reg_panel,
}
_RC: dict[str, Callable[[Array, Array, Array, Array], tuple[float, Array]]] = {
    "dr": tb.dr_rc,
    "ipw": tb.ipw_rc,
    "reg": tb.reg_rc,
}


@dataclass(frozen=True)
class GroupTime:
    """The ATT(g, t) cells.

    Attributes
    ----------
    group, time, base : ndarray
        Cohort, period and base period of each cell.
    att : ndarray
        Estimates.
    inf : ndarray or None
        Influence functions, units × cells, scaled so that the variance of a
        linear combination ``w`` is ``sum((inf @ w) ** 2) / n**2``; None when
        they are kept per cohort in ``cohort_if`` (balanced panel, no covariates).
    reference : ndarray of bool
        Universal-base reference cells (estimate 0 by construction).
    skipped : list of Note
        Cells that could not be estimated, with the reason.
    """

    group: Array
    time: Array
    base: Array
    att: Array
    inf: Array | None
    reference: NDArray[np.bool_]
    skipped: list[Note]
    cohort_if: CohortIF | None = None

    def influence(self) -> Array:
        """Return the units × cells influence functions (built from ``cohort_if`` if needed)."""
        if self.inf is not None:
            return self.inf
        if self.cohort_if is None:  # pragma: no cover - constructed with one of the two
            raise ValueError("no influence functions")
        return self.cohort_if.materialise()


def cells_of(
    periods: Array, cohorts: Array, base_period: str, anticipation: int
) -> tuple[list[tuple[float, int, int]], list[Note]]:
    """List the (cohort, period index, base index) cells in R ``did``'s order."""
    out: list[tuple[float, int, int]] = []
    skipped: list[Note] = []
    start = 1 if base_period == "varying" else 0
    for g in cohorts:
        pre = np.flatnonzero(periods + anticipation < g)
        if pre.size == 0:
            skipped.append(
                Note(
                    "cs_cohort_no_pre_period",
                    {"cohort": as_number(g), "anticipation": int(anticipation)},
                )
            )
            continue
        last_pre = int(pre[-1])
        for c in range(start, periods.size):
            if base_period == "universal" or g <= periods[c]:
                b = last_pre
            else:
                b = c - 1
            out.append((float(g), c, b))
    return out, skipped


def group_time(
    data: CsData,
    *,
    control: str,
    method: str,
    base_period: str,
    anticipation: int,
) -> GroupTime:
    """Estimate every ATT(g, t) with its influence function.

    Parameters
    ----------
    data : CsData
        Prepared arrays.
    control : {"never", "notyet"}
        Comparison group.
    method : {"dr", "ipw", "reg"}
        2×2 estimator.
    base_period : {"varying", "universal"}
        Base-period rule.
    anticipation : int
        Periods of anticipation.

    Returns
    -------
    GroupTime
        The cells.
    """
    periods = data.periods.astype(np.float64)
    ug = data.unit_cohort
    n = data.n_units
    cohorts = np.unique(ug[ug > 0])
    cells, skipped = cells_of(periods, cohorts, base_period, anticipation)
    k = len(cells)
    groups = np.array([c[0] for c in cells])
    times = np.array([periods[c[1]] for c in cells])
    bases = np.array([periods[c[2]] for c in cells])
    ref = np.array([c[1] == c[2] for c in cells], dtype=bool)
    fast = data.x.shape[-1] == 1
    if fast and data.layout == "panel":
        att, keep, cif, more = fast_cells(data, cells, control, anticipation)
        return GroupTime(
            groups[keep],
            times[keep],
            bases[keep],
            att[keep],
            None,
            ref[keep],
            [*skipped, *more],
            cif,
        )
    inf = np.zeros((n, k), order="F")  # column writes, fast Gram
    att = np.zeros(k)
    never = ug == 0
    treated_of: dict[float, NDArray[np.bool_]] = {g: ug == g for g in cohorts}
    keep_cells = np.ones(k, dtype=bool)
    for j, (g, c, b) in enumerate(cells):
        if c == b:
            continue
        treated = treated_of[g]
        if control == "never":
            ctrl = never
        else:
            limit = periods[max(c, b)] + anticipation
            ctrl = never | ((ug > limit) & (ug != g))
        if not ctrl.any():
            skipped.append(
                Note(
                    "cs_cell_no_comparison", {"group": as_number(g), "time": as_number(periods[c])}
                )
            )
            keep_cells[j] = False
            continue
        if data.layout == "panel":
            att[j], inf[:, j] = _panel_cell(data, treated, ctrl, c, b, method, fast)
        else:
            att[j], inf[:, j] = _long_cell(data, treated, ctrl, c, b, method)
    if not keep_cells.all():
        inf = np.asfortranarray(inf[:, keep_cells])
    return GroupTime(
        groups[keep_cells],
        times[keep_cells],
        bases[keep_cells],
        att[keep_cells],
        inf,
        ref[keep_cells],
        skipped,
    )


def _panel_cell(
    data: CsData,
    treated: NDArray[np.bool_],
    ctrl: NDArray[np.bool_],
    c: int,
    b: int,
    method: str,
    fast: bool,
) -> tuple[float, Array]:
    n = data.n_units
    y = data.y
    if fast:
        # No covariates: every method is the difference of mean changes.
        dy = y[:, c] - y[:, b]
        n1, n0 = int(treated.sum()), int(ctrl.sum())
        mu1 = float(dy[treated].mean())
        mu0 = float(dy[ctrl].mean())
        col = np.where(treated, (dy - mu1) * (n / n1), 0.0)
        col -= np.where(ctrl, (dy - mu0) * (n / n0), 0.0)
        return mu1 - mu0, col
    sub = np.flatnonzero(treated | ctrl)
    dy = y[sub, c] - y[sub, b]
    d = treated[sub].astype(np.float64)
    x = data.x[sub, b, :]
    att, psi = _PANEL[method](dy, d, x)
    col = np.zeros(n)
    col[sub] = psi * (n / sub.size)
    return att, col


def _long_cell(
    data: CsData,
    treated: NDArray[np.bool_],
    ctrl: NDArray[np.bool_],
    c: int,
    b: int,
    method: str,
) -> tuple[float, Array]:
    rp = cast(NDArray[np.int64], data.row_period)
    ru = cast(NDArray[np.int64], data.row_unit)
    rows = np.flatnonzero(((rp == c) | (rp == b)) & (treated | ctrl)[ru])
    y = data.y[rows]
    post = (rp[rows] == c).astype(np.float64)
    d = treated[ru[rows]].astype(np.float64)
    x = data.x[rows]
    att, psi = _RC[method](y, post, d, x)
    col = np.bincount(
        ru[rows], weights=psi * (data.n_units / rows.size), minlength=data.n_units
    ).astype(np.float64)
    return att, col

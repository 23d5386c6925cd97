"""Aggregations of ATT(g, t): simple, group, calendar and dynamic (event time).

Each aggregated parameter is a weighted average of ATT(g, t) cells with
weights proportional to cohort sizes, exactly as in R ``did::aggte``. The
weights are estimated, so their influence function ("wif") is added to the
influence function of the cells for the simple, calendar and dynamic rows and
for the overall group average.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalkit.did.cs._attgt import GroupTime

__all__ = ["Aggregation", "aggregate_all"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Aggregation:
    """One aggregation: its rows and its overall value, with influence functions.

    Attributes
    ----------
    kind : str
        ``"simple"``, ``"group"``, ``"calendar"`` or ``"dynamic"``.
    keys : list of dict
        Per row: ``{"group": g}``, ``{"time": t}`` or ``{"event_time": e}``.
    att : ndarray
        Row estimates.
    inf : ndarray
        Row influence functions (units × rows).
    overall_att : float
        The overall value.
    overall_inf : ndarray
        Its influence function.
    """

    kind: str
    keys: list[dict[str, Any]]
    att: Array
    inf: Array
    overall_att: float
    overall_inf: Array
    reference: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))


class _Weights:
    """Cohort shares and the influence function of weights built from them."""

    def __init__(self, unit_cohort: Array, cell_group: Array) -> None:
        self.unit_cohort = unit_cohort
        self.n = unit_cohort.size
        cohorts, counts = np.unique(unit_cohort, return_counts=True)
        self.share = dict(zip(cohorts.tolist(), (counts / self.n).tolist(), strict=True))
        self.cell_pg = np.array([self.share.get(g, 0.0) for g in cell_group.tolist()])

    def wif_times(self, groups: Array, pg: Array, att: Array) -> Array:
        """Return ``wif @ att`` for weights ``pg / sum(pg)`` over cells of cohorts ``groups``."""
        total = pg.sum()
        # (A @ att)_i with A[i, j] = 1{G_i = g_j} - pg_j, computed per cohort.
        by_g: dict[float, tuple[float, float]] = {}
        for g, a in zip(groups.tolist(), att.tolist(), strict=True):
            s, c = by_g.get(g, (0.0, 0.0))
            by_g[g] = (s + a, c + 1.0)
        sum_att = np.zeros(self.n)
        count = np.zeros(self.n)
        for g, (s, c) in by_g.items():
            mask = self.unit_cohort == g
            sum_att[mask] = s
            count[mask] = c
        a_att = sum_att - float(pg @ att)
        a_one = count - float(pg.sum())
        return a_att / total - a_one * float(pg @ att) / total**2


def _weighted(gt: GroupTime, w: _Weights, idx: NDArray[np.int64]) -> tuple[float, Array]:
    pg = w.cell_pg[idx]
    weights = pg / pg.sum()
    att = float(weights @ gt.att[idx])
    inf = gt.inf[:, idx] @ weights + w.wif_times(gt.group[idx], pg, gt.att[idx])
    return att, inf


def aggregate_all(
    gt: GroupTime,
    unit_cohort: Array,
    *,
    periods: Array,
    min_e: float | None,
    max_e: float | None,
    balance_e: int | None,
) -> dict[str, Aggregation]:
    """Compute the four aggregations of R ``did::aggte``.

    Parameters
    ----------
    gt : GroupTime
        The cells.
    unit_cohort : ndarray
        Cohort of every unit (0 never treated).
    periods : ndarray
        All periods of the data.
    min_e, max_e : float or None
        Event-time window of the dynamic aggregation; ``max_e`` also caps the
        post-treatment cells of the other aggregations (as in R).
    balance_e : int or None
        Keep only cohorts observed for at least ``balance_e`` periods after
        treatment in the dynamic aggregation.

    Returns
    -------
    dict
        ``{"simple", "group", "calendar", "dynamic"}`` → :class:`Aggregation`.
    """
    w = _Weights(unit_cohort, gt.group)
    g, t = gt.group, gt.time
    hi = np.inf if max_e is None else float(max_e)
    lo = -np.inf if min_e is None else float(min_e)
    post = (g <= t) & (t <= g + hi)
    n = unit_cohort.size
    empty = np.zeros((n, 0))
    out: dict[str, Aggregation] = {}

    # simple
    idx = np.flatnonzero(post)
    if idx.size:
        s_att, s_inf = _weighted(gt, w, idx)
    else:
        s_att, s_inf = float("nan"), np.zeros(n)
    out["simple"] = Aggregation("simple", [], np.zeros(0), empty, s_att, s_inf)

    # group
    glist = [x for x in np.unique(g) if (post & (g == x)).any()]
    g_att = np.array([gt.att[post & (g == x)].mean() for x in glist])
    g_inf = (np.column_stack([gt.inf[:, post & (g == x)].mean(axis=1) for x in glist])
             if glist else empty)
    if glist:
        garr = np.array(glist, dtype=np.float64)
        pg = np.array([w.share.get(x, 0.0) for x in glist])
        weights = pg / pg.sum()
        o_att = float(weights @ g_att)
        o_inf = g_inf @ weights + w.wif_times(garr, pg, g_att)
    else:
        o_att, o_inf = float("nan"), np.zeros(n)
    out["group"] = Aggregation("group", [{"group": float(x)} for x in glist], g_att, g_inf,
                               o_att, o_inf)

    # calendar
    tlist = [x for x in np.unique(t) if g.size and x >= g.min() and (post & (t == x)).any()]
    c_att, c_cols = [], []
    for x in tlist:
        a, f = _weighted(gt, w, np.flatnonzero(post & (t == x)))
        c_att.append(a)
        c_cols.append(f)
    c_att_arr = np.array(c_att)
    c_inf = np.column_stack(c_cols) if c_cols else empty
    out["calendar"] = Aggregation(
        "calendar", [{"time": float(x)} for x in tlist], c_att_arr, c_inf,
        float(c_att_arr.mean()) if tlist else float("nan"),
        c_inf.mean(axis=1) if tlist else np.zeros(n),
    )

    # dynamic
    e_all = t - g
    include = np.ones(g.size, dtype=bool)
    if balance_e is not None:
        include = (periods.max() - g) >= balance_e
    eseq = np.unique(e_all[include])
    if balance_e is not None:
        eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - periods.max() + periods.min())]
    eseq = eseq[(eseq >= lo) & (eseq <= hi)]
    d_att, d_cols, d_ref = [], [], []
    for e in eseq:
        cells = np.flatnonzero((e_all == e) & include)
        a, f = _weighted(gt, w, cells)
        d_att.append(a)
        d_cols.append(f)
        d_ref.append(bool(gt.reference[cells].all()))
    d_att_arr = np.array(d_att)
    d_inf = np.column_stack(d_cols) if d_cols else empty
    pos = eseq >= 0
    out["dynamic"] = Aggregation(
        "dynamic", [{"event_time": int(e)} for e in eseq], d_att_arr, d_inf,
        float(d_att_arr[pos].mean()) if pos.any() else float("nan"),
        d_inf[:, pos].mean(axis=1) if pos.any() else np.zeros(n),
        np.array(d_ref, dtype=bool),
    )
    return out

"""Aggregations of ATT(g, t): simple, group, calendar and dynamic (event time).

Each aggregated parameter is a weighted average of ATT(g, t) cells with
weights proportional to cohort sizes, exactly as in R ``did::aggte``. The
weights are estimated, so their influence function ("wif") is added to the
influence function of the cells for the simple, calendar and dynamic rows and
for the overall group average.

Every aggregated quantity is linear in the cell influence functions plus a
term that depends on a unit's cohort only:
``psi_q(i) = inf_cells[i] @ w_q + h_q[cohort code of i]``. Aggregations are
therefore stored as weight vectors ``w`` (over cells) and ``h`` (over cohorts),
never as unit-level matrices: standard errors and bootstrap draws follow from
small cross-products (see :mod:`evalkit.did.cs._inference`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalkit.did.cs._attgt import GroupTime

__all__ = ["Aggregation", "Cohorts", "aggregate_all"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Cohorts:
    """Cohort of every unit as a code, the cohort values and their shares.

    Attributes
    ----------
    values : ndarray
        Distinct cohort values (0 = never treated first).
    code : ndarray
        Index into ``values`` for every unit.
    share : ndarray
        Share of units in each cohort.
    """

    values: Array
    code: NDArray[np.int64]
    share: Array

    @classmethod
    def of(cls, unit_cohort: Array) -> Cohorts:
        """Build from the cohort of every unit.

        Parameters
        ----------
        unit_cohort : ndarray
            Cohort of every unit.

        Returns
        -------
        Cohorts
            Codes and shares.
        """
        values, code, counts = np.unique(unit_cohort, return_inverse=True, return_counts=True)
        return cls(values, code.astype(np.int64), counts / unit_cohort.size)

    def share_of(self, groups: Array) -> Array:
        """Return the share of units in each cohort of ``groups``."""
        return self.share[np.searchsorted(self.values, groups)]


@dataclass(frozen=True)
class Aggregation:
    """One aggregation: rows and overall value as linear maps of the cell estimates.

    Attributes
    ----------
    kind : str
        ``"simple"``, ``"group"``, ``"calendar"`` or ``"dynamic"``.
    keys : list of dict
        Per row: ``{"group": g}``, ``{"time": t}`` or ``{"event_time": e}``.
    att : ndarray
        Row estimates.
    w : ndarray
        Cells × rows weights.
    h : ndarray
        Cohorts × rows weight-estimation terms.
    overall_att : float
        The overall value.
    overall_w, overall_h : ndarray
        Its weights.
    reference : ndarray of bool
        Rows that consist of universal-base reference cells only.
    """

    kind: str
    keys: list[dict[str, Any]]
    att: Array
    w: Array
    h: Array
    overall_att: float
    overall_w: Array
    overall_h: Array
    reference: NDArray[np.bool_]


def _wif_h(coh: Cohorts, groups: Array, pg: Array, att: Array) -> Array:
    """Weight-estimation term over cohorts for weights ``pg / sum(pg)`` of cells in ``groups``."""
    total = pg.sum()
    pa = float(pg @ att)
    idx = np.searchsorted(coh.values, groups)
    s = np.bincount(idx, weights=att, minlength=coh.values.size)
    cnt = np.bincount(idx, minlength=coh.values.size).astype(np.float64)
    return (s - pa) / total - (cnt - total) * pa / total**2


def _weighted(gt: GroupTime, coh: Cohorts, idx: NDArray[np.int64]) -> tuple[float, Array, Array]:
    pg = coh.share_of(gt.group[idx])
    w = np.zeros(gt.att.size)
    w[idx] = pg / pg.sum()
    return float(w @ gt.att), w, _wif_h(coh, gt.group[idx], pg, gt.att[idx])


def _stack(cols: list[Array], size: int) -> Array:
    return np.column_stack(cols) if cols else np.zeros((size, 0))


def aggregate_all(
    gt: GroupTime,
    coh: Cohorts,
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
    coh : Cohorts
        Cohorts of the units.
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
    g, t = gt.group, gt.time
    k, nc = gt.att.size, coh.values.size
    hi = np.inf if max_e is None else float(max_e)
    lo = -np.inf if min_e is None else float(min_e)
    post = (g <= t) & (t <= g + hi)
    nan = float("nan")
    zw, zh = np.zeros(k), np.zeros(nc)
    no_rows = np.zeros(0, dtype=bool)
    out: dict[str, Aggregation] = {}

    # simple
    idx = np.flatnonzero(post)
    s_att, s_w, s_h = _weighted(gt, coh, idx) if idx.size else (nan, zw, zh)
    out["simple"] = Aggregation(
        "simple", [], np.zeros(0), np.zeros((k, 0)), np.zeros((nc, 0)), s_att, s_w, s_h, no_rows
    )

    # group: plain means within cohort; the overall average carries the wif.
    glist = [x for x in np.unique(g) if (post & (g == x)).any()]
    g_w = []
    for x in glist:
        cells = post & (g == x)
        wx = np.zeros(k)
        wx[cells] = 1.0 / cells.sum()
        g_w.append(wx)
    gw = _stack(g_w, k)
    g_att = gw.T @ gt.att
    if glist:
        garr = np.array(glist, dtype=np.float64)
        pg = coh.share_of(garr)
        weights = pg / pg.sum()
        o_att, o_w, o_h = float(weights @ g_att), gw @ weights, _wif_h(coh, garr, pg, g_att)
    else:
        o_att, o_w, o_h = nan, zw, zh
    out["group"] = Aggregation(
        "group",
        [{"group": float(x)} for x in glist],
        g_att,
        gw,
        np.zeros((nc, len(glist))),
        o_att,
        o_w,
        o_h,
        np.zeros(len(glist), dtype=bool),
    )

    # calendar
    tlist = [x for x in np.unique(t) if g.size and x >= g.min() and (post & (t == x)).any()]
    parts = [_weighted(gt, coh, np.flatnonzero(post & (t == x))) for x in tlist]
    c_att = np.array([p[0] for p in parts])
    cw, ch = _stack([p[1] for p in parts], k), _stack([p[2] for p in parts], nc)
    out["calendar"] = Aggregation(
        "calendar",
        [{"time": float(x)} for x in tlist],
        c_att,
        cw,
        ch,
        float(c_att.mean()) if tlist else nan,
        cw.mean(axis=1) if tlist else zw,
        ch.mean(axis=1) if tlist else zh,
        np.zeros(len(tlist), dtype=bool),
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
    dparts, dref = [], []
    for e in eseq:
        cells = np.flatnonzero((e_all == e) & include)
        dparts.append(_weighted(gt, coh, cells))
        dref.append(bool(gt.reference[cells].all()))
    d_att = np.array([p[0] for p in dparts])
    dw, dh = _stack([p[1] for p in dparts], k), _stack([p[2] for p in dparts], nc)
    pos = eseq >= 0
    out["dynamic"] = Aggregation(
        "dynamic",
        [{"event_time": int(e)} for e in eseq],
        d_att,
        dw,
        dh,
        float(d_att[pos].mean()) if pos.any() else nan,
        dw[:, pos].mean(axis=1) if pos.any() else zw,
        dh[:, pos].mean(axis=1) if pos.any() else zh,
        np.array(dref, dtype=bool),
    )
    return out

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
    hi = np.inf if max_e is None else float(max_e)
    lo = -np.inf if min_e is None else float(min_e)
    post = (gt.group <= gt.time) & (gt.time <= gt.group + hi)
    return {
        "simple": _simple(gt, coh, post),
        "group": _by_group(gt, coh, post),
        "calendar": _by_calendar(gt, coh, post),
        "dynamic": _by_event_time(gt, coh, periods, (lo, hi), balance_e),
    }


def _nothing(gt: GroupTime, coh: Cohorts) -> tuple[float, Array, Array]:
    """Return the overall ATT, cell weights and wif of an aggregation without cells."""
    return float("nan"), np.zeros(gt.att.size), np.zeros(coh.values.size)


def _simple(gt: GroupTime, coh: Cohorts, post: NDArray[np.bool_]) -> Aggregation:
    """Average the post-treatment cells with cohort-size weights (``type = "simple"``)."""
    k, nc = gt.att.size, coh.values.size
    idx = np.flatnonzero(post)
    s_att, s_w, s_h = _weighted(gt, coh, idx) if idx.size else _nothing(gt, coh)
    no_rows = np.zeros(0, dtype=bool)
    return Aggregation(
        "simple", [], np.zeros(0), np.zeros((k, 0)), np.zeros((nc, 0)), s_att, s_w, s_h, no_rows
    )


def _by_group(gt: GroupTime, coh: Cohorts, post: NDArray[np.bool_]) -> Aggregation:
    """Average within each cohort; the overall average (cohort shares) carries the wif."""
    g, k, nc = gt.group, gt.att.size, coh.values.size
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
        o_att, o_w, o_h = _nothing(gt, coh)
    rows = [{"group": float(x)} for x in glist]
    no_ref = np.zeros(len(glist), dtype=bool)
    return Aggregation(
        "group", rows, g_att, gw, np.zeros((nc, len(glist))), o_att, o_w, o_h, no_ref
    )


def _by_calendar(gt: GroupTime, coh: Cohorts, post: NDArray[np.bool_]) -> Aggregation:
    """Average the post-treatment cells of each calendar period; overall: their mean."""
    g, t, k, nc = gt.group, gt.time, gt.att.size, coh.values.size
    tlist = [x for x in np.unique(t) if g.size and x >= g.min() and (post & (t == x)).any()]
    parts = [_weighted(gt, coh, np.flatnonzero(post & (t == x))) for x in tlist]
    c_att = np.array([p[0] for p in parts])
    cw, ch = _stack([p[1] for p in parts], k), _stack([p[2] for p in parts], nc)
    o_att, o_w, o_h = _nothing(gt, coh)
    if tlist:
        o_att, o_w, o_h = float(c_att.mean()), cw.mean(axis=1), ch.mean(axis=1)
    rows = [{"time": float(x)} for x in tlist]
    return Aggregation(
        "calendar", rows, c_att, cw, ch, o_att, o_w, o_h, np.zeros(len(tlist), dtype=bool)
    )


def _by_event_time(
    gt: GroupTime,
    coh: Cohorts,
    periods: Array,
    window: tuple[float, float],
    balance_e: int | None,
) -> Aggregation:
    """Average the cells by time since the start; overall: the mean over event times ≥ 0."""
    g, k, nc = gt.group, gt.att.size, coh.values.size
    e_all = gt.time - g
    include = np.ones(g.size, dtype=bool)
    if balance_e is not None:
        include = (periods.max() - g) >= balance_e
    eseq = np.unique(e_all[include])
    if balance_e is not None:
        eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - periods.max() + periods.min())]
    eseq = eseq[(eseq >= window[0]) & (eseq <= window[1])]
    dparts, dref = [], []
    for e in eseq:
        cells = np.flatnonzero((e_all == e) & include)
        dparts.append(_weighted(gt, coh, cells))
        dref.append(bool(gt.reference[cells].all()))
    d_att = np.array([p[0] for p in dparts])
    dw, dh = _stack([p[1] for p in dparts], k), _stack([p[2] for p in dparts], nc)
    pos = eseq >= 0
    o_att, o_w, o_h = _nothing(gt, coh)
    if pos.any():
        o_att, o_w, o_h = float(d_att[pos].mean()), dw[:, pos].mean(axis=1), dh[:, pos].mean(axis=1)
    rows = [{"event_time": int(e)} for e in eseq]
    return Aggregation("dynamic", rows, d_att, dw, dh, o_att, o_w, o_h, np.array(dref, dtype=bool))

"""Randomization inference for Callaway–Sant'Anna over the assignment of cohorts to clusters.

With few treated clusters (one or two municipalities start a pilot) the
influence-function and bootstrap intervals of Callaway–Sant'Anna are far too
narrow, as cluster-robust ones are for TWFE. Here the treatment timing is the
random part: every cluster keeps its units, and the cohorts (first treated
periods, 0 = never) are re-assigned among the clusters, keeping how many
clusters start in each period. Under each assignment the ATT(g, t) cells and the
four aggregations are estimated again exactly as for the data (same comparison
group, method, base period, covariates), and the observed overall values are
compared with them:

* p-value of the sharp null of no effect: the share of assignments (the observed
  one included) whose ``|overall|`` is at least the observed one, so never below
  ``1 / number of assignments``;
* interval by test inversion of the sharp null "a constant effect tau in every
  treated period of the treated units", ``Y(0) = Y - tau * D``: every estimator
  here is linear in the outcome for a fixed assignment, so each assignment is
  estimated twice (on ``Y`` and on ``D``) and ``p(tau)`` follows for any tau.

Every distinct assignment is used when there are at most ``max_enumerate``;
otherwise the observed one and ``n_perm`` seeded random ones.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalkit.did._permutation import (
    cohort_roles,
    draw_assignments,
    invert,
    sharp_null_p,
    size_note,
    unbounded_note,
)
from evalkit.did.cs._aggregate import Cohorts, aggregate_all
from evalkit.did.cs._attgt import group_time
from evalkit.did.cs._data import CsData
from evalkit.did.cs._result import AGGREGATIONS, CsResult
from evalkit.did.cs.estimator import CsFit
from evalkit.did.notes import Note
from evalkit.did.results import json_float
from evalkit.errors import EstimationError

__all__ = ["CohortPermutation", "cohort_permutation", "with_permutation"]


@dataclass(frozen=True)
class CohortPermutation:
    """Randomization p-values and intervals of the overall value of each aggregation.

    Attributes
    ----------
    overall : dict
        ``simple``, ``group``, ``calendar``, ``dynamic`` → ``{"att", "p_value",
        "conf_low", "conf_high"}`` (interval ±inf when the design cannot bound it).
    detail : dict
        Assignments, whether they were enumerated, the smallest attainable p-value,
        the seed, and how many assignments could not be estimated.
    messages : tuple of Note
        Warnings (e.g. why the interval is unbounded).
    """

    overall: dict[str, dict[str, float]]
    detail: dict[str, Any]
    messages: tuple[Note, ...]


def _cluster_roles(data: CsData) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Cohort code of every cluster (0 = never treated) and the cohort value of each code."""
    if data.unit_cluster is None:
        raise EstimationError(
            "permutation inference for Callaway–Sant'Anna re-assigns cohorts to clusters; "
            "name the cluster column (e.g. the municipality)"
        )
    return cohort_roles(data.unit_cluster, data.unit_cohort)


def _treatment(data: CsData) -> NDArray[np.float64]:
    """Return the observed treatment indicator D in the layout of the outcome."""
    periods = data.periods.astype(np.float64)
    g = data.unit_cohort
    if data.layout == "panel":
        return ((g[:, None] > 0) & (periods[None, :] >= g[:, None])).astype(np.float64)
    if data.row_period is None or data.row_unit is None:  # pragma: no cover - long layout
        raise EstimationError("internal: long layout without row indices")
    rg = g[data.row_unit]
    return ((rg > 0) & (periods[data.row_period] >= rg)).astype(np.float64)


def _overall(data: CsData, settings: dict[str, Any]) -> NDArray[np.float64]:
    """Return the overall value of each aggregation, NaN when it cannot be estimated."""
    try:
        with warnings.catch_warnings():
            # numpy's RuntimeWarnings (empty means, 0/0) on assignments whose cells have
            # no comparison units; such an assignment counts as not estimable below
            warnings.simplefilter("ignore", RuntimeWarning)
            gt = group_time(
                data,
                control=settings["control"],
                method=settings["method"],
                base_period=settings["base_period"],
                anticipation=settings["anticipation"],
            )
            if gt.att.size == 0:
                return np.full(len(AGGREGATIONS), np.nan)
            aggs = aggregate_all(
                gt,
                Cohorts.of(data.unit_cohort),
                periods=data.periods.astype(np.float64),
                min_e=settings["min_e"],
                max_e=settings["max_e"],
                balance_e=settings["balance_e"],
            )
    except (EstimationError, np.linalg.LinAlgError, ValueError, ZeroDivisionError):
        return np.full(len(AGGREGATIONS), np.nan)
    return np.array([aggs[kind].overall_att for kind in AGGREGATIONS], dtype=np.float64)


class _MeansPath:
    """Overall values from cluster × period sums, for designs without covariates.

    Without covariates every 2×2 estimator here (panel or repeated cross-section,
    dr, ipw or reg) is the difference in differences of cohort-by-period means,
    so an assignment only regroups cluster × period sums of Y and D: no pass over
    the rows per assignment. The cells are those of the data (the set of cohorts,
    hence of cells and of comparison cohorts, does not change when cohorts move
    between clusters); the aggregations are the estimator's own.
    """

    def __init__(
        self,
        data: CsData,
        d_obs: NDArray[np.float64],
        settings: dict[str, Any],
        values: NDArray[np.float64],
    ) -> None:
        clus = np.asarray(data.unit_cluster)
        g_count = int(clus.max()) + 1
        nt = data.periods.size
        self.periods = data.periods.astype(np.float64)
        self.settings = settings
        self.values = values
        self.unit_cluster = clus
        self.units_per_cluster = np.bincount(clus, minlength=g_count).astype(np.float64)
        if data.layout == "panel":
            cells = clus[:, None] * nt + np.arange(nt)[None, :]
            ys, ds = data.y.ravel(), d_obs.ravel()
        else:
            ru, rp = np.asarray(data.row_unit), np.asarray(data.row_period)
            cells = clus[ru] * nt + rp
            ys, ds = data.y, d_obs
        flat = np.asarray(cells).ravel()
        size = g_count * nt
        self.sums = np.stack(
            [np.bincount(flat, weights=v, minlength=size).reshape(g_count, nt) for v in (ys, ds)]
        )  # 2 × G × T
        self.counts = np.bincount(flat, minlength=size).reshape(g_count, nt).astype(np.float64)
        with warnings.catch_warnings():
            # numpy's RuntimeWarnings (empty means, 0/0) in cells without comparison units
            warnings.simplefilter("ignore", RuntimeWarning)
            self.gt = group_time(
                data,
                control=settings["control"],
                method=settings["method"],
                base_period=settings["base_period"],
                anticipation=settings["anticipation"],
            )
        gt = self.gt
        self.t_idx = np.searchsorted(self.periods, gt.time)
        self.b_idx = np.searchsorted(self.periods, gt.base)
        self.g_code = np.searchsorted(values, gt.group)
        # Comparison cohorts of every cell (codes × cells), as in the estimator.
        if settings["control"] == "never":
            self.ctrl = np.zeros((values.size, gt.att.size), dtype=bool)
            self.ctrl[0] = True
        else:
            limit = self.periods[np.maximum(self.t_idx, self.b_idx)] + settings["anticipation"]
            self.ctrl = (values[:, None] == 0) | (
                (values[:, None] > limit[None, :]) & (values[:, None] != gt.group[None, :])
            )

    def __call__(self, assignment: NDArray[np.int64]) -> tuple[NDArray[np.float64], ...]:
        """Return the overall values on Y and on D under a cluster → cohort-code assignment."""
        onehot = np.zeros((self.values.size, assignment.size))
        onehot[assignment, np.arange(assignment.size)] = 1.0
        sums = onehot @ self.sums  # 2 × C × T
        counts = onehot @ self.counts  # C × T
        cols = np.arange(self.t_idx.size)

        def change(idx: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            s, c = sums[:, :, idx], counts[:, idx]  # 2 × C × k, C × k
            with np.errstate(invalid="ignore", divide="ignore"):
                treated = s[:, self.g_code, cols] / c[self.g_code, cols]
                control = (s * self.ctrl).sum(axis=1) / (c * self.ctrl).sum(axis=0)
            return treated, control

        tr_t, ct_t = change(self.t_idx)
        tr_b, ct_b = change(self.b_idx)
        att = np.where(self.gt.reference, 0.0, (tr_t - tr_b) - (ct_t - ct_b))  # 2 × k
        code = assignment[self.unit_cluster]
        shares = (
            np.bincount(assignment, weights=self.units_per_cluster, minlength=self.values.size)
            / self.units_per_cluster.sum()
        )
        cohorts = Cohorts(self.values, code.astype(np.int64), shares)
        out = []
        for row in att:
            aggs = aggregate_all(
                replace(self.gt, att=row, inf=None, cohort_if=None),
                cohorts,
                periods=self.periods,
                min_e=self.settings["min_e"],
                max_e=self.settings["max_e"],
                balance_e=self.settings["balance_e"],
            )
            out.append(np.array([aggs[kind].overall_att for kind in AGGREGATIONS]))
        return out[0], out[1]


def cohort_permutation(
    data: CsData,
    settings: dict[str, Any],
    *,
    n_perm: int = 999,
    max_enumerate: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> CohortPermutation:
    """Randomization inference over the assignment of cohorts to clusters.

    Parameters
    ----------
    data : CsData
        Prepared arrays with clusters (every cluster's units share one cohort).
    settings : dict
        ``control, method, base_period, anticipation, min_e, max_e, balance_e`` as
        given to the estimator.
    n_perm : int
        Random assignments besides the observed one when there are more than
        ``max_enumerate`` distinct assignments.
    max_enumerate : int
        Use every distinct assignment when there are at most this many.
    seed : int
        Seed of the random assignments.
    alpha : float
        1 − confidence level.

    Returns
    -------
    CohortPermutation
        p-values and intervals of the four overall values.
    """
    role, values = _cluster_roles(data)
    clus = np.asarray(data.unit_cluster)
    k = int((role > 0).sum())
    if k == 0:
        raise EstimationError("no treated cluster: there is no assignment to permute")
    assignments, enumerated = draw_assignments(role, max_enumerate, n_perm, seed)
    d_obs = _treatment(data)
    by_y = np.empty((len(assignments), len(AGGREGATIONS)))
    by_d = np.empty_like(by_y)
    observed = -1
    means = _MeansPath(data, d_obs, settings, values) if data.x.shape[-1] == 1 else None
    for i, a in enumerate(assignments):
        if means is not None:
            by_y[i], by_d[i] = means(a)
        else:
            moved = replace(data, unit_cohort=values[a[clus]])
            by_y[i] = _overall(moved, settings)
            by_d[i] = _overall(replace(moved, y=d_obs), settings)
        if observed < 0 and np.array_equal(a, role):
            observed = i
    n = len(assignments)
    smallest = 1.0 / n
    unbounded = unbounded_note("cs_permutation_unbounded", n, alpha, role)
    messages: list[Note] = [] if unbounded is None else [unbounded]
    overall: dict[str, dict[str, float]] = {}
    for j, kind in enumerate(AGGREGATIONS):
        obs_y, obs_d = float(by_y[observed, j]), float(by_d[observed, j])
        pfun = sharp_null_p(by_y[:, j], by_d[:, j], obs_y, obs_d, missing_is_extreme=True)
        if not math.isfinite(obs_y):
            p, lo, hi = math.nan, math.nan, math.nan
        elif unbounded is not None:
            p, lo, hi = pfun(0.0), -math.inf, math.inf
        else:
            spread = float(np.nanstd(by_y[:, j])) or 1.0
            p = pfun(0.0)
            lo, hi = invert(pfun, obs_y / obs_d if obs_d else obs_y, spread, alpha)
        overall[kind] = {"att": obs_y, "p_value": p, "conf_low": lo, "conf_high": hi}
    failed = int(np.isnan(by_y[:, 0]).sum())
    if failed:
        messages.append(Note("cs_permutation_not_estimable", {"failed": failed, "assignments": n}))
    detail: dict[str, Any] = {
        "method": "randomization inference over the assignment of cohorts to clusters",
        "assignments": int(n),
        "enumerated": bool(enumerated),
        "smallest_p_value": smallest,
        "seed": int(seed),
        "statistic": "overall value of each aggregation",
        "not_estimable_assignments": failed,
    }
    if unbounded is None:
        # the headline's exact size stands for all four (the same assignments), as the
        # first coefficient's does for TWFE; an assignment not estimable counts as extreme
        simple = np.abs(by_y[:, 0])
        defined = simple[np.isfinite(simple)]
        detail["exact_size"], coarse = size_note(defined, alpha, always=simple.size - defined.size)
        messages.extend([coarse] if coarse else [])
    return CohortPermutation(overall, detail, tuple(messages))


def with_permutation(
    fit: CsFit,
    result: CsResult,
    *,
    n_perm: int,
    max_enumerate: int,
    seed: int,
    alpha: float,
    notes: Sequence[Note] = (),
) -> CsResult:
    """Return ``result`` with the overall values' inference replaced by cohort permutation.

    Parameters
    ----------
    fit : CsFit
        The fit ``result`` was summarised from: its prepared data are permuted, not
        prepared again. Without a cluster column each unit is its own cluster.
    result : CsResult
        The estimate (its analytic standard errors move to the inference details).
    n_perm, max_enumerate, seed, alpha
        As in :func:`cohort_permutation`.
    notes : sequence of Note
        Warnings that replace those of ``result`` (e.g. without its cluster-robust note).

    Returns
    -------
    CsResult
        Same estimates; ``inference="permutation"``; the headline and every
        aggregation's overall value carry the randomization p-value and interval
        (no standard error); rows and cells keep their influence-function intervals.
    """
    data = fit.data
    if data.unit_cluster is None and data.unit_ids is not None:
        data = data.with_units_as_clusters()
    perm = cohort_permutation(
        data,
        fit.options.settings(),
        n_perm=n_perm,
        max_enumerate=max_enumerate,
        seed=seed,
        alpha=alpha,
    )
    simple = perm.overall["simple"]
    if not math.isclose(simple["att"], result.att, rel_tol=1e-8, abs_tol=1e-10):
        raise EstimationError("internal check failed: permutation re-estimate differs")
    aggregations: dict[str, dict[str, Any]] = {}
    analytic_se: dict[str, float | None] = {}
    for kind in AGGREGATIONS:
        agg = result.aggregations[kind]
        analytic_se[kind] = json_float(agg["overall"]["se"])
        o = perm.overall[kind]
        overall = {
            "att": agg["overall"]["att"],
            "se": math.nan,
            "conf_low": o["conf_low"],
            "conf_high": o["conf_high"],
            "p_value": o["p_value"],
        }
        aggregations[kind] = {**agg, "overall": overall}
    options = {**result.options, "permutation": perm.detail, "analytic_se": analytic_se}
    return replace(
        result,
        se=math.nan,
        ci_low=simple["conf_low"],
        ci_high=simple["conf_high"],
        p_value=simple["p_value"],
        inference="permutation",
        notes=(*notes, *perm.messages),
        aggregations=aggregations,
        options=options,
    )

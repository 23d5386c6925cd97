"""Aggregate ATT(g, t) cells, attach influence-function or bootstrap inference, build the result.

Shared by :func:`evalkit.did.cs.callaway_santanna` (influence functions per unit) and the
in-engine path (:mod:`evalkit.did.engine`, influence functions summed per cluster from
grouped sums): the same cells and moments give the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evalkit.did._distributions import normal_cdf, normal_quantile
from evalkit.did.cs import _inference as inf_
from evalkit.did.cs._aggregate import Aggregation, Cohorts, aggregate_all
from evalkit.did.cs._attgt import GroupTime
from evalkit.did.cs._result import AGGREGATIONS, CsResult
from evalkit.did.notes import Note
from evalkit.spec import FEW_TREATED_THRESHOLD

__all__ = ["Bootstrap", "Units", "summarise"]

_ROW_KEY = {"group": "group", "calendar": "time", "dynamic": "event_time"}


@dataclass(frozen=True)
class Units:
    """The facts about the units the result reports: periods, rows, cohorts, clusters."""

    periods: NDArray[np.float64]
    n_obs: int
    unit_cohort: NDArray[np.float64]
    unit_cluster: NDArray[np.int64] | None


@dataclass(frozen=True)
class Bootstrap:
    """Multiplier bootstrap options (``on=False``: analytic standard errors)."""

    on: bool
    n_boot: int
    seed: int
    weights: str


def _blocks(
    gt: GroupTime, coh: Cohorts, aggs: Mapping[str, Aggregation]
) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[str, int]]:
    """Every reported quantity is inf @ w + h[cohort]: cells, then each aggregation's rows."""
    k, nc = gt.att.size, coh.values.size
    w_blocks: list[NDArray[np.float64]] = [np.eye(k)]
    h_blocks: list[NDArray[np.float64]] = [np.zeros((nc, k))]
    sizes = {"cells": k}
    for kind in AGGREGATIONS:
        agg = aggs[kind]
        w_blocks.append(np.column_stack([agg.w, agg.overall_w]))
        h_blocks.append(np.column_stack([agg.h, agg.overall_h]))
        sizes[kind] = agg.att.size + 1
    return np.hstack(w_blocks), np.hstack(h_blocks), sizes


def summarise(
    gt: GroupTime,
    coh: Cohorts,
    mom: inf_.Moments,
    units: Units,
    *,
    notes: list[Note],
    detail: dict[str, Any],
    alpha: float,
    bootstrap: Bootstrap,
    window: tuple[int | None, int | None, int | None],
    few_treated: int = FEW_TREATED_THRESHOLD,
) -> CsResult:
    """Aggregate the cells and return the result with standard errors and the pre-test.

    Parameters
    ----------
    gt : GroupTime
        The ATT(g, t) cells.
    coh : Cohorts
        Cohort values and shares of the units.
    mom : Moments
        Cross-products of the influence functions (per unit or summed per cluster).
    units : Units
        Periods, rows, and each unit's cohort and cluster.
    notes : list of Note
        Notes so far (cells skipped, units dropped).
    detail : dict
        Options to report.
    alpha : float
        1 − confidence level.
    bootstrap : Bootstrap
        Multiplier bootstrap options.
    window : tuple
        ``(min_e, max_e, balance_e)`` of the aggregations.
    few_treated : int
        Fewer treated clusters than this get the note that the analytic intervals
        are unreliable (the registered ``few_treated_threshold``).

    Returns
    -------
    CsResult
        Cells, the four aggregations, the pre-test and the headline (simple) value.
    """
    min_e, max_e, balance_e = window
    aggs = aggregate_all(
        gt, coh, periods=units.periods, min_e=min_e, max_e=max_e, balance_e=balance_e
    )
    errors = _Errors.of(gt, coh, aggs, mom, bootstrap, detail, alpha)
    gt_frame = _cell_table(gt, errors, detail)
    agg_out = _aggregation_tables(aggs, errors, detail)
    p_pre = _pretest(gt, mom, detail)
    # Headline: simple aggregation.
    simple = agg_out["simple"]["overall"]
    att, se = float(simple["att"]), float(simple["se"])
    p_val = 2 * normal_cdf(-abs(att / se)) if np.isfinite(se) and se > 0 else float("nan")
    n_clusters, n_treated = _clusters(units, mom.n)
    if units.unit_cluster is not None and n_treated < few_treated:
        notes.append(Note("cs_few_treated_clusters", {"treated": n_treated}))
    return CsResult(
        att=att,
        se=se,
        ci_low=simple["conf_low"],
        ci_high=simple["conf_high"],
        p_value=p_val,
        n_obs=units.n_obs,
        n_units=mom.n,
        n_clusters=n_clusters,
        n_treated_clusters=n_treated,
        inference="bootstrap" if bootstrap.on else "analytic",
        alpha=float(alpha),
        notes=tuple(notes),
        group_time=gt_frame,
        aggregations=agg_out,
        pretest_p=p_pre,
        options=detail,
        dynamic_vcov=mom.cov(aggs["dynamic"].w, aggs["dynamic"].h),
    )


@dataclass(frozen=True)
class _Errors:
    """Standard errors of every block (cells, then each aggregation) and their critical values.

    With the multiplier bootstrap, a block's rows get the uniform critical value of
    its draws (a simultaneous band); otherwise, and for the overall values, the
    normal quantile.
    """

    pieces: Mapping[str, tuple[NDArray[np.float64], slice]]
    draws: NDArray[np.float64] | None
    z: float
    alpha: float

    @classmethod
    def of(
        cls,
        gt: GroupTime,
        coh: Cohorts,
        aggs: Mapping[str, Aggregation],
        mom: inf_.Moments,
        bootstrap: Bootstrap,
        detail: dict[str, Any],
        alpha: float,
    ) -> _Errors:
        w_all, h_all, sizes = _blocks(gt, coh, aggs)
        draws = None
        if bootstrap.on:
            n_boot, seed, weights = int(bootstrap.n_boot), int(bootstrap.seed), bootstrap.weights
            draws = inf_.bootstrap(mom, w_all, h_all, n_boot=n_boot, seed=seed, weights=weights)
            se_all = inf_.boot_se(draws)
            detail.update({"n_boot": n_boot, "seed": seed, "boot_weights": weights})
        else:
            se_all = mom.se(w_all, h_all)
        pieces: dict[str, tuple[NDArray[np.float64], slice]] = {}
        start = 0
        for name, size in sizes.items():
            pieces[name] = (se_all[start : start + size], slice(start, start + size))
            start += size
        return cls(pieces, draws, normal_quantile(1 - alpha / 2), alpha)

    def crit(self, name: str, nrows: int) -> float:
        """Return the critical value of a block's first ``nrows`` rows."""
        if self.draws is None or nrows == 0:
            return self.z
        se_b, sl = self.pieces[name]
        c = inf_.uniform_crit(self.draws[:, sl][:, :nrows], se_b[:nrows], self.alpha)
        return c if np.isfinite(c) else self.z


def _cell_table(gt: GroupTime, errors: _Errors, detail: dict[str, Any]) -> pd.DataFrame:
    """Return the ATT(g, t) table with standard errors and intervals."""
    se_cells = np.where(gt.reference, np.nan, errors.pieces["cells"][0])
    crit_cells = errors.crit("cells", gt.att.size)
    detail["crit_group_time"] = crit_cells
    return pd.DataFrame(
        {
            "group": gt.group,
            "time": gt.time,
            "base_period": gt.base,
            "event_time": (gt.time - gt.group).astype(int),
            "att": gt.att,
            "se": se_cells,
            "conf_low": gt.att - crit_cells * se_cells,
            "conf_high": gt.att + crit_cells * se_cells,
            "reference": gt.reference,
        }
    )


def _aggregation_tables(
    aggs: Mapping[str, Aggregation], errors: _Errors, detail: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Return each aggregation's overall value and rows, with standard errors and intervals."""
    out: dict[str, dict[str, Any]] = {}
    for kind in AGGREGATIONS:
        a = aggs[kind]
        se_b, _ = errors.pieces[kind]
        nrows = a.att.size
        se_rows, se_over = se_b[:nrows].copy(), float(se_b[nrows])
        if a.reference.size:
            se_rows[a.reference] = np.nan
        crit = errors.crit(kind, nrows)
        detail[f"crit_{kind}"] = crit
        columns: dict[str, Any] = {}
        if kind != "simple":
            key = _ROW_KEY[kind]
            columns[key] = [k[key] for k in a.keys]
        columns.update(
            att=a.att, se=se_rows, conf_low=a.att - crit * se_rows, conf_high=a.att + crit * se_rows
        )
        z = errors.z
        out[kind] = {
            "overall": {
                "att": a.overall_att,
                "se": se_over,
                "conf_low": a.overall_att - z * se_over,
                "conf_high": a.overall_att + z * se_over,
            },
            "rows": pd.DataFrame(columns),
        }
    return out


def _pretest(gt: GroupTime, mom: inf_.Moments, detail: dict[str, Any]) -> float:
    """Return the p-value of the Wald pre-test over the estimated pre-treatment cells.

    Its statistic and degrees of freedom (and why it could not run) go into ``detail``.
    """
    pre = (gt.group > gt.time) & ~gt.reference
    stat, df_, p_pre, why = inf_.wald_pretest(gt.att[pre], mom.gram[np.ix_(pre, pre)], mom.n)
    detail.update({"pretest_stat": stat, "pretest_df": df_})
    if why:
        detail["pretest"] = why
    return float(p_pre)


def _clusters(units: Units, n: int) -> tuple[int, int]:
    """Return the number of clusters and of clusters with a treated unit."""
    treated_units = units.unit_cohort > 0
    clus = units.unit_cluster
    if clus is None:
        return n, int(treated_units.sum())
    return int(clus.max()) + 1, int(np.unique(clus[treated_units]).size)

"""Sufficient statistics of a balanced unit panel, computed inside the engine (Ibis).

Without covariates, on a balanced panel whose treatment timing is fixed per unit and
whose units sit whole inside clusters, every estimator evalkit runs in the engine (2×2,
TWFE, event study, Callaway–Sant'Anna) is a function of two arrays only:

    S[c, g, t] = sum of the unit outcomes of cohort g in cluster c at period t
    N[c, g]    = number of units of cohort g in cluster c

because the regressors (treatment, event-time indicators) and the comparison groups
depend on the cohort and the period alone. Ibis builds that one grouped query, so it
runs on whatever backend holds the data: DuckDB on one machine, Spark on a cluster.
Rows finer than the unit (persons in a region-month) are averaged to the unit first,
inside the same query: the unit panel is the mean outcome per unit and period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import EstimationError

__all__ = ["PanelStats", "panel_statistics", "panel_statistics_many"]


@dataclass(frozen=True)
class PanelStats:
    """Grouped sums of a balanced unit panel.

    Attributes
    ----------
    clusters : ndarray
        Cluster labels (as strings), in the order of the first axis of ``s``.
    cohorts : ndarray
        Cohort values, ascending (0 = never treated first when present).
    periods : ndarray
        Periods, ascending.
    s : ndarray
        Clusters × cohorts × periods sums of the unit outcome.
    n : ndarray
        Clusters × cohorts number of units.
    n_rows : int
        Rows of the input table (person-months when the units are regions).
    backend : str
        Name of the engine that computed the sums.
    row_sums : ndarray, optional
        Clusters × cohorts × periods sums of the outcome over the input rows (persons),
        from the same query: with ``row_counts`` they give the person-month means the
        reports plot (:meth:`group_means`); the estimators do not use them.
    row_counts : ndarray, optional
        Clusters × cohorts × periods numbers of input rows.
    """

    clusters: np.ndarray
    cohorts: np.ndarray
    periods: np.ndarray
    s: np.ndarray
    n: np.ndarray
    n_rows: int
    backend: str
    row_sums: np.ndarray | None = field(default=None, repr=False)
    row_counts: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_units(self) -> int:
        """Units in the panel."""
        return int(self.n.sum())

    @property
    def cohort_sizes(self) -> np.ndarray:
        """Units per cohort."""
        return self.n.sum(axis=0)

    @property
    def n_treated_clusters(self) -> int:
        """Clusters with at least one ever-treated unit."""
        treated = self.cohorts > 0
        return int((self.n[:, treated].sum(axis=1) > 0).sum())

    def group_means(self) -> list[dict[str, Any]]:
        """Return the mean of the input rows per period, for ever-treated and never-treated units.

        Returns
        -------
        list of dict
            ``period, group ('pilot' for cohorts > 0, else 'comparison'), mean, n``
            (``n`` input rows), by group and period; empty without ``row_sums``.
        """
        if self.row_sums is None or self.row_counts is None:
            return []
        rows = []
        for group, cohorts in (("comparison", self.cohorts == 0), ("pilot", self.cohorts > 0)):
            sums = self.row_sums[:, cohorts, :].sum(axis=(0, 1))
            counts = self.row_counts[:, cohorts, :].sum(axis=(0, 1))
            for period, total, n in zip(self.periods, sums, counts, strict=True):
                if n > 0:
                    rows.append(
                        {"period": int(period), "group": group, "mean": total / n, "n": int(n)}
                    )
        return rows

    def __repr__(self) -> str:
        return (
            f"PanelStats({self.n_units} units, {len(self.clusters)} clusters, "
            f"{len(self.cohorts)} cohorts, {len(self.periods)} periods, {self.backend})"
        )


def _backend_name(table: Any) -> str:
    try:
        return str(table._find_backend().name)
    except Exception:  # an unbound memtable runs on the default backend
        return "duckdb"


def panel_statistics(
    table: Any, *, outcome: str, unit: str, time: str, cohort: str, cluster: str | None = None
) -> PanelStats:
    """Compute the sufficient statistics of a balanced panel inside the table's engine.

    Parameters
    ----------
    table : ibis.expr.types.Table
        Long data: one row per unit and period, or finer rows (persons) that are
        averaged to the unit and period.
    outcome : str
        Numeric or boolean outcome column (no missing values).
    unit, time : str
        Unit and integer period columns.
    cohort : str
        First treated period of the unit (0 = never treated).
    cluster : str, optional
        Cluster column containing whole units (default: the unit).

    Returns
    -------
    PanelStats
        The sums, and the facts the estimators need.

    Raises
    ------
    EstimationError
        Missing outcome values, an unbalanced panel, a cohort or cluster that changes
        within a unit: the in-memory estimators handle those.
    """
    stats = panel_statistics_many(
        table, outcomes=(outcome,), unit=unit, time=time, cohort=cohort, cluster=cluster
    )
    return stats[outcome]


def panel_statistics_many(
    table: Any,
    *,
    outcomes: Sequence[str],
    unit: str,
    time: str,
    cohort: str,
    cluster: str | None = None,
) -> dict[str, PanelStats]:
    """Compute the statistics of several outcomes in the same two queries.

    Parameters
    ----------
    table : ibis.expr.types.Table
        As for :func:`panel_statistics`.
    outcomes : sequence of str
        Outcome columns.
    unit, time, cohort, cluster : str
        As for :func:`panel_statistics`.

    Returns
    -------
    dict
        Outcome -> :class:`PanelStats`.
    """
    cluster = cluster or unit
    wanted = {*outcomes, unit, time, cohort, cluster}
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise EstimationError(
            f"column(s) {', '.join(sorted(missing))} not in the data; available: "
            f"{', '.join(table.columns)}"
        )
    t = table
    ys = {f"_y{k}": t[o].cast("float64") for k, o in enumerate(outcomes)}
    flags = [y.isnull().cast("int64") for y in ys.values()]
    miss = flags[0]
    for flag in flags[1:]:
        miss = miss + flag
    panel = t.group_by([t[unit].name("_u"), t[time].name("_t")]).aggregate(
        _ymiss=miss.sum(),
        _rows=t.count(),
        _g=t[cohort].max(),
        _gmin=t[cohort].min(),
        _c=t[cluster].cast("string").max(),
        _cmin=t[cluster].cast("string").min(),
        **{name: y.mean() for name, y in ys.items()},
        **{f"_w{k}": y.sum() for k, y in enumerate(ys.values())},
    )
    # Two queries (checks, then sums) each read the rows once; caching the unit panel
    # in between would save a scan, but ibis 12 cannot drop cached tables on DuckDB 2.
    _check(panel)
    sums = {f"s{k}": panel[f"_y{k}"].sum() for k in range(len(outcomes))}
    # the sums over the rows (persons) ride along: the reports' monthly means, without
    # another pass over the rows
    row_sums = {f"w{k}": panel[f"_w{k}"].sum() for k in range(len(outcomes))}
    stats = (
        panel.group_by(["_c", "_g", "_t"])
        .aggregate(n=panel.count(), rows=panel._rows.sum(), **sums, **row_sums)
        .to_pandas()
    )
    n_rows = int(stats["rows"].sum())
    backend = _backend_name(table)
    return {
        o: _arrays(stats.rename(columns={f"s{k}": "s", f"w{k}": "w"}), n_rows, backend)
        for k, o in enumerate(outcomes)
    }


def _check(panel: Any) -> None:
    """Raise unless the unit panel is balanced, with fixed cohort and cluster per unit."""
    per_unit = panel.group_by("_u").aggregate(
        nt=panel.count(),
        gdiff=(panel._g != panel._gmin).cast("int64").sum(),
        cdiff=(panel._c != panel._cmin).cast("int64").sum(),
        g=panel._g.max(),
        gmin=panel._g.min(),
        c=panel._c.max(),
        cmin=panel._c.min(),
        miss=panel._ymiss.sum(),
    )
    facts = per_unit.aggregate(
        units=per_unit.count(),
        nt_min=per_unit.nt.min(),
        nt_max=per_unit.nt.max(),
        bad_g=((per_unit.gdiff > 0) | (per_unit.g != per_unit.gmin)).cast("int64").sum(),
        bad_c=((per_unit.cdiff > 0) | (per_unit.c != per_unit.cmin)).cast("int64").sum(),
        missing=per_unit.miss.sum(),
    ).to_pandas()
    periods = panel.select("_t").distinct().count().to_pandas()
    row = facts.iloc[0]
    if int(row["missing"]) > 0:
        raise EstimationError(
            f"the outcome has {int(row['missing'])} missing value(s); the in-engine path needs "
            "complete outcomes (use the in-memory estimators, which drop them with a warning)"
        )
    if int(row["nt_min"]) != int(periods) or int(row["nt_max"]) != int(periods):
        raise EstimationError(
            f"the panel is unbalanced: units are observed in {int(row['nt_min'])} to "
            f"{int(row['nt_max'])} of {int(periods)} periods; the in-engine path needs a "
            "balanced panel"
        )
    if int(row["bad_g"]):
        raise EstimationError(f"the cohort changes within {int(row['bad_g'])} unit(s)")
    if int(row["bad_c"]):
        raise EstimationError(
            f"the cluster changes within {int(row['bad_c'])} unit(s); clusters must contain "
            "whole units"
        )


def _arrays(stats: pd.DataFrame, n_rows: int, backend: str) -> PanelStats:
    """Turn the long grouped sums into dense cluster × cohort × period arrays."""
    clusters = np.array(sorted(stats["_c"].unique()), dtype=object)
    cohorts = np.sort(stats["_g"].unique()).astype(np.float64)
    periods = np.sort(stats["_t"].unique()).astype(np.float64)
    ci = np.searchsorted(clusters.astype(str), stats["_c"].astype(str).to_numpy())
    gi = np.searchsorted(cohorts, stats["_g"].to_numpy(dtype=np.float64))
    ti = np.searchsorted(periods, stats["_t"].to_numpy(dtype=np.float64))
    s = np.zeros((clusters.size, cohorts.size, periods.size))
    counts, row_sums, row_counts = np.zeros_like(s), np.zeros_like(s), np.zeros_like(s)
    s[ci, gi, ti] = stats["s"].to_numpy(dtype=np.float64)
    counts[ci, gi, ti] = stats["n"].to_numpy(dtype=np.float64)
    row_sums[ci, gi, ti] = stats["w"].to_numpy(dtype=np.float64)
    row_counts[ci, gi, ti] = stats["rows"].to_numpy(dtype=np.float64)
    return PanelStats(
        clusters, cohorts, periods, s, counts[:, :, 0], n_rows, backend, row_sums, row_counts
    )

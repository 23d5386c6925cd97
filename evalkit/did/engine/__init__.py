"""Estimators computed inside a query engine (DuckDB locally, Spark on a cluster) via Ibis.

The 2×2, TWFE, the TWFE event study and Callaway–Sant'Anna without covariates reduce,
on a balanced panel, to grouped sums per cluster, cohort and period
(:func:`panel_statistics`); the engine computes those and evalkit finishes on arrays
of a few thousand numbers. The results equal :func:`evalkit.did.estimate`'s (tested
to 1e-10) and say in ``path`` which engine ran. Ibis is an optional dependency
(``pip install 'evalkit[national]'``); nothing here reads files: the caller passes an
Ibis table.
"""

from __future__ import annotations

from typing import Any

from evalkit.did.engine._cs import cs_in_engine
from evalkit.did.engine._linear import linear_in_engine
from evalkit.did.engine._stats import PanelStats, panel_statistics

__all__ = [
    "PanelStats",
    "cs_in_engine",
    "estimate_in_engine",
    "linear_in_engine",
    "panel_statistics",
]


def estimate_in_engine(
    table: Any,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    estimator: str,
    cluster: str | None = None,
    alpha: float = 0.05,
    **options: Any,
) -> Any:
    """Estimate inside the table's engine: sufficient statistics there, the rest here.

    Parameters
    ----------
    table : ibis.expr.types.Table
        Long data (unit-period rows, or finer rows averaged to unit and period).
    outcome, unit, time, cohort, cluster : str
        Columns (time and cohort as integer periods; cohort 0 = never treated).
    estimator : {"2x2", "twfe", "event_study", "callaway_santanna"}
        The estimator.
    alpha : float
        1 − confidence level.
    **options
        Callaway–Sant'Anna: ``control``, ``base_period``, ``anticipation``,
        ``bootstrap``, ``n_boot``, ``seed``, ``min_e``, ``max_e``, ``balance_e``;
        event study: ``min_e``, ``max_e``.

    Returns
    -------
    DidResult or CsResult
        With the engine named in ``inference_detail['path']`` / ``options['path']``.
    """
    stats = panel_statistics(
        table, outcome=outcome, unit=unit, time=time, cohort=cohort, cluster=cluster
    )
    if estimator == "callaway_santanna":
        return cs_in_engine(stats, alpha=alpha, cluster=cluster, **options)
    return linear_in_engine(stats, estimator, alpha=alpha, **options)

"""Estimators computed inside a query engine (DuckDB locally, Spark on a cluster) via Ibis.

The 2×2, TWFE, the TWFE event study and Callaway–Sant'Anna without covariates reduce,
on a balanced panel, to grouped sums per cluster, cohort and period
(:func:`panel_statistics`); the engine computes those and evalkit finishes on arrays
of a few thousand numbers. The results equal :func:`evalkit.did.estimate`'s (tested
to 1e-10) and say in ``path`` which engine ran. Covariates are outside the sums: then
only the needed columns are streamed to a unit panel (covariates as unit-period means)
and the in-memory estimator runs on it (:func:`estimate_streamed`, ``path``
``in_memory:streamed``). Ibis is an optional dependency
(``pip install 'evalkit[national]'``); nothing here reads files: the caller passes an
Ibis table.
"""

from __future__ import annotations

from typing import Any

from evalkit.did._common import MIN_SIDE_ANALYTIC, few_treated_default
from evalkit.did.engine._cs import cs_in_engine
from evalkit.did.engine._linear import linear_in_engine
from evalkit.did.engine._stats import PanelStats, panel_statistics, panel_statistics_many
from evalkit.did.engine._stream import (
    STREAMED,
    covariates_reason,
    estimate_streamed,
    mark_path,
    stream_unit_panel,
)
from evalkit.errors import EstimationError
from evalkit.spec import Spec, as_spec

#: The estimators that run on sufficient statistics.
ENGINE_ESTIMATORS: tuple[str, ...] = ("2x2", "twfe", "event_study", "callaway_santanna")

__all__ = [
    "ENGINE_ESTIMATORS",
    "STREAMED",
    "PanelStats",
    "covariates_reason",
    "cs_in_engine",
    "estimate_in_engine",
    "estimate_streamed",
    "linear_in_engine",
    "mark_path",
    "panel_statistics",
    "panel_statistics_many",
    "stream_unit_panel",
]


def estimate_in_engine(
    table: Any,
    spec: Spec | None = None,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    **choices: Any,
) -> Any:
    """Estimate inside the table's engine: sufficient statistics there, the rest here.

    Parameters
    ----------
    table : ibis.expr.types.Table
        Long data (unit-period rows, or finer rows averaged to unit and period).
    spec : Spec, optional
        The analysis choices (:class:`evalkit.spec.Spec`), or give them as keywords
        (``estimator="twfe"``, ``control=...``, ``cluster=...``).
    outcome, unit, time, cohort : str
        Columns (time and cohort as integer periods; cohort 0 = never treated).
    **choices
        Spec fields and tuning options when ``spec`` is not given.

    Returns
    -------
    DidResult or CsResult
        With where it ran in ``inference_detail['path']`` (``options['path']`` for
        Callaway–Sant'Anna): the engine (``engine:duckdb``), or with covariates
        ``in_memory:streamed``, the in-memory estimator on the streamed unit panel with
        the covariates as unit-period means (``why_not_in_engine`` and
        ``covariate_aggregation`` say so).

    Raises
    ------
    EstimationError
        A choice the engine path does not cover (resampling inference, a few-treated
        default), or data outside it (an unbalanced panel): use
        :func:`evalkit.did.estimate`.
    """
    spec = as_spec(spec, choices)
    _check_supported(spec)
    design = {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort}
    if spec.covariates:
        return estimate_streamed(table, spec, why=covariates_reason(spec.covariates), **design)
    stats = panel_statistics(table, cluster=spec.cluster, **design)
    k, g = stats.n_treated_clusters, len(stats.clusters)
    # The default must be the one evalkit.did.estimate picks, or the two paths disagree.
    if spec.inference is None and few_treated_default(k, g - k, spec.few_treated_threshold) != (
        "analytic"
    ):
        floor = max(spec.few_treated_threshold, MIN_SIDE_ANALYTIC)
        raise EstimationError(
            f"{k} treated and {g - k} comparison cluster(s), fewer than {floor} on one side: "
            "the default inference is then randomization inference, which runs in memory "
            "only (evalkit.did.estimate), or set inference='analytic'"
        )
    min_e, max_e = spec.event_window or (None, None)
    if spec.estimator == "callaway_santanna":
        return cs_in_engine(
            stats,
            control=spec.control,
            base_period=spec.base_period,
            anticipation=spec.anticipation,
            alpha=spec.alpha,
            cluster=spec.cluster,
            bootstrap=spec.inference == "bootstrap",
            n_boot=int(spec.options.get("n_boot", 999)),
            seed=spec.seed,
            min_e=min_e,
            max_e=max_e,
            balance_e=spec.options.get("balance_e"),
        )
    return linear_in_engine(stats, spec.estimator, alpha=spec.alpha, min_e=min_e, max_e=max_e)


def _check_supported(spec: Spec) -> None:
    """Raise for choices outside the sufficient-statistics path, naming the way out."""
    problems = []
    if spec.estimator not in ENGINE_ESTIMATORS:
        problems.append(f"estimator {spec.estimator!r} (engine: {', '.join(ENGINE_ESTIMATORS)})")
    allowed = (
        (None, "analytic", "bootstrap")
        if spec.estimator == "callaway_santanna"
        else (
            None,
            "analytic",
        )
    )
    if spec.inference not in allowed:
        problems.append(f"inference={spec.inference!r}")
    if spec.vcov not in (None, "cluster"):
        problems.append(f"vcov={spec.vcov!r} (the engine computes cluster-robust CR1)")
    if spec.anticipation and spec.estimator != "callaway_santanna":
        problems.append("anticipation with a regression estimator")
    if problems:
        raise EstimationError(
            "not available in the engine: " + "; ".join(problems) + ". Use "
            "evalkit.did.estimate on the data in memory (stream_unit_panel reads the "
            "needed columns for it in batches)"
        )

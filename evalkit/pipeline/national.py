"""The national evaluation: validate the Parquet panel in DuckDB, estimate inside the engine.

``validate_national`` checks every row of the partitioned panel inside DuckDB and
references the valid rows from the store (no copy, no person numbers);
``national_table`` opens that panel as an Ibis table on DuckDB or Spark with the period
and the region's cohort added; ``estimate_national`` runs Callaway–Sant'Anna
(all four aggregations, clustered influence-function standard errors), TWFE and the
event study inside the engine, per outcome. Starts come from the protocol
(``units.treated``), never from the generator's truth file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.spec import FEW_TREATED_THRESHOLD, Spec

__all__ = [
    "ENGINE_ESTIMATORS",
    "estimate_national",
    "national_files",
    "national_hypotheses",
    "national_table",
    "starts_from_protocol",
    "validate_national",
]

ENGINE_ESTIMATORS: tuple[str, ...] = ("callaway_santanna", "twfe", "event_study")
#: DuckDB's own limit, under the 4 GB target: larger sorts and joins spill to disk.
DUCKDB_MEMORY = "3GB"


def national_files(data: Path) -> list[Path]:
    """Return the panel's Parquet files (``DATA/outcome_panel/<region>/*.parquet``)."""
    root = data / "outcome_panel" if (data / "outcome_panel").is_dir() else data
    files = sorted(root.glob("*/*.parquet")) or sorted(root.glob("*.parquet"))
    if not files:
        raise EvalkitError(f"{data}: no Parquet files (expected outcome_panel/<region>/*.parquet)")
    return files


def _connect(store: Path) -> Any:
    import duckdb

    store.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(store))
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute(f"SET temp_directory = '{(store.parent / 'duckdb_tmp').as_posix()}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def validate_national(
    data: Path,
    store: Path,
    outcomes: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Validate the panel in DuckDB and reference its valid rows from ``store``.

    Parameters
    ----------
    data : pathlib.Path
        Folder of the panel.
    store : pathlib.Path
        DuckDB store file.
    outcomes : sequence of str
        Outcome columns.
    progress : callable, optional
        ``progress(rows, files)`` after every file.

    Returns
    -------
    dict
        Counts (rows read, accepted, rejected, failures per rule, duplicates).
    """
    from evalkit.ingest._parquet_ref import reference_parquet
    from evalkit.synth import load_regions

    munis = {m: r.code for r in load_regions() for m in r.municipalities}
    con = _connect(store)
    try:
        ref = reference_parquet(
            con, national_files(data), outcomes=outcomes, municipalities=munis, progress=progress
        )
    finally:
        con.close()
    return ref.to_dict()


def starts_from_protocol(protocol: Mapping[str, Any]) -> dict[str, str]:
    """Return ``{region: 'YYYY-MM'}`` from a protocol's ``units.treated``."""
    treated = (protocol.get("units") or {}).get("treated") or []
    starts = {str(t["unit"]): str(t["start"])[:7] for t in treated if "unit" in t and "start" in t}
    if not starts:
        raise EvalkitError("the protocol names no treated units with a start (units.treated)")
    return starts


def _month_index(text: str) -> int:
    year, month = text.split("-")[:2]
    return int(year) * 12 + int(month) - 1


def national_table(
    source: Path, starts: Mapping[str, str], engine: str = "duckdb", spark: Any = None
) -> Any:
    """Open the valid panel as an Ibis table with ``period`` and ``cohort`` (0 = not started).

    Parameters
    ----------
    source : pathlib.Path
        The DuckDB store (``.duckdb``; its validated view) or the panel folder (Parquet).
    starts : mapping
        Region -> start month ('YYYY-MM').
    engine : {"duckdb", "spark"}
        Where the queries run.
    spark : pyspark.sql.SparkSession, optional
        The session for ``engine='spark'`` (default: a local one).

    Returns
    -------
    ibis.expr.types.Table
        The person-month rows with the design columns.
    """
    import ibis

    if engine == "duckdb":
        if source.suffix == ".duckdb":
            con = ibis.duckdb.connect(str(source), read_only=True)
            con.raw_sql(f"SET memory_limit = '{DUCKDB_MEMORY}'")
            table = con.table("national_panel")
        else:
            con = ibis.duckdb.connect()
            table = con.read_parquet([p.as_posix() for p in national_files(source)])
    elif engine == "spark":
        con = ibis.pyspark.connect(spark or local_spark())
        files = [p.as_posix() for p in national_files(source)]
        con._session.read.parquet(*files).createOrReplaceTempView("national_panel")
        table = con.table("national_panel")
    else:
        raise EvalkitError(f"engine {engine!r} is not one of 'duckdb', 'spark'")
    period = table.month.year().cast("int64") * 12 + table.month.month().cast("int64") - 1
    cases = [(table.region == region, _month_index(s)) for region, s in sorted(starts.items())]
    cohort = ibis.cases(*cases, else_=0) if cases else ibis.literal(0)
    return table.mutate(period=period, cohort=cohort.cast("int64"))


def local_spark() -> Any:
    """Return a local two-core Spark session with a 2 GB driver (for tests and benchmarks)."""
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", "2g")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def estimate_national(
    table: Any,
    outcomes: Sequence[str],
    *,
    unit: str = "region",
    cluster: str = "region",
    estimators: Sequence[str] = ENGINE_ESTIMATORS,
    progress: Callable[[int, int], None] | None = None,
    spec: Spec | None = None,
) -> dict[str, Any]:
    """Run the in-engine estimators per outcome, with the registered choices of ``spec``.

    Parameters
    ----------
    table : ibis.expr.types.Table
        From :func:`national_table`.
    outcomes : sequence of str
        Outcome columns.
    unit, cluster : str
        Unit of analysis and cluster ('region' or 'municipality').
    estimators : sequence of str
        From :data:`ENGINE_ESTIMATORS`.
    progress : callable, optional
        ``progress(outcomes_done, rows_read)`` after every outcome.
    spec : Spec, optional
        The registered analysis (:func:`evalkit.analysis.plan.registered_spec`): its
        control group, base period, anticipation, alpha and event window reach every
        estimator. Without one: not-yet-treated comparisons, alpha 0.05, no window.
        Its covariates (person-level columns of ``table``) send every outcome down the
        streamed path: they become unit-period means (see
        :mod:`evalkit.did.engine._stream`) and its ``method`` reaches
        Callaway–Sant'Anna.

    Returns
    -------
    dict
        ``{outcome: {estimator: result dict, "engine_seconds": ..., "rows": ...,
        "trends": ...}}``: the grouped sums of all outcomes come from the same two
        queries, then every estimator uses them; ``trends`` are the person-month means
        per month of ever- and never-started units (``month, group, mean, n``), from the
        same sums (absent on the streamed path); each result keeps its event-time rows
        (``event_time_rows``), Callaway–Sant'Anna's also the joint test of its pre-period
        rows (``pretrend_event_time``), and its ``path`` says where it ran (``engine:duckdb``,
        ``engine:pyspark``, or ``in_memory:streamed`` with the reason when the panel is
        outside the engine path).
    """
    from evalkit.did.engine import (
        covariates_reason,
        cs_in_engine,
        linear_in_engine,
        panel_statistics_many,
    )
    from evalkit.errors import EstimationError

    started = time.perf_counter()
    design = {"unit": unit, "time": "period", "cohort": "cohort"}
    choices = _choices(spec)
    why = covariates_reason(choices["covariates"]) if choices["covariates"] else None
    if why is None:
        try:
            all_stats = panel_statistics_many(table, outcomes=outcomes, cluster=cluster, **design)
        except EstimationError as exc:
            why = str(exc)
    if why is not None:
        return {
            outcome: _streamed(
                table, {"outcome": outcome, **design}, cluster, estimators, why, choices
            )
            for outcome in outcomes
        }
    engine_seconds = round(time.perf_counter() - started, 2)
    out: dict[str, Any] = {}
    for done, outcome in enumerate(outcomes, start=1):
        stats = all_stats[outcome]
        out[outcome] = {
            "engine_seconds": engine_seconds,
            "rows": stats.n_rows,
            "trends": _monthly(stats.group_means()),
        }
        for estimator in estimators:
            started = time.perf_counter()
            window = {"min_e": choices["min_e"], "max_e": choices["max_e"]}
            if estimator == "callaway_santanna":
                cs = {k: choices[k] for k in ("control", "base_period", "anticipation")}
                fit: Any = cs_in_engine(
                    stats, cluster=cluster, alpha=choices["alpha"], **cs, **window
                )
            else:
                event = window if estimator == "event_study" else {}
                fit = linear_in_engine(stats, estimator, alpha=choices["alpha"], **event)
            entry = _entry(fit, choices["few_treated_threshold"])
            entry["seconds"] = round(time.perf_counter() - started, 3)
            entry["path"] = f"engine:{stats.backend}"
            out[outcome][estimator] = entry
        if progress is not None:
            progress(done, stats.n_rows)
    return out


def _entry(result: Any, few_treated_threshold: int) -> dict[str, Any]:
    """Return a result's record with its event-time rows (``event_time_rows``, tidy names).

    The rows are those of its ``tidy()`` frame that carry an event time (Callaway–
    Sant'Anna's dynamic aggregation, the event study's coefficients; none for TWFE), so
    the national report's event study reads the bundle's vocabulary, not ``att, se``.
    A Callaway–Sant'Anna record also gets ``pretrend_event_time``: the joint test of its
    pre-period event-time rows (:func:`evalkit.did.cs.event_time_pretest`), which needs
    the result's covariance and so is computed here, not from the record.
    """
    from evalkit.did.cs import CsResult, event_time_pretest
    from evalkit.did.results import event_time_rows, record

    tidy = result.tidy()
    entry = record(result, tidy)
    entry["event_time_rows"] = event_time_rows(tidy)
    if isinstance(result, CsResult):
        entry["pretrend_event_time"] = event_time_pretest(result, few_treated_threshold)
    return entry


def _monthly(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Name each period of :meth:`PanelStats.group_means` by its month (``YYYY-MM``)."""
    return [
        {
            "month": f"{r['period'] // 12:04d}-{r['period'] % 12 + 1:02d}",
            "group": r["group"],
            "mean": r["mean"],
            "n": r["n"],
        }
        for r in rows
    ]


def _choices(spec: Spec | None) -> dict[str, Any]:
    """Return the registered choices the national estimators take (defaults without one)."""
    low, high = (spec.event_window if spec else None) or (None, None)
    return {
        "control": spec.control if spec else "notyet",
        "base_period": spec.base_period if spec else "varying",
        "anticipation": spec.anticipation if spec else 0,
        "alpha": spec.alpha if spec else 0.05,
        "covariates": spec.covariates if spec else (),
        "method": spec.method if spec else "dr",
        "few_treated_threshold": spec.few_treated_threshold if spec else FEW_TREATED_THRESHOLD,
        "min_e": low,
        "max_e": high,
    }


def _streamed(
    table: Any,
    design: dict[str, str],
    cluster: str,
    estimators: Sequence[str],
    why: str,
    choices: Mapping[str, Any],
) -> dict[str, Any]:
    """Fallback: stream the needed columns to a unit panel and estimate in memory."""
    from evalkit.did import estimate
    from evalkit.did.engine import mark_path, stream_unit_panel

    started = time.perf_counter()
    covariates = tuple(choices["covariates"])
    panel = stream_unit_panel(table, cluster=cluster, covariates=covariates, **design)
    out: dict[str, Any] = {"engine_seconds": round(time.perf_counter() - started, 2)}
    for estimator in estimators:
        options: dict[str, Any] = {
            "inference": "analytic",
            "alpha": choices["alpha"],
            "covariates": covariates,
        }
        if estimator in ("event_study", "callaway_santanna") and choices["min_e"] is not None:
            options["event_window"] = (choices["min_e"], choices["max_e"])
        if estimator == "callaway_santanna":
            options.update(
                control=choices["control"],
                base_period=choices["base_period"],
                anticipation=choices["anticipation"],
                method=choices["method"],
                allow_unbalanced_panel=True,
            )
        result = estimate(
            panel,
            outcome=design["outcome"],
            unit=design["unit"],
            time=design["time"],
            cohort=design["cohort"],
            estimator=estimator,
            cluster=cluster,
            **options,
        )
        result = mark_path(result, why, covariates=bool(covariates))
        # its warnings and warning_codes: every note, aligned
        entry = _entry(result, choices["few_treated_threshold"])
        detail = entry["inference_detail"]
        entry["path"], entry["why_not_in_engine"] = detail["path"], detail["why_not_in_engine"]
        out[estimator] = entry
    return out


def national_hypotheses(protocol: Any, results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every registered hypothesis with its estimate and the registered family's correction.

    The estimate of a hypothesis is that of the registered estimator on its outcome
    (the simple aggregation for Callaway–Sant'Anna); a hypothesis whose outcome was
    not estimated keeps its place in the family with p = 1, as in
    :func:`evalkit.analysis.family.adjust`.

    Parameters
    ----------
    protocol : Protocol
        The typed, registered protocol.
    results : mapping
        From :func:`estimate_national`.

    Returns
    -------
    list of dict
        ``id, outcome, direction, estimator, estimate, std_error, p_value, p_adjusted``.
    """
    from evalkit.analysis.family import adjust

    estimator = protocol.analysis.estimator
    rows = []
    for h in protocol.hypotheses:
        res = (results.get(h.outcome) or {}).get(estimator) or {}
        rows.append(
            {
                "id": h.id,
                "outcome": h.outcome,
                "direction": h.direction,
                "estimator": estimator,
                "estimate": res.get("estimate"),
                "std_error": res.get("std_error"),
                "p_value": res.get("p_value"),
            }
        )
    method = protocol.analysis.multiple_testing
    for row, p in zip(rows, adjust([r["p_value"] for r in rows], method), strict=True):
        row["p_adjusted"] = p
        row["multiple_testing"] = method
    return rows

"""The fallback when the grouped sums do not suffice: stream the needed columns in chunks.

An unbalanced unit panel (a region without rows in some month) or a cohort that is not
fixed per unit is outside what the sufficient statistics cover. Then only the columns
the estimator needs are read from the engine in Arrow batches, summed per unit and
period batch by batch (memory bounded by the unit panel, not the rows), and the
in-memory estimator runs on the resulting unit panel.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["stream_unit_panel"]

BATCH_ROWS = 1 << 20


def stream_unit_panel(
    table: Any, *, outcome: str, unit: str, time: str, cohort: str, cluster: str | None
) -> pd.DataFrame:
    """Return the unit-by-period panel (mean outcome) built from streamed Arrow batches.

    Parameters
    ----------
    table : ibis.expr.types.Table
        The rows (persons or units by period).
    outcome, unit, time, cohort, cluster : str
        Columns (cluster optional).

    Returns
    -------
    pandas.DataFrame
        One row per unit and period: the unit, time, cohort and cluster columns, the
        mean outcome under ``outcome`` and the rows it averages under ``n_rows``.
    """
    keys = [unit, time, cohort] + ([cluster] if cluster and cluster != unit else [])
    parts: list[pd.DataFrame] = []
    for batch in _batches(table.select(*keys, outcome)):
        frame = batch.to_pandas()
        frame[outcome] = frame[outcome].astype("float64")
        parts.append(
            frame.groupby(keys, dropna=False, observed=True)[outcome]
            .agg(["sum", "count"])
            .reset_index()
        )
        if len(parts) > 16:  # keep the partial sums small
            parts = [_combine(parts, keys)]
    panel = _combine(parts, keys)
    panel[outcome] = panel["sum"] / panel["count"]
    return panel.drop(columns="sum").rename(columns={"count": "n_rows"})


def _combine(parts: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    return pd.concat(parts).groupby(keys, dropna=False, observed=True).sum().reset_index()


def _batches(expr: Any) -> Any:
    """Arrow record batches of an Ibis expression, read from the engine one at a time."""
    backend = expr._find_backend(use_default=True)
    if backend.name != "duckdb":
        return expr.to_pyarrow_batches(chunk_size=BATCH_ROWS)
    # ibis 12 calls a cursor method that DuckDB 2 renamed; run its SQL on DuckDB's reader.
    backend._run_pre_execute_hooks(expr)
    return backend.con.sql(str(backend.compile(expr))).to_arrow_reader(BATCH_ROWS)

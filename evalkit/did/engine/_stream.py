"""The fallback when the grouped sums do not suffice: stream the needed columns in chunks.

Covariates, an unbalanced unit panel (a region without rows in some month) or a cohort
that is not fixed per unit are outside what the sufficient statistics cover. Then only
the columns the estimator needs are read from the engine in Arrow batches, summed per
unit and period batch by batch (memory bounded by the unit panel, not the rows), and the
in-memory estimator runs on the resulting unit panel.

Covariates measured on finer rows (persons) become unit-period means, as the outcome
does: the unit's composition in that period. That is what the in-memory estimators
take on a unit panel: on a balanced one Callaway–Sant'Anna uses each unit's covariate
values in the base period of every cell (a pre-treatment period, so never a value the
treatment could have moved; on an unbalanced one the repeated cross-section estimators
use both periods' values, as R ``did``), the regressions use them as time-varying
regressors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from evalkit.spec import Spec

__all__ = [
    "STREAMED",
    "covariates_reason",
    "estimate_streamed",
    "mark_path",
    "stream_unit_panel",
]

BATCH_ROWS = 1 << 20
#: The ``path`` of a result estimated in memory on a streamed unit panel.
STREAMED = "in_memory:streamed"
#: How finer-grained covariates reach the unit panel (recorded on the result).
COVARIATE_AGGREGATION = "unit-period mean"


def stream_unit_panel(
    table: Any,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    cluster: str | None,
    covariates: Sequence[str] = (),
) -> pd.DataFrame:
    """Return the unit-by-period panel (means) built from streamed Arrow batches.

    Parameters
    ----------
    table : ibis.expr.types.Table
        The rows (persons or units by period).
    outcome, unit, time, cohort, cluster : str
        Columns (cluster optional).
    covariates : sequence of str
        Numeric covariate columns, averaged like the outcome.

    Returns
    -------
    pandas.DataFrame
        One row per unit and period: the unit, time, cohort and cluster columns, the
        mean outcome under ``outcome``, the mean of each covariate under its own name
        (over the rows where it is present; missing where it is nowhere present) and
        the rows with an outcome under ``n_rows``.
    """
    keys = [unit, time, cohort] + ([cluster] if cluster and cluster != unit else [])
    values = list(dict.fromkeys([outcome, *covariates]))
    parts: list[pd.DataFrame] = []
    for batch in _batches(table.select(*keys, *values)):
        frame = batch.to_pandas()
        for col in values:
            frame[col] = frame[col].astype("float64")
        sums = frame.groupby(keys, dropna=False, observed=True)[values].agg(["sum", "count"])
        sums.columns = [f"_{what}:{col}" for col, what in sums.columns]
        parts.append(sums.reset_index())
        if len(parts) > 16:  # keep the partial sums small
            parts = [_combine(parts, keys)]
    panel = _combine(parts, keys)
    out = panel[keys].copy()
    for col in values:
        count = panel[f"_count:{col}"]
        out[col] = panel[f"_sum:{col}"] / count.where(count > 0)
    out["n_rows"] = panel[f"_count:{outcome}"]
    return out


def estimate_streamed(
    table: Any, spec: Spec, *, outcome: str, unit: str, time: str, cohort: str, why: str
) -> Any:
    """Stream the unit panel and run :func:`evalkit.did.estimate` with the same ``spec``.

    Parameters
    ----------
    table : ibis.expr.types.Table
        The rows (persons or units by period).
    spec : Spec
        The analysis, passed unchanged to the in-memory estimator.
    outcome, unit, time, cohort : str
        Columns.
    why : str
        Why the grouped sums in the engine do not suffice (kept on the result).

    Returns
    -------
    DidResult or CsResult
        The in-memory result, with ``path`` ``in_memory:streamed``,
        ``why_not_in_engine`` and, with covariates, ``covariate_aggregation`` in its
        ``inference_detail``.
    """
    from evalkit.did import estimate

    panel = stream_unit_panel(
        table,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        cluster=spec.cluster,
        covariates=spec.covariates,
    )
    result = estimate(panel, spec, outcome=outcome, unit=unit, time=time, cohort=cohort)
    return mark_path(result, why, covariates=bool(spec.covariates))


def covariates_reason(covariates: Sequence[str]) -> str:
    """Say why covariates keep an estimate out of the engine (the result's ``why``)."""
    return (
        f"covariates ({', '.join(covariates)}): the grouped sums cover designs without covariates"
    )


def mark_path(result: Any, why: str, *, covariates: bool) -> Any:
    """Return ``result`` with where it ran (and why not in the engine) in its details."""
    detail = {"path": STREAMED, "why_not_in_engine": why}
    if covariates:
        detail["covariate_aggregation"] = COVARIATE_AGGREGATION
    if hasattr(result, "inference_detail"):
        return replace(result, inference_detail={**result.inference_detail, **detail})
    return replace(result, options={**result.options, **detail})


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

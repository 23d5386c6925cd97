"""Statistical disclosure control for one table, and pseudonym scrubbing.

Report tables drawn from a bundle table follow the release's suppression plan
(``evalkit.report.plan``), which decides every cell once for all documents and
exports. ``protect`` remains for tables that are not bundle tables (exploratory
effects, tables without counts of persons): primary suppression of counts from 1 up
to (not including) the threshold, values computed from those persons hidden with
them, and one more cell wherever a shown total would give a hidden count back.
Pseudonyms (64 hexadecimal characters) are scrubbed from any text that reaches a
report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.errors import ReportError

__all__ = ["PRIMARY", "SECONDARY", "Protected", "is_count_column", "protect", "scrub"]

PRIMARY = "primary"
SECONDARY = "secondary"
#: Settings rather than data (a norm's limit, a benchmark): never hidden with a count.
_PARAMETERS = frozenset({"limit", "days", "benchmark_low", "benchmark_high", "event_time", "year"})
_HEX64 = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])")


def is_count_column(name: str) -> bool:
    """Tell whether a column is one of the bundle's count fields: ``n`` and ``n_*``."""
    return name == "n" or name.startswith("n_")


def scrub(text: str, replacement: str = "[…]") -> str:
    """Replace anything that looks like a pseudonym or hash (64 hex characters)."""
    return _HEX64.sub(replacement, text)


@dataclass(frozen=True)
class Protected:
    """A table with a disclosure status per cell.

    Attributes
    ----------
    values : pandas.DataFrame
        The original values.
    status : pandas.DataFrame
        Same shape: ``""`` (shown), ``"primary"`` or ``"secondary"``.
    """

    values: pd.DataFrame
    status: pd.DataFrame

    @property
    def n_suppressed(self) -> int:
        """Number of hidden cells."""
        return int((self.status != "").to_numpy().sum())

    def masked(self) -> pd.DataFrame:
        """Return the values with hidden cells set to missing (for figures and exports)."""
        return self.values.mask(self.status != "")

    def __repr__(self) -> str:
        return f"Protected({self.values.shape[0]} rows, {self.n_suppressed} suppressed)"


def protect(
    df: pd.DataFrame,
    threshold: int,
    *,
    count_columns: Sequence[str] | None = None,
    dependent: Mapping[str, Sequence[str]] | None = None,
    row_totals: Mapping[str, Sequence[str]] | None = None,
    total_row: bool = False,
    groups: Sequence[str] = (),
) -> Protected:
    """Apply primary and secondary suppression to a table.

    Parameters
    ----------
    df : pandas.DataFrame
        The table, one record per row.
    threshold : int
        Counts ``0 < n < threshold`` are suppressed.
    count_columns : sequence of str, optional
        Columns holding person counts; default: ``n`` and ``n_*`` columns.
    dependent : mapping, optional
        For a count column, the columns computed from the same persons (hidden with
        it). Default: every other numeric column depends on every count column.
    row_totals : mapping, optional
        ``{total: [parts]}`` when, within a row, ``total`` is the sum of ``parts``.
    total_row : bool
        True when the last row (per group) is the column total of the rows above it.
    groups : sequence of str
        Columns that split the table into independent blocks for ``total_row``.

    Returns
    -------
    Protected
        Values and per-cell status.
    """
    if threshold < 1:
        raise ReportError(f"disclosure threshold must be a positive integer, got {threshold}")
    counts = (
        list(count_columns)
        if count_columns is not None
        else [c for c in df.columns if is_count_column(str(c))]
    )
    missing = [c for c in counts if c not in df.columns]
    if missing:
        raise ReportError(f"disclosure control: count columns not in the table: {missing}")
    values = df.reset_index(drop=True)
    status = pd.DataFrame("", index=values.index, columns=values.columns, dtype=object)
    for col in counts:
        num = pd.to_numeric(values[col], errors="coerce")
        status.loc[(num > 0) & (num < threshold), col] = PRIMARY
    _secondary(values, status, counts, row_totals or {}, total_row, list(groups))
    if dependent is None:  # values depend on the table's total count ``n`` when it has one
        numeric = [
            c
            for c in values.columns
            if c not in counts
            and c not in groups
            and c not in _PARAMETERS
            and pd.api.types.is_numeric_dtype(values[c])
        ]
        dependent = {"n": numeric} if "n" in counts else {c: numeric for c in counts}
    for col, deps in dependent.items():
        hidden = status[col] != ""
        for dep in deps:
            if dep in status.columns:
                status.loc[hidden & (status[dep] == ""), dep] = SECONDARY
    return Protected(values, status)


def _hide_one_more(
    values: pd.DataFrame, status: pd.DataFrame, cells: Iterable[tuple[int, str]]
) -> bool:
    """Within one additive set of cells, make sure no single hidden cell stands alone."""
    cells = list(cells)
    hidden = [c for c in cells if status.at[c] != ""]
    if len(hidden) != 1:
        return False
    shown = [c for c in cells if status.at[c] == ""]
    if not shown:
        return False
    nums = [pd.to_numeric(values.at[c], errors="coerce") for c in shown]
    order = np.argsort([np.inf if pd.isna(v) else v for v in nums], kind="stable")
    status.at[shown[int(order[0])]] = SECONDARY
    return True


def _secondary(
    values: pd.DataFrame,
    status: pd.DataFrame,
    counts: list[str],
    row_totals: Mapping[str, Sequence[str]],
    total_row: bool,
    groups: list[str],
) -> None:
    changed = True
    while changed:  # repeat: a secondary cell can expose another total
        changed = False
        for total, parts in row_totals.items():
            for i in values.index:
                cells = [(i, total)] + [(i, p) for p in parts if p in values.columns]
                changed |= _hide_one_more(values, status, cells)
        if total_row:
            if groups:
                codes = values.groupby(groups, sort=False, dropna=False).ngroup()
                blocks = [values.index[codes == k] for k in dict.fromkeys(codes)]
            else:
                blocks = [values.index]
            for idx in blocks:
                for col in counts:
                    changed |= _hide_one_more(values, status, [(i, col) for i in idx])

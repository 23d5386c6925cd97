"""Typed columns (Parquet, SPSS, Stata, XLSX date cells), validated on their own values.

A typed file already says that a column holds numbers, dates or booleans; writing
those values as text only to parse the text back costs time and can only lose
information. A :class:`TypedColumn` carries such a column from the reader to the
validator, and :func:`takes_typed` is the one place that decides whether a schema
column is validated on the typed values or on text. The typed parsers here make the
same decisions and the same stored values as the text parsers of ``_parse`` would on
the text the reader used to write (:func:`format_cells`): values that path treats
specially (infinite numbers, dates outside the years the date parser can represent)
are handed to the text parser, so the two paths cannot disagree.

Text is made only where it must be shown: the values and messages of rejected
cells and the quarantined rows (:class:`LazyText`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalkit.ingest._parse import parse_dates, parse_numbers
from evalkit.ingest._text import cell_text

__all__ = ["LazyText", "Shown", "TypedColumn", "format_cells", "parse_typed", "takes_typed"]

TypedKind = Literal["boolean", "number", "datetime"]
# Years inside pandas' nanosecond range (1677-09-21 to 2262-04-11): the text parser
# reads them as dates with any pandas. Other years go to the text parser, which decides
# as the installed pandas does (2.x refuses them, 3.x reads years 1 to 9999).
_FIRST_YEAR, _LAST_YEAR = 1678, 2261


def typed_kind(values: pd.Series) -> TypedKind | None:
    """Return how a column of a typed file is carried: boolean, number, datetime or not.

    Float columns narrower than 64 bits stay text: their text is the shortest decimal
    of the narrow float (``0.1``), which is not the float widened to 64 bits.
    """
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if isinstance(dtype, np.dtype) and dtype.kind == "M":  # naive datetime64, any unit
        return "datetime"
    if pd.api.types.is_integer_dtype(dtype):
        return "number"
    if pd.api.types.is_float_dtype(dtype) and np.dtype(getattr(dtype, "numpy_dtype", dtype)) == (
        np.float64
    ):
        return "number"
    return None


def format_cells(values: pd.Series, *, time_per_cell: bool = False) -> pd.Series:
    """Format a typed column as the text cells the text parsers understand.

    Parameters
    ----------
    values : pandas.Series
        The column as read.
    time_per_cell : bool, default False
        Show a time only on date-times that have one (XLSX cells); otherwise a time
        is shown on every value when any value of the column has one.

    Returns
    -------
    pandas.Series
        Text cells (null where the value is missing).
    """
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "1", False: "0"}).astype("str")
    if pd.api.types.is_datetime64_any_dtype(values):
        timed = (values != values.dt.normalize()) & values.notna()
        if not time_per_cell:
            timed[:] = bool(timed.any())
        out = values.dt.strftime("%Y-%m-%d").astype("str")
        return out.where(~timed, values.dt.strftime("%Y-%m-%d %H:%M:%S").astype("str"))
    if pd.api.types.is_float_dtype(values):
        nums = values.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):  # inf % 1 is NaN (not whole), without a warning
            integral = np.isfinite(nums) & (np.mod(nums, 1) == 0)
        out = np.where(
            integral,
            np.char.mod("%d", np.where(integral, nums, 0)).astype(object),
            values.astype(str).to_numpy(dtype=object),
        )
        return pd.Series(out, index=values.index, dtype="str").mask(np.isnan(nums))
    if pd.api.types.is_integer_dtype(values):
        return values.astype("str").mask(values.isna())
    if isinstance(values.dtype, pd.StringDtype):  # text: each distinct text looked at once
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        cleaned = [cell_text(v) for v in uniques]
        if all(c is not None for c in cleaned):  # no blank text: the column as read
            return values.astype("str")
        texts = np.array([*cleaned, None], dtype=object)
        return pd.Series(texts[codes], index=values.index, dtype="str")
    return pd.Series([cell_text(v) for v in values], index=values.index, dtype="str")


@dataclass(frozen=True)
class TypedColumn:
    """A column of a typed file: its values, what kind they are, and how they read as text."""

    values: pd.Series
    kind: TypedKind
    time_per_cell: bool = False

    def __repr__(self) -> str:
        return f"TypedColumn({self.kind}, {self.values.dtype}, rows={len(self.values)})"

    @classmethod
    def of(cls, values: pd.Series, *, time_per_cell: bool = False) -> TypedColumn | None:
        """Return the column carried typed, or None when it is read as text."""
        kind = typed_kind(values)
        return None if kind is None else cls(values, kind, time_per_cell)

    def text(self, positions: np.ndarray | None = None) -> pd.Series:
        """Return the column's text cells (all rows, or the rows at ``positions``).

        A date-time column shows its times when any value has one, so that choice is
        made on the whole column even when only some rows are formatted.
        """
        if positions is None:
            return format_cells(self.values, time_per_cell=self.time_per_cell)
        part = self.values.iloc[positions]
        if self.kind == "datetime" and not self.time_per_cell:
            whole = self.values.dropna()
            if (whole != whole.dt.normalize()).any():
                return part.dt.strftime("%Y-%m-%d %H:%M:%S").astype("str")
        return format_cells(part, time_per_cell=self.time_per_cell)


def takes_typed(column: TypedColumn, spec_type: str, labelled: bool) -> bool:
    """Decide whether a schema column is validated on typed values or on text.

    Numbers and booleans fill number, integer and yes/no columns; date-times fill date
    and month columns. Everything else (identifiers, categories, free text, numbers
    for dates, a yes/no column whose codes carry value labels) is validated as text.

    Parameters
    ----------
    column : TypedColumn
        The file's typed column.
    spec_type : str
        The schema type of the column.
    labelled : bool
        Whether the file gives value labels for the column.

    Returns
    -------
    bool
        True when :func:`parse_typed` validates it.
    """
    if spec_type in ("integer", "number"):
        return column.kind in ("number", "boolean")
    if spec_type == "boolean":
        return column.kind in ("number", "boolean") and not labelled
    if spec_type in ("date", "month"):
        return column.kind == "datetime"
    return False


def parse_typed(column: TypedColumn, spec_type: str) -> tuple[pd.Series, np.ndarray]:
    """Turn a typed column into a schema column's values and per-row messages.

    Parameters
    ----------
    column : TypedColumn
        A column :func:`takes_typed` accepted for ``spec_type``.
    spec_type : str
        ``integer``, ``number``, ``boolean``, ``date`` or ``month``.

    Returns
    -------
    values, messages
        As the text parser of the same type returns them for the column's text.
    """
    if spec_type in ("integer", "number"):
        return _numbers(column, integer=spec_type == "integer")
    if spec_type == "boolean":
        return _boolean(column)
    return _dates(column, month=spec_type == "month")


def _numbers(column: TypedColumn, *, integer: bool) -> tuple[pd.Series, np.ndarray]:
    nums = column.values.to_numpy(dtype=float, na_value=np.nan) + 0.0  # -0.0 reads as 0
    msgs = np.full(len(nums), None, dtype=object)
    odd = np.flatnonzero(np.isinf(nums))  # the text parser decides what "inf" is
    if len(odd):
        parsed, said = parse_numbers(column.text(odd), decimal_comma=False, integer=integer)
        nums[odd] = parsed.to_numpy(dtype=float, na_value=np.nan)
        msgs[odd] = said
    if integer:
        with np.errstate(invalid="ignore"):  # inf % 1 is NaN: a warning on stderr otherwise
            frac = np.flatnonzero(np.isfinite(nums) & (np.mod(nums, 1) != 0))
        if len(frac):
            texts = column.text(frac).to_numpy(dtype=object)
            msgs[frac] = [f"{t!r} is not a whole number" for t in texts]
            nums[frac] = np.nan
    values = pd.Series(nums, index=column.values.index)
    return (values.round().astype("Int64") if integer else values), msgs


def _boolean(column: TypedColumn) -> tuple[pd.Series, np.ndarray]:
    msgs = np.full(len(column.values), None, dtype=object)
    if column.kind == "boolean":
        return pd.Series(pd.array(column.values, dtype="boolean"), index=column.values.index), msgs
    nums = column.values.to_numpy(dtype=float, na_value=np.nan)
    flags = pd.array(np.where(nums == 1, True, False), dtype="boolean")
    flags[(nums != 1) & (nums != 0)] = pd.NA
    bad = np.flatnonzero(~np.isnan(nums) & (nums != 1) & (nums != 0))
    if len(bad):
        texts = column.text(bad).to_numpy(dtype=object)
        msgs[bad] = [f"{t!r} is not a yes/no value (1/0, ja/nee)" for t in texts]
    return pd.Series(flags, index=column.values.index), msgs


def _dates(column: TypedColumn, *, month: bool) -> tuple[pd.Series, np.ndarray]:
    stamps = column.values
    msgs = np.full(len(stamps), None, dtype=object)
    years = stamps.dt.year.to_numpy(dtype=float, na_value=np.nan)
    odd = np.flatnonzero(~np.isnan(years) & ((years < _FIRST_YEAR) | (years > _LAST_YEAR)))
    unit = "datetime64[M]" if month else "datetime64[D]"
    ok = stamps.to_numpy(dtype="datetime64[s]", na_value=np.datetime64("NaT"))
    ok[odd] = np.datetime64("NaT")
    out = ok.astype(unit).astype("datetime64[s]")
    if len(odd):
        parsed, said = parse_dates(column.text(odd), month=month)
        out[odd] = parsed.to_numpy(dtype="datetime64[s]")
        msgs[odd] = said
    return pd.Series(out, index=stamps.index), msgs


class LazyText:
    """What failures and the quarantine show of a typed column, formatted on demand.

    Behaves as the text Series it stands for where validation reads it: a boolean
    mask (``shown[bad]``) or positions (``shown.iloc[pos]``) give the text of those
    rows only, so an accepted file's typed columns are never formatted.
    """

    def __init__(self, index: pd.Index, make: Callable[[np.ndarray], pd.Series]) -> None:
        self.index = index
        self._make = make

    def __repr__(self) -> str:
        return f"LazyText(rows={len(self.index)})"

    def __len__(self) -> int:
        return len(self.index)

    def at(self, positions: np.ndarray) -> pd.Series:
        """Return the text of the rows at ``positions`` (0-based), with their index."""
        positions = np.asarray(positions, dtype=np.intp)
        texts = self._make(positions).to_numpy(dtype=object)
        return pd.Series(texts, index=self.index[positions], dtype="str")

    def __getitem__(self, mask: Any) -> pd.Series:
        return self.at(np.flatnonzero(np.asarray(mask, dtype=bool)))

    @property
    def iloc(self) -> _Positions:
        """Positional access, as ``Series.iloc`` (positions only)."""
        return _Positions(self)


class _Positions:
    def __init__(self, text: LazyText) -> None:
        self._text = text

    def __repr__(self) -> str:
        return f"_Positions({self._text!r})"

    def __getitem__(self, positions: Any) -> pd.Series:
        return self._text.at(np.asarray(positions, dtype=np.intp))


#: What validation may show of a column: its text, or a typed column's text on demand.
Shown = pd.Series | LazyText


def shown_text(column: TypedColumn, typed: pd.Series, spec_type: str) -> LazyText:
    """Return what failures show of a typed column: its text, or the month read.

    Parameters
    ----------
    column : TypedColumn
        The file's column.
    typed : pandas.Series
        The values :func:`parse_typed` returned.
    spec_type : str
        The schema type (a month column shows ``YYYY-MM`` where it was read).

    Returns
    -------
    LazyText
        Text of the rows asked for.
    """

    def make(positions: np.ndarray) -> pd.Series:
        text = column.text(positions)
        if spec_type != "month":
            return text
        months = typed.iloc[positions]
        read = months.dt.strftime("%Y-%m").astype("str")
        return read.where(months.notna(), text)

    return LazyText(typed.index, make)

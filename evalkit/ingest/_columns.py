"""One column of a file parsed and checked: typed values, shown values, failures.

Columns are parsed on their distinct values (a typed column of the file on its own
values, :mod:`._typed`); type, allowed-value, pattern, range, not-in-the-future and
required rules are boolean masks over all rows, and each failure is recorded with
the value a message may show (never a raw BSN).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import take

from evalkit.ingest._failures import Failures
from evalkit.ingest._memo import ColumnMemo, ParseMemo
from evalkit.ingest._parse import (
    parse_boolean,
    parse_category,
    parse_dates,
    parse_numbers,
    parse_strings,
)
from evalkit.ingest._privacy import mask_series
from evalkit.ingest._pseudonym import classify_identifiers
from evalkit.ingest._readers import RawTable
from evalkit.ingest._schema import ColumnSpec
from evalkit.ingest._typed import Shown, parse_typed, shown_text, takes_typed

__all__ = ["Columns", "blank_texts", "coded_cells", "parse_column"]


@dataclass
class Columns:
    """Parsed columns: typed values and the values failures may show."""

    typed: dict[str, pd.Series] = field(default_factory=dict)
    shown: dict[str, Shown] = field(default_factory=dict)
    # Columns whose shown values are masked already (pseudonyms, keyed free text).
    masked: set[str] = field(default_factory=set)
    # Rows whose quarantine content digest the key check knows (exact copies: the content
    # is their key's), as positions, digests and whether this file stored it before.
    known: KnownContents | None = None


@dataclass(frozen=True)
class KnownContents:
    """Content digests of some rows, found without their text (see ``CopyKeys``)."""

    positions: np.ndarray
    k1: np.ndarray
    k2: np.ndarray
    stored: np.ndarray

    def __repr__(self) -> str:
        return f"KnownContents(rows={len(self.positions)})"


def _labelled(raw: pd.Series, labels: dict[str, str] | None) -> pd.Series:
    if not labels:
        return raw
    return raw.map(lambda v: labels.get(v, v) if isinstance(v, str) else v).astype("str")


def parse_column(
    raw: pd.Series,
    spec: ColumnSpec,
    table: RawTable,
    header: str,
    failures: Failures,
    key: bytes,
    memo: ParseMemo | None = None,
) -> tuple[pd.Series, Shown]:
    """Parse one column and record its type, allowed, pattern, range and required failures.

    A typed column of the file (numbers, dates, booleans) is validated on its values
    when its schema type takes them (:func:`takes_typed`); any other on its text.

    Parameters
    ----------
    raw : pandas.Series
        The column's cells (``table.frame[header]``).
    spec : ColumnSpec
        The column's schema.
    table : RawTable
        The file read (typed columns, value labels, decimal comma).
    header : str
        The column's header in the file.
    failures : Failures
        Where failures are recorded.
    key : bytes
        The pseudonymisation key.
    memo : ParseMemo, optional
        Texts parsed in earlier chunks of the same file (see ``_memo``).

    Returns
    -------
    typed : pandas.Series
        The parsed values (null where empty or invalid).
    shown : pandas.Series or LazyText
        What messages and the quarantine may show for each cell.
    """
    column = table.typed.get(header)
    declared = _declared_missing(table, header)
    if declared is not None and column is not None:
        column = replace(column, values=column.values.mask(declared))
    if column is not None and takes_typed(column, spec.type, bool(table.value_labels.get(header))):
        typed, msgs = parse_typed(column, spec.type)
        shown: Shown = shown_text(column, typed, spec.type)
        empty = column.values.isna().to_numpy(dtype=bool)
        _record(failures, spec.name, "type", shown, msgs)
    else:
        text = raw if column is None else table.text(header)
        text = text if declared is None else text.mask(declared)
        typed, shown, empty = _parse_text_column(text, spec, table, header, failures, key, memo)
    _check_values(typed, shown, spec, failures)
    empty = unfilled_failures(table, header, spec.name, failures, empty)
    if declared is not None and spec.required:
        empty = _required_but_declared(table, header, spec.name, declared, failures, empty)
    if spec.required and empty.any():
        failures.add(
            np.flatnonzero(empty),
            spec.name,
            "required",
            [None] * int(empty.sum()),
            f"{spec.name} is required but empty",
        )
    return typed, shown


def _record(failures: Failures, name: str, rule: str, shown: Shown, msgs: np.ndarray) -> None:
    """Record the cells that have a message, showing their values."""
    bad = pd.notna(msgs)  # messages are texts or None; a C loop, not a Python == per cell
    if bad.any():
        failures.add(np.flatnonzero(bad), name, rule, shown[bad].to_numpy(), msgs[bad])


def _parse_text_column(
    raw: pd.Series,
    spec: ColumnSpec,
    table: RawTable,
    header: str,
    failures: Failures,
    key: bytes,
    memo: ParseMemo | None,
) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Parse a column of text cells: typed values, shown values and where it is empty."""
    name = spec.name
    shown = raw
    seen = _column_memo(memo, raw, table, header, spec)
    # A labelled code means its label: 'M' for 1, and 'GM0344' for a municipality coded 344.
    if spec.type in ("category", "boolean", "string"):
        raw = _labelled(raw, table.value_labels.get(header))
    if spec.type == "pseudonym":
        ids = classify_identifiers(raw, key=key, memo=seen)
        typed, shown = ids["pseudonym"], ids["shown"]
        for rule in ("bsn", "elfproef"):
            hit = (ids["rule"] == rule).to_numpy()
            if hit.any():
                failures.add(
                    np.flatnonzero(hit),
                    name,
                    rule,
                    shown[hit].to_numpy(),
                    ids["reason"][hit].to_numpy(),
                )
    else:
        typed, shown, msgs, rule = _parse_typed((raw, shown), spec, table, key, seen)
        _record(failures, name, rule, shown, msgs)
    return typed, shown, _empty(raw, seen) if spec.required else np.zeros(0, dtype=bool)


def coded_cells(
    raw: pd.Series, spec: ColumnSpec, table: RawTable, header: str, memo: ParseMemo | None
) -> pd.Series:
    """Return a parsed column's cells for hashing: as the memo's codes where it has them.

    pandas hashes a categorical as its values, so the codes and distinct texts the memo
    took from the cells when parsing them (:meth:`ColumnMemo.distinct_array`) give each
    row the hash its text gives, without encoding the column a second time.

    Parameters
    ----------
    raw : pandas.Series
        The column's cells, the very Series :func:`parse_column` was given.
    spec : ColumnSpec
        The column's schema.
    table : RawTable
        The file read.
    header : str
        The column's header in the file.
    memo : ParseMemo, optional
        The file's memo.

    Returns
    -------
    pandas.Series
        ``raw`` itself, or a categorical with the same texts.
    """
    seen = _column_memo(memo, raw, table, header, spec)
    if seen is None or header in table.typed:
        return raw
    codes, uniques = seen.distinct_array(raw)
    cats = pd.Categorical.from_codes(codes, categories=pd.Index(uniques), validate=False)
    return pd.Series(cats, index=raw.index, name=raw.name)


def _column_memo(
    memo: ParseMemo | None, raw: pd.Series, table: RawTable, header: str, spec: ColumnSpec
) -> ColumnMemo | None:
    """Return the column's memo where a text always parses the same way (Arrow text, no labels)."""
    if memo is None or table.value_labels.get(header) or not isinstance(raw.dtype, pd.StringDtype):
        return None
    return memo.column(f"{spec.name}\x00{spec.type}")


def _parse_typed(
    cells: tuple[pd.Series, pd.Series],
    spec: ColumnSpec,
    table: RawTable,
    key: bytes,
    seen: ColumnMemo | None,
) -> tuple[pd.Series, pd.Series, np.ndarray, str]:
    """Parse a column that holds no identifier: typed values, shown values, messages, rule.

    ``cells`` are the texts to parse (value labels applied) and the texts as in the file.
    """
    raw, shown = cells
    rule = "type"
    if spec.type == "category":
        typed, msgs = parse_category(raw, spec.lookup(), spec.allowed or (), memo=seen)
        rule = "allowed"
    elif spec.type == "boolean":
        typed, msgs = parse_boolean(raw, memo=seen)
    elif spec.type in ("integer", "number"):
        typed, msgs = parse_numbers(
            raw, decimal_comma=table.decimal_comma, integer=spec.type == "integer", memo=seen
        )
    elif spec.type in ("date", "month"):
        typed, msgs = parse_dates(raw, month=spec.type == "month", memo=seen)
        if spec.type == "month":
            shown = _month_text(typed).where(typed.notna(), raw)
    else:
        typed, msgs = _parse_text(raw, key, seen)
        shown = typed
    return typed, shown, msgs, rule


def _parse_text(raw: pd.Series, key: bytes, seen: ColumnMemo | None) -> tuple[pd.Series, Any]:
    """Strip free text and mask a typed-in BSN (keyed), each distinct text once per file."""
    if seen is None:
        typed, msgs = parse_strings(raw)
        return mask_series(typed, key), msgs  # free text may hold a typed-in BSN
    codes, uniques = seen.distinct(raw)
    msgs = np.full(len(raw), None, dtype=object)
    if not uniques:
        return parse_strings(raw)[0], msgs

    def clean(u: pd.Series) -> tuple[np.ndarray]:
        return (mask_series(parse_strings(u)[0], key).to_numpy(dtype=object),)

    (texts,) = seen.parse(uniques, clean)
    values = take(pd.array(texts, dtype="str"), codes, allow_fill=True)
    return pd.Series(values, index=raw.index), msgs


def _empty(raw: pd.Series, seen: ColumnMemo | None) -> np.ndarray:
    """Return True where a cell is missing or only whitespace (tested on distinct texts)."""
    if seen is not None:
        codes, uniques = seen.distinct_array(raw)
    else:
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    return np.concatenate([blank_texts(uniques, raw.dtype), np.array([True])])[codes]


def blank_texts(texts: Any, dtype: Any) -> np.ndarray:
    """Return True for each distinct text that ``str.strip()`` leaves empty.

    Parameters
    ----------
    texts : array-like
        Distinct texts of a column, without nulls.
    dtype : dtype
        The column's dtype (whose ``str.strip`` decides what whitespace is).

    Returns
    -------
    numpy.ndarray
        One boolean per text.
    """
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        # the Arrow trim that pandas' strip calls on such text, without a Series per call
        stripped = pc.utf8_trim_whitespace(pa.array(texts, type=pa.large_string()))
        return np.asarray(pc.equal(stripped, "").to_numpy(zero_copy_only=False), dtype=bool)
    blank = pd.Series(texts, dtype=dtype).str.strip() == ""
    return blank.to_numpy(dtype=bool, na_value=True)


def _month_text(typed: pd.Series) -> pd.Series:
    """Months as ``YYYY-MM``, formatted once per distinct month (a panel has few)."""
    codes, uniques = pd.factorize(typed)
    texts = pd.array(np.asarray(uniques.strftime("%Y-%m"), dtype=object), dtype="str")
    # a take on the few distinct texts (code -1: missing), not a text object per row
    return pd.Series(take(texts, codes, allow_fill=True), index=typed.index)


def _fmt(bound: object) -> str:
    return (
        bound.strftime("%d-%m-%Y")
        if isinstance(bound, date)
        else f"{bound:g}"
        if isinstance(bound, float)
        else str(bound)
    )


def _check_values(typed: pd.Series, shown: Shown, spec: ColumnSpec, failures: Failures) -> None:
    name = spec.name
    if spec.pattern and spec.type in ("string", "category"):
        present = typed.notna()
        ok = typed[present].str.fullmatch(spec.pattern)
        bad = present.copy()
        bad[present] = ~ok.astype(bool)
        bad_arr = bad.to_numpy(dtype=bool)
        if bad_arr.any():
            vals = shown[bad_arr].to_numpy()
            failures.add(
                np.flatnonzero(bad_arr),
                name,
                "pattern",
                vals,
                [f"{v!r} does not match the pattern {spec.pattern}" for v in vals],
            )
    if spec.type in ("integer", "number", "date", "month") and (
        spec.min is not None or spec.max is not None
    ):
        values = typed
        low, high = spec.min, spec.max
        if spec.type in ("date", "month"):
            low = pd.Timestamp(low) if low is not None else None
            high = pd.Timestamp(high) if high is not None else None
        out = pd.Series(False, index=typed.index)
        if low is not None:
            out |= (values < low).fillna(False)
        if high is not None:
            out |= (values > high).fillna(False)
        arr = out.to_numpy(dtype=bool)
        if arr.any():
            vals = shown[arr].to_numpy()
            low_text = _fmt(spec.min) if spec.min is not None else "…"
            high_text = _fmt(spec.max) if spec.max is not None else "…"
            span = f"{low_text} to {high_text}"
            failures.add(
                np.flatnonzero(arr),
                name,
                "range",
                vals,
                [f"{v!r} is outside the range {span}" for v in vals],
            )
    if spec.not_future and spec.type in ("date", "month"):
        today = pd.Timestamp(date.today())
        limit = today if spec.type == "date" else today.to_period("M").to_timestamp()
        arr = (typed > limit).fillna(False).to_numpy(dtype=bool)
        if arr.any():
            vals = shown[arr].to_numpy()
            failures.add(
                np.flatnonzero(arr),
                name,
                "not_future",
                vals,
                [f"{v!r} is in the future" for v in vals],
            )


_NOT_ASKED = np.zeros(0, dtype=bool)


def unfilled_failures(
    table: RawTable, header: str, name: str, failures: Failures, empty: np.ndarray = _NOT_ASKED
) -> np.ndarray:
    """Reject formula cells without a stored value (XLSX) with their own reason.

    Such a cell reads as empty, but its value is unknown, not absent: "required but empty"
    would send the user looking for a blank that is not there, and in an optional column
    the row would be stored without the value the formula computes.

    Parameters
    ----------
    table : RawTable
        The file read.
    header : str
        The column's header in the file.
    name : str
        The schema's name of the column.
    failures : Failures
        Where failures are recorded.
    empty : numpy.ndarray, optional
        Which cells are empty (length 0, the default, when not computed).

    Returns
    -------
    numpy.ndarray
        ``empty`` without those cells (they are not also reported as empty).
    """
    at = table.unfilled.get(header)
    if at is None or not len(at):
        return empty
    failures.add(
        at,
        name,
        "formula",
        [None] * len(at),
        "formula without a stored value (open and save the file in Excel, or export values):"
        f" column {header!r}",
    )
    return _not_empty_at(empty, at)


def _declared_missing(table: RawTable, header: str) -> np.ndarray | None:
    """Return where a column holds a code its SPSS file declares missing (None: nowhere).

    A declared missing code (``99999 = 'Onbekend'`` in an amount, ``9 = 'Weet niet'`` in a
    yes/no column) is no value: read as one it was stored as a debt of 99,999 or rejected
    as an impossible age. Such cells are empty; a required column says which code it got.
    """
    codes = table.user_missing.get(header)
    if not codes:
        return None
    declared = table.text(header).isin(list(codes)).to_numpy(dtype=bool)
    return declared if declared.any() else None


def _required_but_declared(
    table: RawTable,
    header: str,
    name: str,
    declared: np.ndarray,
    failures: Failures,
    empty: np.ndarray,
) -> np.ndarray:
    """Reject a required column's declared missing codes, naming code and label."""
    at = np.flatnonzero(declared)
    codes = table.user_missing[header]
    values = table.text(header).iloc[at].tolist()
    failures.add(
        at,
        name,
        "required",
        values,
        [
            f"{name} is required but holds {v}, a code the file declares missing"
            + (f" ({codes[v]!r})" if codes.get(v) else "")
            for v in values
        ],
    )
    return _not_empty_at(empty, at)


def _not_empty_at(empty: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Return ``empty`` with the cells ``at`` taken out (they have their own failure).

    ``empty`` of length 0 means not asked (an optional column): nothing to take out.
    """
    if not len(empty):
        return empty
    empty = np.array(empty, dtype=bool)
    empty[at] = False
    return empty

"""The vectorised validator: every cell, every rule, every failure kept.

Columns are parsed on their unique values; checks are boolean masks over all
rows; failures are collected per rule (never raised one by one) and a row with
any failure is rejected as a whole. Cross-column rules live in ``_rules``, the
questionnaire's items in ``_questionnaire``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import take

from evalkit.ingest._content import row_content
from evalkit.ingest._failures import Failures
from evalkit.ingest._memo import ColumnMemo, ParseMemo
from evalkit.ingest._parse import (
    parse_boolean,
    parse_category,
    parse_dates,
    parse_numbers,
    parse_strings,
)
from evalkit.ingest._privacy import mask_bsns, mask_series
from evalkit.ingest._pseudonym import classify_identifiers, load_key
from evalkit.ingest._readers import RawTable
from evalkit.ingest._rin_pair import RIN_PLACE, parse_rin, rin_pair
from evalkit.ingest._schema import ColumnSpec, Schema, match_headers, missing_required
from evalkit.ingest._typed import Shown, parse_typed, shown_text, takes_typed

__all__ = ["KeyCheck", "Validated", "validate_table"]


@dataclass
class Validated:
    """The outcome of validating one file: typed rows, failures and what to quarantine."""

    data: pd.DataFrame
    rows: np.ndarray
    accepted: np.ndarray
    failures: pd.DataFrame
    content: pd.Series
    notes: list[str] = field(default_factory=list)
    long: pd.DataFrame | None = None

    @property
    def rows_read(self) -> int:
        """Rows read from the file (accepted plus rejected)."""
        return len(self.accepted)


@dataclass
class Columns:
    """Parsed columns: typed values and the values failures may show."""

    typed: dict[str, pd.Series] = field(default_factory=dict)
    shown: dict[str, Shown] = field(default_factory=dict)
    # Columns whose shown values are masked already (pseudonyms, keyed free text).
    masked: set[str] = field(default_factory=set)


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
    if column is not None and takes_typed(column, spec.type, bool(table.value_labels.get(header))):
        typed, msgs = parse_typed(column, spec.type)
        shown: Shown = shown_text(column, typed, spec.type)
        empty = column.values.isna().to_numpy(dtype=bool)
        _record(failures, spec.name, "type", shown, msgs)
    else:
        text = raw if column is None else table.text(header)
        typed, shown, empty = _parse_text_column(text, spec, table, header, failures, key, memo)
    _check_values(typed, shown, spec, failures)
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
    bad = msgs != None  # noqa: E711
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
    if spec.type in ("category", "boolean"):
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
    blank = (pd.Series(uniques, dtype=raw.dtype).str.strip() == "").to_numpy(
        dtype=bool, na_value=True
    )
    return np.concatenate([blank, np.array([True])])[codes]


def _month_text(typed: pd.Series) -> pd.Series:
    """Months as ``YYYY-MM``, formatted once per distinct month (a panel has few)."""
    codes, uniques = pd.factorize(typed)
    texts = np.array([*uniques.strftime("%Y-%m"), None], dtype=object)  # code -1: None
    return pd.Series(texts[codes], index=typed.index, dtype="str")


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


def key_text(shown: dict[str, Shown], key: tuple[str, ...], pos: np.ndarray) -> np.ndarray:
    """Return the shown key of some rows as ``value, value`` (column by column, not row by row).

    Parameters
    ----------
    shown : dict
        Displayable values per canonical column.
    key : tuple of str
        The key columns.
    pos : numpy.ndarray
        Internal row positions.

    Returns
    -------
    numpy.ndarray
        One text per position.
    """
    parts = [
        pd.Series(shown[k].iloc[pos].to_numpy(), dtype=object)
        .astype(str)
        .fillna("")
        .to_numpy(dtype=object)
        for k in key
    ]
    out = parts[0]
    for part in parts[1:]:
        out = out + ", " + part
    return np.asarray(out, dtype=object)


def check_key(
    data: pd.DataFrame,
    key: tuple[str, ...],
    raw: pd.DataFrame,
    cols: Columns,
    failures: Failures,
    rows: np.ndarray,
) -> None:
    """Reject duplicate keys: later exact copies of a row, or all rows of a conflicting key.

    Parameters
    ----------
    data : pandas.DataFrame
        The typed columns.
    key : tuple of str
        The key columns.
    raw : pandas.DataFrame
        The raw cells (to tell exact copies from conflicts).
    cols : Columns
        Displayable values per column.
    failures : Failures
        Where failures are recorded.
    rows : numpy.ndarray
        The file row number of each position (for messages).
    """
    if not key or any(k not in data for k in key):
        return
    keyframe = data[list(key)]
    complete = keyframe.notna().all(axis=1).to_numpy()
    combined = np.zeros(len(keyframe), dtype=np.int64)
    for name in key:  # one integer code per key value, without hashing tuples of objects
        codes, uniques = pd.factorize(keyframe[name])
        combined, _ = pd.factorize(combined * (len(uniques) + 1) + codes + 1)
    counts = np.bincount(
        combined[complete], minlength=int(combined.max()) + 1 if len(combined) else 0
    )
    dup = complete & (counts[combined] > 1) if len(combined) else complete
    if not dup.any():
        return
    pos = np.flatnonzero(dup)
    sub = keyframe.iloc[pos]
    group = sub.groupby(list(key), sort=False, dropna=False).ngroup().to_numpy()
    rowhash = pd.util.hash_pandas_object(raw.iloc[pos], index=False).to_numpy()
    distinct = pd.Series(rowhash).groupby(group).nunique().to_numpy()[group]
    exact = distinct == 1
    later_copy = pd.Series(group).duplicated(keep="first").to_numpy()
    label = ", ".join(key)
    shown_text = key_text(cols.shown, key, pos)
    first_pos = pd.Series(pos).groupby(group).transform("min").to_numpy()
    copy_mask = exact & later_copy
    if copy_mask.any():
        failures.add(
            pos[copy_mask],
            label,
            "duplicate_row",
            shown_text[copy_mask],
            [f"exact copy of row {rows[p]}" for p in first_pos[copy_mask]],
        )
    conflict = ~exact
    if conflict.any():
        file_rows = pd.Series(rows[pos]).groupby(group).agg(list).to_dict()
        where = {
            g: ", ".join(map(str, r[:5])) + (f" and {len(r) - 5} more" if len(r) > 5 else "")
            for g, r in file_rows.items()
        }
        failures.add(
            pos[conflict],
            label,
            "unique",
            shown_text[conflict],
            [
                f"key ({label}) occurs in rows {where[g]} with different values"
                for g in group[conflict]
            ],
        )


KeyCheck = Callable[
    [pd.DataFrame, tuple[str, ...], pd.DataFrame, Columns, Failures, np.ndarray], None
]


def validate_table(
    table: RawTable,
    schema: Schema,
    *,
    file: str,
    key: bytes | None = None,
    needs: Collection[str] | None = None,
    check_keys: KeyCheck | None = None,
    memo: ParseMemo | None = None,
) -> Validated:
    """Validate a file read as text against its schema.

    Parameters
    ----------
    table : RawTable
        The file read by :func:`read_raw`.
    schema : Schema
        The schema of its kind.
    file : str
        The file name, for messages.
    key : bytes, optional
        The pseudonym key; defaults to :func:`load_key`.
    needs : collection of str, optional
        The columns an analysis uses: with it, only these and the key columns must be
        present (an export without the others is accepted, their cells stored empty).
    check_keys : callable, optional
        Finds duplicate keys (``check_key``'s signature); default :func:`check_key` on
        this table. A chunk of a file gets the file's own (see ``_dupkeys``).
    memo : ParseMemo, optional
        The texts parsed in the file's earlier chunks (one memo per file).

    Returns
    -------
    Validated
        Typed rows, the accepted mask, failures and quarantine content.

    Raises
    ------
    IngestError
        When the file itself is unusable (a required column is missing, ...).
    """
    from evalkit.ingest import _questionnaire, _rules

    if schema.kind == "questionnaire":
        return _questionnaire.validate_questionnaire(table, schema, file=file, key=key)
    mapping, unmatched = match_headers(list(table.frame.columns), schema.columns, file=file)
    rin = rin_pair(unmatched, schema, mapping)
    if rin is not None:
        unmatched = [h for h in unmatched if h not in (rin.source, rin.number)]
    present = mapping if rin is None else {**mapping, RIN_PLACE: rin.column}
    wanted = None if needs is None else {*needs, *schema.key}
    missing_required(present, schema.columns, file=file, needs=wanted)
    notes = [f"ignored columns not in the schema: {', '.join(unmatched)}"] if unmatched else []
    if wanted is not None:
        absent = sorted(set(schema.columns) - set(present.values()))
        if absent:
            notes.append(f"columns not in the file and not needed: {', '.join(absent)}")
    failures, cols = Failures(), Columns()
    key = key if key is not None else load_key()
    for header, name in mapping.items():
        spec = schema.columns[name]
        if wanted is not None and spec.required and name not in wanted:
            spec = replace(spec, required=False)  # present but not needed: may be empty
        typed, shown = parse_column(table.frame[header], spec, table, header, failures, key, memo)
        cols.typed[name], cols.shown[name] = typed, shown
        if spec.type in ("pseudonym", "string"):  # pseudonyms, #-references, keyed free text
            cols.masked.add(name)
    raw_headers = list(mapping)
    if rin is not None:
        cols.typed[rin.column], cols.shown[rin.column] = parse_rin(table, rin, failures, key)
        cols.masked.add(rin.column)
        raw_headers += [rin.source, rin.number]
    data = pd.DataFrame(cols.typed, index=table.frame.index)
    raw = table.frame[raw_headers]
    (check_keys or check_key)(data, schema.key, raw, cols, failures, table.rows)
    _rules.apply_rules(data, schema, cols, failures)
    return finish(data, table, cols, failures, notes)


def finish(
    data: pd.DataFrame,
    table: RawTable,
    cols: Columns,
    failures: Failures,
    notes: list[str],
    long: pd.DataFrame | None = None,
) -> Validated:
    """Add malformed rows, compute the accepted mask and the quarantine content.

    Parameters
    ----------
    data : pandas.DataFrame
        The typed columns.
    table : RawTable
        The file read.
    cols : Columns
        Displayable values per column.
    failures : Failures
        Failures found.
    notes : list of str
        Notes for the report.
    long : pandas.DataFrame, optional
        The questionnaire in long form (all rows; filtered later).

    Returns
    -------
    Validated
        The result.
    """
    n = len(data)
    for i, (_row, message) in enumerate(table.malformed):
        failures.add(np.array([n + i]), None, "columns", [None], message)
    rows = np.concatenate([table.rows, np.array([r for r, _ in table.malformed], dtype=np.int64)])
    failed = failures.failed_positions(n + len(table.malformed))
    frame = failures.frame(rows)
    # A misaligned row puts a BSN where no identifier is expected; it must not be echoed.
    frame["value"] = mask_series(frame["value"])
    frame["message"] = mask_series(frame["message"])
    rejected_pos = np.flatnonzero(failed[:n])
    texts = row_content(cols.shown, rejected_pos, cols.masked)
    # the raw line of a malformed row may hold a BSN: keep only why
    bad_lines = [json.dumps({"_malformed": message}) for _row, message in table.malformed]
    content = pd.Series(
        np.concatenate([texts, np.array(bad_lines, dtype=object)]),
        index=np.concatenate([rows[rejected_pos], rows[len(rows) - len(bad_lines) :]]),
        dtype="str",
    )
    return Validated(
        data=data,
        rows=rows,
        accepted=~failed,
        failures=frame,
        content=content,
        notes=[mask_bsns(n) for n in notes],
        long=long,
    )

"""Questionnaires: wide or long files in, one long table out, missing values as typed reasons.

A wide file has one column per item (item names from the schema's instruments);
a long file has ``item`` and ``value`` columns. Either way each stored row is one
item answer with ``value`` (null when missing) and ``missing_reason``
(``not_asked``, ``unknown``, ``refused``, ``not_applicable``): sentinel numbers
such as SPSS user-missing 7/8/9 never reach the store.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from evalkit.errors import IngestError
from evalkit.ingest._columns import Columns, parse_column, unfilled_failures
from evalkit.ingest._failures import Failures
from evalkit.ingest._parse import parse_numbers
from evalkit.ingest._pseudonym import load_key
from evalkit.ingest._readers import RawTable
from evalkit.ingest._schema import (
    Instrument,
    Schema,
    match_headers,
    missing_required,
    one_header_per_column,
)
from evalkit.ingest._text import header_key, value_key
from evalkit.ingest._validate import Validated, check_key, finish

__all__ = ["LONG_COLUMNS", "validate_questionnaire"]

LONG_COLUMNS = (
    "person_id",
    "municipality",
    "group",
    "wave",
    "admin_date",
    "mode",
    "instrument",
    "instrument_version",
    "item",
    "value",
    "missing_reason",
)
META = ("person_id", "municipality", "group", "wave", "admin_date", "mode")


def parse_scores(
    raw: pd.Series,
    low: np.ndarray,
    high: np.ndarray,
    items: np.ndarray,
    schema: Schema,
    *,
    decimal_comma: bool,
    declared: dict[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Turn item cells into scores and typed missing reasons.

    Parameters
    ----------
    raw : pandas.Series
        The item cells as text.
    low, high : numpy.ndarray
        The valid range per cell.
    items : numpy.ndarray
        The item name per cell (for messages).
    schema : Schema
        The questionnaire schema (missing codes and labels).
    decimal_comma : bool
        Whether numbers use a decimal comma.
    declared : dict, optional
        Values the file declares as user-missing, with their labels.

    Returns
    -------
    value : numpy.ndarray
        Scores (NaN when missing or invalid).
    reason : numpy.ndarray
        Missing reason per cell (None when a score).
    bad : numpy.ndarray
        True where the cell is invalid.
    message : numpy.ndarray
        Why it is invalid.
    """
    n = len(raw)
    text = raw.str.strip()
    reason = np.full(n, None, dtype=object)
    blank = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
    reason[blank] = "not_asked"
    labelled = text.map(
        lambda v: schema.missing_labels.get(value_key(v)) if isinstance(v, str) else None
    )
    lab = labelled.notna().to_numpy()
    reason[lab] = labelled[lab].to_numpy()
    if declared:
        hit = text.isin(list(declared)).to_numpy(dtype=bool, na_value=False)
        for i in np.flatnonzero(hit):
            code = text.iloc[i]
            label = schema.missing_labels.get(value_key(declared.get(code, "")))
            try:
                by_code = schema.missing_codes.get(int(float(code)))
            except ValueError:
                by_code = None
            reason[i] = label or by_code or "unknown"
    nums, _msgs = parse_numbers(text, decimal_comma=decimal_comma)
    value = nums.to_numpy(dtype=float, na_value=np.nan).copy()
    undecided = reason == None  # noqa: E711
    bad = np.zeros(n, dtype=bool)
    message = np.full(n, None, dtype=object)
    notnum = undecided & np.isnan(value)
    bad[notnum] = True
    for i in np.flatnonzero(notnum):
        message[i] = f"{text.iloc[i]!r} is not a score or a missing-value label for {items[i]}"
    numeric = undecided & ~np.isnan(value)
    with np.errstate(invalid="ignore"):  # a score 'inf' is outside; % 1 would warn on stderr
        outside = numeric & ((value < low) | (value > high) | (np.mod(value, 1) != 0))
    for i in np.flatnonzero(outside):
        code = value[i]
        mapped = schema.missing_codes.get(int(code)) if float(code).is_integer() else None
        if mapped is not None:
            reason[i] = mapped
        else:
            bad[i] = True
            message[i] = f"{text.iloc[i]!r} is outside {low[i]:g}–{high[i]:g} for {items[i]}"
    value[reason != None] = np.nan  # noqa: E711
    value[bad] = np.nan
    return value, reason, bad, message


def validate_questionnaire(
    table: RawTable, schema: Schema, *, file: str, key: bytes | None = None
) -> Validated:
    """Validate a wide or long questionnaire file and build its long form.

    Parameters
    ----------
    table : RawTable
        The file read.
    schema : Schema
        The questionnaire schema.
    file : str
        The file name, for messages.

    Returns
    -------
    Validated
        With ``long`` holding one row per item answer (all file rows; the caller
        keeps those of accepted rows).

    Raises
    ------
    IngestError
        When required columns are missing or no item is found.
    """
    headers = list(table.frame.columns)
    long_specs = dict(schema.long_columns)
    mapping, unmatched = match_headers(headers, {**schema.columns, **long_specs}, file=file)
    is_long = "item" in mapping.values()
    item_of = schema.item_instrument()
    item_keys = {header_key(i): i for i in item_of}
    item_headers = {h: item_keys[header_key(h)] for h in unmatched if header_key(h) in item_keys}
    one_header_per_column(item_headers.items(), file=file)  # MHI5-1 beside mhi5_1
    unmatched = [h for h in unmatched if h not in item_headers]
    if not is_long:
        mapping = {h: c for h, c in mapping.items() if c in schema.columns}
    missing_required(
        mapping, schema.columns if not is_long else {**schema.columns, **long_specs}, file=file
    )
    if not is_long and not item_headers:
        examples = ", ".join(list(item_of)[:3])
        raise IngestError(
            f"{file}: no questionnaire items found (wide files need item columns "
            f"such as {examples}; "
            "long files need item and value columns)"
        )
    notes = [f"ignored columns not in the schema: {', '.join(unmatched)}"] if unmatched else []
    failures, cols = Failures(), Columns()
    key = key if key is not None else load_key()
    for header, name in mapping.items():
        if name == "value":
            cols.shown[name] = table.text(header)
            unfilled_failures(table, header, name, failures)
            continue
        spec = {**schema.columns, **long_specs}[name]
        typed, shown = parse_column(table.frame[header], spec, table, header, failures, key)
        cols.typed[name], cols.shown[name] = typed, shown
    data = pd.DataFrame(cols.typed, index=table.frame.index)
    raw = table.frame[list(mapping) + list(item_headers)]
    if is_long:
        long = _long_input(table, mapping, data, schema, failures, cols)
        check_key(data, schema.long_key, raw, cols, failures, table.rows)
    else:
        long = _wide_input(table, item_headers, data, schema, failures, cols)
        check_key(data, schema.key, raw, cols, failures, table.rows)
        for header, item in item_headers.items():
            cols.shown[item] = table.text(header)
    return finish(data, table, cols, failures, notes, long=long)


def _wide_input(
    table: RawTable,
    item_headers: dict[str, str],
    data: pd.DataFrame,
    schema: Schema,
    failures: Failures,
    cols: Columns,
) -> pd.DataFrame:
    item_of = schema.item_instrument()
    n = len(data)
    parts = []
    for header, item in item_headers.items():
        ins = item_of[item]
        raw = table.text(header)
        unfilled_failures(table, header, item, failures)  # not "not asked": its value is unknown
        value, reason, bad, message = parse_scores(
            raw,
            np.full(n, ins.low),
            np.full(n, ins.high),
            np.full(n, item, dtype=object),
            schema,
            decimal_comma=table.decimal_comma,
            declared=table.user_missing.get(header),
        )
        if bad.any():
            rule = np.where(np.char.find(message[bad].astype(str), "outside") >= 0, "range", "type")
            for r in ("range", "type"):
                sel = np.flatnonzero(bad)[rule == r]
                failures.add(sel, item, r, raw.iloc[sel].to_numpy(), message[sel])
        part = pd.DataFrame({m: data[m] for m in META if m in data})
        part["instrument"] = ins.name
        part["instrument_version"] = ins.version
        part["item"] = item
        part["value"] = value
        part["missing_reason"] = pd.Series(reason, index=data.index, dtype="str")
        part["_pos"] = np.arange(n)
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    return long.sort_values("_pos", kind="stable").reset_index(drop=True)


def _long_input(
    table: RawTable,
    mapping: dict[str, str],
    data: pd.DataFrame,
    schema: Schema,
    failures: Failures,
    cols: Columns,
) -> pd.DataFrame:
    item_of = schema.item_instrument()
    items, unknown = _known_items(data["item"], item_of, failures)
    data["item"] = items
    instruments = items.map(lambda i: item_of[i].name if isinstance(i, str) else None)
    if "instrument" in data:
        _check_instruments(data["instrument"], items, instruments, failures)
    value, reason = _item_scores(table, mapping, data, items, item_of, schema, failures, unknown)
    long = pd.DataFrame({m: data[m] for m in META if m in data})
    long["instrument"] = instruments.astype("str")
    version = data["instrument_version"] if "instrument_version" in data else None
    default = items.map(lambda i: item_of[i].version if isinstance(i, str) else None)
    long["instrument_version"] = (
        version.fillna(default) if version is not None else default
    ).astype("str")
    long["item"] = items.astype("str")
    long["value"] = value
    long["missing_reason"] = pd.Series(reason, index=data.index, dtype="str")
    long["_pos"] = np.arange(len(data))
    return long


def _known_items(
    given: pd.Series, item_of: Mapping[str, Instrument], failures: Failures
) -> tuple[pd.Series, np.ndarray]:
    """Return each row's item as the schema names it (None if unknown) and the unknown rows."""
    by_key = {header_key(i): i for i in item_of}
    items = given.map(lambda v: by_key.get(header_key(v)) if isinstance(v, str) else None)
    unknown = (given.notna() & items.isna()).to_numpy(dtype=bool)
    if unknown.any():
        pos = np.flatnonzero(unknown)
        failures.add(
            pos,
            "item",
            "allowed",
            given.iloc[pos].to_numpy(),
            [f"{v!r} is not an item of any instrument in the schema" for v in given.iloc[pos]],
        )
    return items, unknown


def _check_instruments(
    given: pd.Series, items: pd.Series, instruments: pd.Series, failures: Failures
) -> None:
    """Reject rows whose instrument column names another instrument than their item's."""
    clash = (given.notna() & instruments.notna() & (given != instruments)).to_numpy(dtype=bool)
    if not clash.any():
        return
    pos = np.flatnonzero(clash)
    failures.add(
        pos,
        "instrument",
        "allowed",
        given.iloc[pos].to_numpy(),
        [
            f"item {i} belongs to {w}, not {v}"
            for i, w, v in zip(items.iloc[pos], instruments.iloc[pos], given.iloc[pos], strict=True)
        ],
    )


def _item_scores(
    table: RawTable,
    mapping: dict[str, str],
    data: pd.DataFrame,
    items: pd.Series,
    item_of: Mapping[str, Instrument],
    schema: Schema,
    failures: Failures,
    unknown: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Parse each row's score within its item's range; return the values and missing reasons."""
    low = items.map(lambda i: item_of[i].low if isinstance(i, str) else -np.inf).to_numpy(
        dtype=float
    )
    high = items.map(lambda i: item_of[i].high if isinstance(i, str) else np.inf).to_numpy(
        dtype=float
    )
    header = (
        next(h for h, c in mapping.items() if c == "value") if "value" in mapping.values() else None
    )
    raw = table.text(header) if header else pd.Series(pd.NA, index=data.index, dtype="str")
    value, reason, bad, message = parse_scores(
        raw,
        low,
        high,
        items.fillna("?").to_numpy(dtype=object),
        schema,
        decimal_comma=table.decimal_comma,
    )
    if "missing_reason" in data:
        given = data["missing_reason"].notna().to_numpy()
        blank = raw.isna().to_numpy()
        use = given & blank
        reason[use] = data["missing_reason"].to_numpy(dtype=object)[use]
    bad &= ~unknown
    if bad.any():
        pos = np.flatnonzero(bad)
        failures.add(pos, "value", "range", raw.iloc[pos].to_numpy(), message[pos])
    return value, reason

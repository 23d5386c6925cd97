"""The vectorised validator: every cell, every rule, every failure kept.

Each column is parsed and checked in ``_columns``; here the keys are checked and a
table's failures are gathered per rule (never raised one by one), and a row with
any failure is rejected as a whole. Cross-column rules live in ``_rules``, the
questionnaire's items in ``_questionnaire``, a CBS RIN pair in ``_rin_pair`` and
the quarantined rows' content in ``_content``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from evalkit.ingest._columns import Columns, coded_cells, parse_column
from evalkit.ingest._content import RowContents, row_contents
from evalkit.ingest._failures import Failures
from evalkit.ingest._gmcode import normalise_municipality
from evalkit.ingest._memo import ParseMemo
from evalkit.ingest._privacy import mask_bsns, mask_series
from evalkit.ingest._pseudonym import load_key
from evalkit.ingest._readers import RawTable
from evalkit.ingest._rin_pair import RIN_PLACE, RinPair, parse_rin, rin_pair
from evalkit.ingest._schema import ColumnSpec, Schema, match_headers, missing_required
from evalkit.ingest._totals import fold_totals
from evalkit.ingest._typed import Shown

__all__ = [
    "HeaderPlan",
    "KeyCheck",
    "Validated",
    "key_text",
    "key_texts",
    "plan_headers",
    "validate_table",
]


@dataclass
class Validated:
    """The outcome of validating one file: typed rows, failures and what to quarantine."""

    data: pd.DataFrame
    rows: np.ndarray
    accepted: np.ndarray
    failures: pd.DataFrame
    contents: RowContents
    notes: list[str] = field(default_factory=list)
    long: pd.DataFrame | None = None

    @property
    def rows_read(self) -> int:
        """Rows read from the file (accepted plus rejected)."""
        return len(self.accepted)

    @property
    def content(self) -> pd.Series:
        """The JSON content of each rejected row, by file row.

        None for a copy, in a file read in chunks, whose content an earlier row of the
        file carried already (the store names it by digest).
        """
        return self.contents.series()


def key_text(
    shown: dict[str, Shown],
    key: tuple[str, ...],
    pos: np.ndarray,
    masked: Collection[str] | None = None,
) -> np.ndarray:
    """Return the shown key of some rows as ``value, value`` (column by column, not row by row).

    Parameters
    ----------
    shown : dict
        Displayable values per canonical column.
    key : tuple of str
        The key columns.
    pos : numpy.ndarray
        Internal row positions.
    masked : collection of str, optional
        With it, the texts come masked: each column not in it is masked on its own (as
        masking the joined text would: no BSN candidate spans the ``", "`` between).

    Returns
    -------
    numpy.ndarray
        One text per position.
    """
    return np.asarray(
        key_texts(shown, key, pos, masked).to_numpy(zero_copy_only=False), dtype=object
    )


def key_texts(
    shown: dict[str, Shown],
    key: tuple[str, ...],
    pos: np.ndarray,
    masked: Collection[str] | None = None,
) -> Any:
    """Return :func:`key_text` as an Arrow text array (no Python object per row).

    Parameters
    ----------
    shown : dict
        Displayable values per canonical column.
    key : tuple of str
        The key columns.
    pos : numpy.ndarray
        Internal row positions.
    masked : collection of str, optional
        See :func:`key_text`.

    Returns
    -------
    pyarrow.Array
        One text per position.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = [_key_texts(shown[k], pos) for k in key]
    if masked is not None:
        texts = [t if k in masked else mask_series(t) for k, t in zip(key, texts, strict=True)]
    parts = [pa.array(t, type=pa.large_string()) for t in texts]
    if not len(pos):
        return pa.array([], type=pa.large_string())
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, pa.scalar(", ", pa.large_string()))


def _key_texts(values: Shown, pos: np.ndarray) -> pd.Series:
    """Return ``str()`` of a shown column at ``pos``, an empty text where it is missing.

    Text columns (pandas text, or a categorical of texts such as the pseudonyms) are
    taken by Arrow, without a Python object per row; any other goes value by value.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories
        if isinstance(cats.dtype, pd.StringDtype):
            codes = values.cat.codes.to_numpy()[pos]
            taken = pc.take(
                pa.array(cats.array, type=pa.large_string()), pa.array(codes, mask=codes < 0)
            )
            return pd.Series(taken.fill_null(""), dtype="str")
    elif isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype):
        taken = pa.array(values.array[pos], type=pa.large_string())
        return pd.Series(taken.fill_null(""), dtype="str")
    return pd.Series(values.iloc[pos].to_numpy(), dtype=object).astype(str).fillna("")


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


@dataclass(frozen=True)
class HeaderPlan:
    """How a file's headers map to a schema: the spec per header, a RIN pair, notes."""

    specs: dict[str, ColumnSpec]
    rin: RinPair | None
    notes: tuple[str, ...]


def plan_headers(
    headers: list[str], schema: Schema, *, file: str, needs: Collection[str] | None = None
) -> HeaderPlan:
    """Match a file's headers to its schema and check that the columns it needs are there.

    Parameters
    ----------
    headers : list of str
        The file's headers.
    schema : Schema
        The kind's schema.
    file : str
        The file name, for messages.
    needs : collection of str, optional
        The columns an analysis uses (see :func:`validate_table`).

    Returns
    -------
    HeaderPlan
        Per matched header its column spec (not required when present but not needed),
        the CBS RIN pair if the file identifies persons by one, and the report's notes.

    Raises
    ------
    IngestError
        When a required (or needed) column is missing.
    """
    mapping, unmatched = match_headers(headers, schema.columns, file=file)
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
    specs = {}
    for header, name in mapping.items():
        spec = schema.columns[name]
        if wanted is not None and spec.required and name not in wanted:
            spec = replace(spec, required=False)  # present but not needed: may be empty
        specs[header] = spec
    return HeaderPlan(specs, rin, tuple(notes))


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
    plan = plan_headers(list(table.frame.columns), schema, file=file, needs=needs)
    rin, notes = plan.rin, list(plan.notes)
    failures, cols = Failures(), Columns()
    key = key if key is not None else load_key()
    cells: dict[str, pd.Series] = {}  # the raw cells, hashed by the key check
    for header, spec in plan.specs.items():
        name = spec.name
        if (note := normalise_municipality(table, header, spec)) is not None:
            notes.append(note)
        column = table.frame[header]
        typed, shown = parse_column(column, spec, table, header, failures, key, memo)
        cols.typed[name], cols.shown[name] = typed, shown
        cells[header] = coded_cells(column, spec, table, header, memo)
        if spec.type in ("pseudonym", "string"):  # pseudonyms, #-references, keyed free text
            cols.masked.add(name)
    if rin is not None:
        cols.typed[rin.column], cols.shown[rin.column] = parse_rin(table, rin, failures, key)
        cols.masked.add(rin.column)
        cells.update({h: table.frame[h] for h in (rin.source, rin.number)})
    data = pd.DataFrame(cols.typed, index=table.frame.index)
    raw = pd.DataFrame(cells, index=table.frame.index)
    (check_keys or check_key)(data, schema.key, raw, cols, failures, table.rows)
    _rules.apply_rules(data, schema, cols, failures)
    return finish(data, table, cols, failures, notes)


def _contents(cols: Columns, rejected: np.ndarray, rows: np.ndarray) -> RowContents:
    """Return the content of rejected rows: built from their pieces, or known already.

    Rows whose digest the key check knows (exact copies) are built only where this file
    has not stored their content yet; the others are named by digest alone.
    """
    known = cols.known
    if known is None or not len(known.positions):
        return row_contents(cols.shown, rejected, rows[rejected], cols.masked)
    at = np.searchsorted(known.positions, rejected)
    at = np.minimum(at, len(known.positions) - 1)
    hit = known.positions[at] == rejected
    skip = hit.copy()
    skip[hit] = known.stored[at[hit]]
    build = rejected[~skip]
    contents = row_contents(cols.shown, build, rows[build], cols.masked)
    mine = np.flatnonzero(hit[~skip])  # built rows whose digest is the key check's
    contents = contents.with_digests(mine, known.k1[at[~skip][mine]], known.k2[at[~skip][mine]])
    done = at[skip]
    return contents.extend(
        RowContents.stored_before(rows[rejected[skip]], known.k1[done], known.k2[done])
    )


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
    frame = fold_totals(failures.frame(rows, with_masked=True), table, rows, failed)
    # A misaligned row puts a BSN where no identifier is expected; it must not be echoed.
    todo = ~frame.pop("_masked").to_numpy(dtype=bool)
    for column in ("value", "message"):
        if todo.all():
            frame[column] = mask_series(frame[column])
        elif todo.any():
            frame.loc[todo, column] = mask_series(frame.loc[todo, column])
    contents = _contents(cols, np.flatnonzero(failed[:n]), rows)
    # the raw line of a malformed row may hold a BSN: keep only why
    bad_lines = [json.dumps({"_malformed": message}) for _row, message in table.malformed]
    contents = contents.extend(RowContents.of_texts(rows[len(rows) - len(bad_lines) :], bad_lines))
    return Validated(
        data=data,
        rows=rows,
        accepted=~failed,
        failures=frame,
        contents=contents,
        notes=[mask_bsns(n) for n in [*table.notes, *notes]],
        long=long,
    )

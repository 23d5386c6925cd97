"""A clean CSV stored in one pass: read by Arrow in parallel, parsed on distinct texts.

Most deliveries are clean: every cell parses, no rule fails, no key repeats. For such a
file the row-by-row bookkeeping of the chunked path (failure masks, quarantine
content, duplicate-key hashes per row) is work that finds nothing. Here Arrow reads
the file on all cores into columns of codes into their distinct texts (dictionary
encoded, see ``_codes``); every column's distinct texts are parsed by the same parsers
as the chunked path (``parse_column``: the Dutch forms, the elfproef, the pseudonyms,
BSNs masked in free text), keys and the one-row rules are checked on the codes
(repeated keys once as texts and once as typed values; each rule on the distinct
combinations of its columns), and one ``INSERT ... SELECT`` writes each row's typed
value, taken by its code. What is stored is what the chunked path stores for the same
file.

The moment anything is not clean (a row Arrow's strict reader refuses, text that is not
UTF-8, a row of empty cells, a blank line inside quotes, a value that fails a rule, a
repeated key, a key stored before from another file), :class:`NotClean` is raised; the
caller rolls the transaction back and the chunked path reads the file again and reports
every failure as before. Only files up to ``CLEAN_MAX_BYTES`` are tried, so the codes
and typed values stay small beside the chunked path's bounded memory.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import IngestError
from evalkit.ingest._chunks import CsvPlan
from evalkit.ingest._codes import (
    Coded,
    coded_column,
    distinct_combinations,
    repeats,
    value_codes,
)
from evalkit.ingest._columns import parse_column
from evalkit.ingest._failures import Failures
from evalkit.ingest._readers import RawTable
from evalkit.ingest._rules import check_rule, row_rule_columns
from evalkit.ingest._schema import SQL_TYPES, ColumnSpec, Schema
from evalkit.ingest._store import Store
from evalkit.ingest._tables import quoted
from evalkit.ingest._validate import plan_headers

__all__ = ["CLEAN_MAX_BYTES", "CleanLoad", "NotClean", "release", "store_clean_csv"]

# Files up to this size are tried here (about 1.3 million panel rows): their codes and
# typed values are held at once; beyond this the chunked path streams.
CLEAN_MAX_BYTES = 96 << 20
CLEAN_MEMORY = "512MB"  # DuckDB's limit while a clean file is stored (it spills beyond)
_TYPED = "_evalkit_clean_typed"
_ROW = "_evalkit_row"  # the file row number, beside the texts


class NotClean(Exception):  # a signal to take the chunked path, not an error
    """The file has a failure somewhere; the chunked path finds and reports it."""


@dataclass(frozen=True)
class CleanLoad:
    """A clean file stored: its row count and the report's notes."""

    rows: int
    notes: tuple[str, ...]


def store_clean_csv(
    store: Store,
    schema: Schema,
    plan: CsvPlan,
    source: tuple[str, str],
    keyed: tuple[bytes, Collection[str] | None],
    among: Sequence[str] | None,
) -> CleanLoad:
    """Store a clean CSV's rows (inside the caller's transaction) or raise NotClean.

    Parameters
    ----------
    store : Store
        The store, inside :meth:`Store.transaction`.
    schema : Schema
        The kind's schema (its rules all one-row rules).
    plan : CsvPlan
        The file's streaming plan (UTF-8, its delimiter and headers).
    source : (str, str)
        The file name as shown and its sha256.
    keyed : (bytes, collection of str or None)
        The pseudonym key and the columns an analysis needs.
    among : sequence of str or None
        The files whose stored keys count as an overlap (None: all).

    Returns
    -------
    CleanLoad
        Rows stored (all of them) and the notes.

    Raises
    ------
    NotClean
        When anything in the file would be rejected, the file is not for this path, or
        the file itself is unusable (a required column missing: the chunked or
        whole-file reader says so, after what it finds first).
    """
    file, sha = source
    key, needs = keyed
    headers = list(plan.headers)
    try:
        header_plan = plan_headers(headers, schema, file=file, needs=needs)
    except IngestError as exc:
        # the file was not scanned: the planned reader says what is wrong with it first
        # (text that is not UTF-8 before a missing column, as it always has)
        raise NotClean from exc
    if header_plan.rin is not None or not _plain_csv(plan):
        raise NotClean
    specs = header_plan.specs
    key_headers = [h for h, spec in specs.items() if spec.name in schema.key]
    coded, rows = _read(plan, key_headers, list(specs))
    if repeats([coded[h].codes for h in key_headers], [coded[h].size for h in key_headers]):
        raise NotClean  # equal texts are equal keys: found before any parsing
    maps = {h: _typed_map(h, coded[h].texts, s, plan, key) for h, s in specs.items()}
    _check_keys(coded, maps, key_headers)
    _check_rules(schema, specs, coded, maps)
    con = store.connection
    # Both cores for DuckDB's insert (nothing runs beside it here); the transaction
    # resets both settings when it ends, committed or rolled back.
    con.execute(f"SET memory_limit = '{CLEAN_MEMORY}'")
    con.execute("SET threads = 2")
    before = store.stored_rows(schema.kind) > 0
    try:
        _insert(store, schema, specs, (coded, maps, rows), sha)
    finally:
        release(con)  # frees the typed values, stored or not
    if before:
        _check_overlap(con, schema, sha, among)
    return CleanLoad(rows, header_plan.notes)


def _plain_csv(plan: CsvPlan) -> bool:
    """Return True for a file whose header is its first line and which is small enough."""
    with plan.path.open("rb") as handle:
        head = handle.read(8)
    if head.lstrip(b"\xef\xbb\xbf").startswith(b"sep="):
        return False  # Excel's delimiter line: the chunked reader skips it
    return plan.path.stat().st_size <= CLEAN_MAX_BYTES


_HEAD_BYTES = 1 << 20  # the file's start and end, looked at for repeated keys first


def _read(plan: CsvPlan, key_headers: list[str], wanted: list[str]) -> tuple[dict[str, Coded], int]:
    """Read the file's columns as codes into their distinct texts (Arrow, all cores).

    Arrow's multi-threaded reader with the chunked path's options (delimiter, quoted
    line breaks, empty cell as missing), but strict: a short or long row raises here
    instead of being numbered and rejected, so the file goes to the chunked path, as
    do text that is not UTF-8 (Arrow checks every cell as Python's decoder does), a row
    of empty cells (a blank line reads as one) and a blank line inside quotes (the
    chunked reader leaves such files to the whole-file reader). A file whose first rows
    already repeat a key (a cumulative export) is given to the chunked path before the
    rest is read. Returns the ``wanted`` columns (all are looked at) and the row count.
    """
    import pyarrow as pa

    if _repeats_early(plan, key_headers):
        raise NotClean
    try:
        with pa.OSFile(str(plan.path)) as handle:
            handle.seek(plan.offset)
            table = _coded_texts(handle, plan)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:  # the chunked reader reports it
        raise NotClean from exc
    columns = table.columns[: len(plan.headers)]
    if _any_blank_row(columns):
        raise NotClean  # a row of empty cells is skipped with its number kept
    coded = {}
    for header, column in zip(plan.headers, columns, strict=True):
        one = coded_column(column)
        if _blank_line_inside(one.texts):
            raise NotClean
        if header in wanted:
            coded[header] = one
    return coded, table.num_rows


def _blank_line_inside(texts: pd.Series) -> bool:
    r"""Return True when a text holds a blank line (``\n\n`` or ``\n\r\n``, quoted)."""
    return bool(texts.str.contains("\n\r?\n", regex=True, na=False).any())


def _any_blank_row(columns: list[Any]) -> bool:
    """Return whether some row is empty in every column.

    Computed with Arrow's kernels, column by column: one SQL condition over every column
    (``a IS NULL AND b IS NULL AND ...``) ran DuckDB out of memory for a header of 16,000
    columns (a traceback).
    """
    import pyarrow.compute as pc

    blank = None
    for column in columns:
        empty = pc.is_null(column)
        blank = empty if blank is None else pc.and_(blank, empty)
    return bool(blank is not None and pc.any(blank).as_py())


def _options(plan: CsvPlan, text_type: Any) -> dict[str, Any]:
    """Return Arrow's read, parse and convert options for the data rows of ``plan``."""
    import pyarrow.csv as pacsv

    headers = list(plan.headers)
    return {
        "read_options": pacsv.ReadOptions(column_names=headers, use_threads=True),
        "parse_options": pacsv.ParseOptions(
            delimiter=plan.delimiter, newlines_in_values=True, ignore_empty_lines=False
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types={h: text_type for h in headers},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    }


def _texts(source: Any, plan: CsvPlan) -> Any:
    """Return the data rows of ``source`` (an Arrow input) as a table of texts."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return pacsv.read_csv(source, **_options(plan, pa.string()))


def _coded_texts(source: Any, plan: CsvPlan) -> Any:
    """Return the data rows of ``source`` as a table of dictionary-encoded texts."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return pacsv.read_csv(source, **_options(plan, pa.dictionary(pa.int32(), pa.string())))


def _repeats_early(plan: CsvPlan, key_headers: list[str]) -> bool:
    """Return True when the file's first or last rows repeat a key's texts.

    A cumulative export repeats earlier rows further on; its last rows show it as
    well as its first. Only a shortcut: a wrong answer either way costs time, never a
    difference in what is stored, because the chunked path and the later key checks
    decide (so a sample that starts inside a quoted line break does no harm).
    """
    import pyarrow as pa

    if not key_headers:
        return False
    samples = [_sample(plan, plan.offset)]
    end = plan.path.stat().st_size
    if end - plan.offset > 2 * _HEAD_BYTES:  # head and tail do not overlap
        samples.append(_sample(plan, end - _HEAD_BYTES))
    try:
        keys = [_texts(pa.BufferReader(b), plan).select(key_headers) for b in samples if b]
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return False  # a row the whole read refuses, or a sample cut inside a quote
    if not keys:
        return False
    together = pa.concat_tables(keys)
    return bool(together.group_by(key_headers).aggregate([]).num_rows < together.num_rows)


def _sample(plan: CsvPlan, start: int) -> bytes:
    """Return whole lines from about ``_HEAD_BYTES`` of the file from ``start``."""
    with plan.path.open("rb") as handle:
        handle.seek(start)
        block = handle.read(_HEAD_BYTES)
    if start > plan.offset:
        block = block[block.find(b"\n") + 1 :]  # from the first line that starts here
    return block[: block.rfind(b"\n") + 1]


def _typed_map(
    header: str, texts: pd.Series, spec: ColumnSpec, plan: CsvPlan, key: bytes
) -> pd.Series:
    """Parse one column's distinct texts; return their typed values in order (raise NotClean)."""
    texts = texts.rename(header)
    table = RawTable(
        pd.DataFrame({header: texts}),
        np.arange(1, len(texts) + 1, dtype=np.int64),
        "csv",
        decimal_comma=plan.delimiter != ",",
        info=dict(plan.info),
    )
    failures = Failures()
    typed, _shown = parse_column(texts, spec, table, header, failures, key)
    if failures.positions:
        raise NotClean
    return pd.Series(typed.array, name=spec.name)


def _check_keys(
    coded: dict[str, Coded], maps: dict[str, pd.Series], key_headers: list[str]
) -> None:
    """Raise NotClean when two rows have equal typed keys (``1-2025`` and ``01-2025``)."""
    codes, sizes = [], []
    for header in key_headers:
        of_text, size = value_codes(maps[header])
        codes.append(of_text[coded[header].codes])
        sizes.append(size)
    if repeats(codes, sizes):
        raise NotClean


def _check_rules(
    schema: Schema,
    specs: dict[str, ColumnSpec],
    coded: dict[str, Coded],
    maps: dict[str, pd.Series],
) -> None:
    """Run each one-row rule on the distinct combinations of its columns' texts."""
    header_of = {spec.name: header for header, spec in specs.items()}
    for rule in schema.rules:
        names = [n for n in row_rule_columns(rule) if n in header_of]
        if not names:
            continue
        columns = [coded[header_of[n]] for n in names]
        combos = distinct_combinations([c.codes for c in columns], [c.size for c in columns])
        at = dict(zip(names, combos, strict=True))
        data = pd.DataFrame(
            {n: maps[header_of[n]].take(at[n]).reset_index(drop=True) for n in names}
        )
        failures = Failures()
        check_rule(data, rule, {n: data[n] for n in names}, failures)
        if failures.positions:
            raise NotClean


def _insert(
    store: Store,
    schema: Schema,
    specs: dict[str, ColumnSpec],
    values: tuple[dict[str, Coded], dict[str, pd.Series], int],
    sha: str,
) -> None:
    """Append every row, cast as the chunked path casts (raise NotClean if refused).

    ``values`` are the columns' codes, their typed distinct values and the row count.
    """
    import duckdb
    import pyarrow as pa

    try:
        _write(store, schema, specs, _typed(specs, *values), sha)
    except (duckdb.Error, pa.ArrowException) as exc:
        # a typed value the store's column or Arrow refuses: the chunked path stores or
        # rejects it as it always has (the transaction is rolled back first)
        raise NotClean from exc


def _typed(
    specs: dict[str, ColumnSpec], coded: dict[str, Coded], maps: dict[str, pd.Series], rows: int
) -> Any:
    """Return every row's typed values (by column name) and its row number, in Arrow.

    Each row's value is taken from its column's typed distinct values by the row's code.
    """
    import pyarrow as pa

    typed: dict[str, Any] = {}
    for header, spec in specs.items():
        values = pa.Table.from_pandas(
            pd.DataFrame({"v": maps[header].array}), preserve_index=False
        ).column("v")
        typed[spec.name] = values.combine_chunks().take(pa.array(coded[header].codes))
    return pa.table({**typed, _ROW: pa.array(np.arange(1, rows + 1, dtype=np.int64))})


def _write(
    store: Store, schema: Schema, specs: dict[str, ColumnSpec], typed: Any, sha: str
) -> None:
    """Insert the typed rows into the kind's table, each column cast to its store type."""
    con = store.connection
    columns = store.create_kind(schema)
    sql_type = {spec.name: SQL_TYPES[spec.type] for spec in specs.values()}
    order = [c for c in columns if c in sql_type]
    casts = ", ".join(f"CAST({quoted(c)} AS {sql_type[c]})" for c in order)
    con.register(_TYPED, typed)
    # The store's readers order by file and row: the insert may write in any order,
    # which lets DuckDB's two threads append without waiting for each other (the
    # transaction resets the setting).
    con.execute("SET preserve_insertion_order = false")
    con.execute(
        f"INSERT INTO {quoted(schema.kind)} ({', '.join(quoted(c) for c in order)}, "
        f"_source_sha256, _row) SELECT {casts}, ?, {_ROW} FROM {_TYPED}",
        [sha],
    )


def release(con: Any) -> None:
    """Drop the one pass's Arrow tables from the connection (again after a rollback).

    A failed statement aborts the transaction, and DuckDB then refuses to unregister
    until it is rolled back; the caller calls this once more after the rollback, so the
    texts' memory is freed before the chunked path reads the file.
    """
    import duckdb

    try:
        con.unregister(_TYPED)
    except duckdb.TransactionException:
        pass  # the aborted transaction holds it until the rollback


def _check_overlap(con: Any, schema: Schema, sha: str, among: Sequence[str] | None) -> None:
    """Raise NotClean when a key is stored already from another file (the rule decides)."""
    on = " AND ".join(f"n.{quoted(k)} = t.{quoted(k)}" for k in schema.key)
    params: list[Any] = [sha, sha]
    where = ""
    if among is not None:
        if not among:
            return
        where = f" AND t._source_sha256 IN ({', '.join('?' * len(among))})"
        params += list(among)
    table = quoted(schema.kind)
    hit = con.execute(
        f"SELECT 1 FROM {table} n JOIN {table} t ON {on} "
        f"WHERE n._source_sha256 = ? AND t._source_sha256 <> ?{where} LIMIT 1",
        params,
    ).fetchall()
    if hit:
        raise NotClean

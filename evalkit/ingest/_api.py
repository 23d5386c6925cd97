"""The two entry points: validate a file (dry run) and ingest files into the store."""

from __future__ import annotations

import errno
import hashlib
import stat
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evalkit.errors import IngestError
from evalkit.ingest._chunks import CHUNK_BYTES, CsvPlan, NotStreamable, csv_chunks, plan_csv
from evalkit.ingest._clean import NotClean, release, store_clean_csv
from evalkit.ingest._copykeys import CopyKeys
from evalkit.ingest._dupkeys import find_duplicate_keys
from evalkit.ingest._keyindex import KeysRepeat
from evalkit.ingest._memo import ParseMemo
from evalkit.ingest._overlap import check_overlap_rule, check_stored_rule
from evalkit.ingest._privacy import mask_bsns, shown_path
from evalkit.ingest._pseudonym import load_key, resolve_scope
from evalkit.ingest._readers import detect_format, read_raw
from evalkit.ingest._reports import IngestReport, ValidationReport
from evalkit.ingest._rules import ROW_RULES
from evalkit.ingest._schema import Schema, check_kind, load_schema
from evalkit.ingest._spill import FailureSet
from evalkit.ingest._store import Store
from evalkit.ingest._tally import Tally
from evalkit.ingest._validate import Validated, validate_table

__all__ = ["file_sha256", "ingest_files", "validate_file"]


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file's bytes (hex).

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    str
        64 hex characters.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path) -> Path:
    path = Path(path)
    shown = shown_path(path)
    try:
        info = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IngestError(
                f"{shown}: a symbolic link loop (the link leads back to itself)"
            ) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise IngestError(f"{shown}: permission denied") from None
        raise IngestError(f"{shown}: file not found") from None
    if not stat.S_ISREG(info.st_mode):
        raise IngestError(f"{shown}: not a file")
    return path


@contextmanager
def _masked_errors() -> Iterator[None]:
    """Mask BSNs in the message of an error about a file (its name or first line)."""
    try:
        yield
    except IngestError as exc:
        raise IngestError(mask_bsns(str(exc))) from None


def _run(
    kind: str, path: Path, sheet: str | None, key: bytes, needs: Collection[str] | None = None
) -> tuple[Validated, dict[str, str]]:
    schema = load_schema(kind)
    table = read_raw(path, sheet=sheet, known=schema.header_keys())
    validated = validate_table(table, schema, file=shown_path(path), key=key, needs=needs)
    info = {"format": table.format, **table.info}
    return validated, info


def _stream_plan(
    schema: Schema, path: Path, chunk_bytes: int | None, *, scan: bool = True
) -> CsvPlan | None:
    """Return how to read a file in chunks, or None when it is read whole.

    Streamed: CSV that Arrow reads in blocks (see ``_chunks``) of a kind without a
    questionnaire's wide-to-long step and whose cross-column rules look at one row
    at a time. Everything else (XLSX, SAV, DTA, Parquet, case events with their rules
    per case, questionnaires) keeps the whole-file path. ``scan=False`` plans from the
    header alone, for the one-pass load, whose strict read checks the rest.
    """
    if chunk_bytes is None or schema.kind == "questionnaire":
        return None
    if any(rule["rule"] not in ROW_RULES for rule in schema.rules):
        return None
    with path.open("rb") as handle:
        head = handle.read(16)
    if not head or detect_format(path, head) != "csv":
        return None
    return plan_csv(path, str(path), scan=scan)


def _chunked(
    schema: Schema,
    path: Path,
    plan: CsvPlan,
    keyed: tuple[bytes, Collection[str] | None],
    chunk_bytes: int,
) -> Iterator[Validated]:
    """Validate a CSV chunk by chunk, once when repeated keys are exact copies.

    A conflicting key, or a repeated one once the keys went to disk, raises
    :class:`KeysRepeat` (see :class:`CopyKeys`).
    """
    key, needs = keyed
    file = shown_path(path)
    memo = ParseMemo()
    fresh = CopyKeys()
    try:
        for table in csv_chunks(plan, chunk_bytes):
            yield validate_table(
                table, schema, file=file, key=key, needs=needs, check_keys=fresh.check, memo=memo
            )
        fresh.finish()
    finally:
        fresh.close()


def _chunked_twice(
    schema: Schema,
    path: Path,
    plan: CsvPlan,
    keyed: tuple[bytes, Collection[str] | None],
    chunk_bytes: int,
) -> Iterator[Validated]:
    """Validate a CSV chunk by chunk; duplicate keys come from a first pass over the keys."""
    key, needs = keyed
    file = shown_path(path)
    memo = ParseMemo()
    chunks = csv_chunks(plan, chunk_bytes)
    dups = find_duplicate_keys(chunks, schema, file=file, key=key, memo=memo)
    for table in csv_chunks(plan, chunk_bytes):
        yield validate_table(
            table, schema, file=file, key=key, needs=needs, check_keys=dups.check, memo=memo
        )


def _notes(notes: Sequence[str], rows_read: int, info: dict[str, str]) -> tuple[str, ...]:
    read = ", ".join(f"{k} {v}" for k, v in info.items())
    out = [mask_bsns(f"read as {read}"), *notes]
    if rows_read == 0:
        out.append("the file has a header but no data rows")
    return tuple(out)


def validate_file(
    kind: str,
    path: Path,
    *,
    sheet: str | None = None,
    scope: str | None = None,
    needs: Collection[str] | None = None,
    chunk_bytes: int | None = CHUNK_BYTES,
) -> ValidationReport:
    """Check a file against its kind's schema without storing anything.

    Parameters
    ----------
    kind : {"outcome_panel", "questionnaire", "case_events"}
        The kind of data.
    path : pathlib.Path
        The file (CSV, XLSX, SAV, DTA or Parquet).
    sheet : str, optional
        The XLSX sheet; defaults to the first.
    scope : str, optional
        The pseudonym scope (see :func:`evalkit.ingest.resolve_scope`).
    needs : collection of str, optional
        The columns an analysis uses; only these and the keys must be present.
    chunk_bytes : int or None, default ``CHUNK_BYTES`` (4 MiB)
        Read a CSV in chunks of about this many bytes (see :func:`ingest_files`);
        None reads the whole file at once.

    Returns
    -------
    ValidationReport
        Rows read, accepted and rejected, and every failure.

    Raises
    ------
    IngestError
        When the file itself cannot be used (unreadable, wrong format, required column missing).
    """
    check_kind(kind)
    with _masked_errors():
        path = _check(path)
        tally, info = _validate_chunks(kind, path, sheet, (load_key(scope), needs), chunk_bytes)
    return ValidationReport(
        file=shown_path(path),
        sha256=file_sha256(path),
        kind=kind,
        rows_read=tally.rows_read,
        accepted=tally.accepted,
        rejected=tally.rows_read - tally.accepted,
        failure_set=tally.all_failures(),
        notes=_notes(tally.notes or [], tally.rows_read, info),
        info=info,
    )


def _validate_chunks(
    kind: str,
    path: Path,
    sheet: str | None,
    keyed: tuple[bytes, Collection[str] | None],
    chunk_bytes: int | None,
) -> tuple[Tally, dict[str, str]]:
    schema = load_schema(kind)
    plan = _stream_plan(schema, path, chunk_bytes)
    if plan is not None and chunk_bytes is not None:
        for reader in (_chunked, _chunked_twice):
            tally = Tally()
            try:
                for validated in reader(schema, path, plan, keyed, chunk_bytes):
                    tally.count(validated, validated.failures)
                return tally, {"format": "csv", **plan.info}
            except KeysRepeat:
                continue  # a key repeats: read it again, keys first
            except NotStreamable:
                break  # Arrow cannot read it in blocks: the whole-file reader decides
    validated, info = _run(kind, path, sheet, *keyed)
    tally = Tally()
    tally.count(validated, validated.failures)
    return tally, info


def ingest_files(
    kind: str,
    paths: Sequence[Path],
    *,
    store_path: Path = Path("build/evalkit.duckdb"),
    sheet: str | None = None,
    scope: str | None = None,
    overlap: str = "refuse",
    overlap_among: Sequence[str] | None = None,
    needs: Collection[str] | None = None,
    chunk_bytes: int | None = CHUNK_BYTES,
    clean_first: bool = True,
) -> list[IngestReport]:
    """Validate files and store them: accepted rows in their table, rejected ones in quarantine.

    Each file is one transaction. A file whose sha256 was already ingested as
    this kind is skipped and reported with ``skipped_duplicate_file=True``. Rows
    whose key is already stored from another file follow ``overlap``.

    Parameters
    ----------
    kind : {"outcome_panel", "questionnaire", "case_events"}
        The kind of data.
    paths : sequence of pathlib.Path
        The files, ingested in order.
    store_path : pathlib.Path, default ``build/evalkit.duckdb``
        The DuckDB store.
    sheet : str, optional
        The XLSX sheet; defaults to the first.
    scope : str, optional
        The pseudonym scope (a pilot or project; see :func:`evalkit.ingest.resolve_scope`).
        One store holds one scope.
    overlap : {"refuse", "keep_latest", "keep_both"}, default "refuse"
        What to do with rows whose key is already stored from another file.
    overlap_among : sequence of str, optional
        Look for overlaps only in rows from these files (sha256; a protocol's own
        sources in a store shared by several protocols); default every stored row.
    needs : collection of str, optional
        The columns an analysis uses (a protocol's, see
        :func:`evalkit.pipeline.columns_needed`): only these and the keys must be in
        the file; the schema's other columns are stored empty when absent.
    chunk_bytes : int or None, default ``CHUNK_BYTES`` (4 MiB)
        A CSV is read, validated and stored in chunks of about this many bytes, so
        memory does not grow with the file (small values force many chunks); None
        reads the whole file at once. XLSX, SAV, DTA, Parquet, questionnaires and
        case events (rules per case) are always read whole.
    clean_first : bool, default True
        Try the one-pass load of a clean CSV first (see ``_clean``): a streamable
        CSV up to ``CLEAN_MAX_BYTES`` in which nothing fails is stored as the chunked
        path stores it, faster; any failure rolls it back and the chunked path reads
        the file. False always takes the chunked path.

    Returns
    -------
    list of IngestReport
        One per file.

    Raises
    ------
    IngestError
        When a file cannot be used (files before it stay stored), the overlap rule
        is unknown, the key is weak, or the store holds another scope.
    """
    check_kind(kind)
    check_overlap_rule(overlap)
    schema = load_schema(kind)
    scope = resolve_scope(scope)
    key = load_key(scope)
    reports: list[IngestReport] = []
    with Store(store_path) as store:
        _check_scope(store, scope)
        for raw_path in paths:
            with _masked_errors():
                reports.append(
                    _ingest_one(
                        store,
                        schema,
                        raw_path,
                        (sheet, needs, chunk_bytes, clean_first),
                        (key, scope),
                        (overlap, overlap_among),
                    )
                )
    return reports


def _check_scope(store: Store, scope: str) -> None:
    other = [s for s in store.scopes() if s != scope]
    if other:
        raise IngestError(
            f"{store.path}: the store holds pseudonyms of scope {other[0]!r}, this ingest uses "
            f"{scope!r}; pseudonyms of two scopes cannot be linked. Use --store for a separate "
            f"store, or the same scope (--scope / EVALKIT_PSEUDONYM_SCOPE)"
        )


def _skipped(path: Path, sha: str, kind: str, seen: dict[str, Any]) -> IngestReport:
    return IngestReport(
        file=shown_path(path),
        sha256=sha,
        kind=kind,
        rows_read=int(seen["rows_read"]),
        accepted=int(seen["accepted"]),
        rejected=int(seen["rejected"]),
        skipped_duplicate_file=True,
        failure_set=FailureSet(),
        notes=(
            f"already ingested on {seen['ingested_at']:%Y-%m-%d %H:%M} UTC "
            f"as {seen['file']}; skipped",
        ),
    )


def _ingest_one(
    store: Store,
    schema: Schema,
    raw_path: Path,
    read: tuple[str | None, Collection[str] | None, int | None, bool],
    keyed: tuple[bytes, str],
    overlap_rule: tuple[str, Sequence[str] | None],
) -> IngestReport:
    key, scope = keyed
    sheet, needs, chunk_bytes, clean_first = read
    path = _check(raw_path)
    sha = file_sha256(path)
    seen = store.logged(sha, schema.kind)
    if seen is not None:
        check_stored_rule(store, schema.kind, (shown_path(path), sha), overlap_rule)
        return _skipped(path, sha, schema.kind, seen)
    quick = _stream_plan(schema, path, chunk_bytes, scan=False) if clean_first else None
    if quick is not None:
        try:
            return _store_clean(
                store, schema, (path, sha), quick, (key, needs), (scope, overlap_rule)
            )
        except NotClean:
            pass  # rolled back; the chunked path finds and reports what is not clean
    plan = _stream_plan(schema, path, chunk_bytes)
    if plan is not None and chunk_bytes is not None:
        info = {"format": "csv", **plan.info}
        for reader in (_chunked, _chunked_twice):
            chunks = reader(schema, path, plan, (key, needs), chunk_bytes)
            try:
                return _store_file(store, schema, (path, sha), chunks, info, (scope, overlap_rule))
            except KeysRepeat:
                continue  # rolled back; a key repeats: read it again, keys first
            except NotStreamable:
                break  # rolled back; Arrow cannot read it in blocks, the whole-file reader decides
    validated, info = _run(schema.kind, path, sheet, key, needs)
    return _store_file(store, schema, (path, sha), iter([validated]), info, (scope, overlap_rule))


def _store_behind(chunks: Iterator[Validated], put: Callable[[Validated], None]) -> None:
    """Store each chunk on a second thread while the next one is read and validated.

    Storing is mostly DuckDB's work (overlap query, insert), which runs without the
    GIL, so on two cores it costs little beside validation, which needs it. At most one
    chunk waits to be stored (memory stays that of two chunks), chunks are stored in
    file order, and an error on either side is raised here only once nothing is being
    written any more, so the caller's rollback finds the connection idle.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: Future[None] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="evalkit-store") as pool:
        try:
            for validated in chunks:
                if pending is not None:
                    pending.result()
                pending = pool.submit(put, validated)
            if pending is not None:
                pending.result()
        finally:
            if pending is not None:
                pending.exception()  # wait; the first error (raised above) is the one shown


def _store_clean(
    store: Store,
    schema: Schema,
    source: tuple[Path, str],
    plan: CsvPlan,
    keyed: tuple[bytes, Collection[str] | None],
    rules: tuple[str, tuple[str, Sequence[str] | None]],
) -> IngestReport:
    """Store a clean CSV in one pass; raise NotClean (rolled back) otherwise."""
    path, sha = source
    scope, (rule, among) = rules
    try:
        with store.transaction():
            load = store_clean_csv(store, schema, plan, (shown_path(path), sha), keyed, among)
            counts = Tally(rows_read=load.rows, accepted=load.rows, stored=load.rows)
            store.append_log(counts.log_line(source, schema, scope, rule))
    finally:
        release(store.connection)  # after a rollback too
    notes = _notes(list(load.notes), load.rows, {"format": "csv", **plan.info})
    return _report(source, schema, counts, FailureSet(), notes)


def _store_file(
    store: Store,
    schema: Schema,
    source: tuple[Path, str],
    chunks: Iterator[Validated],
    info: dict[str, str],
    rules: tuple[str, tuple[str, Sequence[str] | None]],
) -> IngestReport:
    """Store a file's chunks in one transaction, the log line last."""
    scope, overlap_rule = rules
    tally = Tally()
    with store.transaction():
        _store_behind(chunks, lambda v: tally.store(store, schema, source, v, overlap_rule))
        said = tally.overlap_note(overlap_rule[0])
        store.append_log(tally.log_line(source, schema, scope, overlap_rule[0]))
    notes = _notes(tally.notes or [], tally.rows_read, info) + ((said,) if said else ())
    return _report(source, schema, tally, tally.all_failures(), notes)


def _report(
    source: tuple[Path, str],
    schema: Schema,
    tally: Tally,
    failures: FailureSet,
    notes: tuple[str, ...],
) -> IngestReport:
    """Return the report of a file stored (by either path) from its counts."""
    path, sha = source
    return IngestReport(
        file=shown_path(path),
        sha256=sha,
        kind=schema.kind,
        rows_read=tally.rows_read,
        accepted=tally.accepted,
        rejected=tally.rows_read - tally.accepted,
        skipped_duplicate_file=False,
        failure_set=failures,
        notes=notes,
        stored_rows=tally.stored,
    )

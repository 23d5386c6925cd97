"""The two entry points: validate a file (dry run) and ingest files into the store."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import stat
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import IngestError
from evalkit.ingest._overlap import Overlap, check_overlap_rule, find_overlap
from evalkit.ingest._privacy import mask_bsns, shown_path
from evalkit.ingest._pseudonym import load_key, resolve_scope
from evalkit.ingest._readers import read_raw
from evalkit.ingest._reports import IngestReport, ValidationReport
from evalkit.ingest._schema import Schema, check_kind, load_schema
from evalkit.ingest._store import Store, table_columns
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


def _notes(validated: Validated, info: dict[str, str]) -> tuple[str, ...]:
    read = ", ".join(f"{k} {v}" for k, v in info.items())
    notes = [mask_bsns(f"read as {read}"), *validated.notes]
    if validated.rows_read == 0:
        notes.append("the file has a header but no data rows")
    return tuple(notes)


def validate_file(
    kind: str,
    path: Path,
    *,
    sheet: str | None = None,
    scope: str | None = None,
    needs: Collection[str] | None = None,
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
        validated, info = _run(kind, path, sheet, load_key(scope), needs)
    accepted = int(validated.accepted.sum())
    return ValidationReport(
        file=shown_path(path),
        sha256=file_sha256(path),
        kind=kind,
        rows_read=validated.rows_read,
        accepted=accepted,
        rejected=validated.rows_read - accepted,
        failures=validated.failures,
        notes=_notes(validated, info),
        info=info,
    )


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
                        (sheet, needs),
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
        failures=pd.DataFrame(columns=["row", "column", "rule", "value", "message"]),
        notes=(
            f"already ingested on {seen['ingested_at']:%Y-%m-%d %H:%M} UTC "
            f"as {seen['file']}; skipped",
        ),
    )


def _ingest_one(
    store: Store,
    schema: Schema,
    raw_path: Path,
    read: tuple[str | None, Collection[str] | None],
    keyed: tuple[bytes, str],
    overlap_rule: tuple[str, Sequence[str] | None],
) -> IngestReport:
    from evalkit import __version__

    key, scope = keyed
    overlap, among = overlap_rule
    sheet, needs = read
    kind = schema.kind
    path = _check(raw_path)
    sha = file_sha256(path)
    seen = store.logged(sha, kind)
    if seen is not None:
        return _skipped(path, sha, kind, seen)
    validated, info = _run(kind, path, sheet, key, needs)
    rows = _stored_rows(schema, validated, sha)
    quarantine = _quarantine(kind, path, sha, validated)
    found = find_overlap(store, schema, rows, overlap, among)
    failures = validated.failures
    if len(found.rejected_rows):
        rows = rows[~rows["_row"].isin(found.rejected_rows)].reset_index(drop=True)
        failures = _merged(failures, found.failures, "row")
        quarantine = _merged(quarantine, _overlap_quarantine(kind, path, sha, found), "_row")
    accepted = int(validated.accepted.sum()) - len(found.rejected_rows)
    said = found.note()
    notes = _notes(validated, info) + ((said,) if said else ())
    log = {
        "file": shown_path(path),
        "sha256": sha,
        "bytes": path.stat().st_size,
        "rows_read": validated.rows_read,
        "accepted": accepted,
        "rejected": validated.rows_read - accepted,
        "kind": kind,
        "schema_version": schema.version,
        "evalkit_version": __version__,
        "ingested_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "pseudonym_scope": scope,
        "overlap": said,
    }
    replace = _replace_keys(schema) if overlap == "keep_latest" and found.rows else ()
    store.write(schema, rows, quarantine, log, replace_keys=replace)
    return IngestReport(
        file=shown_path(path),
        sha256=sha,
        kind=kind,
        rows_read=validated.rows_read,
        accepted=accepted,
        rejected=validated.rows_read - accepted,
        skipped_duplicate_file=False,
        failures=failures,
        notes=notes,
        stored_rows=len(rows),
    )


def _replace_keys(schema: Schema) -> tuple[str, ...]:
    return schema.long_key if schema.kind == "questionnaire" else schema.key


def _merged(first: pd.DataFrame, second: pd.DataFrame, by: str) -> pd.DataFrame:
    if first.empty:
        return second.reset_index(drop=True)
    out = pd.concat([first, second.astype({by: "int64"})], ignore_index=True)
    return out.sort_values(by, kind="stable").reset_index(drop=True)


def _overlap_quarantine(kind: str, path: Path, sha: str, found: Overlap) -> pd.DataFrame:
    return _quarantine_rows(kind, path, sha, found.failures, found.quarantine_content)


def _stored_rows(schema: Schema, validated: Validated, sha: str) -> pd.DataFrame:
    n = len(validated.data)
    keep = validated.accepted[:n]
    if validated.long is not None:
        long = validated.long
        long = long[keep[long["_pos"].to_numpy()]]
        out = long.drop(columns="_pos").assign(_row=validated.rows[long["_pos"].to_numpy()])
    else:
        out = validated.data[keep].assign(_row=validated.rows[:n][keep])
    out = out.assign(_source_sha256=sha)
    columns = table_columns(schema)
    for column in columns:
        if column not in out:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="object")
    return out[list(columns)].reset_index(drop=True)


def _quarantine(kind: str, path: Path, sha: str, validated: Validated) -> pd.DataFrame:
    if validated.failures.empty:
        return validated.failures
    return _quarantine_rows(kind, path, sha, validated.failures, validated.content)


def _quarantine_rows(
    kind: str, path: Path, sha: str, failures: pd.DataFrame, content: Any
) -> pd.DataFrame:
    """One quarantine row per failure; ``content`` maps a file row to its shown values."""
    return pd.DataFrame(
        {
            "kind": kind,
            "file": shown_path(path),
            "_source_sha256": sha,
            "_row": failures["row"].to_numpy(dtype=np.int64),
            "column": failures["column"],
            "rule": failures["rule"],
            "value": failures["value"],
            "message": failures["message"],
            "content": failures["row"].map(content),
        }
    )

"""The two entry points: validate a file (dry run) and ingest files into the store."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import IngestError
from evalkit.ingest._readers import read_raw
from evalkit.ingest._reports import IngestReport, ValidationReport
from evalkit.ingest._schema import check_kind, load_schema
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
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    if not path.is_file():
        raise IngestError(f"{path}: not a file")
    return path


def _run(kind: str, path: Path, sheet: str | None) -> tuple[Validated, dict[str, str]]:
    schema = load_schema(kind)
    table = read_raw(path, sheet=sheet)
    validated = validate_table(table, schema, file=str(path))
    info = {"format": table.format, **table.info}
    return validated, info


def _notes(validated: Validated, info: dict[str, str]) -> tuple[str, ...]:
    read = ", ".join(f"{k} {v}" for k, v in info.items())
    notes = [f"read as {read}", *validated.notes]
    if validated.rows_read == 0:
        notes.append("the file has a header but no data rows")
    return tuple(notes)


def validate_file(kind: str, path: Path, *, sheet: str | None = None) -> ValidationReport:
    """Check a file against its kind's schema without storing anything.

    Parameters
    ----------
    kind : {"outcome_panel", "questionnaire", "case_events"}
        The kind of data.
    path : pathlib.Path
        The file (CSV, XLSX, SAV, DTA or Parquet).
    sheet : str, optional
        The XLSX sheet; defaults to the first.

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
    path = _check(path)
    validated, info = _run(kind, path, sheet)
    accepted = int(validated.accepted.sum())
    return ValidationReport(
        file=str(path),
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
) -> list[IngestReport]:
    """Validate files and store them: accepted rows in their table, rejected ones in quarantine.

    Each file is one transaction. A file whose sha256 was already ingested as
    this kind is skipped and reported with ``skipped_duplicate_file=True``.

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

    Returns
    -------
    list of IngestReport
        One per file.

    Raises
    ------
    IngestError
        When a file cannot be used; files before it stay stored.
    """
    from evalkit import __version__

    check_kind(kind)
    schema = load_schema(kind)
    reports: list[IngestReport] = []
    with Store(store_path) as store:
        for raw_path in paths:
            path = _check(raw_path)
            sha = file_sha256(path)
            seen = store.logged(sha, kind)
            if seen is not None:
                reports.append(
                    IngestReport(
                        file=str(path),
                        sha256=sha,
                        kind=kind,
                        rows_read=int(seen["rows_read"]),
                        accepted=int(seen["accepted"]),
                        rejected=int(seen["rejected"]),
                        skipped_duplicate_file=True,
                        failures=pd.DataFrame(
                            columns=["row", "column", "rule", "value", "message"]
                        ),
                        notes=(
                            f"already ingested on {seen['ingested_at']:%Y-%m-%d %H:%M} UTC "
                            f"as {seen['file']}; skipped",
                        ),
                    )
                )
                continue
            validated, info = _run(kind, path, sheet)
            rows = _stored_rows(schema, validated, sha)
            accepted = int(validated.accepted.sum())
            log = {
                "file": str(path),
                "sha256": sha,
                "bytes": path.stat().st_size,
                "rows_read": validated.rows_read,
                "accepted": accepted,
                "rejected": validated.rows_read - accepted,
                "kind": kind,
                "schema_version": schema.version,
                "evalkit_version": __version__,
                "ingested_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            }
            store.write(schema, rows, _quarantine(kind, path, sha, validated), log)
            reports.append(
                IngestReport(
                    file=str(path),
                    sha256=sha,
                    kind=kind,
                    rows_read=validated.rows_read,
                    accepted=accepted,
                    rejected=validated.rows_read - accepted,
                    skipped_duplicate_file=False,
                    failures=validated.failures,
                    notes=_notes(validated, info),
                    stored_rows=len(rows),
                )
            )
    return reports


def _stored_rows(schema: object, validated: Validated, sha: str) -> pd.DataFrame:
    n = len(validated.data)
    keep = validated.accepted[:n]
    if validated.long is not None:
        long = validated.long
        long = long[keep[long["_pos"].to_numpy()]]
        out = long.drop(columns="_pos").assign(_row=validated.rows[long["_pos"].to_numpy()])
    else:
        out = validated.data[keep].assign(_row=validated.rows[:n][keep])
    out = out.assign(_source_sha256=sha)
    columns = table_columns(schema)  # type: ignore[arg-type]
    for column in columns:
        if column not in out:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="object")
    return out[list(columns)].reset_index(drop=True)


def _quarantine(kind: str, path: Path, sha: str, validated: Validated) -> pd.DataFrame:
    failures = validated.failures
    if failures.empty:
        return failures
    content = failures["row"].map(validated.content)
    return pd.DataFrame(
        {
            "kind": kind,
            "file": str(path),
            "_source_sha256": sha,
            "_row": failures["row"].to_numpy(dtype=np.int64),
            "column": failures["column"],
            "rule": failures["rule"],
            "value": failures["value"],
            "message": failures["message"],
            "content": content,
        }
    )

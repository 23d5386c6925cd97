"""Validate a large partitioned Parquet panel inside DuckDB and reference it from the store.

A national panel (90 million person-months) is never loaded into Python: every rule is
a SQL predicate that DuckDB evaluates file by file, in bounded memory. Accepted rows are
not copied; the store gets a view over the Parquet files that keeps only rows passing
every rule and leaves out the person numbers, plus an ingest log (file, sha256, rows,
accepted, rejected) and a quarantine of rejected rows (file, row number, rule: never the
identifier), so accepted + rejected = rows read for every file.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import IngestError
from evalkit.ingest._rin import RIN_NUMBER_PATTERN, RIN_SOURCE_PATTERN

__all__ = ["ParquetReference", "reference_parquet"]

VIEW = "national_panel"
#: Columns the view keeps (the RIN pair stays in the source files only).
KEPT = ("month", "municipality", "region", "age", "sex", "vulnerable", "startkwalificatie")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ParquetReference:
    """What :func:`reference_parquet` checked and stored."""

    files: int
    rows: int
    accepted: int
    rejected: int
    failures: Mapping[str, int]
    duplicates: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able summary."""
        return {
            "files": self.files,
            "rows_read": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "failures": dict(self.failures),
            "duplicate_person_months": self.duplicates,
            "seconds": round(self.seconds, 2),
        }


def _rules(outcomes: Sequence[str], municipalities: Mapping[str, str]) -> dict[str, str]:
    """Rule name -> SQL predicate that is TRUE for a valid row."""
    rules = {
        "rinpersoons": f"coalesce(regexp_full_match(rinpersoons, '{RIN_SOURCE_PATTERN}'), false)",
        "rinpersoon": f"coalesce(regexp_full_match(rinpersoon, '{RIN_NUMBER_PATTERN}'), false)",
        "month": "month IS NOT NULL AND day(month) = 1",
        "municipality_region": "coalesce(m.region = p.region, false)",
        "age": "coalesce(age BETWEEN 16 AND 27, false)",
    }
    for name in outcomes:
        rules[f"{name}_present"] = f"{name} IS NOT NULL"
    if not municipalities:
        raise IngestError("no municipality list to validate against")
    return rules


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _setup(con: Any, municipalities: Mapping[str, str]) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _munis (municipality VARCHAR, region VARCHAR)")
    con.executemany("INSERT INTO _munis VALUES (?, ?)", list(municipalities.items()))
    con.execute(
        "CREATE TABLE IF NOT EXISTS national_ingest_log (file VARCHAR, sha256 VARCHAR, "
        "rows_read BIGINT, accepted BIGINT, rejected BIGINT)"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS national_quarantine (file VARCHAR, file_row BIGINT, "
        "rule VARCHAR)"
    )
    con.execute("DELETE FROM national_ingest_log")
    con.execute("DELETE FROM national_quarantine")


def reference_parquet(
    con: Any,
    files: Sequence[Path],
    *,
    outcomes: Sequence[str],
    municipalities: Mapping[str, str],
    progress: Progress | None = None,
) -> ParquetReference:
    """Validate Parquet files in DuckDB and create the store's view of their valid rows.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The store (a DuckDB file).
    files : sequence of pathlib.Path
        The Parquet files of one panel.
    outcomes : sequence of str
        Outcome columns that must be present on every row.
    municipalities : mapping of str to str
        Known municipality code -> its labour-market region.
    progress : callable, optional
        ``progress(rows_done, files_done)`` after every file.

    Returns
    -------
    ParquetReference
        Counts per rule, rows read, accepted and rejected, duplicates.
    """
    if not files:
        raise IngestError("no Parquet files to validate")
    started = time.perf_counter()
    rules = _rules(outcomes, municipalities)
    _setup(con, municipalities)
    checks = ", ".join(f"({sql}) AS ok_{name}" for name, sql in rules.items())
    totals = dict.fromkeys(rules, 0)
    rows = accepted = 0
    for i, path in enumerate(files, start=1):
        src = f"read_parquet('{path.as_posix()}', file_row_number = true)"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _checked AS SELECT p.file_row_number AS file_row, "
            f"{checks} FROM {src} p LEFT JOIN _munis m USING (municipality)"
        )
        sums = ", ".join(f"count(*) FILTER (WHERE NOT ok_{n})" for n in rules)
        all_ok = " AND ".join(f"ok_{n}" for n in rules)
        got = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {all_ok}), {sums} FROM _checked"
        ).fetchone()
        n_rows, n_ok = int(got[0]), int(got[1])
        for name, bad in zip(rules, got[2:], strict=True):
            totals[name] += int(bad)
        if n_ok < n_rows:
            for name in rules:
                con.execute(
                    "INSERT INTO national_quarantine SELECT ?, file_row, ? FROM _checked "
                    f"WHERE NOT ok_{name}",
                    [path.as_posix(), name],
                )
        con.execute(
            "INSERT INTO national_ingest_log VALUES (?, ?, ?, ?, ?)",
            [str(path), _sha256(path), n_rows, n_ok, n_rows - n_ok],
        )
        rows, accepted = rows + n_rows, accepted + n_ok
        if progress is not None:
            progress(rows, i)
    glob = [p.as_posix() for p in files]
    con.execute("CREATE OR REPLACE TABLE national_munis AS SELECT * FROM _munis")
    kept = ", ".join(f"p.{c}" for c in (*KEPT, *outcomes))
    # The valid rows are the rows the quarantine does not name: the rules ran once, above.
    con.execute(
        f"CREATE OR REPLACE VIEW {VIEW} AS SELECT {kept} FROM read_parquet({glob!r}, "
        "filename = true, file_row_number = true) p ANTI JOIN national_quarantine q "
        "ON p.filename = q.file AND p.file_row_number = q.file_row"
    )
    duplicates = _duplicates(con, glob, rows)
    return ParquetReference(
        len(files),
        rows,
        accepted,
        rows - accepted,
        totals,
        duplicates,
        time.perf_counter() - started,
    )


#: Person-months per pass of the duplicate check: bounds the hash table DuckDB builds.
DUPLICATE_PASS_ROWS = 8_000_000


def _duplicates(con: Any, glob: list[str], rows: int) -> int:
    """Count person-months that occur more than once, in passes over slices of persons."""
    passes = max(1, -(-rows // DUPLICATE_PASS_ROWS))
    total = 0
    for k in range(passes):
        total += int(
            con.execute(
                "SELECT count(*) FROM (SELECT rinpersoons, rinpersoon, month FROM "
                f"read_parquet({glob!r}) WHERE hash(rinpersoons, rinpersoon) % {passes} = {k} "
                "GROUP BY ALL HAVING count(*) > 1)"
            ).fetchone()[0]
        )
    return total

"""What validating or ingesting a file produced: frozen results with ``to_dict``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["IngestReport", "ValidationReport", "failure_records", "failure_summary", "table_text"]

EXAMPLES = 10


def table_text(frame: pd.DataFrame, limit: int | None = None) -> str:
    """Return a frame as indented plain text (at most ``limit`` rows, then a count of the rest).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    limit : int, optional
        How many rows to show.

    Returns
    -------
    str
        Aligned text, ``(none)`` for an empty frame.
    """
    if frame.empty:
        return "  (none)"
    shown = frame if limit is None else frame.head(limit)
    shown = shown.astype(object).where(shown.notna(), "")
    text = shown.to_string(index=False, max_colwidth=90)
    more = "" if limit is None or len(frame) <= limit else f"\n  … {len(frame) - limit} more"
    return "\n".join("  " + line for line in text.splitlines()) + more


def _report_text(report: ValidationReport | IngestReport, verb: str) -> str:
    lines = [
        f"{report.file} ({report.kind}): {report.rows_read} rows read, "
        f"{report.accepted} {verb}, {report.rejected} rejected"
    ]
    lines += [f"  note: {n}" for n in report.notes]
    if report.rejected and not getattr(report, "skipped_duplicate_file", False):
        summary = report.summary().rename(columns={"first_row": "first row"})
        lines += ["failures by rule and column:", table_text(summary)]
        lines += ["first failures:", table_text(report.failures, EXAMPLES)]
    return "\n".join(lines)


def failure_records(failures: pd.DataFrame) -> list[dict[str, Any]]:
    """Return failures as JSON-ready records (``row, column, rule, value, message``).

    Parameters
    ----------
    failures : pandas.DataFrame
        The failures frame.

    Returns
    -------
    list of dict
        One record per failure; missing values as ``None``.
    """
    out = []
    for row, column, rule, value, message in failures[
        ["row", "column", "rule", "value", "message"]
    ].itertuples(index=False, name=None):
        out.append(
            {
                "row": int(row),
                "column": None if pd.isna(column) else str(column),
                "rule": str(rule),
                "value": None if pd.isna(value) else str(value),
                "message": str(message),
            }
        )
    return out


def failure_summary(failures: pd.DataFrame) -> pd.DataFrame:
    """Count failures by rule and column, with the first example of each.

    Parameters
    ----------
    failures : pandas.DataFrame
        The failures frame.

    Returns
    -------
    pandas.DataFrame
        Columns ``rule, column, failures, rows, first_row, example``, most frequent first.
    """
    if failures.empty:
        return pd.DataFrame(columns=["rule", "column", "failures", "rows", "first_row", "example"])
    frame = failures.assign(column=failures["column"].fillna("(row)"))
    grouped = frame.groupby(["rule", "column"], sort=False)
    out = grouped.agg(
        failures=("row", "size"),
        rows=("row", "nunique"),
        first_row=("row", "min"),
        example=("message", "first"),
    ).reset_index()
    return out.sort_values(
        ["failures", "rule", "column"], ascending=[False, True, True], kind="mergesort"
    ).reset_index(drop=True)


@dataclass(frozen=True)
class ValidationReport:
    """The dry-run result of checking one file against its schema."""

    file: str
    sha256: str
    kind: str
    rows_read: int
    accepted: int
    rejected: int
    failures: pd.DataFrame
    notes: tuple[str, ...] = ()
    info: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"ValidationReport({self.file!r}, kind={self.kind}, rows_read={self.rows_read}, "
            f"accepted={self.accepted}, rejected={self.rejected})"
        )

    def summary(self) -> pd.DataFrame:
        """Failures by rule and column with counts and a first example."""
        return failure_summary(self.failures)

    def to_text(self) -> str:
        """Return the terminal summary: counts, notes, failures by rule and first examples."""
        return _report_text(self, "would be accepted")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: the ingest fields plus ``notes`` and ``summary``."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "kind": self.kind,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "failures": failure_records(self.failures),
            "notes": list(self.notes),
            "summary": self.summary().to_dict("records"),
        }


@dataclass(frozen=True)
class IngestReport:
    """What ingesting one file did; ``to_dict()`` is the ``evalkit ingest --json`` object."""

    file: str
    sha256: str
    kind: str
    rows_read: int
    accepted: int
    rejected: int
    skipped_duplicate_file: bool
    failures: pd.DataFrame
    notes: tuple[str, ...] = ()
    stored_rows: int = 0

    def __repr__(self) -> str:
        skipped = ", skipped_duplicate_file=True" if self.skipped_duplicate_file else ""
        return (
            f"IngestReport({self.file!r}, kind={self.kind}, rows_read={self.rows_read}, "
            f"accepted={self.accepted}, rejected={self.rejected}{skipped})"
        )

    def summary(self) -> pd.DataFrame:
        """Failures by rule and column with counts and a first example."""
        return failure_summary(self.failures)

    def to_text(self) -> str:
        """Return the terminal summary: counts, notes, failures by rule and first examples."""
        return _report_text(self, "accepted")

    def to_dict(self) -> dict[str, Any]:
        """Return exactly the documented fields (DESIGN.md), JSON-ready."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "kind": self.kind,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "skipped_duplicate_file": self.skipped_duplicate_file,
            "failures": failure_records(self.failures),
        }

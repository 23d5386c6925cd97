"""What validating or ingesting a file produced: frozen results with ``to_dict``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from evalkit.ingest._spill import FailureSet

__all__ = [
    "IngestReport",
    "ValidationReport",
    "failure_records",
    "failure_summary",
    "merge_summaries",
    "table_text",
]

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
        first = report.failure_set.head(EXAMPLES)
        more = len(report.failure_set) - len(first)
        lines += ["first failures:", table_text(first) + (f"\n  … {more} more" if more else "")]
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
    # Grouped with integer codes (a file has a few rules and columns, a chunk of a mostly
    # rejected file ~60,000 failures): a pandas groupby with ``nunique`` costs ~4x more.
    rule_codes, rules = pd.factorize(failures["rule"], use_na_sentinel=False)
    column = failures["column"].fillna("(row)")
    column_codes, columns = pd.factorize(column, use_na_sentinel=False)
    group, firsts = pd.factorize(rule_codes * len(columns) + column_codes)  # in order of appearance
    row = failures["row"].to_numpy(dtype=np.int64)
    order = np.lexsort((row, group))  # by group, rows ascending within each
    g, r = group[order], row[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    new_row = np.r_[True, (g[1:] != g[:-1]) | (r[1:] != r[:-1])]
    message = failures["message"]
    has = message.notna().to_numpy()
    first_at = np.full(len(firsts), -1, dtype=np.int64)
    seen = np.flatnonzero(has)
    at, where = np.unique(group[seen], return_index=True)  # the first message given per group
    first_at[at] = seen[where]
    example = message.iloc[np.maximum(first_at, 0)].reset_index(drop=True)
    example[first_at < 0] = None
    out = pd.DataFrame(
        {
            "rule": rules.take(firsts // len(columns)),
            "column": columns.take(firsts % len(columns)),
            "failures": np.bincount(group, minlength=len(firsts)).astype(np.int64),
            "rows": np.bincount(g[new_row], minlength=len(firsts)).astype(np.int64),
            "first_row": r[starts],
            "example": example,
        }
    )
    return out.sort_values(
        ["failures", "rule", "column"], ascending=[False, True, True], kind="mergesort"
    ).reset_index(drop=True)


def merge_summaries(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Add up the failure summaries of a file's chunks into the whole file's.

    Exact because a row lies in one chunk: counts and distinct rows add up, the first
    row is the smallest, and the example is the first chunk's that has the group.

    Parameters
    ----------
    parts : list of pandas.DataFrame
        :func:`failure_summary` of each chunk, in file order.

    Returns
    -------
    pandas.DataFrame
        The summary :func:`failure_summary` gives for all failures at once.
    """
    if not parts:
        return failure_summary(pd.DataFrame(columns=["row", "column", "rule", "value", "message"]))
    frame = pd.concat(parts, ignore_index=True)
    out = (
        frame.groupby(["rule", "column"], sort=False)
        .agg(
            failures=("failures", "sum"),
            rows=("rows", "sum"),
            first_row=("first_row", "min"),
            example=("example", "first"),
        )
        .reset_index()
    )
    return out.sort_values(
        ["failures", "rule", "column"], ascending=[False, True, True], kind="mergesort"
    ).reset_index(drop=True)


def _json_with_failures(report: ValidationReport | IngestReport, out: TextIO) -> None:
    """Write ``report.to_dict()`` as one JSON line, streaming its failures in batches."""
    fields = report.to_dict(failures=False)
    keys = list(fields)
    at = keys.index("failures")
    before = {k: fields[k] for k in keys[:at]}
    after = {k: fields[k] for k in keys[at + 1 :]}
    out.write(json.dumps(before, ensure_ascii=False)[:-1] + ', "failures": [')
    first = True
    for batch in report.failure_set.batches():
        for record in failure_records(batch):
            out.write(("" if first else ", ") + json.dumps(record, ensure_ascii=False))
            first = False
    out.write("]" + (", " + json.dumps(after, ensure_ascii=False)[1:] if after else "}") + "\n")


@dataclass(frozen=True)
class ValidationReport:
    """The dry-run result of checking one file against its schema."""

    file: str
    sha256: str
    kind: str
    rows_read: int
    accepted: int
    rejected: int
    failure_set: FailureSet
    notes: tuple[str, ...] = ()
    info: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"ValidationReport({self.file!r}, kind={self.kind}, rows_read={self.rows_read}, "
            f"accepted={self.accepted}, rejected={self.rejected})"
        )

    @property
    def failures(self) -> pd.DataFrame:
        """Every failure as one frame (read from the spill file when there are many)."""
        return self.failure_set.frame()

    def summary(self) -> pd.DataFrame:
        """Failures by rule and column with counts and a first example."""
        return self.failure_set.summary()

    def to_text(self) -> str:
        """Return the terminal summary: counts, notes, failures by rule and first examples."""
        return _report_text(self, "would be accepted")

    def to_dict(self, *, failures: bool = True) -> dict[str, Any]:
        """Return a JSON-ready dict: the ingest fields plus ``notes`` and ``summary``.

        Parameters
        ----------
        failures : bool, default True
            Include every failure (False: ``failures`` is None, see :meth:`write_json`).
        """
        return {
            "file": self.file,
            "sha256": self.sha256,
            "kind": self.kind,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "failures": failure_records(self.failures) if failures else None,
            "notes": list(self.notes),
            "summary": self.summary().to_dict("records"),
        }

    def write_json(self, out: TextIO) -> None:
        """Write :meth:`to_dict` as one JSON line, the failures streamed in batches."""
        _json_with_failures(self, out)


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
    failure_set: FailureSet
    notes: tuple[str, ...] = ()
    stored_rows: int = 0

    def __repr__(self) -> str:
        skipped = ", skipped_duplicate_file=True" if self.skipped_duplicate_file else ""
        return (
            f"IngestReport({self.file!r}, kind={self.kind}, rows_read={self.rows_read}, "
            f"accepted={self.accepted}, rejected={self.rejected}{skipped})"
        )

    @property
    def failures(self) -> pd.DataFrame:
        """Every failure as one frame (read from the spill file when there are many)."""
        return self.failure_set.frame()

    def summary(self) -> pd.DataFrame:
        """Failures by rule and column with counts and a first example."""
        return self.failure_set.summary()

    def to_text(self) -> str:
        """Return the terminal summary: counts, notes, failures by rule and first examples."""
        return _report_text(self, "accepted")

    def to_dict(self, *, failures: bool = True) -> dict[str, Any]:
        """Return exactly the documented fields (DESIGN.md), JSON-ready.

        Parameters
        ----------
        failures : bool, default True
            Include every failure (False: ``failures`` is None, see :meth:`write_json`).
        """
        return {
            "file": self.file,
            "sha256": self.sha256,
            "kind": self.kind,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "skipped_duplicate_file": self.skipped_duplicate_file,
            "failures": failure_records(self.failures) if failures else None,
        }

    def write_json(self, out: TextIO) -> None:
        """Write :meth:`to_dict` as one JSON line, the failures streamed in batches."""
        _json_with_failures(self, out)

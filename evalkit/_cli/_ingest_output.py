"""Plain-text rendering of validation and ingest reports for the terminal."""

from __future__ import annotations

from typing import Any

import pandas as pd

EXAMPLES = 10


def table_text(frame: pd.DataFrame, limit: int | None = None) -> str:
    """Return a frame as aligned plain text (at most ``limit`` rows)."""
    if frame.empty:
        return "  (none)"
    shown = frame if limit is None else frame.head(limit)
    shown = shown.astype(object).where(shown.notna(), "")
    text = shown.to_string(index=False, max_colwidth=90)
    more = "" if limit is None or len(frame) <= limit else f"\n  … {len(frame) - limit} more"
    return "\n".join("  " + line for line in text.splitlines()) + more


def report_text(report: Any, *, verb: str) -> str:
    """Return the human summary of a ValidationReport or IngestReport."""
    head = (
        f"{report.file} ({report.kind}): {report.rows_read} rows read, "
        f"{report.accepted} {verb}, {report.rejected} rejected"
    )
    lines = [head]
    lines += [f"  note: {n}" for n in report.notes]
    if getattr(report, "skipped_duplicate_file", False):
        return "\n".join(lines)
    if report.rejected:
        lines.append("failures by rule and column:")
        lines.append(table_text(report.summary().rename(columns={"first_row": "first row"})))
        lines.append("first failures:")
        lines.append(table_text(report.failures, EXAMPLES))
    return "\n".join(lines)

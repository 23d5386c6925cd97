"""Overlapping deliveries: rows whose key is already stored from another file.

A cumulative monthly export, or the same rows sent again as XLSX after a CSV,
repeats keys that are already in the store. The file hash does not catch it (the
bytes differ), so the keys are compared with the store and the rule decides:
``refuse`` rejects the repeated rows (rule ``overlap``), ``keep_latest`` replaces
the stored rows by the new ones, ``keep_both`` stores both and says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd

from evalkit.errors import IngestError
from evalkit.ingest._schema import Schema
from evalkit.ingest._store import Store

__all__ = ["OVERLAP_RULES", "Overlap", "OverlapRule", "check_overlap_rule", "find_overlap"]

OverlapRule = Literal["refuse", "keep_latest", "keep_both"]
OVERLAP_RULES: tuple[str, ...] = get_args(OverlapRule)


def check_overlap_rule(rule: str) -> OverlapRule:
    """Return ``rule`` when it is an overlap rule, else raise listing the allowed ones.

    Parameters
    ----------
    rule : str
        The rule asked for.

    Returns
    -------
    str
        The same rule.

    Raises
    ------
    IngestError
        When the rule is unknown.
    """
    if rule not in OVERLAP_RULES:
        raise IngestError(f"unknown overlap rule {rule!r}; allowed: {', '.join(OVERLAP_RULES)}")
    return rule  # type: ignore[return-value]


@dataclass(frozen=True)
class Overlap:
    """What the overlap check found and did for one file."""

    rule: str
    rows: int
    files: tuple[str, ...]
    rejected_rows: np.ndarray
    failures: pd.DataFrame
    quarantine_content: dict[int, str]

    def __repr__(self) -> str:
        return f"Overlap({self.rule}, rows={self.rows}, files={len(self.files)})"

    def note(self) -> str | None:
        """One sentence for the report and the ingest log (None without overlap)."""
        if not self.rows:
            return None
        where = ", ".join(self.files[:3]) + (" and more" if len(self.files) > 3 else "")
        done = {
            "refuse": "rejected them (overlap rule refuse)",
            "keep_latest": "replaced the stored rows by these (overlap rule keep_latest)",
            "keep_both": "stored both (overlap rule keep_both)",
        }[self.rule]
        return f"{self.rows} row(s) have a key already stored from {where}; {done}"


def _key_columns(schema: Schema, rows: pd.DataFrame) -> list[str]:
    key = list(schema.long_key if schema.kind == "questionnaire" else schema.key)
    return key if key and all(k in rows for k in key) else []


def find_overlap(
    store: Store,
    schema: Schema,
    rows: pd.DataFrame,
    rule: str,
    among: Sequence[str] | None = None,
) -> Overlap:
    """Compare the keys of a file's accepted rows with the rows already stored.

    Parameters
    ----------
    store : Store
        The open store.
    schema : Schema
        The kind's schema.
    rows : pandas.DataFrame
        The accepted rows as they would be stored (with ``_row``).
    rule : {"refuse", "keep_latest", "keep_both"}
        What to do with overlapping rows.
    among : sequence of str, optional
        Compare only with rows from these files (sha256); default every stored row.

    Returns
    -------
    Overlap
        The overlapping file rows; under ``refuse`` their failures and quarantine content.
    """
    rule = check_overlap_rule(rule)
    empty = pd.DataFrame(columns=["row", "column", "rule", "value", "message"])
    key = _key_columns(schema, rows)
    none = Overlap(rule, 0, (), np.array([], dtype=np.int64), empty, {})
    if not key or rows.empty:
        return none
    keys = rows[key].assign(_pos=np.arange(len(rows)))
    found = store.overlapping(schema.kind, keys, among)
    if found.empty:
        return none
    pos = found["_pos"].to_numpy(dtype=np.int64)
    file_rows = np.unique(rows["_row"].to_numpy()[pos])
    files = tuple(sorted({str(f) for fs in found["files"] for f in fs if f is not None}))
    if rule != "refuse":
        return Overlap(rule, len(file_rows), files, np.array([], dtype=np.int64), empty, {})
    first = found.groupby(rows["_row"].to_numpy()[pos])["file"].first()
    label = ", ".join(key)
    failures = pd.DataFrame(
        {
            "row": file_rows.astype(np.int64),
            "column": label,
            "rule": "overlap",
            "value": None,
            "message": [
                f"key ({label}) is already stored from {first.get(r, 'another file')}; "
                "overlap rule refuse"
                for r in file_rows
            ],
        }
    )
    hit = rows[rows["_row"].isin(file_rows)].drop(columns=["_source_sha256"], errors="ignore")
    content = {
        int(r): json.dumps(
            {k: None if pd.isna(v) else v for k, v in grp.drop(columns="_row").iloc[0].items()},
            default=str,
        )
        for r, grp in hit.groupby("_row", sort=True)
    }
    return Overlap(rule, len(file_rows), files, file_rows, failures, content)

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
    shas: tuple[str, ...] = ()

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
        said = f"{self.rows} row(s) have a key already stored from {where}; {done}"
        if self.rule == "keep_both":
            # As the outcome panel's repeated person-months: nothing merges the copies.
            said += (
                f"; these {self.rows} row(s) are now stored more than once and count once "
                "per delivery in the analysis"
            )
        return said


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
    shas = tuple(sorted({str(f) for fs in found["shas"] for f in fs if f is not None}))
    if rule != "refuse":
        nothing = np.array([], dtype=np.int64)
        return Overlap(rule, len(file_rows), files, nothing, empty, {}, shas)
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
    return Overlap(rule, len(file_rows), files, file_rows, failures, content, shas)


def check_stored_rule(
    store: Store,
    kind: str,
    source: tuple[str, str],
    overlap_rule: tuple[str, Sequence[str] | None],
) -> None:
    """Refuse a file already stored whose rows another overlap rule (or file set) shaped.

    A file already in the store is not read again, so whoever lists it next reads the
    rows that were kept under the rule of the first ingest. That matters only where the
    rule acted: when the file met stored keys (its log names those files), or a later
    ``keep_latest`` delivery replaced some of its rows. Then the stored rows answer
    another question than the one asked (``refuse`` keeps the earlier delivery,
    ``keep_latest`` the later one, ``keep_both`` both), and no reading of the store can
    tell the protocols apart: the ingest stops with the reason instead of reading them.

    Parameters
    ----------
    store : Store
        The open store.
    kind : str
        The kind of data.
    source : (str, str)
        The file as shown and its sha256.
    overlap_rule : (str, sequence of str or None)
        The rule asked now and the files it compares among (None: every stored file).

    Raises
    ------
    IngestError
        When the stored rows of the file follow another rule, or an overlap with a file
        outside ``among``.
    """
    shown, sha = source
    rule, among = overlap_rule
    log = store.ingest_log()
    log = log[log["kind"] == kind]
    if "overlap_rule" not in log or log.empty:
        return
    own = log[log["sha256"] == sha]
    if own.empty or own["overlap_rule"].isna().all():
        return  # stored by a version that did not log its rule: nothing to compare
    stored_rule = str(own["overlap_rule"].dropna().iloc[0])
    met = _shas(own["overlap_with"])
    outside = sorted(met - set(among)) if among is not None else []
    replaced_by = log[
        (log["overlap_rule"] == "keep_latest")
        & log["overlap_with"].fillna("").str.contains(sha, regex=False)
    ]
    replaced = set(replaced_by["sha256"])
    why = None
    if met and stored_rule != rule:
        why = f"it met keys of {len(met)} stored file(s), stored under overlap rule {stored_rule}"
    elif outside:
        why = f"its overlap was settled against {len(outside)} file(s) this ingest does not list"
    elif replaced and (rule != "keep_latest" or (among is not None and replaced - set(among))):
        why = "some of its rows were replaced by a later delivery under overlap rule keep_latest"
    if why is None:
        return
    raise IngestError(
        f"{shown}: already in the store, but {why}; this ingest asks overlap rule {rule}, "
        "so the stored rows do not follow it. Use the same overlap rule for every protocol "
        "that lists this file, or a store of its own (--store; in a protocol "
        "`pseudonym_scope: protocol`)"
    )


def _shas(column: pd.Series) -> set[str]:
    return {s for text in column.dropna() for s in str(text).split(",") if s}

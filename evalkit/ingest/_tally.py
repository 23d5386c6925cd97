"""Adding up a file read in chunks: counts, failures, notes and overlaps, as for one whole file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.ingest._content import RowContents
from evalkit.ingest._copykeys import FirstRows
from evalkit.ingest._overlap import Overlap, find_overlap
from evalkit.ingest._privacy import shown_path
from evalkit.ingest._rows import merged, overlap_quarantine, quarantine, replace_keys, stored_rows
from evalkit.ingest._schema import Schema
from evalkit.ingest._spill import FailureLog, FailureSet
from evalkit.ingest._store import Store
from evalkit.ingest._validate import Validated

__all__ = ["Tally"]

SEEN_CONTENTS = 1 << 20  # digests of contents a file stored, kept to store each once (32 MB)


@dataclass
class Tally:
    """Rows read, accepted and stored, failures and overlaps of one file so far."""

    rows_read: int = 0
    accepted: int = 0
    stored: int = 0
    notes: list[str] | None = None
    failures: FailureLog = field(default_factory=FailureLog)
    overlap_rows: int = 0
    overlap_files: set[str] = field(default_factory=set)
    overlap_shas: set[str] = field(default_factory=set)
    # Whether the kind's table held rows before this file (None: not asked yet). Without
    # such rows nothing can overlap: the file's own accepted keys are unique in it.
    stored_before: bool | None = None
    # The digests of contents this file has stored, up to SEEN_CONTENTS.
    seen: FirstRows = field(default_factory=FirstRows)

    def __repr__(self) -> str:
        return f"Tally(rows_read={self.rows_read}, accepted={self.accepted})"

    def count(self, validated: Validated, failures: pd.DataFrame, rejected: int = 0) -> None:
        """Add one chunk's counts and failures (``rejected``: rows refused by the overlap rule).

        Parameters
        ----------
        validated : Validated
            The chunk validated.
        failures : pandas.DataFrame
            Its failures (with overlap failures merged in).
        rejected : int, default 0
            Accepted rows the overlap rule refused.
        """
        if self.notes is None:  # every chunk has the same header, so the same notes
            self.notes = list(validated.notes)
        self.rows_read += validated.rows_read
        self.accepted += int(validated.accepted.sum()) - rejected
        self.failures.add(failures)  # held up to a limit, then spilled to disk

    def store(
        self,
        store: Store,
        schema: Schema,
        source: tuple[Path, str],
        validated: Validated,
        overlap_rule: tuple[str, Sequence[str] | None],
    ) -> None:
        """Check one chunk's overlaps, append it to the open transaction and count it.

        Parameters
        ----------
        store : Store
            The store, inside :meth:`Store.transaction`.
        schema : Schema
            The kind's schema.
        source : (pathlib.Path, str)
            The file and its sha256.
        validated : Validated
            The chunk validated.
        overlap_rule : (str, sequence of str or None)
            The overlap rule and the files to compare with.
        """
        path, sha = source
        rule, among = overlap_rule
        kind = schema.kind
        rows = stored_rows(schema, validated, sha)
        quarantined = quarantine(kind, path, sha, validated)
        if self.stored_before is None:
            self.stored_before = store.stored_rows(kind) > 0
        found = find_overlap(store, schema, rows if self.stored_before else rows[:0], rule, among)
        failures = validated.failures
        contents = [self._new_contents(validated.contents)]
        if len(found.rejected_rows):
            rows = rows[~rows["_row"].isin(found.rejected_rows)].reset_index(drop=True)
            failures = merged(failures, found.failures, "row")
            overlapping, content = overlap_quarantine(kind, path, sha, found)
            quarantined = merged(quarantined, overlapping, "_row")
            contents.append(self._new_contents(content))
        replace = replace_keys(schema) if rule == "keep_latest" and found.rows else ()
        store.append(
            schema,
            rows,
            quarantined,
            contents=pd.concat(contents),
            replace_keys=replace,
            replace_among=among,
        )
        self.count(validated, failures, len(found.rejected_rows))
        self.stored += len(rows)
        self.overlap_rows += found.rows
        self.overlap_files |= set(found.files)
        self.overlap_shas |= set(found.shas)

    def _new_contents(self, contents: RowContents) -> pd.DataFrame:
        """Return the contents this file has not stored yet, with their text.

        Rows of a cumulative export repeat a few distinct contents many times; each is
        made into text and stored once (a content beyond ``SEEN_CONTENTS`` may be stored
        again: the store reads one of the equal texts).
        """
        digests = pd.DataFrame({"content_k1": contents.k1, "content_k2": contents.k2})
        first = np.flatnonzero(~digests.duplicated().to_numpy() & ~contents.stored)
        known, _ = self.seen.find(contents.k1[first], contents.k2[first], strict=False)
        at = first[known < 0]
        if self.seen.size + len(at) <= SEEN_CONTENTS:
            k1, k2 = contents.k1[at], contents.k2[at]
            self.seen.add({"k1": k1, "k2": k2, "h": k2, "r": np.zeros(len(at), dtype=np.int64)})
        texts = pd.Series(contents.text_array(at), dtype="str")  # Arrow-backed: no copy
        return digests.iloc[at].reset_index(drop=True).assign(content=texts)

    def all_failures(self) -> FailureSet:
        """Return the failures of every chunk in file order (call once, at the end)."""
        return self.failures.finish()

    def log_line(
        self, source: tuple[Path, str], schema: Schema, scope: str, rule: str
    ) -> dict[str, Any]:
        """Return the file's ingest log line: counts, versions, scope and the overlap rule.

        The rule is logged for every file, overlap or not: a file already stored is not
        read again, so a later ingest under another rule learns from here what was done.
        """
        from evalkit import __version__

        path, sha = source
        return {
            "file": shown_path(path),
            "sha256": sha,
            "bytes": path.stat().st_size,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": self.rows_read - self.accepted,
            "kind": schema.kind,
            "schema_version": schema.version,
            "evalkit_version": __version__,
            "ingested_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            "pseudonym_scope": scope,
            "overlap": self.overlap_note(rule),
            "overlap_rule": rule,
            "overlap_with": ",".join(sorted(self.overlap_shas)) or None,
        }

    def overlap_note(self, rule: str) -> str | None:
        """Say what the overlap rule did over the whole file (None without overlap)."""
        none = np.array([], dtype=np.int64)
        files = tuple(sorted(self.overlap_files))
        return Overlap(rule, self.overlap_rows, files, none, pd.DataFrame(), {}).note()

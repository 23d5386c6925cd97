"""Duplicate keys across a whole file read in chunks.

Most files repeat no key. They are read once: :class:`~evalkit.ingest._keyindex.NewKeys`
checks each chunk as the whole-file check would and keeps a hash of every key in an
index on disk; at the end one query says whether any key came back in a later chunk;
exact copies of earlier rows are recognised while reading
(:class:`~evalkit.ingest._copykeys.CopyKeys`). When a key
repeats (within a chunk, or across chunks at the end), the chunks are rolled back
and the file is read twice, because whether a row with a repeated key is an exact
copy (rule ``duplicate_row``, the first row kept) or a conflict (rule ``unique``,
every row of the key rejected) depends on all rows with that key, which may lie in
any chunk. The first pass parses only the key columns of each chunk, as validation
does, and keeps per row a 128-bit hash of the typed key, a hash of its raw cells and
its row number in a DuckDB file on disk (so a file of any size fits in bounded
memory). DuckDB then groups the repeated keys; validating a chunk afterwards adds,
for its rows, the same failures :func:`evalkit.ingest._validate.check_key` finds on
the whole file.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from evalkit.ingest._columns import parse_column
from evalkit.ingest._copykeys import copy_messages
from evalkit.ingest._failures import Failures
from evalkit.ingest._keyindex import KeyIndex, key_hashes
from evalkit.ingest._memo import ParseMemo
from evalkit.ingest._readers import RawTable
from evalkit.ingest._schema import Schema, match_headers
from evalkit.ingest._validate import key_text

__all__ = ["DuplicateKeys", "find_duplicate_keys"]


@dataclass(frozen=True)
class DuplicateKeys:
    """The rows of one file whose key repeats, with what check_key would say of them."""

    key: tuple[str, ...]
    rows: np.ndarray
    copy_of: np.ndarray
    where: np.ndarray

    def __repr__(self) -> str:
        return f"DuplicateKeys(rows={len(self.rows)})"

    def check(
        self,
        data: pd.DataFrame,
        key: tuple[str, ...],
        raw: pd.DataFrame,
        cols: object,
        failures: Failures,
        rows: np.ndarray,
    ) -> None:
        """Record the duplicate-key failures of one chunk (``check_key``'s signature).

        Parameters
        ----------
        data : pandas.DataFrame
            The chunk's typed columns.
        key : tuple of str
            The key columns.
        raw : pandas.DataFrame
            The chunk's raw cells (unused: the first pass compared them).
        cols : Columns
            Displayable values per column (``cols.shown``).
        failures : Failures
            Where failures are recorded.
        rows : numpy.ndarray
            The file row number of each chunk position.
        """
        if not len(self.rows) or not key or any(k not in data for k in key):
            return
        n = len(data)
        at = np.searchsorted(self.rows, rows[:n])
        at = np.minimum(at, len(self.rows) - 1)
        hit = self.rows[at] == rows[:n]
        if not hit.any():
            return
        pos = np.flatnonzero(hit)
        which = at[pos]
        label = ", ".join(key)
        shown_text = key_text(getattr(cols, "shown"), key, pos)  # noqa: B009
        copy = self.copy_of[which] >= 0
        if copy.any():
            failures.add(
                pos[copy],
                label,
                "duplicate_row",
                shown_text[copy],
                copy_messages(self.copy_of[which][copy]),
            )
        if (~copy).any():
            failures.add(
                pos[~copy],
                label,
                "unique",
                shown_text[~copy],
                [
                    f"key ({label}) occurs in rows {w} with different values"
                    for w in self.where[which][~copy]
                ],
            )


def _chunk_hashes(
    table: RawTable, schema: Schema, file: str, secret: bytes, memo: ParseMemo | None
) -> pd.DataFrame | None:
    mapping, _ = match_headers(list(table.frame.columns), schema.columns, file=file)
    by_name = {name: header for header, name in mapping.items()}
    if any(k not in by_name for k in schema.key):
        return None
    typed = {}
    for name in schema.key:
        spec = replace(schema.columns[name], required=False)
        header = by_name[name]
        typed[name], _ = parse_column(
            table.frame[header], spec, table, header, Failures(), secret, memo
        )
    keyframe = pd.DataFrame(typed, index=table.frame.index)
    complete = keyframe.notna().all(axis=1).to_numpy()
    raw = table.frame[list(mapping)][complete]
    return pd.DataFrame(
        {
            **key_hashes(keyframe[complete], schema.key),
            "h": pd.util.hash_pandas_object(raw, index=False).to_numpy(),
            "r": table.rows[: len(table.frame)][complete],
        }
    )


_GROUPS = """
WITH g AS (
  SELECT k1, k2, min(r) AS first_r, count(DISTINCT h) AS distinct_h, count(*) AS n,
         list_slice(list(r ORDER BY r), 1, 5) AS first5
  FROM keys GROUP BY k1, k2 HAVING count(*) > 1
)
SELECT keys.r, g.first_r, g.distinct_h = 1 AS exact, g.n, g.first5
FROM keys JOIN g USING (k1, k2)
WHERE NOT (g.distinct_h = 1 AND keys.r = g.first_r)
ORDER BY keys.r
"""


def find_duplicate_keys(
    chunks: Iterable[RawTable],
    schema: Schema,
    *,
    file: str,
    key: bytes,
    needs: Collection[str] | None = None,
    memo: ParseMemo | None = None,
) -> DuplicateKeys:
    """Read the key columns of every chunk and return the rows whose key repeats.

    Parameters
    ----------
    chunks : iterable of RawTable
        The file in chunks (from :func:`evalkit.ingest._chunks.csv_chunks`).
    schema : Schema
        The kind's schema (``key``).
    file : str
        The file name, for messages.
    key : bytes
        The pseudonym key (identifier keys are compared as pseudonyms).
    needs : collection of str, optional
        Unused here; accepted so both passes take the same arguments.
    memo : ParseMemo, optional
        Where the key columns' parsed texts are kept (the second pass reuses them).

    Returns
    -------
    DuplicateKeys
        Row numbers with the failure each gets: later exact copies name their first
        row, rows of a conflicting key name up to five rows of that key.
    """
    none = DuplicateKeys(schema.key, np.array([], dtype=np.int64), np.array([]), np.array([]))
    if not schema.key:
        return none
    index = KeyIndex()
    try:
        for table in chunks:
            hashes = _chunk_hashes(table, schema, file, key, memo)
            if hashes is None:
                return none
            index.add(hashes)
        found = index.con.execute(_GROUPS).fetchnumpy()
    finally:
        index.close()
    rows = np.asarray(found["r"], dtype=np.int64)
    exact = np.asarray(found["exact"], dtype=bool)
    copy_of = np.where(exact, np.asarray(found["first_r"], dtype=np.int64), -1)
    where = np.full(len(rows), "", dtype=object)  # exact copies name only their first row
    conflict = np.flatnonzero(~exact)
    where[conflict] = [
        ", ".join(map(str, first5)) + (f" and {n - 5} more" if n > 5 else "")
        for first5, n in zip(found["first5"][conflict], found["n"][conflict], strict=True)
    ]
    return DuplicateKeys(schema.key, rows, copy_of, where)

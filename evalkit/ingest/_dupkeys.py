"""Duplicate keys across a whole file read in chunks.

Most files repeat no key. They are read once: :class:`NewKeys` checks each chunk
as the whole-file check would and keeps a hash of every key in an index on disk;
at the end one query says whether any key came back in a later chunk. When a key
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

import tempfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.ingest._columns import parse_column
from evalkit.ingest._failures import Failures
from evalkit.ingest._memo import ParseMemo
from evalkit.ingest._readers import RawTable
from evalkit.ingest._schema import Schema, match_headers
from evalkit.ingest._validate import check_key, key_text

__all__ = [
    "CopyKeys",
    "DuplicateKeys",
    "FirstRows",
    "KeysRepeat",
    "NewKeys",
    "find_duplicate_keys",
]

_HASH_KEYS = ("evalkit-dupkey-1", "evalkit-dupkey-2")  # two 64-bit hashes: no collision in practice
MEMORY_KEYS = 1 << 20  # first rows of keys held in memory: 32 MB (and as much while merging)
_SLOT_BITS = 24  # a bit per 2**24 slots of k1: one key in eight may need a search at the limit
_BIT = np.left_shift(1, np.arange(8)).astype(np.uint8)
_MIX1, _MIX2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)  # odd: bijective
_MEMORY = "160MB"  # the rest of the key index stays in its file; 64 MB is too little to group
# the 28 million keys of a 2 GB file


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
                _copy_messages(self.copy_of[which][copy]),
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


def _copy_messages(first_rows: np.ndarray) -> np.ndarray:
    """Return ``exact copy of row N`` for each first row (joined in Arrow, not row by row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = pc.cast(pa.array(np.asarray(first_rows, dtype=np.int64)), pa.string())
    texts = pc.binary_join_element_wise("exact copy of row ", numbers, "")
    return np.asarray(texts.to_numpy(zero_copy_only=False), dtype=object)


def _hashable(column: pd.Series) -> pd.Series:
    """One representation per typed value whatever the chunk (dtypes may differ by chunk)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.astype("datetime64[ns]").astype("int64")
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return column.astype("float64")
    if isinstance(column.dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(
        column.cat.categories
    ):
        # pandas hashes a categorical as its values (each category once): the same hash
        # as the texts, without writing out a 64-character pseudonym per row
        return column
    return column.astype(str)


def _key_hashes(keyframe: pd.DataFrame, key: tuple[str, ...]) -> dict[str, np.ndarray]:
    keys = pd.DataFrame({k: _hashable(keyframe[k]) for k in key})
    return {
        f"k{i + 1}": pd.util.hash_pandas_object(keys, index=False, hash_key=h).to_numpy()
        for i, h in enumerate(_HASH_KEYS)
    }


class KeyIndex:
    """Hashes of keys (and raw rows) with their file rows, in a DuckDB file that may spill."""

    def __init__(self) -> None:
        import duckdb

        self._tmp = tempfile.TemporaryDirectory(prefix="evalkit-keys-")
        self.con = duckdb.connect(str(Path(self._tmp.name) / "keys.duckdb"))
        self.con.execute(f"SET memory_limit = '{_MEMORY}'")
        self.con.execute("SET enable_progress_bar = false")  # never print to the user's stdout
        self.con.execute("SET preserve_insertion_order = false")  # every query says its order
        self.con.execute(f"SET temp_directory = '{Path(self._tmp.name) / 'spill'}'")
        self.con.execute("CREATE TABLE keys (k1 UBIGINT, k2 UBIGINT, h UBIGINT, r BIGINT)")

    def __repr__(self) -> str:
        return "KeyIndex()"

    def add(self, hashes: pd.DataFrame) -> None:
        """Append rows with columns ``k1, k2, h, r``."""
        import pyarrow as pa

        if len(hashes):
            self.con.register("_chunk", pa.Table.from_pandas(hashes, preserve_index=False))
            self.con.execute("INSERT INTO keys SELECT k1, k2, h, r FROM _chunk")
            self.con.unregister("_chunk")

    def repeated(self) -> bool:
        """Return True when any key occurs twice."""
        found = self.con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM keys GROUP BY k1, k2 HAVING count(*) > 1)"
        ).fetchone()
        return bool(found and found[0])

    def close(self) -> None:
        """Drop the index and its folder."""
        self.con.close()
        self._tmp.cleanup()


class KeysRepeat(Exception):  # a signal to read the file again in two passes, not an error
    """A key repeats in a file read once; its duplicates need the two-pass check."""


class NewKeys:
    """``check_keys`` for a file read once: every key must be new, else :class:`KeysRepeat`.

    Parameters
    ----------
    index : KeyIndex
        Where the keys of earlier chunks are.
    """

    def __init__(self, index: KeyIndex) -> None:
        self.index = index

    def __repr__(self) -> str:
        return "NewKeys()"

    def check(
        self,
        data: pd.DataFrame,
        key: tuple[str, ...],
        raw: pd.DataFrame,
        cols: object,
        failures: Failures,
        rows: np.ndarray,
    ) -> None:
        """Raise :class:`KeysRepeat` when a key repeats in this chunk; index its keys."""
        if not key or any(k not in data for k in key):
            return
        scratch = Failures()
        check_key(data, key, raw, cols, scratch, rows)  # type: ignore[arg-type]
        if scratch.positions:
            raise KeysRepeat
        keyframe = data[list(key)]
        complete = keyframe.notna().all(axis=1).to_numpy()
        hashes = _key_hashes(keyframe[complete], key)
        self.index.add(
            pd.DataFrame(
                {
                    **hashes,
                    "h": np.zeros(int(complete.sum()), dtype=np.uint64),
                    "r": rows[: len(data)][complete],
                }
            )
        )

    def finish(self) -> None:
        """Raise :class:`KeysRepeat` when a key of one chunk came back in another."""
        if self.index.repeated():
            raise KeysRepeat


class FirstRows:
    """The first row of every key met so far, in sorted segments held in memory.

    Each chunk's new keys form a segment sorted by ``k1``; a segment is merged with the
    one before it once that is no larger (as a binary counter adds), so a lookup searches
    a few sorted arrays and each key is merged a few times in all. A bit per slot
    of the top bits of ``k1`` (2 MB) says which keys may be known: most new keys need
    no search.
    """

    def __init__(self) -> None:
        self.segments: list[dict[str, np.ndarray]] = []
        self.size = 0
        self.bits = np.zeros(1 << (_SLOT_BITS - 3), dtype=np.uint8)

    def __repr__(self) -> str:
        return f"FirstRows({self.size} keys)"

    def find(
        self, k1: np.ndarray, k2: np.ndarray, strict: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the first row and raw-row hash of each key (row -1 where new).

        Raises :class:`KeysRepeat` when two keys share ``k1`` only (a hash collision the
        two-pass check, which compares both hashes, settles); with ``strict=False`` such
        a key counts as new.
        """
        first = np.full(len(k1), -1, dtype=np.int64)
        raw = np.zeros(len(k1), dtype=np.uint64)
        slot = k1 >> np.uint64(64 - _SLOT_BITS)
        maybe = np.flatnonzero(self.bits[slot >> np.uint64(3)] & _BIT[slot & np.uint64(7)])
        if not len(maybe):
            return first, raw
        maybe = maybe[np.argsort(k1[maybe])]  # sorted queries search a segment faster
        k1, k2 = k1[maybe], k2[maybe]
        for seg in self.segments:
            at = np.minimum(np.searchsorted(seg["k1"], k1), len(seg["k1"]) - 1)
            hit = seg["k1"][at] == k1
            if not hit.any():
                continue
            if (seg["k2"][at][hit] != k2[hit]).any():
                if strict:
                    raise KeysRepeat
                hit &= seg["k2"][at] == k2
            first[maybe[hit]] = seg["r"][at][hit]
            raw[maybe[hit]] = seg["h"][at][hit]
        return first, raw

    def add(self, part: dict[str, np.ndarray]) -> None:
        """Add new keys (arrays ``k1, k2, h, r``)."""
        if not len(part["k1"]):
            return
        order = np.argsort(part["k1"], kind="stable")
        self.segments.append({name: values[order] for name, values in part.items()})
        self.size += len(order)
        slot = part["k1"] >> np.uint64(64 - _SLOT_BITS)
        np.bitwise_or.at(self.bits, slot >> np.uint64(3), _BIT[slot & np.uint64(7)])
        while len(self.segments) > 1 and len(self.segments[-2]["k1"]) <= len(
            self.segments[-1]["k1"]
        ):
            last, before = self.segments.pop(), self.segments.pop()
            joined = {n: np.concatenate([before[n], last[n]]) for n in last}
            order = np.argsort(joined["k1"], kind="stable")  # two sorted runs: a merge
            self.segments.append({n: v[order] for n, v in joined.items()})


class CopyKeys:
    """``check_keys`` for a file read once, in which repeated keys are exact copies.

    A row whose key came earlier in the file (in this chunk or an earlier one) with the
    same raw cells gets ``duplicate_row`` naming the key's first row, as the whole-file
    check gives when every row of that key is identical; a cumulative export that
    repeats earlier rows is thus read once. A key that comes back with other cells (a
    conflict, whose rows all fail ``unique``, the first one too) raises
    :class:`KeysRepeat`, and the file is read again in two passes. The first row of each
    key (two 64-bit hashes of the typed key, a hash of the raw cells, the row) is kept in
    memory up to ``limit`` keys (32 bytes each); beyond that the keys go to the
    on-disk index of :class:`NewKeys`, which checks the rest of the file.

    Parameters
    ----------
    limit : int, default ``MEMORY_KEYS``
        Keys held in memory; beyond them an on-disk :class:`KeyIndex` (call :meth:`close`).
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MEMORY_KEYS if limit is None else limit
        self.first = FirstRows()
        self.disk: NewKeys | None = None
        self.contents = FirstRows()  # content digests of copies this file gave a text

    def __repr__(self) -> str:
        return f"CopyKeys({self.first.size} keys, on disk={self.disk is not None})"

    def check(
        self,
        data: pd.DataFrame,
        key: tuple[str, ...],
        raw: pd.DataFrame,
        cols: object,
        failures: Failures,
        rows: np.ndarray,
    ) -> None:
        """Record the exact copies of one chunk; raise :class:`KeysRepeat` on a conflict."""
        if self.disk is not None:
            self.disk.check(data, key, raw, cols, failures, rows)
            return
        if not key or any(k not in data for k in key):
            return
        keyframe = data[list(key)]
        pos = np.flatnonzero(keyframe.notna().all(axis=1).to_numpy())
        hashes = _key_hashes(keyframe.iloc[pos], key)
        k1, k2 = hashes["k1"], hashes["k2"]
        order = np.argsort(k1, kind="stable")  # a key's rows together, in file order
        sk1 = k1[order]
        lead = np.r_[True, sk1[1:] != sk1[:-1]] if len(sk1) else np.zeros(0, dtype=bool)
        leader = order[np.maximum.accumulate(np.where(lead, np.arange(len(order)), 0))]
        leader_of = np.empty(len(order), dtype=np.int64)
        leader_of[order] = leader  # per chunk row: the position (in pos) of its key's first row
        if (k2 != k2[leader_of]).any():
            raise KeysRepeat  # two keys share k1 only: let the two-pass check settle it
        repeated = leader_of != np.arange(len(pos))
        first, first_h = self.first.find(k1, k2)
        earlier = first >= 0
        if not repeated.any() and not earlier.any():
            self._remember(k1, k2, None, raw, pos, rows)
            return
        h = pd.util.hash_pandas_object(raw.iloc[pos], index=False).to_numpy()
        known = earlier[leader_of]
        first_row = np.where(known, first[leader_of], rows[pos][leader_of])
        same = np.where(known, first_h[leader_of], h[leader_of]) == h
        copy = repeated | earlier
        if not same[copy].all():
            raise KeysRepeat  # a conflict: every row of that key fails, the first one too
        at, first_row = pos[copy], first_row[copy]
        failures.add(
            at,
            ", ".join(key),
            "duplicate_row",
            key_text(getattr(cols, "shown"), key, at, getattr(cols, "masked")),  # noqa: B009
            _copy_messages(first_row),
            # a row number below 10**7 has too few digits to look like a BSN
            masked=bool(first_row.max() < 10**7),
        )
        self._known(cols, at, k1[copy], k2[copy], h[copy])
        new = ~copy
        self._remember(k1[new], k2[new], h[new], raw, pos[new], rows)

    def _known(
        self, cols: object, at: np.ndarray, k1: np.ndarray, k2: np.ndarray, h: np.ndarray
    ) -> None:
        """Tell validation the content digest of each copy, and which it stored before.

        A row's content is made of its raw cells, and the copies of a key have the same
        cells: the key's hashes mixed with the raw-row hash name that content (two keys
        with one digest would need a 128-bit collision).
        """
        from evalkit.ingest._columns import KnownContents

        d1, d2 = k1 ^ (h * _MIX1), k2 ^ (h * _MIX2)
        before, _ = self.contents.find(d1, d2, strict=False)
        first = ~pd.DataFrame({"a": d1, "b": d2}).duplicated().to_numpy()
        fresh = (before < 0) & first  # the rest: stored before, or by a copy earlier here
        self.contents.add(
            {
                "k1": d1[fresh],
                "k2": d2[fresh],
                "h": d2[fresh],
                "r": np.zeros(int(fresh.sum()), dtype=np.int64),
            }
        )
        cols.known = KnownContents(at, d1, d2, ~fresh)  # type: ignore[attr-defined]

    def _remember(
        self,
        k1: np.ndarray,
        k2: np.ndarray,
        h: np.ndarray | None,
        raw: pd.DataFrame,
        pos: np.ndarray,
        rows: np.ndarray,
    ) -> None:
        if h is None:
            h = pd.util.hash_pandas_object(raw.iloc[pos], index=False).to_numpy()
        part = {"k1": k1, "k2": k2, "h": np.asarray(h, dtype=np.uint64), "r": rows[pos]}
        if self.first.size + len(k1) <= self.limit:
            self.first.add(part)
            return
        self.disk = NewKeys(KeyIndex())  # too many keys for memory: the rest on disk
        for seg in [*self.first.segments, part]:
            self.disk.index.add(pd.DataFrame({**seg, "h": np.zeros(len(seg["k1"]), np.uint64)}))
        self.first = FirstRows()

    def finish(self) -> None:
        """Raise :class:`KeysRepeat` when a key held on disk came back (see NewKeys)."""
        if self.disk is not None:
            self.disk.finish()

    def close(self) -> None:
        """Drop the on-disk index, if one was made."""
        if self.disk is not None:
            self.disk.index.close()


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
            **_key_hashes(keyframe[complete], schema.key),
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

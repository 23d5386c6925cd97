"""Repeated keys that are exact copies, found against the first rows held in memory.

A cumulative export repeats earlier rows; :class:`CopyKeys` recognises such copies
while the file is read once, from the first row of every key met so far
(:class:`FirstRows`), and hands a key that comes back with other cells to the two-pass
check (:class:`~evalkit.ingest._keyindex.KeysRepeat`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalkit.ingest._failures import Failures
from evalkit.ingest._keyindex import KeyIndex, KeysRepeat, NewKeys, key_hashes
from evalkit.ingest._validate import key_texts

__all__ = ["MEMORY_KEYS", "CopyKeys", "FirstRows", "copy_messages"]

MEMORY_KEYS = 1 << 20  # first rows of keys held in memory: 32 MB (and as much while merging)
_SLOT_BITS = 24  # a bit per 2**24 slots of k1: one key in eight may need a search at the limit
_BIT = np.left_shift(1, np.arange(8)).astype(np.uint8)
_MIX1, _MIX2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)  # odd: bijective


def copy_messages(first_rows: np.ndarray) -> Any:
    """Return ``exact copy of row N`` for each first row, an Arrow text array (not row by row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = pc.cast(pa.array(np.asarray(first_rows, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise("exact copy of row ", numbers, "")


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
        self,
        k1: np.ndarray,
        k2: np.ndarray,
        strict: bool = True,
        order: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the first row and raw-row hash of each key (row -1 where new).

        Raises :class:`KeysRepeat` when two keys share ``k1`` only (a hash collision the
        two-pass check, which compares both hashes, settles); with ``strict=False`` such
        a key counts as new. ``order``, when given, sorts ``k1`` (the caller's argsort).
        """
        first = np.full(len(k1), -1, dtype=np.int64)
        raw = np.zeros(len(k1), dtype=np.uint64)
        slot = k1 >> np.uint64(64 - _SLOT_BITS)
        may = (self.bits[slot >> np.uint64(3)] & _BIT[slot & np.uint64(7)]).astype(bool)
        if not may.any():
            return first, raw
        # sorted queries search a segment faster
        maybe = order[may[order]] if order is not None else np.flatnonzero(may)
        if order is None:
            maybe = maybe[np.argsort(k1[maybe])]
        k1, k2 = k1[maybe], k2[maybe]
        for seg in self.segments:
            at = np.minimum(np.searchsorted(seg["k1"], k1), len(seg["k1"]) - 1)
            hit = seg["k1"][at] == k1
            if not hit.any():
                continue
            if (seg["k2"][at[hit]] != k2[hit]).any():
                if strict:
                    raise KeysRepeat
                hit &= seg["k2"][at] == k2
            found = at[hit]
            first[maybe[hit]] = seg["r"][found]
            raw[maybe[hit]] = seg["h"][found]
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
        # per file row: True where a copy of the key first met there gave its content
        self.given = np.zeros(0, dtype=bool)

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
        hashes = key_hashes(keyframe.iloc[pos], key)
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
        first, first_h = self.first.find(k1, k2, order=order)
        earlier = first >= 0
        if not repeated.any() and not earlier.any():
            self._remember(k1, k2, None, raw, pos, rows)
            return
        h = pd.util.hash_pandas_object(
            raw if len(pos) == len(raw) else raw.iloc[pos], index=False
        ).to_numpy()
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
            key_texts(getattr(cols, "shown"), key, at, getattr(cols, "masked")),  # noqa: B009
            copy_messages(first_row),
            # a row number below 10**7 has too few digits to look like a BSN
            masked=bool(first_row.max() < 10**7),
        )
        self._known(cols, at, (k1[copy], k2[copy], h[copy]), first_row)
        new = ~copy
        self._remember(k1[new], k2[new], h[new], raw, pos[new], rows)

    def _known(
        self,
        cols: object,
        at: np.ndarray,
        hashes: tuple[np.ndarray, np.ndarray, np.ndarray],
        first_row: np.ndarray,
    ) -> None:
        """Tell validation the content digest of each copy, and which it stored before.

        A row's content is made of its raw cells, and the copies of a key have the same
        cells: the key's hashes mixed with the raw-row hash name that content (two keys
        with one digest would need a 128-bit collision). A key has one first row and, read
        once, one content, so whether a copy gave that content already is kept per first
        row (a byte per file row, no search).
        """
        from evalkit.ingest._columns import KnownContents

        k1, k2, h = hashes
        d1, d2 = k1 ^ (h * _MIX1), k2 ^ (h * _MIX2)
        if len(first_row) and int(first_row.max()) >= len(self.given):
            grown = np.zeros(max(int(first_row.max()) + 1, 2 * len(self.given)), dtype=bool)
            grown[: len(self.given)] = self.given
            self.given = grown
        new = np.flatnonzero(~self.given[first_row])  # the rest: given by an earlier chunk
        fresh = np.zeros(len(first_row), dtype=bool)
        fresh[new[np.unique(first_row[new], return_index=True)[1]]] = True  # first copy here
        self.given[first_row[fresh]] = True
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

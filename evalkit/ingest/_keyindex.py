"""Hashes of a file's keys and the index on disk that finds a key coming back.

A file read once (:mod:`evalkit.ingest._dupkeys`) keeps, per row, two 64-bit hashes
of its typed key (no collision in practice), a hash of its raw cells and its row
number in a DuckDB file that may spill to disk, so a file of any size fits in bounded
memory; one query at the end says whether any key came back in a later chunk.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.ingest._failures import Failures
from evalkit.ingest._validate import check_key

__all__ = ["KeyIndex", "KeysRepeat", "NewKeys", "key_hashes"]

_HASH_KEYS = ("evalkit-dupkey-1", "evalkit-dupkey-2")  # two 64-bit hashes: no collision in practice
_MEMORY = "160MB"  # the rest of the key index stays in its file; 64 MB is too little to group
# the 28 million keys of a 2 GB file


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


def key_hashes(keyframe: pd.DataFrame, key: tuple[str, ...]) -> dict[str, np.ndarray]:
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
        hashes = key_hashes(keyframe[complete], key)
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

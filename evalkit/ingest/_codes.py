"""Columns as codes into their distinct texts: repeated keys and distinct combinations.

Arrow reads a clean CSV's columns dictionary-encoded: each column is its distinct texts
and, per row, the position of its text among them. Everything the one-pass load
(``_clean``) asks of the rows is then integer work on those positions: whether a key
repeats, which combinations of values a rule has to see, and the typed value of each
row (a take). Only the distinct texts are parsed, by the chunked path's parsers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Coded", "coded_column", "distinct_combinations", "repeats", "value_codes"]

# A combination of codes is one integer below this (no overflow in int64 arithmetic).
_MAX_SPACE = 1 << 62


@dataclass(frozen=True)
class Coded:
    """One column as codes: ``texts`` its distinct texts, then None when a cell is empty.

    ``codes`` holds, for every row in file order, the position of its text in ``texts``
    (an empty cell points at the trailing None).
    """

    texts: pd.Series
    codes: np.ndarray

    def __repr__(self) -> str:
        return f"Coded(rows={len(self.codes)}, distinct={len(self.texts)})"

    @property
    def size(self) -> int:
        """How many different codes there are."""
        return len(self.texts)


def coded_column(column: Any) -> Coded:
    """Return a dictionary-encoded Arrow column (chunked) as :class:`Coded`.

    Parameters
    ----------
    column : pyarrow.ChunkedArray
        Dictionary-encoded texts (each chunk may have its own dictionary).

    Returns
    -------
    Coded
        The column's distinct texts and each row's code.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    unified = column.unify_dictionaries()  # every chunk then shares one dictionary
    chunks = unified.chunks
    dictionary = chunks[0].dictionary if chunks else pa.array([], pa.string())
    empty = len(dictionary)  # the code of an empty cell: the trailing None
    parts = [pc.fill_null(chunk.indices, empty).to_numpy() for chunk in chunks]
    codes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    texts = dictionary.to_pylist() + ([None] if column.null_count else [])
    return Coded(pd.Series(texts, dtype="str"), codes)


def value_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Return a code per value (equal values, missing ones too, share one) and how many.

    Parameters
    ----------
    values : pandas.Series
        Typed values (of a column's distinct texts).

    Returns
    -------
    codes : numpy.ndarray
        One code per value.
    size : int
        How many different codes there are.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), len(uniques)


def _combined(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[np.ndarray, int] | None:
    """Return one integer per row for its codes (mixed radix) and their range; None if too wide."""
    space = 1
    for size in sizes:
        space *= max(int(size), 1)
    if space >= _MAX_SPACE:
        return None
    out = np.zeros(len(codes[0]) if codes else 0, dtype=np.int64)
    for column, size in zip(codes, sizes, strict=True):
        out *= max(int(size), 1)
        out += column
    return out, space


def _dense(space: int, rows: int) -> bool:
    """Return True when a table over the whole range is cheaper than sorting the rows."""
    return space <= 4 * rows + 4096


def repeats(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> bool:
    """Return True when two rows have the same codes in every column.

    Parameters
    ----------
    codes : sequence of numpy.ndarray
        Per column, a code per row (each below its size).
    sizes : sequence of int
        Per column, how many codes there are.

    Returns
    -------
    bool
        Whether some combination of codes occurs twice.
    """
    if not codes or len(codes[0]) < 2:
        return False
    joined = _combined(codes, sizes)
    if joined is None:
        order = np.lexsort(tuple(codes))
        same = np.ones(len(order) - 1, dtype=bool)
        for column in codes:
            ordered = column[order]
            same &= ordered[1:] == ordered[:-1]
        return bool(same.any())
    values, space = joined
    if _dense(space, len(values)):
        return bool(np.bincount(values, minlength=space).max() > 1)
    ordered = np.sort(values)
    return bool((ordered[1:] == ordered[:-1]).any())


def distinct_combinations(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> list[np.ndarray]:
    """Return the distinct combinations of codes in the rows, one array per column.

    Parameters
    ----------
    codes : sequence of numpy.ndarray
        Per column, a code per row.
    sizes : sequence of int
        Per column, how many codes there are.

    Returns
    -------
    list of numpy.ndarray
        Per column, its code in each distinct combination (the same order in every column).
    """
    if not codes:
        return []
    joined = _combined(codes, sizes)
    if joined is None:
        together = np.unique(np.stack(codes, axis=1), axis=0)
        return [together[:, i] for i in range(len(codes))]
    values, space = joined
    if _dense(space, len(values)):
        seen = np.zeros(space, dtype=bool)
        seen[values] = True
        found = np.flatnonzero(seen)
    else:
        found = np.unique(values)
    out = []
    for size in reversed([max(int(s), 1) for s in sizes]):
        out.append(found % size)
        found = found // size
    return out[::-1]

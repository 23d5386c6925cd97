"""Array helpers of Callaway–Sant'Anna's data preparation: slices, codes, floats.

Kept apart from :mod:`_data`, which shapes the panel, because they are about memory
(small temporaries on panels of millions of rows) rather than about the design.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["ROW_CHUNK", "as_float", "distinct", "factorize", "index_dtype", "show", "slices"]

#: Rows reshaped at a time. Whole-column temporaries (int64 indices, flat cell
#: numbers, hash tables) would each cost as much as the data; slices of this
#: size cost half a megabyte.
ROW_CHUNK = 1 << 16


def show(value: Any) -> str:
    """Show a unit id the way the user wrote it (no numpy type names)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def slices(n: int) -> Iterator[slice]:
    """Cover ``range(n)`` with slices of ``ROW_CHUNK`` rows."""
    for lo in range(0, n, ROW_CHUNK):
        yield slice(lo, min(lo + ROW_CHUNK, n))


def distinct(values: NDArray[Any]) -> NDArray[Any]:
    """Distinct values in order of first appearance, as ``pd.unique``, slice by slice.

    ``pd.unique`` and ``pd.factorize`` size their hash table by the number of
    rows (42 MB for 1.2 million), while a panel has far fewer distinct units or
    periods than rows: the distinct values of each slice are few.
    """
    parts = [pd.unique(values[s]) for s in slices(values.size)]
    if not parts:
        return values[:0]
    if len(parts) == 1:
        return np.asarray(parts[0])
    return np.asarray(pd.unique(np.concatenate(parts)))


def index_dtype(n: int) -> np.dtype[Any]:
    """Smallest signed integer type holding ``-1 .. n``."""
    return np.min_scalar_type(-max(n, 1))


def factorize(values: NDArray[Any]) -> tuple[NDArray[np.signedinteger[Any]], NDArray[Any]]:
    """Codes and distinct values as ``pd.factorize`` (-1 for missing), with small temporaries.

    The codes take the smallest integer type that holds them (see :func:`distinct`).
    """
    uniq = distinct(values)
    uniq = uniq[~pd.isna(uniq)]
    index = pd.Index(uniq, dtype=uniq.dtype, copy=False)
    codes = np.empty(values.size, dtype=index_dtype(uniq.size))
    for s in slices(values.size):
        codes[s] = index.get_indexer(values[s])
    return codes, uniq


def as_float(col: pd.Series, copy: bool = True) -> NDArray[np.float64]:
    """Return a column as a float array with NaN for missing or non-numeric values."""
    dtype = col.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        values = col.to_numpy()
        if dtype == np.float64:
            return values.copy() if copy else values
        return values.astype(np.float64)
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=np.float64, na_value=np.nan, copy=copy)
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

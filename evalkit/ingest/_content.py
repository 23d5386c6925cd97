"""The quarantine's row content: each rejected row as the JSON text of its shown values.

Built column by column (every distinct value encoded once, the pieces of a row joined
by Arrow), with every column not masked already masked on its distinct values.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from evalkit.ingest._privacy import mask_series
from evalkit.ingest._typed import Shown

__all__ = ["row_content"]


def row_content(
    shown: dict[str, Shown], positions: np.ndarray, masked: Collection[str] = ()
) -> np.ndarray:
    """Return the JSON content of some rows (displayable values only, BSNs masked).

    Each row is the text ``json.dumps({column: value, ...}, ensure_ascii=False)`` would
    write (``null`` for an empty cell), built column by column: every distinct value of
    a column is encoded once and the pieces of a row are joined by Arrow, so a million
    rejected rows cost a few passes in C rather than a million dictionaries and
    ``json.dumps`` calls.

    Parameters
    ----------
    shown : dict
        Displayable values per canonical column.
    positions : numpy.ndarray
        Internal row positions.
    masked : collection of str, optional
        Columns whose values are masked already; every other column is masked here on
        its unique values (a misaligned row's BSN in the municipality column), which
        is far cheaper than searching every row's JSON text.

    Returns
    -------
    numpy.ndarray
        One JSON object (text) per position.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(positions) == 0:
        return np.array([], dtype=object)
    pieces = []
    for name, values in shown.items():
        part = values.iloc[positions]
        part = part if name in masked else mask_series(part)
        codes, uniques = pd.factorize(part, use_na_sentinel=True)
        codes = np.where(codes < 0, len(uniques), codes)  # an empty cell: the trailing null
        pieces.append(pc.take(_json_pieces(name, uniques), pa.array(codes)))
    if not pieces:
        return np.full(len(positions), "{}", dtype=object)
    joined = pc.binary_join_element_wise(*pieces, ", ")
    wrapped = pc.binary_join_element_wise("{", joined, "}", "")
    return np.asarray(wrapped.to_numpy(zero_copy_only=False), dtype=object)


def _json_pieces(name: str, uniques: Any) -> Any:
    """Return ``"name": value`` as JSON for each distinct value of a column, then null."""
    import pyarrow as pa

    prefix = json.dumps(name, ensure_ascii=False) + ": "
    boxed = pd.Index(uniques).astype(object).tolist()  # numpy scalars as Python values
    texts = [prefix + json.dumps(value, ensure_ascii=False) for value in boxed]
    return pa.array([*texts, prefix + "null"], type=pa.string())

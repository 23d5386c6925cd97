"""The quarantine's row content: each rejected row as the JSON text of its shown values.

Built column by column (every distinct value encoded once, the pieces of a row joined
by Arrow), with every column not masked already masked on its distinct values. The
store keeps each distinct content once, found by a digest of its pieces
(:class:`RowContents`), so the text is made only for contents not stored yet.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Any

import numpy as np
import pandas as pd

from evalkit.ingest._privacy import mask_distinct
from evalkit.ingest._typed import Shown

__all__ = ["RowContents", "row_content", "row_contents"]


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
    if len(positions) == 0:
        return np.array([], dtype=object)
    contents = row_contents(shown, positions, np.asarray(positions), masked)
    return contents.texts(np.arange(len(positions)))


def _json_pieces(name: str, uniques: Any) -> Any:
    """Return ``"name": value`` as JSON for each distinct value of a column, then null.

    Texts without a quote, backslash or control character are quoted by Arrow (what
    ``json.dumps`` writes for them); every other value goes through ``json.dumps``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    prefix = json.dumps(name, ensure_ascii=False) + ": "
    boxed = pd.Index(uniques).astype(object).tolist()  # numpy scalars as Python values
    plain = pa.array([v if type(v) is str else None for v in boxed], type=pa.string())
    quoted = pc.binary_join_element_wise(prefix + '"', plain, '"', "")
    simple = pc.invert(pc.match_substring_regex(plain, _ESCAPED)).fill_null(False)
    texts = quoted.to_numpy(zero_copy_only=False).astype(object)
    for i in np.flatnonzero(~simple.to_numpy(zero_copy_only=False)):
        texts[i] = prefix + json.dumps(boxed[i], ensure_ascii=False)
    return pa.array([*texts, prefix + "null"], type=pa.string())


_ESCAPED = r'["\\\x00-\x1f]'  # what json.dumps escapes in a text (ensure_ascii=False)


_DIGEST_KEYS = ("evalkit-content1", "evalkit-content2")  # two 64-bit hashes: 128 bits
_MIX = np.uint64(0x100000001B3)  # odd: a row's digest changes whenever one piece does


class RowContents:
    """The content of rejected rows as digests, the JSON text made only when asked.

    Each entry is one rejected file row with a 128-bit digest of its content: rows whose
    shown values are the same have the same digest, so the store keeps each distinct
    content once. Rows validated column by column keep each column's JSON pieces and
    their codes (the text of :func:`row_content` is built for the entries asked for);
    other rows (a malformed line, an overlap) come with their text.

    Parameters
    ----------
    rows : numpy.ndarray
        The file row of each entry.
    k1, k2 : numpy.ndarray
        The digest of each entry's content.
    pieces : list of (pyarrow.Array, numpy.ndarray)
        Per column: the JSON pieces of its distinct values and each piece-built entry's code.
    texts : numpy.ndarray
        The text of the entries after the piece-built ones (None: stored before).
    stored : numpy.ndarray, optional
        Per entry: True where this file stored the content already (no text is kept).
    """

    def __init__(
        self,
        rows: np.ndarray,
        k1: np.ndarray,
        k2: np.ndarray,
        pieces: list[tuple[Any, np.ndarray]] | None = None,
        texts: np.ndarray | None = None,
        stored: np.ndarray | None = None,
    ) -> None:
        self.rows = np.asarray(rows, dtype=np.int64)
        self.k1, self.k2 = k1, k2
        self._pieces = pieces or []
        self._texts = np.array([], dtype=object) if texts is None else texts
        self._built = len(self.rows) - len(self._texts)  # entries made of pieces
        self.stored = np.zeros(len(self.rows), dtype=bool) if stored is None else stored

    def __repr__(self) -> str:
        return f"RowContents(rows={len(self.rows)})"

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def of_texts(cls, rows: np.ndarray, texts: Iterable[str]) -> RowContents:
        """Return the entries of rows whose content text is known already."""
        out = np.asarray(list(texts), dtype=object)
        k1, k2 = (pd.util.hash_array(out, hash_key=h, categorize=False) for h in _DIGEST_KEYS)
        return cls(np.asarray(rows, dtype=np.int64), k1, k2, texts=out)

    def texts(self, at: np.ndarray) -> np.ndarray:
        """Return the JSON text of the entries at positions ``at``."""
        return np.asarray(self.text_array(at).to_numpy(zero_copy_only=False), dtype=object)

    def text_array(self, at: np.ndarray) -> Any:
        """Return :meth:`texts` as an Arrow text array (null: stored before)."""
        import pyarrow as pa

        at = np.asarray(at, dtype=np.int64)
        built = at < self._built
        if built.all() and self._pieces:  # the usual case: no Python object per entry
            return self._joined(at)
        out = np.empty(len(at), dtype=object)
        if built.any() and self._pieces:
            out[built] = self._joined(at[built]).to_numpy(zero_copy_only=False)
        elif built.any():
            out[built] = "{}"
        out[~built] = self._texts[at[~built] - self._built]
        return pa.array(out, type=pa.string())

    def _joined(self, at: np.ndarray) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        parts = [pc.take(p, pa.array(codes[at])) for p, codes in self._pieces]
        joined = pc.binary_join_element_wise(*parts, ", ")
        return pc.binary_join_element_wise("{", joined, "}", "")

    def series(self) -> pd.Series:
        """Return every entry's text by file row (what ``Validated.content`` gives)."""
        return pd.Series(self.texts(np.arange(len(self.rows))), index=self.rows, dtype="str")

    def extend(self, other: RowContents) -> RowContents:
        """Return these entries followed by text-only ``other`` ones."""
        if other._built:
            raise ValueError("only entries with their texts can be appended")
        return RowContents(
            np.concatenate([self.rows, other.rows]),
            np.concatenate([self.k1, other.k1]),
            np.concatenate([self.k2, other.k2]),
            self._pieces,
            np.concatenate([self._texts, other._texts]),
            np.concatenate([self.stored, other.stored]),
        )

    @classmethod
    def stored_before(cls, rows: np.ndarray, k1: np.ndarray, k2: np.ndarray) -> RowContents:
        """Return entries whose content this file stored already (digests only)."""
        n = len(rows)
        texts = np.full(n, None, dtype=object)
        return cls(rows, k1, k2, texts=texts, stored=np.ones(n, dtype=bool))

    def with_digests(self, at: np.ndarray, k1: np.ndarray, k2: np.ndarray) -> RowContents:
        """Return these entries with the digests at positions ``at`` replaced."""
        new1, new2 = self.k1.copy(), self.k2.copy()
        new1[at], new2[at] = k1, k2
        return RowContents(self.rows, new1, new2, self._pieces, self._texts, self.stored)


def row_contents(
    shown: dict[str, Shown], positions: np.ndarray, rows: np.ndarray, masked: Collection[str] = ()
) -> RowContents:
    """Return the content of some rows as digests, with what builds their JSON text.

    The text is :func:`row_content`'s; each column's distinct values are masked and
    encoded once, and a row's digest combines the hashes of its columns' pieces.

    Parameters
    ----------
    shown : dict
        Displayable values per canonical column.
    positions : numpy.ndarray
        Internal row positions.
    rows : numpy.ndarray
        The file row of each position.
    masked : collection of str, optional
        Columns whose values are masked already (see :func:`row_content`).

    Returns
    -------
    RowContents
        One entry per position.
    """
    n = len(positions)
    k1, k2 = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)
    pieces = []
    coded = {name: pd.factorize(values.iloc[positions]) for name, values in shown.items() if n}
    todo = [name for name in coded if name not in masked]
    # masking the distinct values masks every row; all columns are searched at once
    for name, uniques in zip(todo, mask_distinct([coded[t][1] for t in todo]), strict=True):
        coded[name] = (coded[name][0], uniques)
    for name, (codes, uniques) in coded.items():
        codes = np.where(codes < 0, len(uniques), codes)  # an empty cell: the trailing null
        encoded = _json_pieces(name, uniques)
        texts = np.asarray(encoded.to_numpy(zero_copy_only=False), dtype=object)
        for digest, key in ((k1, _DIGEST_KEYS[0]), (k2, _DIGEST_KEYS[1])):
            digest *= _MIX
            # the pieces are distinct: hashed as they are (categorising first gives the same
            # hashes, after building a categorical of them, at several times the cost)
            digest += pd.util.hash_array(texts, hash_key=key, categorize=False)[codes]
        pieces.append((encoded, codes))
    return RowContents(np.asarray(rows, dtype=np.int64), k1, k2, pieces)

"""Parsed distinct values, kept across the chunks of one file.

A file read in chunks repeats the same few months, categories, flags and amounts in
every chunk, and a cumulative export repeats its persons. The parsers already work
on a chunk's distinct texts; with a memo each distinct text of a column is parsed
once per file instead of once per chunk, so a chunk costs Arrow's dictionary
encoding and a take. Parsing stays value by value (every parser maps one text to
one result and one message, whatever else is in the batch), so a text gets the same
typed value and message in whichever chunk, and beside whichever texts, it occurs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ColumnMemo", "ParseMemo"]

#: Distinct texts remembered per column; past this the column starts afresh, so memory
#: stays bounded in a file of millions of persons (their identifiers rarely repeat).
MEMO_LIMIT = 100_000

#: Parses a batch of distinct texts into one array per output (values, messages, ...).
BatchParser = Callable[[pd.Series], Sequence[Any]]


def _join(parts: list[Any]) -> Any:
    """Concatenate the arrays parsed batch by batch (NumPy or pandas extension arrays)."""
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)
    return type(parts[0])._concat_same_type(parts)


@dataclass
class ColumnMemo:
    """The parsed outputs of one column's distinct texts seen so far in a file."""

    index: dict[str, int] = field(default_factory=dict)
    outputs: list[Any] = field(default_factory=list)
    _last: tuple[pd.Series, np.ndarray, list[str], Any] | None = None

    def distinct(self, raw: pd.Series) -> tuple[np.ndarray, list[str]]:
        """Return a chunk column's factorize codes (-1: null) and distinct texts.

        The parser and the required check of one column both need them; the last
        column asked for is remembered, so a chunk's column is factorized once.

        Parameters
        ----------
        raw : pandas.Series
            A chunk's column of texts.

        Returns
        -------
        codes : numpy.ndarray
            Index into the texts per row, -1 for a null.
        texts : list of str
            The distinct texts in order of first appearance.
        """
        _, codes, texts, _ = self._factorized(raw)
        return codes, texts

    def distinct_array(self, raw: pd.Series) -> tuple[np.ndarray, Any]:
        """Return the codes of :meth:`distinct` and the distinct texts as a pandas array."""
        _, codes, _, uniques = self._factorized(raw)
        return codes, uniques

    def _factorized(self, raw: pd.Series) -> tuple[pd.Series, np.ndarray, list[str], Any]:
        if self._last is None or self._last[0] is not raw:
            codes, uniques = pd.factorize(raw, use_na_sentinel=True)
            self._last = (raw, codes, np.asarray(uniques, dtype=object).tolist(), uniques)
        return self._last

    def __repr__(self) -> str:
        return f"ColumnMemo(values={len(self.index)})"

    def parse(self, uniques: list[str], parser: BatchParser) -> list[Any]:
        """Return the parser's outputs for ``uniques``, parsing only texts not seen before.

        Parameters
        ----------
        uniques : list of str
            Distinct texts of a chunk's column (no nulls).
        parser : callable
            Maps a Series of texts to a sequence of arrays, one element per text.

        Returns
        -------
        list
            One array per output of ``parser``, in the order of ``uniques``.
        """
        new = [u for u in uniques if u not in self.index]
        if len(self.index) + len(new) > MEMO_LIMIT:
            self.index, self.outputs = {}, []
            new = list(uniques)
        if new:
            parsed = list(parser(pd.Series(new, dtype="str")))
            joined = zip(self.outputs, parsed, strict=True)
            self.outputs = [_join([a, b]) for a, b in joined] if self.outputs else parsed
            start = len(self.index)
            self.index.update(zip(new, range(start, start + len(new)), strict=True))
        where = np.fromiter((self.index[u] for u in uniques), dtype=np.intp, count=len(uniques))
        return [part[where] for part in self.outputs]


@dataclass
class ParseMemo:
    """One :class:`ColumnMemo` per column of a file (create one per file and pass)."""

    columns: dict[str, ColumnMemo] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ParseMemo(columns={len(self.columns)})"

    def column(self, name: str) -> ColumnMemo:
        """Return the memo of one column (made on first use).

        Parameters
        ----------
        name : str
            The column (with whatever distinguishes its parse, e.g. the rule set).

        Returns
        -------
        ColumnMemo
            Its memo.
        """
        return self.columns.setdefault(name, ColumnMemo())

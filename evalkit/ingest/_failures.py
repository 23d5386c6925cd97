"""Collecting validation failures as column arrays, turned into one frame at the end."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

FAILURE_COLUMNS = ("row", "column", "rule", "value", "message")


@dataclass
class Failures:
    """Failures found so far, by internal row position (0-based in the parsed frame)."""

    positions: list[np.ndarray] = field(default_factory=list)
    columns: list[str | None] = field(default_factory=list)  # one per add, for all its rows
    rules: list[str] = field(default_factory=list)
    # per add: Python objects (numpy), or Arrow texts kept as they came (a rejected copy's
    # key and message are made by Arrow; a Python object per row would cost more than them)
    values: list[Any] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)
    masked: list[np.ndarray] = field(default_factory=list)

    def add(
        self,
        positions: np.ndarray,
        column: str | None,
        rule: str,
        values: np.ndarray | list[object] | Any,
        messages: np.ndarray | list[object] | str | Any,
        masked: bool = False,
    ) -> None:
        """Record failures at ``positions`` (values and messages per position, or one message).

        Values and messages may be Arrow text arrays (one per position), kept as they are.
        ``masked``: the values and messages hold no BSN already (the caller masked them).
        """
        positions = np.asarray(positions, dtype=np.int64)
        n = len(positions)
        if n == 0:
            return
        self.positions.append(positions)
        self.columns.append(column)
        self.rules.append(rule)
        if _is_arrow(values) and len(values):
            self.values.append(values[:n])
        else:
            self.values.append(
                np.asarray(values, dtype=object).reshape(-1)[:n]
                if len(values)
                else np.full(n, None, dtype=object)
            )
        if isinstance(messages, str):
            self.messages.append(np.full(n, messages, dtype=object))
        elif _is_arrow(messages):
            self.messages.append(messages)
        else:
            self.messages.append(np.asarray(messages, dtype=object))
        self.masked.append(np.full(n, masked, dtype=bool))

    def failed_positions(self, n: int) -> np.ndarray:
        """Return a boolean mask over ``n`` rows: True where a row has any failure."""
        mask = np.zeros(n, dtype=bool)
        for pos in self.positions:
            mask[pos[pos >= 0]] = True
        return mask

    def frame(self, rows: np.ndarray, with_masked: bool = False) -> pd.DataFrame:
        """Return the failures as a frame with 1-based file row numbers, in file order.

        Parameters
        ----------
        rows : numpy.ndarray
            File row number per internal position.
        with_masked : bool, default False
            Add a column ``_masked``: True where value and message were masked when added.

        Returns
        -------
        pandas.DataFrame
            Columns ``row, column, rule, value, message``.
        """
        if not self.positions:
            empty = pd.DataFrame(
                {c: pd.Series([], dtype="int64" if c == "row" else "str") for c in FAILURE_COLUMNS}
            )
            return empty.assign(_masked=np.array([], dtype=bool)) if with_masked else empty
        pos = np.concatenate(self.positions)
        counts = [len(p) for p in self.positions]
        out = pd.DataFrame(
            {
                "row": rows[pos].astype(np.int64),
                "column": _repeated(self.columns, counts),
                "rule": _repeated(self.rules, counts),
                "value": _joined(self.values, _texts),
                "message": _joined(self.messages, lambda v: pd.Series(v, dtype="str")),
            }
        )
        if with_masked:
            out["_masked"] = np.concatenate(self.masked)
        return out.sort_values(["row"], kind="stable").reset_index(drop=True)


def _repeated(labels: Sequence[str | None], counts: list[int]) -> pd.Series:
    """Return a text column in which ``labels[i]`` fills the next ``counts[i]`` rows.

    Built by Arrow from one code per row and the few distinct labels, not from a Python
    object per row; the same Series as ``pd.Series(objects, dtype="str")``.
    """
    import pyarrow as pa

    distinct = list(dict.fromkeys(labels))
    code = {label: i for i, label in enumerate(distinct)}
    codes = np.repeat(np.array([code[label] for label in labels], dtype=np.int32), counts)
    dictionary = pa.array(distinct, type=pa.large_string())
    texts = pa.DictionaryArray.from_arrays(pa.array(codes), dictionary).cast(pa.large_string())
    return pd.Series(texts, dtype="str")


def _is_arrow(values: object) -> bool:
    import pyarrow as pa

    return isinstance(values, pa.Array)


def _joined(parts: list[Any], texts: Callable[[np.ndarray], pd.Series]) -> pd.Series:
    """Return the parts one after another as a text column.

    Runs of Python objects are joined and made text by ``texts``; Arrow parts are taken
    as they are. The same Series as ``texts`` of all parts joined, since each value is
    made text on its own.
    """
    import pyarrow as pa

    if not any(_is_arrow(p) for p in parts):
        return texts(np.concatenate(parts))
    chunks: list[Any] = []
    run: list[np.ndarray] = []
    for part in [*parts, None]:
        if part is not None and not _is_arrow(part):
            run.append(part)
            continue
        if run:
            chunks.append(pa.array(texts(np.concatenate(run)), type=pa.large_string()))
            run = []
        if part is not None:
            chunks.append(part.cast(pa.large_string()))
    return pd.Series(pa.concat_arrays(chunks), dtype="str")


def _texts(values: np.ndarray) -> pd.Series:
    """Return failure values as text: None and float NaN as missing, anything else ``str()``.

    Values that are all texts (the usual case) are converted at once; otherwise, and
    for the other missing markers (``pd.NA`` shows as ``<NA>``), value by value.
    """
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        null = pd.isna(values)
        if not any(v is not None and not isinstance(v, float) for v in values[null]):
            return pd.Series(values, dtype="str")
    return pd.Series(
        [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values],
        dtype="str",
    )

"""Every failure of a file in bounded memory: the first in memory, the rest in a spill file.

A file read in chunks hands its failures over chunk by chunk. :class:`FailureLog` keeps
them in memory up to ``SPILL_ROWS`` failures; beyond that it writes them, and every later
chunk's, to a temporary Parquet file (mode 0600, deleted with the report), so a file whose
rows are mostly rejected does not hold a million failures in memory. It keeps, per chunk,
the summary by rule and column (counts, first row, first example), which add up to the
whole file's exactly because a row lies in one chunk. The :class:`FailureSet` it returns
gives the summary and the first failures without reading the spill file, and the whole
frame or batches of it when asked.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from evalkit.ingest._failures import FAILURE_COLUMNS
from evalkit.ingest._reports import failure_summary, merge_summaries

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

__all__ = ["SPILL_ROWS", "FailureLog", "FailureSet"]

SPILL_ROWS = 100_000
BATCH_ROWS = 65_536


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series([], dtype="int64" if c == "row" else "str") for c in FAILURE_COLUMNS}
    )


class FailureSet:
    """Every failure of one file in file order, held in memory or in a Parquet spill file.

    Parameters
    ----------
    frame : pandas.DataFrame, optional
        The failures, when they are held in memory.
    spill : pathlib.Path, optional
        The Parquet file holding them otherwise (deleted when this object is).
    count : int, optional
        How many failures (default ``len(frame)``).
    summary : pandas.DataFrame, optional
        Their summary by rule and column (default computed from ``frame``).
    """

    def __init__(
        self,
        frame: pd.DataFrame | None = None,
        *,
        spill: Path | None = None,
        count: int | None = None,
        summary: pd.DataFrame | None = None,
    ) -> None:
        self._frame = frame if frame is not None or spill is not None else _empty()
        self._spill = spill
        self.count = count if count is not None else len(self._frame)  # type: ignore[arg-type]
        self._summary = summary
        if spill is not None:
            weakref.finalize(self, _remove, spill)

    def __repr__(self) -> str:
        where = f"spilled to {self._spill}" if self._spill is not None else "in memory"
        return f"FailureSet({self.count} failures, {where})"

    def __len__(self) -> int:
        return self.count

    @property
    def spilled(self) -> bool:
        """Whether the failures lie in a spill file."""
        return self._spill is not None

    def frame(self) -> pd.DataFrame:
        """Return every failure as one frame (``row, column, rule, value, message``)."""
        if self._frame is not None:
            return self._frame
        parts = list(self.batches())
        return pd.concat(parts, ignore_index=True) if parts else _empty()

    def batches(self, rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
        """Yield the failures in file order, at most ``rows`` at a time."""
        if self._frame is not None:
            for start in range(0, len(self._frame), rows):
                yield self._frame.iloc[start : start + rows].reset_index(drop=True)
            return
        import pyarrow.parquet as pq

        assert self._spill is not None
        with pq.ParquetFile(self._spill) as handle:
            for batch in handle.iter_batches(batch_size=rows):
                yield _typed(batch.to_pandas())

    def head(self, n: int) -> pd.DataFrame:
        """Return the first ``n`` failures (reads only the start of a spill file)."""
        if self._frame is not None:
            return self._frame.head(n)
        return next(self.batches(max(n, 1)), _empty()).head(n)

    def summary(self) -> pd.DataFrame:
        """Failures by rule and column with counts and a first example."""
        if self._summary is None:
            self._summary = failure_summary(self.frame())
        return self._summary


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a frame read back from Parquet the dtypes of the in-memory failures."""
    return frame.astype({c: "int64" if c == "row" else "str" for c in FAILURE_COLUMNS})


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class FailureLog:
    """Collect a file's failures chunk by chunk, spilling them to disk beyond a limit.

    Parameters
    ----------
    spill_rows : int, optional
        Failures held in memory before they go to a spill file (default ``SPILL_ROWS``).
    """

    def __init__(self, spill_rows: int | None = None) -> None:
        self.spill_rows = SPILL_ROWS if spill_rows is None else spill_rows
        self.count = 0
        self._held: list[pd.DataFrame] = []
        self._summaries: list[pd.DataFrame] = []
        self._path: Path | None = None
        self._writer: pq.ParquetWriter | None = None

    def __repr__(self) -> str:
        return f"FailureLog({self.count} failures, spilled={self._path is not None})"

    def add(self, frame: pd.DataFrame) -> None:
        """Add one chunk's failures (in file order, after those of earlier chunks)."""
        if frame.empty:
            return
        self.count += len(frame)
        self._summaries.append(failure_summary(frame))
        if self._writer is None:
            self._held.append(frame)
            if self.count > self.spill_rows:
                self._start_spill()
        else:
            self._write(frame)

    def _start_spill(self) -> None:
        import pyarrow.parquet as pq

        handle, name = tempfile.mkstemp(prefix="evalkit-failures-", suffix=".parquet")
        os.close(handle)
        self._path = Path(name)
        # Dictionary pages only for the columns that repeat (column names, rules): trying
        # them on a million distinct values and messages doubles the cost of writing. The
        # file is read back once and deleted: no compression and no statistics, which cost
        # more than twice the rest of writing it (a third more bytes on disk).
        self._writer = pq.ParquetWriter(
            name,
            _arrow_schema(),
            use_dictionary=["column", "rule"],
            compression="none",
            write_statistics=False,
        )
        held, self._held = self._held, []
        for frame in held:
            self._write(frame)

    def _write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        table = pa.Table.from_pandas(
            frame[list(FAILURE_COLUMNS)], schema=_arrow_schema(), preserve_index=False
        )
        assert self._writer is not None
        self._writer.write_table(table)

    def finish(self) -> FailureSet:
        """Return every failure added, in memory or in the spill file (closed)."""
        summary = merge_summaries(self._summaries)
        if self._writer is None:
            frame = pd.concat(self._held, ignore_index=True) if self._held else _empty()
            return FailureSet(frame, summary=summary)
        self._writer.close()
        self._writer = None
        return FailureSet(spill=self._path, count=self.count, summary=summary)


def _arrow_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [("row", pa.int64())] + [(c, pa.string()) for c in FAILURE_COLUMNS if c != "row"]
    )

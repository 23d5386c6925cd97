"""CSV in chunks: the same parse as the whole-file Arrow path, one block of the file at a time.

A plain UTF-8 export (with or without BOM, without blank lines) is read by Arrow's
streaming reader on one thread, which numbers every row it skips; rows are numbered
across blocks as the whole-file reader numbers them, and each block's irregular rows
are looked at in Python exactly as there (``_csv._irregular``). Any other file
(another encoding, CR-only line ends, blank lines, one line only) is not planned for
streaming and keeps the whole-file reader, which decides what those files mean.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import IngestError
from evalkit.ingest._csv import MAX_HEADER_BYTES, _header, _irregular, _record_end
from evalkit.ingest._readers import RawTable

__all__ = ["CHUNK_BYTES", "CsvPlan", "NotStreamable", "csv_chunks", "plan_csv"]

CHUNK_BYTES = 1 << 22  # Arrow's block size: about 40,000 panel rows per chunk
_SCAN_BYTES = 1 << 22


class NotStreamable(Exception):  # a signal to take the whole-file path, not an error
    """Arrow cannot read the file in blocks; the whole-file reader decides what it means."""


@dataclass(frozen=True)
class CsvPlan:
    """Where a streamable CSV's data rows start, and how to split them."""

    path: Path
    offset: int
    delimiter: str
    headers: tuple[str, ...]
    info: dict[str, str]

    def __repr__(self) -> str:
        return f"CsvPlan({self.path.name!r}, columns={len(self.headers)})"


def _blank_line(joined: bytes) -> bool:
    r"""Return True when ``joined`` holds ``\n\n`` or ``\n\r\n`` (a blank line).

    Compared as byte arrays: a substring search for a pattern that starts with the
    commonest byte of a CSV stops at every line end, which costs more than reading.
    """
    data = np.frombuffer(joined, dtype=np.uint8)
    newline = data == 10
    if (newline[1:] & newline[:-1]).any():
        return True
    return bool((newline[:-2] & (data[1:-1] == 13) & newline[2:]).any())


def _scan(path: Path) -> bool:
    """Return True when the whole file is UTF-8 without blank lines (read in blocks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    tail = b""
    has_newline = False
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_SCAN_BYTES), b""):
            joined = tail + block
            if _blank_line(joined):
                return False
            has_newline = has_newline or b"\n" in block
            # ASCII after a complete character is UTF-8: only other blocks are decoded
            if not (block.isascii() and not decoder.getstate()[0]):
                try:
                    decoder.decode(block)  # validity only; each block's text is dropped
                except UnicodeDecodeError:
                    return False
            tail = joined[-2:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return has_newline


def plan_csv(path: Path, file: str, *, scan: bool = True) -> CsvPlan | None:
    """Return how to stream a CSV, or None when the whole-file reader must read it.

    Parameters
    ----------
    path : pathlib.Path
        The CSV file.
    file : str
        The file name as shown, for messages.
    scan : bool, default True
        Read the whole file first to check that it is UTF-8 without blank lines. False
        plans from the header alone (None for a header that is not UTF-8 or unusable),
        for a reader that checks the rest itself (the one-pass load, ``_clean``).

    Returns
    -------
    CsvPlan or None
        The data offset, delimiter and headers; None for files the whole-file
        reader handles (other encodings, blank lines, CR-only line ends, no line break).

    Raises
    ------
    IngestError
        When the header is unusable (no delimiter, duplicate headers), as the whole-file
        reader would say.
    """
    with path.open("rb") as handle:
        head = handle.read(MAX_HEADER_BYTES + 64)
    if not head.strip() or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    if head[:65536].count(b"\x00") or (scan and not _scan(path)):
        return None
    bom = head.startswith(codecs.BOM_UTF8)
    start = 3 if bom else 0
    forced = None
    hint = re.match(rb"^sep=([;,\t|])\r?\n", head[start:])
    if hint:  # Excel's "sep=;" first line names the delimiter
        forced = hint.group(1).decode("ascii")
        start += hint.end()
    end = _record_end(head[start:], MAX_HEADER_BYTES)
    if end < 0:
        return None
    if not scan:
        try:
            line = head[start : start + end].decode("utf-8")
            delimiter, headers = _header(line.lstrip("\ufeff").rstrip("\r"), file, forced)
        except (UnicodeDecodeError, IngestError):
            return None  # the planned reader decides what such a file means
    else:
        line = head[start : start + end].decode("utf-8").lstrip("\ufeff").rstrip("\r")
        delimiter, headers = _header(line, file, forced)
    info = {
        "encoding": "utf-8-sig" if bom else "utf-8",
        "delimiter": {"\t": "tab"}.get(delimiter, delimiter),
    }
    return CsvPlan(Path(path), start + end + 1, delimiter, tuple(headers), info)


def _reader(handle: Any, plan: CsvPlan, block: int, handler: Any) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    headers = list(plan.headers)
    return pacsv.open_csv(
        handle,
        read_options=pacsv.ReadOptions(column_names=headers, block_size=block, use_threads=False),
        parse_options=pacsv.ParseOptions(
            delimiter=plan.delimiter,
            newlines_in_values=True,
            invalid_row_handler=handler,
            ignore_empty_lines=True,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in headers},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )


class _Numbering:
    """Numbers parsed rows across blocks: data row numbers not taken by skipped rows."""

    def __init__(self) -> None:
        self.bad: list[tuple[int, str]] = []
        self.next_row = 1
        self.used = 0  # skipped rows handed out so far

    def handler(self, row: Any) -> str:
        if row.number is None:
            raise NotStreamable
        self.bad.append((int(row.number), row.text))
        return "skip"

    def take(self, count: int) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """Return the numbers of the next ``count`` parsed rows and the skipped rows among them."""
        skipped = np.array([n for n, _ in self.bad[self.used :]], dtype=np.int64)
        span = np.arange(self.next_row, self.next_row + count + len(skipped), dtype=np.int64)
        rows = np.setdiff1d(span, skipped, assume_unique=True)[:count]
        last = int(rows[-1]) if count else self.next_row - 1
        mine = [b for b in self.bad[self.used :] if b[0] <= last]
        self.used += len(mine)
        self.next_row = last + 1
        return rows, mine

    def rest(self) -> list[tuple[int, str]]:
        mine = self.bad[self.used :]
        self.used = len(self.bad)
        return mine


def csv_chunks(plan: CsvPlan, chunk_bytes: int = CHUNK_BYTES) -> Iterator[RawTable]:
    """Yield the file's data rows as text tables of about ``chunk_bytes`` each.

    Row numbers, malformed rows, rows trimmed of trailing empty fields and skipped
    rows of empty cells are the whole-file reader's, in file order. At least one
    table is yielded (an empty one for a file with a header only).

    Parameters
    ----------
    plan : CsvPlan
        From :func:`plan_csv`.
    chunk_bytes : int, default ``CHUNK_BYTES``
        Bytes of the file per chunk (Arrow's block size; small values force many chunks).

    Yields
    ------
    RawTable
        One chunk.

    Raises
    ------
    NotStreamable
        When Arrow cannot read the file in blocks (the whole-file reader decides).
    """
    import pyarrow as pa

    numbering = _Numbering()
    headers = list(plan.headers)
    yielded = False
    with plan.path.open("rb") as handle:
        handle.seek(plan.offset)
        try:
            reader = _reader(handle, plan, chunk_bytes, numbering.handler)
            for batch in reader:
                rows, bad = numbering.take(batch.num_rows)
                yield _table(batch.to_pandas(), rows, bad, plan, headers)
                yielded = True
        except (pa.ArrowInvalid, ValueError) as exc:
            raise NotStreamable from exc
    rest = numbering.rest()
    if rest or not yielded:
        empty = pd.DataFrame({h: pd.Series([], dtype="str") for h in headers})
        yield _table(empty, np.array([], dtype=np.int64), rest, plan, headers)


def _table(
    frame: pd.DataFrame,
    rows: np.ndarray,
    bad: list[tuple[int, str]],
    plan: CsvPlan,
    headers: list[str],
) -> RawTable:
    frame, rows, malformed = _irregular(frame, rows, bad, plan.delimiter, headers)
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():  # a row of empty cells is skipped, its number kept
        frame, rows = frame[~blank].reset_index(drop=True), rows[~blank]
    return RawTable(
        frame,
        rows,
        "csv",
        decimal_comma=plan.delimiter != ",",
        malformed=malformed,
        info=dict(plan.info),
    )

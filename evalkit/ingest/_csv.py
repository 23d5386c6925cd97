"""CSV reading: encoding and delimiter detection, fast parse, exact fallback for broken rows."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import IngestError
from evalkit.ingest._bom import bom_body_error

MAX_HEADER_BYTES = 1_000_000
# Excel's last column is XFD, the 16,384th: no export of a table has more columns, and a
# header of 100,000 names (well under MAX_HEADER_BYTES) ran DuckDB out of memory.
MAX_COLUMNS = 16_384
DELIMITERS = (";", ",", "\t")


def decode(data: bytes, file: str) -> tuple[str, str]:
    """Decode the bytes of a text export, detecting its encoding.

    UTF-8 (with or without BOM), UTF-16 with BOM (Excel "Unicode text") and
    Windows-1252 are recognised; other encodings are tried with
    charset-normalizer. Binary content is refused.

    Parameters
    ----------
    data : bytes
        The file content.
    file : str
        The file name, for messages.

    Returns
    -------
    text : str
        The decoded text.
    encoding : str
        The encoding used.

    Raises
    ------
    IngestError
        When the content is binary or in no recognisable text encoding.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise bom_body_error(data[3:], exc, file) from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16", file), "utf-16"
    sample = data[:65536]
    if sample.count(b"\x00") > len(sample) // 10:
        raise IngestError(
            f"{file}: not a text file (binary content, or UTF-16 without a byte-order mark); "
            "expected CSV, XLSX, SAV, DTA or Parquet"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    controls = sum(sample.count(bytes([b])) for b in range(32) if b not in (9, 10, 13))
    if controls > len(sample) // 20:
        raise IngestError(
            f"{file}: not a text file (binary content); expected CSV, XLSX, SAV, DTA or Parquet"
        )
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:1_000_000]).best()
    if best is None:
        raise IngestError(f"{file}: unknown text encoding (not UTF-8 or Windows-1252)")
    return _strict(data, best.encoding, file), best.encoding


def _strict(data: bytes, encoding: str, file: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{file}: not valid {encoding} text (byte {exc.start}: {exc.reason})"
        ) from exc


def sniff_delimiter(header: str, file: str) -> str:
    """Pick the delimiter that splits the header line into the most fields.

    Parameters
    ----------
    header : str
        The first line of the file.
    file : str
        The file name, for messages.

    Returns
    -------
    str
        ``;``, ``,`` or a tab.

    Raises
    ------
    IngestError
        When no delimiter occurs in the header.
    """
    counts = {d: len(_first_record(header, d, file)) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    if counts[best] < 2:
        raise IngestError(
            f"{file}: no delimiter found in the header line (expected ';', ',' or tab); "
            f"header starts {header[:60]!r}"
        )
    return best


def read_csv_text(
    data: bytes, file: str
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]], dict[str, str]]:
    """Read a CSV export into text columns.

    Parameters
    ----------
    data : bytes
        The file content.
    file : str
        The file name, for messages.

    Returns
    -------
    frame : pandas.DataFrame
        One ``str`` column per header (nulls for empty cells).
    rows : numpy.ndarray
        The 1-based data row number of each frame row.
    malformed : list of (int, str)
        Rows that do not split into the header's number of fields, with a message.
    info : dict
        ``encoding`` and ``delimiter``.

    Raises
    ------
    IngestError
        When the file is empty, binary, has no header or an absurd first line.
    """
    if not data.strip():
        raise IngestError(f"{file}: the file is empty")
    if b"\r" in data[:MAX_HEADER_BYTES] and b"\n" not in data:
        data = data.replace(b"\r", b"\n")  # old Mac exports end lines with CR only
    forced = None
    hint = re.match(rb"^(\xef\xbb\xbf)?sep=([;,\t|])\r?\n", data)
    if hint:  # Excel's "sep=;" first line names the delimiter
        forced = hint.group(2).decode("ascii")
        data = (hint.group(1) or b"") + data[hint.end() :]
    first_break = _record_end(data, MAX_HEADER_BYTES)
    if first_break < 0 and len(data) > MAX_HEADER_BYTES:
        raise IngestError(
            f"{file}: the first line is over {MAX_HEADER_BYTES:,} bytes long without a line break "
            "(not a table export)"
        )
    if not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        quick = _utf8_fast_path(data, file, first_break, forced)
        if quick is not None:
            return quick
    text, encoding = decode(data, file)
    text = text.lstrip("\ufeff")
    end = _record_end(text, MAX_HEADER_BYTES)
    header_line = (text[:end] if end >= 0 else text).rstrip("\r")
    delimiter, headers = _header(header_line, file, forced)
    info = {"encoding": encoding, "delimiter": {"\t": "tab"}.get(delimiter, delimiter)}
    has_blank_lines = "\n\n" in text or "\n\r\n" in text
    body = text[end + 1 :] if end >= 0 else ""
    parsed = None if has_blank_lines else _fast(body.encode("utf-8"), delimiter, headers)
    if parsed is not None:
        return (*parsed, info)
    frame, rows, malformed = _exact(text, delimiter, headers)
    return frame, rows, malformed, info


def _record_end(data: str | bytes, limit: int) -> int:
    """Return the index of the line break that ends the first record (-1 when none).

    A header cell that Excel wrapped ("wrap text") holds a line break inside quotes;
    that break does not end the header.
    """
    quote, newline = ('"', "\n") if isinstance(data, str) else (b'"', b"\n")
    start = 0
    while True:
        found = data.find(newline, start, limit)  # type: ignore[arg-type]
        if found < 0:
            return -1
        if data.count(quote, 0, found) % 2 == 0:  # type: ignore[arg-type]
            return found
        start = found + 1


def _first_record(text: str, delimiter: str, file: str) -> list[str]:
    try:
        return _one_record(text, delimiter)  # a header is up to MAX_HEADER_BYTES long
    except csv.Error as exc:
        raise IngestError(f"{file}: the header line cannot be read as CSV ({exc})") from exc


def _header(line: str, file: str, forced: str | None = None) -> tuple[str, list[str]]:
    delimiter = forced or sniff_delimiter(line, file)
    return delimiter, unique_headers(_first_record(line, delimiter, file), file)


def _utf8_fast_path(
    data: bytes, file: str, first_break: int, forced: str | None
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]], dict[str, str]] | None:
    """Parse plain UTF-8 without decoding to a Python string (saves two copies of the file).

    Returns None when the file needs the careful path (other encoding, blank lines,
    rows that do not fit the header, binary content).
    """
    sample = data[:65536]
    if sample.count(b"\x00") or b"\n\n" in data or b"\n\r\n" in data:
        return None
    try:
        data.decode("utf-8")  # validity only; the string is dropped at once
    except UnicodeDecodeError:
        return None
    header_line = data[: first_break if first_break >= 0 else len(data)].decode("utf-8")
    delimiter, headers = _header(header_line.rstrip("\r"), file, forced)
    parsed = _fast(data[first_break + 1 :] if first_break >= 0 else b"", delimiter, headers)
    if parsed is None:
        return None
    info = {"encoding": "utf-8", "delimiter": {"\t": "tab"}.get(delimiter, delimiter)}
    return (*parsed, info)


def unique_headers(headers: Sequence[object], file: str) -> list[str]:
    """Return the headers stripped (empty ones named ``unnamed_N``), refusing duplicates.

    Parameters
    ----------
    headers : list
        The header cells as read.
    file : str
        The file name, for the message.

    Returns
    -------
    list of str
        The headers.

    Raises
    ------
    IngestError
        When two columns have the same header (which one holds the data?), or there are
        more than ``MAX_COLUMNS`` columns.
    """
    if len(headers) > MAX_COLUMNS:
        raise IngestError(
            f"{file}: {len(headers):,} columns, more than a spreadsheet holds "
            f"({MAX_COLUMNS:,}); not a table export"
        )
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(headers):
        name = " ".join(str(h).split()) if h is not None else ""
        name = name or f"unnamed_{i + 1}"
        if name.lower() in seen:
            first = seen[name.lower()]
            raise IngestError(
                f"{file}: duplicate header: columns {first} ({out[first - 1]!r}) and {i + 1} "
                f"({name!r}) have the same header; remove one or rename it"
            )
        seen[name.lower()] = i + 1
        out.append(name)
    return out


Parsed = tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]


def _arrow_read(
    data: bytes, delimiter: str, headers: list[str], threads: bool, handler: Any
) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(
            column_names=headers, block_size=1 << 24, use_threads=threads
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
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


def _fast(data: bytes, delimiter: str, headers: list[str]) -> Parsed | None:
    """Parse with Arrow's CSV reader; rows that do not fit the header stay on this path.

    Arrow skips such rows through its invalid-row handler. It numbers them only when
    reading on one thread, so a file with irregular rows is parsed once more that way
    (still in C++, never row by row in Python), and only those few rows are looked at
    in Python: trailing empty fields are trimmed, anything else is a malformed row.
    Returns None when Arrow cannot read the file at all (the exact reader decides).
    """
    import pyarrow as pa

    skipped: list[str] = []

    def count(row: Any) -> str:
        skipped.append(row.text)
        return "skip"

    bad: list[tuple[int | None, str]] = []

    def number(row: Any) -> str:
        bad.append((row.number, row.text))
        return "skip"

    try:
        table = _arrow_read(data, delimiter, headers, True, count)
        if skipped:
            table = _arrow_read(data, delimiter, headers, False, number)
    except (pa.ArrowInvalid, ValueError):
        return None
    if any(n is None for n, _ in bad):
        return None
    numbers = np.array([n for n, _ in bad], dtype=np.int64)
    rows = np.setdiff1d(np.arange(1, table.num_rows + len(bad) + 1), numbers)
    frame = table.to_pandas()
    frame, rows, malformed = _irregular(frame, rows, bad, delimiter, headers)  # type: ignore[arg-type]
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():  # a row of empty cells is skipped, its number kept
        frame, rows = frame[~blank].reset_index(drop=True), rows[~blank]
    return frame, rows, malformed


def _irregular(
    frame: pd.DataFrame,
    rows: np.ndarray,
    bad: list[tuple[int, str]],
    delimiter: str,
    headers: list[str],
) -> Parsed:
    width = len(headers)
    extra: list[list[str]] = []
    extra_rows: list[int] = []
    malformed: list[tuple[int, str]] = []
    for number, text in bad:
        fields = _one_record(text, delimiter)
        if len(fields) > width and all(not f.strip() for f in fields[width:]):
            extra.append(fields[:width])
            extra_rows.append(number)
            continue
        hint = " (wrong delimiter?)" if len(fields) == 1 else ""
        malformed.append((number, f"row has {len(fields)} field(s), the header has {width}{hint}"))
    if extra:
        added = pd.DataFrame(extra, columns=headers, dtype="str")
        added = added.mask(added == "")
        frame = pd.concat([frame, added], ignore_index=True)
        rows = np.concatenate([rows, np.asarray(extra_rows, dtype=np.int64)])
        order = np.argsort(rows, kind="stable")
        frame, rows = frame.iloc[order].reset_index(drop=True), rows[order]
    return frame, rows, malformed


def _one_record(text: str, delimiter: str) -> list[str]:
    """Return the fields of one irregular row, however long a field (as :func:`_exact` reads).

    An unbalanced quote makes the rest of its block one field: past the csv module's
    default limit of 131,072 characters that raised ``csv.Error`` (a traceback).
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    try:
        return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    finally:
        csv.field_size_limit(limit)


def _exact(
    text: str, delimiter: str, headers: list[str]
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    try:
        return _exact_rows(text, delimiter, headers)
    finally:
        csv.field_size_limit(limit)


def _exact_rows(
    text: str, delimiter: str, headers: list[str]
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader, None)
    width = len(headers)
    records: list[list[str]] = []
    rows: list[int] = []
    malformed: list[tuple[int, str]] = []
    row = 0
    try:
        for fields in reader:
            row += 1
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != width:
                if len(fields) > width and all(not f.strip() for f in fields[width:]):
                    fields = fields[:width]
                else:
                    hint = " (wrong delimiter?)" if len(fields) == 1 else ""
                    malformed.append(
                        (row, f"row has {len(fields)} field(s), the header has {width}{hint}")
                    )
                    continue
            records.append(fields)
            rows.append(row)
    except csv.Error as exc:
        malformed.append((row + 1, f"unreadable from here on: {exc}"))
    frame = (
        pd.DataFrame(records, columns=headers, dtype="str")
        if records
        else pd.DataFrame({h: pd.Series([], dtype="str") for h in headers})
    )
    frame = frame.mask(frame.apply(lambda c: c.str.strip() == ""))
    return frame, np.asarray(rows, dtype=np.int64), malformed

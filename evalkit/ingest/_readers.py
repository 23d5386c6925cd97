"""Readers: every supported format into one shape, a table of cells.

Validation then works the same way on a CSV from Dutch Excel, an XLSX with real
date cells, an SPSS file with value labels and user-missing codes, a Stata file
or Parquet. Text files give text cells; the numbers, dates and booleans of a typed
file (and an XLSX column of date cells) stay typed (:class:`TypedColumn`) and are
validated on their values. :func:`read_frame` additionally types the columns for
ad-hoc use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import IngestError
from evalkit.ingest._csv import read_csv_text, unique_headers
from evalkit.ingest._text import cell_text, header_key
from evalkit.ingest._typed import TypedColumn, format_cells
from evalkit.ingest._varlabels import named_by_label
from evalkit.ingest._xlsx import UNFILLED, Cell, Rows, check_first_sheet, read_xlsx_cells

__all__ = ["RawTable", "read_frame", "read_raw"]

FORMATS = ("csv", "xlsx", "sav", "dta", "parquet")


@dataclass
class RawTable:
    """A file read as cells, with what the reader learned about it.

    ``frame`` holds text cells, except for the columns in ``typed``: there it holds
    the typed values (:meth:`text` gives any column as text).
    """

    frame: pd.DataFrame
    rows: np.ndarray
    format: str
    decimal_comma: bool = False
    malformed: list[tuple[int, str]] = field(default_factory=list)
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    user_missing: dict[str, dict[str, str]] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)
    typed: dict[str, TypedColumn] = field(default_factory=dict)
    # Per header, the positions of formula cells without a stored value (XLSX): read as
    # empty, rejected with their own reason (``_columns.parse_column``).
    unfilled: dict[str, np.ndarray] = field(default_factory=dict)
    # What the reader saw that the user should hear of (rows hidden in Excel, read anyway).
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"RawTable({self.format}, rows={len(self.frame)}, malformed={len(self.malformed)})"

    def text(self, header: str) -> pd.Series:
        """Return a column as text cells (a typed column formatted as the parsers read it).

        Parameters
        ----------
        header : str
            The column's header in the file.

        Returns
        -------
        pandas.Series
            Text cells, null where empty.
        """
        column = self.typed.get(header)
        return self.frame[header] if column is None else column.text()

    @property
    def rows_read(self) -> int:
        """Data rows in the file (parsed and malformed)."""
        return len(self.frame) + len(self.malformed)


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


def _old_stata(head: bytes, suffix: str) -> bool:
    """Stata formats 104-115 (Stata 4 to 12): a version byte, byte order 1 or 2, filetype 1."""
    if len(head) < 4 or not 104 <= head[0] <= 115:
        return False
    return suffix == "dta" or (head[1] in (1, 2) and head[2] == 1)


def _ole2_message(path: Path) -> str:
    """Name the kind of Office compound file: encrypted workbook, or old binary Excel."""
    with path.open("rb") as handle:
        start = handle.read(1 << 20)
        handle.seek(max(0, path.stat().st_size - (1 << 20)))
        end = handle.read()
    if _ENCRYPTED in start or _ENCRYPTED in end:
        return (
            f"{path}: the workbook is password-protected (encrypted); open it in Excel, "
            "remove the password (File > Info > Protect Workbook) and save it again"
        )
    return f"{path}: old Excel .xls is not supported; save it as .xlsx or CSV"


def detect_format(path: Path, head: bytes) -> str:
    """Return the format of a file from its first bytes, falling back to its extension.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    head : bytes
        Its first bytes.

    Returns
    -------
    str
        One of ``csv``, ``xlsx``, ``sav``, ``dta``, ``parquet``.

    Raises
    ------
    IngestError
        When the extension promises a binary format the content does not have.
    """
    suffix = path.suffix.lower().lstrip(".")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith((b"$FL2", b"$FL3")):
        return "sav"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"<stata_dta>") or _old_stata(head, suffix):
        return "dta"
    if head.startswith(_OLE2):
        raise IngestError(_ole2_message(path))
    names = {
        "xlsx": "an XLSX workbook",
        "xlsm": "an XLSX workbook",
        "sav": "an SPSS .sav file",
        "zsav": "an SPSS .zsav file",
        "dta": "a Stata .dta file",
        "parquet": "a Parquet file",
    }
    if suffix in names:
        raise IngestError(
            f"{path}: not {names[suffix]} "
            "(its content does not start like one; truncated or renamed?)"
        )
    if suffix == "xls":
        raise IngestError(f"{path}: old Excel .xls is not supported; save it as .xlsx or CSV")
    return "csv"


def read_raw(
    path: Path, *, sheet: str | None = None, known: frozenset[str] = frozenset()
) -> RawTable:
    """Read any supported file into text cells.

    Parameters
    ----------
    path : pathlib.Path
        The file (CSV, XLSX, SAV, DTA or Parquet).
    sheet : str, optional
        The XLSX sheet; defaults to the first.
    known : frozenset of str, optional
        Comparison keys of the headers the schema expects (find the XLSX header row).

    Returns
    -------
    RawTable
        The text cells and what the reader found.

    Raises
    ------
    IngestError
        When the file cannot be read at all.
    """
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: file not found")
    with path.open("rb") as handle:
        head = handle.read(16)
    if not head:
        raise IngestError(f"{path}: the file is empty")
    fmt = detect_format(path, head)
    if fmt == "csv":
        frame, rows, malformed, info = read_csv_text(path.read_bytes(), str(path))
        return RawTable(
            frame,
            rows,
            "csv",
            decimal_comma=info["delimiter"] != ",",
            malformed=malformed,
            info=info,
        )
    if fmt == "xlsx":
        return _read_xlsx(path, sheet, known)
    table = _read_stats(path, fmt, known) if fmt in ("sav", "dta") else _read_parquet(path)
    unique_headers(list(table.frame.columns), str(path))
    return table


def _header_row(rows: Rows, known: frozenset[str]) -> int:
    """Pick the header among the first ten non-empty rows (a position in ``rows``).

    With the schema's headers known, the row matching most of them wins (a stray note
    beside a data row cannot outvote the real header); otherwise the first row with at
    least half the cells of the widest leading row, so title lines above the table
    ("Export uit ... op 01-02-2025") are skipped.
    """
    lead = [cells for _, cells in rows[:10]]
    if known:
        hits = [
            sum(header_key(cell_text(c)) in known for c in cells if c is not None) for cells in lead
        ]
        if max(hits) >= 2:
            return hits.index(max(hits))
    filled = [sum(c is not None for c in cells) for cells in lead]
    widest = max(filled)
    return next(i for i, k in enumerate(filled) if 2 * k >= widest)


def _read_xlsx(path: Path, sheet: str | None, known: frozenset[str]) -> RawTable:
    title, rows, unfilled, filled, hidden = read_xlsx_cells(path, sheet)
    if not rows:
        raise IngestError(f"{path}: sheet {title!r} is empty (no header row)")
    if sheet is None:
        check_first_sheet(path, title, rows, known)
    at = _header_row(rows, known)
    top, raw_headers = rows[at]
    if unfilled:
        raw_headers = [None if c == UNFILLED else c for c in raw_headers]
    width = len(raw_headers)
    headers = unique_headers([cell_text(c) for c in raw_headers], str(path))
    records, numbers, malformed = [], [], []
    for index, row in rows[at + 1 :]:
        offset = index - top
        if len(row) > width:
            extra = sum(c is not None for c in row[width:])
            malformed.append(
                (offset, f"row has values beyond the last header column ({extra} cell(s))")
            )
            continue
        records.append(row + [None] * (width - len(row)))
        numbers.append(offset)
    marks = _unfilled_cells(records, headers) if unfilled else {}
    frame, typed = _xlsx_columns(records, headers)
    return RawTable(
        frame,
        np.asarray(numbers, dtype=np.int64),
        "xlsx",
        malformed=malformed,
        info={"sheet": title, **({"merged cells filled down": _ranges(filled)} if filled else {})},
        typed=typed,
        unfilled=marks,
        notes=hidden_note(hidden, numbers, top),
    )


def hidden_note(hidden: frozenset[int], numbers: list[int], top: int) -> list[str]:
    """Return the note on data rows hidden in Excel (by hand or by a filter), if any.

    ``numbers`` are the data rows read (offsets from the header at sheet row ``top``).
    """
    count = sum(top + n in hidden for n in numbers) if hidden else 0
    if not count:
        return []
    return [
        f"{count} row(s) were hidden in Excel (hidden rows or an AutoFilter) and were read "
        "anyway, like every other row"
    ]


def _ranges(filled: list[str]) -> str:
    return ", ".join(filled[:5]) + (f" and {len(filled) - 5} more" if len(filled) > 5 else "")


def _unfilled_cells(records: list[list[Cell]], headers: list[str]) -> dict[str, np.ndarray]:
    """Empty the formula cells without a stored value; return their positions per header."""
    found: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        for j, cell in enumerate(record):
            if cell == UNFILLED:
                record[j] = None
                found.setdefault(headers[j], []).append(i)
    return {h: np.asarray(at, dtype=np.int64) for h, at in found.items()}


def _xlsx_columns(
    records: list[list[Cell]], headers: list[str]
) -> tuple[pd.DataFrame, dict[str, TypedColumn]]:
    """Make a column of date cells typed (times shown per cell, as Excel does); the rest text."""
    if not records:
        return _empty(headers), {}
    cells: dict[str, pd.Series] = {}
    typed: dict[str, TypedColumn] = {}
    for header, values in zip(headers, zip(*records, strict=True), strict=True):
        column = pd.Series(values, dtype=object)
        if _all_dates(column):
            typed[header] = TypedColumn(_as_datetimes(column), "datetime", time_per_cell=True)
            cells[header] = typed[header].values
        elif any(isinstance(v, dt.date) for v in values):  # dates beside text: all as text
            cells[header] = pd.Series([cell_text(v) for v in values], dtype="str")
        else:
            cells[header] = pd.Series(values, dtype="str")
    return pd.DataFrame(cells), typed


def _empty(headers: list[str]) -> pd.DataFrame:
    return pd.DataFrame({h: pd.Series([], dtype="str") for h in headers})


def _typed_table(frame: pd.DataFrame, fmt: str, **found: Any) -> RawTable:
    """Keep a typed file's numbers, dates and booleans typed; its other columns become text."""
    cells: dict[str, pd.Series] = {}
    typed: dict[str, TypedColumn] = {}
    for name in frame.columns:
        header, values = str(name), frame[name]
        # Date objects (SPSS/Stata dates) show a time, as text did, only where they have one.
        per_cell = values.dtype == object and _all_dates(values)
        if per_cell:
            values = _as_datetimes(values)
        column = TypedColumn.of(values, time_per_cell=per_cell)
        if column is None:
            cells[header] = format_cells(values)
        else:
            typed[header], cells[header] = column, values
    table = pd.DataFrame(cells, index=frame.index)
    return RawTable(table, np.arange(1, len(table) + 1), fmt, typed=typed, **found)


def _all_dates(values: pd.Series) -> bool:
    """Return True when every value present is a date or date-time (none a time of day)."""
    present = values.dropna()
    return len(present) > 0 and all(isinstance(v, dt.date) for v in present)


def _as_datetimes(values: pd.Series) -> pd.Series:
    """Dates and date-times as ``datetime64[us]`` (every year of a calendar, to the microsecond)."""
    stamps = [np.datetime64("NaT") if pd.isna(v) else np.datetime64(v, "us") for v in values]
    return pd.Series(np.array(stamps, dtype="datetime64[us]"), index=values.index)


def _read_stats(path: Path, fmt: str, known: frozenset[str] = frozenset()) -> RawTable:
    import pyreadstat

    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    try:
        frame, meta = reader(str(path), user_missing=True)
    except Exception as exc:  # pyreadstat raises its own ReadstatError and friends
        label = "SPSS .sav" if fmt == "sav" else "Stata .dta"
        advice = ""
        with path.open("rb") as handle:
            version = handle.read(1)
        if fmt == "dta" and version and 104 <= version[0] <= 115:
            advice = (
                f"; it is Stata format {version[0]}: open it in Stata and save it again "
                "with saveold, version(13)"
            )
        raise IngestError(f"{path}: not a readable {label} file ({exc}){advice}") from exc
    labels = {
        var: {cell_text(code) or "": str(text) for code, text in mapping.items()}
        for var, mapping in (meta.variable_value_labels or {}).items()
    }
    missing: dict[str, dict[str, str]] = {}
    for var, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        values = frame[var].dropna().unique() if var in frame else []
        for value in values:
            if isinstance(value, str):
                continue
            if any(r["lo"] <= value <= r["hi"] for r in ranges):
                text = cell_text(value) or ""
                missing.setdefault(var, {})[text] = labels.get(var, {}).get(text, "")
    for var, letters in (getattr(meta, "missing_user_values", None) or {}).items():
        for letter in letters:
            missing.setdefault(var, {})[str(letter)] = labels.get(var, {}).get(str(letter), "")
    frame, renamed = named_by_label(frame, meta.column_names_to_labels or {}, known)
    info: dict[str, str] = {}
    if renamed:
        labels = {renamed.get(k, k): v for k, v in labels.items()}
        missing = {renamed.get(k, k): v for k, v in missing.items()}
        info["variables read by their label"] = ", ".join(f"{a} = {b}" for a, b in renamed.items())
    return _typed_table(frame, fmt, value_labels=labels, user_missing=missing, info=info)


def _read_parquet(path: Path) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.ParquetFile(path).schema_arrow.names
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{path}: not a readable Parquet file ({exc})") from exc
    unique_headers(list(names), str(path))
    try:
        # Parquet dates as datetime64 (to the millisecond: every year), not date objects
        # and yes/no columns with empty cells as nullable booleans, not Python objects
        frame = pq.read_table(path).to_pandas(
            date_as_object=False, types_mapper={pa.bool_(): pd.BooleanDtype()}.get
        )
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{path}: not a readable Parquet file ({exc})") from exc
    return _typed_table(frame, "parquet")


def _read_typed(path: Path) -> pd.DataFrame | None:
    """Read a typed format (SAV, DTA, Parquet) with its own types, never through text.

    Returns None for CSV and XLSX.
    """
    if not path.is_file():
        raise IngestError(f"{path}: file not found")
    with path.open("rb") as handle:
        head = handle.read(16)
    fmt = detect_format(path, head) if head else "csv"
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            names = pq.ParquetFile(path).schema_arrow.names
            unique_headers(list(names), str(path))
            return pq.read_table(path).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise IngestError(f"{path}: not a readable Parquet file ({exc})") from exc
    if fmt in ("sav", "dta"):
        import pyreadstat

        reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
        try:
            return reader(str(path))[0]
        except Exception as exc:  # pyreadstat raises its own ReadstatError and friends
            raise IngestError(f"{path}: not a readable {fmt} file ({exc})") from exc
    return None


def read_frame(path: Path, *, sheet: str | None = None) -> pd.DataFrame:
    """Read any supported file with numbers and dates typed, for ad-hoc analysis.

    CSV gets its encoding, delimiter and decimal comma detected; a text column
    whose every value is a number becomes numeric, one whose every value is a
    date becomes ``datetime64``. SAV, DTA and Parquet keep their stored types
    (codes, not value labels).

    Parameters
    ----------
    path : pathlib.Path
        The file.
    sheet : str, optional
        The XLSX sheet; defaults to the first.

    Returns
    -------
    pandas.DataFrame
        The typed table, with the file's own column names.

    Raises
    ------
    IngestError
        When the file cannot be read, or has rows that do not fit its header.
    """
    from evalkit.ingest._parse import parse_dates, parse_numbers

    path = Path(path)
    typed = _read_typed(path)
    if typed is not None:
        return typed
    raw = read_raw(path, sheet=sheet)
    if raw.malformed:
        row, message = raw.malformed[0]
        raise IngestError(f"{path}: row {row}: {message}")
    out = {}
    for name, col in raw.frame.items():
        present = col.notna()
        nums, bad = parse_numbers(col, decimal_comma=raw.decimal_comma)
        if present.any() and not np.any(bad[present.to_numpy()] != None):  # noqa: E711
            whole = nums.dropna()
            integral = bool((whole % 1 == 0).all()) and len(whole) == len(nums)
            out[name] = nums.astype("int64") if integral else nums.astype("float64")
            continue
        dates, bad = parse_dates(col)
        if present.any() and not np.any(bad[present.to_numpy()] != None):  # noqa: E711
            out[name] = dates
            continue
        out[name] = col.str.strip()
    return pd.DataFrame(out)

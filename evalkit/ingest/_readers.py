"""Readers: every supported format into one shape, a table of text cells.

Validation then works the same way on a CSV from Dutch Excel, an XLSX with real
date cells, an SPSS file with value labels and user-missing codes, a Stata file
or Parquet. :func:`read_frame` additionally types the columns for ad-hoc use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import IngestError
from evalkit.ingest._csv import read_csv_text, unique_headers
from evalkit.ingest._text import cell_text, header_key
from evalkit.ingest._xlsx import Rows, read_xlsx_cells

__all__ = ["RawTable", "read_frame", "read_raw"]

FORMATS = ("csv", "xlsx", "sav", "dta", "parquet")


@dataclass
class RawTable:
    """A file read as text cells, with what the reader learned about it."""

    frame: pd.DataFrame
    rows: np.ndarray
    format: str
    decimal_comma: bool = False
    malformed: list[tuple[int, str]] = field(default_factory=list)
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    user_missing: dict[str, dict[str, str]] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"RawTable({self.format}, rows={len(self.frame)}, malformed={len(self.malformed)})"

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
    table = _read_stats(path, fmt) if fmt in ("sav", "dta") else _read_parquet(path)
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
        hits = [sum(header_key(c) in known for c in cells if c is not None) for cells in lead]
        if max(hits) >= 2:
            return hits.index(max(hits))
    filled = [sum(c is not None for c in cells) for cells in lead]
    widest = max(filled)
    return next(i for i, k in enumerate(filled) if 2 * k >= widest)


def _read_xlsx(path: Path, sheet: str | None, known: frozenset[str]) -> RawTable:
    title, rows = read_xlsx_cells(path, sheet)
    if not rows:
        raise IngestError(f"{path}: sheet {title!r} is empty (no header row)")
    at = _header_row(rows, known)
    top, raw_headers = rows[at]
    width = len(raw_headers)
    headers = unique_headers(list(raw_headers), str(path))
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
    frame = pd.DataFrame(records, columns=headers, dtype="str") if records else _empty(headers)
    return RawTable(
        frame,
        np.asarray(numbers, dtype=np.int64),
        "xlsx",
        malformed=malformed,
        info={"sheet": title},
    )


def _empty(headers: list[str]) -> pd.DataFrame:
    return pd.DataFrame({h: pd.Series([], dtype="str") for h in headers})


def _series_text(series: pd.Series) -> pd.Series:
    """Format a typed column as text cells the parsers understand."""
    if pd.api.types.is_bool_dtype(series):
        return series.map({True: "1", False: "0"}).astype("str")
    if pd.api.types.is_datetime64_any_dtype(series):
        has_time = (series.dropna() != series.dropna().dt.normalize()).any()
        fmt = "%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d"
        return series.dt.strftime(fmt).astype("str")
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        integral = np.isfinite(values) & (np.mod(values, 1) == 0)
        out = np.where(
            integral,
            np.char.mod("%d", np.where(integral, values, 0)).astype(object),
            series.astype(str).to_numpy(dtype=object),
        )
        return pd.Series(out, index=series.index, dtype="str").mask(np.isnan(values))
    if pd.api.types.is_integer_dtype(series):
        return series.astype("str").mask(series.isna())
    return pd.Series([cell_text(v) for v in series], index=series.index, dtype="str")


def _read_stats(path: Path, fmt: str) -> RawTable:
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
    text = pd.DataFrame({c: _series_text(frame[c]) for c in frame.columns})
    return RawTable(
        text, np.arange(1, len(text) + 1), fmt, value_labels=labels, user_missing=missing
    )


def _read_parquet(path: Path) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.ParquetFile(path).schema_arrow.names
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{path}: not a readable Parquet file ({exc})") from exc
    unique_headers(list(names), str(path))
    try:
        frame = pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{path}: not a readable Parquet file ({exc})") from exc
    text = pd.DataFrame({str(c): _series_text(frame[c]) for c in frame.columns})
    return RawTable(text, np.arange(1, len(text) + 1), "parquet")


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

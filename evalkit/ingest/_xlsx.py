"""XLSX reading: every cell of one sheet as text, the way Excel shows its value, or as a date.

Date and date-time cells are kept as Python dates (the reader validates a column of
them on its dates); every other cell becomes text.

Two readers give the same cells. python-calamine (Rust) reads a sheet several times
faster than openpyxl, but it turns error cells (``#N/A``, ``#DIV/0!``) into empty ones,
and it finds the workbook part only at its usual place. So a workbook with an error
cell anywhere, or an unusual layout, is read by openpyxl (a sheet at a time, without
trusting the sheet's stated size, which some exporters get wrong); the error then shows
as its text and is rejected where a value was expected, as before.

Before either reads a cell, the sheet XML is scanned in blocks: a sheet whose used
range is far larger than the cells in it (one stray cell at XFD1048576) is streamed by
openpyxl, keeping only rows that hold values, and absurd sizes are refused up front.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, NamedTuple
from xml.etree import ElementTree

from evalkit.errors import IngestError
from evalkit.ingest._merged import MERGE_REF, fill_down, sheet_member
from evalkit.ingest._text import cell_text, header_key

__all__ = ["UNFILLED", "SheetCells", "check_first_sheet", "read_xlsx_cells"]

#: A formula cell without a stored (cached) value: openpyxl and other libraries write
#: formulas so, Excel never saves one so. Both readers would see an empty cell; the
#: validator rejects it with its own message. NUL cannot occur in XML text, so no cell
#: of a sheet can read as this.
UNFILLED = "\x00formula without a stored value"
# <c ..><f>..</f></c>, <f .../> (a shared formula's other cells), with <v/>, <v></v> or none.
_UNFILLED_FORMULA = re.compile(rb"<f\b[^>]*?(?:/>|>[^<]*</f>)\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>")
_MAX_MERGES = 100_000  # ranges kept per sheet: a sheet of merged cells stays cheap
_TAIL = 4096  # a formula cut by a block boundary is found in the next block's search

# An error cell is <c ... t="e">; a match in a string's text only costs the slower reader.
_ERROR_CELL = re.compile(rb"""\st\s*=\s*["']e["']""")
_BLOCK = 1 << 22
# openpyxl parses the XML with the standard library: malformed XML, or entity expansion
# (a 'billion laughs' DOCTYPE) past expat's amplification limit, raises ParseError.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    KeyError,
    ValueError,
    ElementTree.ParseError,
)


Cell = str | dt.date | None
Rows = list[tuple[int, list[Cell]]]
MAX_CELLS = 50_000_000
MAX_SHEET_BYTES = 4 << 30
_ROW_TAG = re.compile(rb"<row\b[^>]*?\sr=[\"'](\d+)")
_WIDE_REF = re.compile(rb"<c\b[^>]*?\sr=[\"']([A-Z]{2,3})\d")
#: A row hidden in Excel: by hand, or by an AutoFilter (Excel marks filtered rows so too).
_HIDDEN_ROW = re.compile(rb"<row\b[^>]*?\shidden=[\"'](?:1|true)[\"'][^>]*>")
_ROW_NUMBER = re.compile(rb"\sr=[\"'](\d+)")


class SheetCells(NamedTuple):
    """One sheet read: its name, non-empty rows, formulas without value, ranges filled."""

    title: str
    rows: Rows
    unfilled: bool
    filled: list[str]
    hidden: frozenset[int] = frozenset()


def read_xlsx_cells(path: Path, sheet: str | None) -> SheetCells:
    """Read one sheet of a workbook as its non-empty rows of text cells.

    Parameters
    ----------
    path : pathlib.Path
        The workbook.
    sheet : str, optional
        The sheet; defaults to the first worksheet.

    Returns
    -------
    title : str
        The sheet's name.
    rows : list of (int, list of str, datetime.date or None)
        The 0-based row index and the cells from column A (``None`` for empty cells,
        trailing empty cells dropped) of every row that holds a value; date and
        date-time cells as ``datetime.date`` / ``datetime.datetime``, others as text;
        a formula cell without a stored value as :data:`UNFILLED`.
    unfilled : bool
        Whether the sheets hold formula cells without a stored value at all.
    filled : list of str
        The vertical merged ranges whose value was filled down (see ``_merged``).
    hidden : frozenset of int
        The 0-based indexes of the rows Excel hides (by hand, or by an AutoFilter); they
        are read like the others, and the caller says how many, so nothing is unseen.

    Raises
    ------
    IngestError
        When the file is not a readable workbook, has no such sheet, or a sheet whose
        size is absurd (more cells than any export holds).
    """
    survey = _survey(path)
    if survey.plain and not survey.sparse:
        title, rows = _read_calamine(path, sheet)
    else:
        title, rows = _read_openpyxl(path, sheet, formulas=survey.unfilled)
    filled: list[str] = []
    member = None
    if any(survey.merged.values()) or any(survey.hidden.values()):
        with zipfile.ZipFile(path) as archive:
            member = sheet_member(archive, title)
    refs = survey.merged.get(member or "", set())
    filled = fill_down(rows, refs) if refs else []  # type: ignore[arg-type]
    hidden = frozenset(r - 1 for r in survey.hidden.get(member or "", ()))
    return SheetCells(title, rows, survey.unfilled, filled, hidden)


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ch - 64
    return number


class _Survey:
    """What a scan of the sheets' XML found, before any cell is materialised."""

    def __init__(self) -> None:
        self.plain = True  # no error cells: calamine reads it as openpyxl would
        self.sparse = False  # used range far larger than the cells in it
        self.unfilled = False  # a formula without a stored value: only openpyxl tells it
        self.merged: dict[str, set[tuple[bytes, ...]]] = {}  # per sheet member: ranges
        self.hidden: dict[str, set[int]] = {}  # per sheet member: hidden rows (1-based)

    def __repr__(self) -> str:
        return f"_Survey(plain={self.plain}, sparse={self.sparse})"


def _survey(path: Path) -> _Survey:
    """Scan each worksheet's XML in blocks: error cells, cell count, used range.

    calamine materialises a sheet's whole used range, so one cell at XFD1048576
    would ask for 17 billion cells; such a sheet goes to the streaming reader.
    """
    out = _Survey()
    try:
        with zipfile.ZipFile(path) as archive:
            if "xl/workbook.xml" not in archive.namelist():
                out.plain = False
            for info in archive.infolist():
                name = info.filename
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    if info.file_size > MAX_SHEET_BYTES:
                        raise IngestError(
                            f"{path}: sheet {name} unpacks to {info.file_size:,} bytes; "
                            "too large for an export (save the table as CSV)"
                        )
                    with archive.open(info) as member:
                        places = (
                            out.merged.setdefault(name, set()),
                            out.hidden.setdefault(name, set()),
                        )
                        _scan(path, member, out, *places)
    except _ZIP_ERRORS as exc:
        raise _damaged(path, exc) from exc
    return out


def _scan(
    path: Path,
    member: IO[bytes],
    out: _Survey,
    merged: set[tuple[bytes, ...]],
    hidden: set[int],
) -> None:
    tail, cells, rows, last_row, width, wide_refs = b"", 0, 0, 0, 26, 0
    while block := member.read(_BLOCK):
        text = tail + block
        if out.plain and _ERROR_CELL.search(text):
            out.plain = False
        if not out.unfilled and b"<f" in text and _UNFILLED_FORMULA.search(text):
            out.unfilled, out.plain = True, False
        if b"hidden" in text:  # a row cut by the block boundary is whole in the next
            _hidden_rows(text, hidden)
        if b"<mergeCell" in text and len(merged) < _MAX_MERGES:
            merged.update(m.groups() for m in MERGE_REF.finditer(text))
        cells += block.count(b"<c ") + block.count(b"<c>")
        rows += block.count(b"<row ") + block.count(b"<row>")
        at = text.rfind(b"<row ")
        found = _ROW_TAG.match(text, at) if at >= 0 else None
        if found:
            last_row = max(last_row, int(found.group(1)))
        if wide_refs < 1_000_000:  # a genuinely wide table: stop counting, it is dense
            for ref in _WIDE_REF.finditer(block):
                wide_refs += 1
                width = max(width, _column_number(ref.group(1)))
        tail = block[-_TAIL:]
    if cells > MAX_CELLS:
        raise IngestError(
            f"{path}: a sheet holds {cells:,} cells, more than {MAX_CELLS:,}; "
            "too large for an export (save the table as CSV)"
        )
    if last_row * width > 8 * cells + 5_000_000 or last_row > 2 * rows + 10_000:
        out.sparse = True


def _hidden_rows(text: bytes, found: set[int]) -> None:
    """Add the 1-based numbers of the rows ``text`` marks hidden to ``found``."""
    for tag in _HIDDEN_ROW.finditer(text):
        number = _ROW_NUMBER.search(tag.group(0))
        if number:
            found.add(int(number.group(1)))


def _damaged(path: Path, exc: Exception) -> IngestError:
    return IngestError(f"{path}: not a readable XLSX workbook (damaged or truncated: {exc})")


def _no_sheet(path: Path, sheet: str, names: list[str]) -> IngestError:
    return IngestError(f"{path}: no sheet {sheet!r}; sheets: {', '.join(names)}")


def _nonempty(rows: Iterable[Iterable[object]]) -> Rows:
    out: Rows = []
    for i, row in enumerate(rows):
        cells: list[Cell] = [v if isinstance(v, dt.date) else cell_text(v) for v in row]
        while cells and cells[-1] is None:
            cells.pop()
        if cells:
            out.append((i, cells))
    return out


def _read_calamine(path: Path, sheet: str | None) -> tuple[str, Rows]:
    from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

    try:
        with path.open("rb") as handle:  # from the content, whatever the file is called
            book = CalamineWorkbook.from_filelike(handle)
    except (CalamineError, OSError) as exc:
        raise _damaged(path, exc) from exc
    with book:
        if sheet is not None and sheet not in book.sheet_names:
            raise _no_sheet(path, sheet, book.sheet_names)
        if sheet is None:
            tables = [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
            if not tables:
                raise IngestError(f"{path}: the workbook has no worksheet")
            sheet = tables[0]
        try:
            rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        except CalamineError as exc:
            raise IngestError(f"{path}: sheet {sheet!r} cannot be read (damaged: {exc})") from exc
    return sheet, _nonempty(rows)


def _read_openpyxl(path: Path, sheet: str | None, formulas: bool = False) -> tuple[str, Rows]:
    """Read a sheet with openpyxl; with ``formulas``, mark formulas without a stored value.

    openpyxl gives a formula's stored value, or None when there is none; read a second
    time for the formulas themselves, a None beside a formula is such a cell.
    """
    import openpyxl

    # Our own handle, closed on every way out: openpyxl leaves its archive open when the
    # workbook fails to load (a ResourceWarning, and a file handle per bad file).
    with path.open("rb") as handle:
        try:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except _ZIP_ERRORS as exc:
            raise _damaged(path, exc) from exc
        try:
            if sheet is not None and sheet not in book.sheetnames:
                raise _no_sheet(path, sheet, book.sheetnames)
            ws = book[sheet] if sheet is not None else book.worksheets[0]
            try:
                ws.reset_dimensions()  # a wrong stated size would cut rows and columns off
                values = ws.iter_rows(values_only=True)
                if formulas:
                    values = _with_unfilled(values, _formula_rows(path, ws.title))
                cells = _nonempty(values)
            except _ZIP_ERRORS as exc:
                raise IngestError(
                    f"{path}: sheet {ws.title!r} cannot be read (damaged: {exc})"
                ) from exc
        finally:
            book.close()
    return ws.title, cells


def _formula_rows(path: Path, title: str) -> Iterator[tuple[object, ...]]:
    """Yield the rows of a sheet as formulas (``=...``) where cells hold one."""
    import openpyxl

    with path.open("rb") as handle:  # a handle of its own: the first reader is mid-sheet
        book = openpyxl.load_workbook(handle, read_only=True, data_only=False)
        try:
            ws = book[title]
            ws.reset_dimensions()
            yield from ws.iter_rows(values_only=True)
        finally:
            book.close()


def _with_unfilled(
    values: Iterable[tuple[object, ...]], formulas: Iterator[tuple[object, ...]]
) -> Iterator[list[object]]:
    """Put :data:`UNFILLED` where a cell has a formula and no stored value."""
    for row in values:
        shown = next(formulas, ())
        yield [
            UNFILLED if v is None and i < len(shown) and shown[i] is not None else v
            for i, v in enumerate(row)
        ]


def check_first_sheet(path: Path, title: str, rows: Rows, known: frozenset[str]) -> None:
    """Refuse a first sheet without any of the schema's headers when others exist.

    Workbooks often open with a sheet of notes ("Toelichting") and keep the table on the
    next one. Read by default, the notes sheet gave a list of every required column as
    missing; naming the sheets and ``--sheet`` says what to do instead.

    Parameters
    ----------
    path : pathlib.Path
        The workbook.
    title : str
        The sheet read (the first).
    rows : list
        Its non-empty rows, as :func:`read_xlsx_cells` gives them.
    known : frozenset of str
        Comparison keys of the schema's headers and aliases.

    Raises
    ------
    IngestError
        When no cell of the first ten rows is a known header and the workbook has other
        sheets.
    """
    if not known:
        return
    for _, cells in rows[:10]:
        if any(isinstance(c, str) and header_key(c) in known for c in cells):
            return
    names = _sheet_names(path)
    if len(names) > 1:
        raise IngestError(
            f"{path}: the first sheet {title!r} holds none of the expected headers; "
            f"sheets: {', '.join(names)} (name the one with the table: --sheet NAME)"
        )


def _sheet_names(path: Path) -> list[str]:
    import openpyxl

    try:
        with path.open("rb") as handle:
            book = openpyxl.load_workbook(handle, read_only=True)
            try:
                return list(book.sheetnames)
            finally:
                book.close()
    except _ZIP_ERRORS:
        return []

"""XLSX reading: every cell of one sheet as text, the way Excel shows its value.

Two readers give the same cells. python-calamine (Rust) reads a sheet several times
faster than openpyxl, but it turns error cells (``#N/A``, ``#DIV/0!``) into empty ones,
and it finds the workbook part only at its usual place. So a workbook with an error
cell anywhere, or an unusual layout, is read by openpyxl (a sheet at a time, without
trusting the sheet's stated size, which some exporters get wrong); the error then shows
as its text and is rejected where a value was expected, as before.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

from evalkit.errors import IngestError
from evalkit.ingest._text import cell_text

__all__ = ["read_xlsx_cells"]

# An error cell is <c ... t="e">; a match in a string's text only costs the slower reader.
_ERROR_CELL = re.compile(rb"""\st\s*=\s*["']e["']""")
_BLOCK = 1 << 22
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError)


def read_xlsx_cells(path: Path, sheet: str | None) -> tuple[str, list[list[str | None]]]:
    """Read one sheet of a workbook as rows of text cells.

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
    cells : list of list of str or None
        Rows from the sheet's first row, cells from column A, ``None`` for empty cells.
        Rows may differ in length.

    Raises
    ------
    IngestError
        When the file is not a readable workbook or has no such sheet.
    """
    if _plain_workbook(path):
        return _read_calamine(path, sheet)
    return _read_openpyxl(path, sheet)


def _damaged(path: Path, exc: Exception) -> IngestError:
    return IngestError(f"{path}: not a readable XLSX workbook (damaged or truncated: {exc})")


def _no_sheet(path: Path, sheet: str, names: list[str]) -> IngestError:
    return IngestError(f"{path}: no sheet {sheet!r}; sheets: {', '.join(names)}")


def _plain_workbook(path: Path) -> bool:
    """Whether calamine reads this workbook exactly as openpyxl would."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "xl/workbook.xml" not in names:
                return False
            for name in names:
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    with archive.open(name) as member:
                        tail = b""
                        while block := member.read(_BLOCK):
                            if _ERROR_CELL.search(tail + block):
                                return False
                            tail = block[-16:]
    except _ZIP_ERRORS as exc:
        raise _damaged(path, exc) from exc
    return True


def _read_calamine(path: Path, sheet: str | None) -> tuple[str, list[list[str | None]]]:
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
    return sheet, [[cell_text(v) for v in row] for row in rows]


def _read_openpyxl(path: Path, sheet: str | None) -> tuple[str, list[list[str | None]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except _ZIP_ERRORS as exc:
        raise _damaged(path, exc) from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise _no_sheet(path, sheet, book.sheetnames)
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        try:
            ws.reset_dimensions()  # a wrong stated size would cut rows and columns off
            cells = [[cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        except _ZIP_ERRORS as exc:
            raise IngestError(
                f"{path}: sheet {ws.title!r} cannot be read (damaged: {exc})"
            ) from exc
    finally:
        book.close()
    return ws.title, cells

"""Merged cells of an XLSX sheet read as Excel shows them: one value down the range.

Excel keeps a merged range's value in its top-left cell only; the others are empty in
the file but show the value. Exports merge vertically in two places: a header over two
rows (``BSN`` merged over rows 1-2 beside ``Schulden`` with its sub-headers in row 2)
and a data column where one value holds for a block of rows (one municipality merged
over six people). Read cell by cell, the header lost its columns ("required column
missing") and the block its values ("required but empty"). A vertical range (one column,
several rows) is therefore filled down; ranges across columns are left as they are
(titles and group headers, which are not the table's header row).
"""

from __future__ import annotations

import re
import zipfile
from xml.etree import ElementTree

__all__ = ["MERGE_REF", "fill_down", "sheet_member"]

MERGE_REF = re.compile(rb"<mergeCell\b[^>]*?\sref=[\"']([A-Z]{1,3})(\d+):([A-Z]{1,3})(\d+)")
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def sheet_member(archive: zipfile.ZipFile, title: str) -> str | None:
    """Return the archive member of the sheet named ``title`` (None when not found)."""
    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile, OSError, ValueError):
        return None
    rid = next((s.get(_REL) for s in book.iter(f"{_MAIN}sheet") if s.get("name") == title), None)
    target = next(
        (r.get("Target") for r in rels.iter(f"{_PKG}Relationship") if r.get("Id") == rid), None
    )
    if not target:
        return None
    target = target.lstrip("/")
    return target if target.startswith("xl/") else f"xl/{target}"


def _column(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch) - 64
    return number - 1


def fill_down(
    rows: list[tuple[int, list[object]]], refs: set[tuple[bytes, bytes, bytes, bytes]]
) -> list[str]:
    """Fill each vertical merged range's value into the rows below it (in place).

    Parameters
    ----------
    rows : list of (int, list)
        The sheet's non-empty rows: 0-based row index and cells from column A.
    refs : set of (bytes, bytes, bytes, bytes)
        The merged ranges as found in the sheet XML: first column, row, last column, row.

    Returns
    -------
    list of str
        The ranges filled (``C2:C7``), in sheet order.
    """
    at = {index: cells for index, cells in rows}
    filled = []
    for c1, r1, c2, r2 in sorted(refs, key=lambda r: (int(r[1]), _column(r[0].decode()))):
        if c1 != c2 or int(r2) <= int(r1):
            continue  # across columns: a title or a group header, not filled
        column, top = _column(c1.decode()), int(r1) - 1
        source = at.get(top)
        value = source[column] if source is not None and column < len(source) else None
        if value is None:
            continue
        for index in range(top + 1, int(r2)):
            cells = at.get(index)
            if cells is None:  # a row with no value at all stays out: it is no data row
                continue
            cells.extend([None] * (column + 1 - len(cells)))
            if cells[column] is None:
                cells[column] = value
        filled.append(f"{c1.decode()}{int(r1)}:{c2.decode()}{int(r2)}")
    return filled

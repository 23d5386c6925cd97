"""Where a CSV that begins with a UTF-8 byte-order mark stops being UTF-8, and what to do.

Excel (and tools that copy its first bytes) can leave a UTF-8 byte-order mark in front
of a body saved as Windows-1252: ``café`` then holds the single byte 0xE9, which no
UTF-8 reader accepts. Guessing Windows-1252 for the rest would read such a file, but the
mark says UTF-8, so the file is refused with the row and column of the first such byte
and how to save it again. The cell's text is not shown: it may be a BSN.
"""

from __future__ import annotations

from evalkit.errors import IngestError

__all__ = ["bom_body_error"]

#: How to re-save the file, as Dutch Excel names the format.
ADVICE = (
    "advice: open the file in Excel and save it again as \"CSV UTF-8 (door komma's "
    'gescheiden)" (Opslaan als > CSV UTF-8), or save it without the byte-order mark'
)


def _place(body: bytes, start: int) -> tuple[int, str]:
    """Return the data row (0: the header) and the column name holding byte ``start``."""
    line_start = body.rfind(b"\n", 0, start) + 1
    row = body.count(b"\n", 0, line_start)
    header = body.split(b"\n", 1)[0].rstrip(b"\r")
    # the delimiter that splits the header most, as the reader picks it
    delimiter = max((b";", b",", b"\t"), key=header.count)
    field = body[line_start:start].count(delimiter)
    names = header.decode("utf-8", errors="replace").split(delimiter.decode())
    name = names[field].strip().strip('"') if field < len(names) else f"field {field + 1}"
    return row, name


def bom_body_error(body: bytes, exc: UnicodeDecodeError, file: str) -> IngestError:
    """Return the error for a file with a UTF-8 byte-order mark and a body that is not UTF-8.

    Parameters
    ----------
    body : bytes
        The file's bytes after the byte-order mark.
    exc : UnicodeDecodeError
        The UTF-8 decoder's error on ``body``.
    file : str
        The file's name, for the message.

    Returns
    -------
    IngestError
        Naming the file, the data row (1: the line under the header) and column, the
        rule ``encoding`` and the byte, with one line of advice.
    """
    row, column = _place(body, exc.start)
    where = "the header" if row == 0 else f"row {row}"
    byte = body[exc.start]
    return IngestError(
        f"{file}: {where}, column {column!r}: rule encoding: byte 0x{byte:02X} is not UTF-8, "
        "though the file starts with a UTF-8 byte-order mark (the text after it was saved "
        f"as Windows-1252, where 0x{byte:02X} is {bytes([byte]).decode('cp1252', 'replace')!r})"
        f"\n  {ADVICE}"
    )

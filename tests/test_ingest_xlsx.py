"""XLSX reading: the fast reader (python-calamine) and the exact one (openpyxl) agree."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import xlsxwriter

import evalkit.ingest._xlsx as xlsx
from evalkit.errors import IngestError
from evalkit.ingest import read_raw, validate_file

HEADER = ["Naam", "Aantal", "Bedrag", "Datum", "Tijdstip", "Tijd", "Code", "Vlag", "Leeg"]


def _workbook(path: Path, *, error_cell: bool = False) -> Path:
    """Title lines, a table from column B, a chart sheet first, and every kind of cell."""
    book = xlsxwriter.Workbook(str(path))
    chart = book.add_chart({"type": "column"})
    chart.add_series({"values": "=Data!$C$5:$C$8"})
    book.add_chartsheet("Grafiek").set_chart(chart)
    ws = book.add_worksheet("Data")
    date = book.add_format({"num_format": "DD-MM-YYYY"})
    stamp = book.add_format({"num_format": "dd-mm-yyyy hh:mm:ss"})
    time = book.add_format({"num_format": "hh:mm"})
    text = book.add_format({"num_format": "@"})
    ws.write_string(1, 1, "Export registratiesysteem")  # title line; row 3 stays empty
    ws.write_row(3, 1, HEADER)
    rows = [
        ["Anna", 3, 1234.5, dt.date(2024, 2, 29), dt.datetime(2024, 3, 1, 8, 15, 30), 0.5],
        ["  ", 0, 0.1, dt.date(2000, 1, 1), dt.datetime(2024, 3, 1), 0.75],
        ["Émile", 123456789, -2.25, dt.date(2099, 12, 31), dt.datetime(1999, 12, 31, 23, 59), 0],
        ["Zoë", 10**15, 3.0, dt.date(2024, 1, 1), dt.datetime(2024, 6, 30, 12), 0.999],
    ]
    for i, (name, count, amount, day, when, clock) in enumerate(rows, start=4):
        ws.write_string(i, 1, name)
        ws.write_number(i, 2, count)
        ws.write_number(i, 3, amount)
        ws.write_datetime(i, 4, dt.datetime.combine(day, dt.time()), date)
        ws.write_datetime(i, 5, when, stamp)
        ws.write_number(i, 6, clock, time)
        ws.write_string(i, 7, f"00{i}", text)  # a number stored as text keeps its zeros
        ws.write_boolean(i, 8, i % 2 == 0)
    ws.write_formula(8, 1, '="Som"', None, "Som")
    ws.write_formula(8, 2, "=SUM(C5:C8)", None, 1000000123456792)
    if error_cell:
        ws.write_formula(8, 3, "=NA()", None, "#N/A")
    book.close()
    return path


def _table(path: Path) -> tuple[list[list[str | None]], list[str], list[int], str]:
    raw = read_raw(path)
    text = pd.DataFrame({c: raw.text(c) for c in raw.frame.columns})  # date cells as shown
    frame = text.astype(object).where(text.notna(), None)
    return frame.values.tolist(), list(frame.columns), raw.rows.tolist(), raw.info["sheet"]


def test_both_readers_give_the_same_table(tmp_path: Path, monkeypatch) -> None:
    path = _workbook(tmp_path / "typed.xlsx")
    assert xlsx._survey(path).plain  # read by calamine
    fast = _table(path)
    streamed = xlsx._Survey()
    streamed.sparse = True
    monkeypatch.setattr(xlsx, "_survey", lambda _path: streamed)
    assert _table(path) == fast
    cells, columns, rows, sheet = fast
    assert sheet == "Data" and rows == [1, 2, 3, 4, 5]
    assert columns == ["unnamed_1", *HEADER]  # column A is empty
    assert cells[0] == [
        None,
        "Anna",
        "3",
        "1234.5",
        "2024-02-29",
        "2024-03-01 08:15:30",
        "12:00:00",
        "004",
        "1",
        None,
    ]
    assert cells[1][1] is None and cells[1][3] == "0.1" and cells[1][5] == "2024-03-01"
    assert cells[2][2] == "123456789" and cells[3][2] == "1000000000000000"
    assert cells[2][6] == "00:00:00" and cells[3][6] == "23:58:33.600000"
    assert cells[4][1:4] == ["Som", "1000000123456792", None]


def test_an_error_cell_reads_as_its_text_not_as_empty(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "error.xlsx", error_cell=True)
    assert not xlsx._survey(path).plain  # calamine would show #N/A as an empty cell
    cells, _, _, _ = _table(path)
    assert cells[4][1:4] == ["Som", "1000000123456792", "#N/A"]


def _claim_size(path: Path, ref: str) -> None:
    """Rewrite the sheets' stated size (<dimension>), as some exporters get it wrong."""
    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in entries:
            if info.filename.startswith("xl/worksheets/"):
                data = re.sub(
                    rb'<dimension ref="[^"]*"/>', f'<dimension ref="{ref}"/>'.encode(), data
                )
            dst.writestr(info, data)


@pytest.mark.parametrize("error_cell", [False, True], ids=["calamine", "openpyxl"])
def test_a_wrong_stated_sheet_size_loses_nothing(tmp_path: Path, error_cell: bool) -> None:
    path = _workbook(tmp_path / "size.xlsx", error_cell=error_cell)
    _claim_size(path, "A1:C3")
    cells, columns, rows, _ = _table(path)
    assert rows == [1, 2, 3, 4, 5] and len(columns) == 1 + len(HEADER)
    assert cells[3][1] == "Zoë" and cells[3][8] == "0"


def test_a_zip_that_is_no_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rekenblad.xlsx"
    with zipfile.ZipFile(path, "w") as archive:  # an OpenDocument sheet renamed .xlsx
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(IngestError, match=r"rekenblad.xlsx: not a readable XLSX workbook"):
        validate_file("case_events", path)


def test_a_damaged_sheet_is_refused_with_its_name(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "damaged.xlsx")
    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in entries:
            dst.writestr(
                info,
                data[: len(data) // 2] if info.filename == "xl/worksheets/sheet1.xml" else data,
            )
    with pytest.raises(IngestError, match=r"damaged"):
        read_raw(path, sheet="Data")

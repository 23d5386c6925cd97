"""Rows hidden in Excel (by hand or by an AutoFilter) are read, and a note says how many."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_corpus import bsns
from openpyxl import Workbook

from evalkit.cli import main

KEY = "benchmark-key-not-secret-4b7e1a9d2c5f8036"
HEADER = [
    "gemeentecode", "bsn", "maand", "geslacht", "leeftijd", "geboortemaand",
    "problematische_schuld", "ingeschreven", "startkwalificatie", "vsv", "dakloos",
    "werkend", "bijstand", "neet",
]  # fmt: skip
NOTE = "row(s) were hidden in Excel (hidden rows or an AutoFilter) and were read anyway"


def _workbook(tmp_path: Path, hide: list[int], autofilter: bool) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["Export uit het cliëntsysteem"])  # a title line: sheet row 1
    sheet.append(HEADER)  # sheet row 2
    for bsn in bsns(5):  # sheet rows 3 to 7
        sheet.append(["GM0344", bsn, "2025-01", "V", 20, "2005-03", 0, 1, 0, 0, 0, 0, 0, 0])
    if autofilter:  # Excel stores a filter's result as hidden rows under the filter's range
        sheet.auto_filter.ref = "A2:N7"
        sheet.auto_filter.add_filter_column(1, [bsns(5)[0]])
    for row in hide:
        sheet.row_dimensions[row].hidden = True
    path = tmp_path / "export.xlsx"
    book.save(path)
    return path


@pytest.mark.parametrize(
    ("hide", "autofilter", "count"),
    [([4, 6], False, 2), ([4, 5, 6, 7], True, 4), ([1], False, 0), ([], False, 0)],
    ids=["hidden rows", "autofilter", "title hidden", "none"],
)
def test_hidden_rows_are_read_with_a_note(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    hide: list[int],
    autofilter: bool,
    count: int,
) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    path = _workbook(tmp_path, hide, autofilter)
    store = tmp_path / "s.duckdb"
    assert main(["ingest", "outcome_panel", str(path), "--store", str(store), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    report = report[0] if isinstance(report, list) else report
    assert (report["rows_read"], report["accepted"], report["rejected"]) == (5, 5, 0)
    assert main(["validate", "outcome_panel", str(path)]) == 0
    out = capsys.readouterr().out
    notes = [line.strip() for line in out.splitlines() if NOTE in line]
    if count:
        assert notes == [f"note: {count} {NOTE}, like every other row"], out
    else:
        assert notes == [], out

"""XLSX formula cells without a stored value: rejected with their own reason, rows accounted.

openpyxl (and other libraries that make workbooks) write a formula without its result;
Excel computes and stores it on save. Both readers then saw an empty cell: a required
column said "required but empty", an optional one stored the row without the value.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import openpyxl
import pytest
from bad_corpus import make_bad

from evalkit.cli import main
from evalkit.ingest import Store, validate_file

HEADER = make_bad.PANEL_HEADER
FLAGS = ["ja", "nee", "nee", "nee", "geen", "nee", "nee", "nee"]
ADVICE = "formula without a stored value (open and save the file in Excel, or export values)"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", "formula-test-key-7b3e9d1f5a2c8046e1b9d3f7")


def _panel(path: Path) -> Path:
    """A panel as openpyxl writes it: age by formula in row 1, the amount in rows 1-2."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(HEADER)
    ws.append(["999999990", "01-01-2025", "GM0363", "01-05-2005", "M", "=2025-2006", "ja"])
    ws["H2"] = "=100*2"
    ws.append(["999434809", "01-01-2025", "GM0363", "01-05-2005", "V", 19, "ja", "=H2/2"])
    ws.append(["100000009", "01-01-2025", "GM0363", "01-05-2005", "V", 19, "nee", 0])
    # A totals line ("Totaal") of formulas only, as the pilot's sheet has under its table.
    ws.append([None] * 7 + ["=SUM(H2:H4)"])
    for row in ws.iter_rows(min_row=2, max_row=4, min_col=9, max_col=16):
        for cell, value in zip(row, FLAGS, strict=True):
            cell.value = value
    book.save(path)
    return path


def test_a_formula_without_a_value_is_rejected_naming_it_and_every_row_is_counted(
    tmp_path: Path,
) -> None:
    report = validate_file("outcome_panel", _panel(tmp_path / "panel.xlsx"))
    assert (report.rows_read, report.accepted, report.rejected) == (4, 1, 3)
    failures = report.failures
    formula = failures[failures["rule"] == "formula"]
    assert formula[["row", "column"]].values.tolist() == [
        [1, "age"],
        [1, "debt_amount"],
        [2, "debt_amount"],
        [4, "debt_amount"],
    ]
    assert set(formula["message"]) == {
        f"{ADVICE}: column 'Leeftijd'",
        f"{ADVICE}: column 'Schuldbedrag'",
    }
    # Not also "required but empty" for the formula cell itself.
    required = failures[failures["rule"] == "required"]
    assert not ((required["row"] == 1) & (required["column"] == "age")).any()
    assert 4 in set(required["row"])  # the totals line's empty person and month


def test_a_formula_with_its_stored_value_is_read_as_that_value(tmp_path: Path) -> None:
    # Excel keeps the result beside the formula: such a cell is its value, on either reader.
    made = _panel(tmp_path / "made.xlsx")
    saved = tmp_path / "saved.xlsx"
    with zipfile.ZipFile(made) as src, zipfile.ZipFile(saved, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                for formula, value in [
                    (b"2025-2006", b"19"),
                    (b"100*2", b"200"),
                    (b"H2/2", b"100"),
                    (b"SUM(H2:H4)", b"300"),
                ]:
                    data = data.replace(
                        b"<f>" + formula + b"</f><v></v>",
                        b"<f>" + formula + b"</f><v>" + value + b"</v>",
                    )
                assert b"<v></v>" not in data
            out.writestr(info, data)
    report = validate_file("outcome_panel", saved)
    assert (report.rows_read, report.accepted, report.rejected) == (4, 3, 1)
    assert "formula" not in set(report.failures["rule"])


def test_a_questionnaire_item_by_formula_is_not_read_as_not_asked(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["Respondent", "Gemeentecode", "Meting", "Afnamedatum", "zrm_financien", "nps"])
    ws.append(["999999990", "GM0363", "T0", "01-03-2025", "=1+2", 7])
    ws.append(["999434809", "GM0363", "T0", "01-03-2025", 3, "=B2"])
    ws.append(["100000009", "GM0363", "T0", "01-03-2025", 4, 8])
    book.save(tmp_path / "vragenlijst.xlsx")
    report = validate_file("questionnaire", tmp_path / "vragenlijst.xlsx")
    assert (report.rows_read, report.accepted, report.rejected) == (3, 1, 2)
    formula = report.failures[report.failures["rule"] == "formula"]
    assert formula[["row", "column"]].values.tolist() == [[1, "zrm_financien"], [2, "nps"]]


def test_the_cli_names_file_row_and_column_and_stores_nothing_raw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _panel(tmp_path / "deelnemers.xlsx")
    store = tmp_path / "s.duckdb"
    assert main(["ingest", "outcome_panel", str(path), "--store", str(store), "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["rows_read"] == report["accepted"] + report["rejected"] == 4
    assert {"row": 1, "column": "age", "rule": "formula", "value": None} | {
        "message": f"{ADVICE}: column 'Leeftijd'"
    } in report["failures"]
    with Store(store) as s:
        quarantine = s.quarantine()
    assert set(quarantine["_row"]) == {1, 2, 4}
    text = out + err + quarantine.to_csv()
    assert "999999990" not in text and "999434809" not in text

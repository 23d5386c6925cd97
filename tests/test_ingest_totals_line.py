"""A "Totaal" line under an export is rejected with one rule that says what it is."""

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
    "werkend", "bijstand", "neet", "schuldbedrag",
]  # fmt: skip


def _rows(first_bsn: bool, word: str) -> list[list[object]]:
    one, two = bsns(2)
    body: list[list[object]] = [
        ["GM0344", one, "2025-01", "M", 19, "2006-01", 1, 0, 0, 0, 0, 0, 1, 1, 1200],
        ["GM0344", two, "2025-01", "V", 20, "2005-03", 0, 1, 0, 0, 0, 0, 0, 0, 0],
        [word, None, None, None, None, None, 1, 1, 0, 0, 0, 0, 1, 1, 1200],
    ]
    rows = [HEADER, *body]
    if first_bsn:  # the word in the BSN column, the first of the export
        rows = [[r[1], r[0], *r[2:]] for r in rows]
        rows[-1][:2] = [word, None]
    return rows


def _write(tmp_path: Path, fmt: str, rows: list[list[object]]) -> Path:
    if fmt == "csv":
        path = tmp_path / "export.csv"
        text = "\n".join(";".join("" if v is None else str(v) for v in r) for r in rows)
        path.write_text(text + "\n", encoding="utf-8")
        return path
    path = tmp_path / "export.xlsx"
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize(
    ("fmt", "first_bsn", "word"),
    [("csv", False, "Totaal"), ("xlsx", True, "Totaal"), ("csv", True, "Total:")],
)
def test_a_totals_line_is_one_failure_and_still_rejected(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    first_bsn: bool,
    word: str,
) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    path = _write(tmp_path, fmt, _rows(first_bsn, word))
    store = tmp_path / "s.duckdb"
    assert main(["ingest", "outcome_panel", str(path), "--store", str(store), "--json"]) == 0
    said = capsys.readouterr()
    report = json.loads(said.out)
    report = report[0] if isinstance(report, list) else report
    assert (report["rows_read"], report["accepted"], report["rejected"]) == (3, 2, 1)
    assert [(f["row"], f["rule"]) for f in report["failures"]] == [(3, "totals_line")]
    message = report["failures"][0]["message"]
    assert message.startswith(f"looks like a totals line ({word!r} in the first column")
    assert "not a person" in message
    assert not any(b in said.out + said.err for b in bsns(2))


def test_a_person_whose_first_cell_says_total_keeps_its_own_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a valid BSN in the line it is a person's row: its failures are shown as they are."""
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    rows = _rows(False, "Totaal")
    rows[-1][1] = bsns(3)[2]
    path = _write(tmp_path, "csv", rows)
    assert main(["ingest", "outcome_panel", str(path), "--store", str(tmp_path / "s.db")]) == 0
    assert main(["validate", "outcome_panel", str(path), "--json"]) in (0, 1)
    out = capsys.readouterr().out
    assert "totals_line" not in out and "pattern" in out

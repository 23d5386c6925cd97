"""CBS municipality numbers without GM (``344``, ``0344``) read as ``GM0344``, with a note."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from hostile_corpus import bsns
from openpyxl import Workbook

from evalkit.cli import main

KEY = "benchmark-key-not-secret-4b7e1a9d2c5f8036"
HEADER = [
    "gemeentecode", "arbeidsmarktregio", "bsn", "maand", "geslacht", "leeftijd",
    "geboortemaand", "problematische_schuld", "ingeschreven", "startkwalificatie", "vsv",
    "dakloos", "werkend", "bijstand", "neet",
]  # fmt: skip
CODES: list[object] = [344, "0344", "GM0363", "Utrecht", 7]


def _write(tmp_path: Path, fmt: str) -> Path:
    people = bsns(len(CODES))
    rows: list[list[object]] = [HEADER]
    for code, bsn in zip(CODES, people, strict=True):
        region = 12 if code == 7 else "AM12"  # a number in another coded column: untouched
        rows.append([code, region, bsn, "2025-01", "M", 19, "2006-01", 0, 1, 0, 0, 0, 0, 0, 0])
    if fmt == "csv":
        path = tmp_path / "export.csv"
        path.write_text("\n".join(";".join(map(str, r)) for r in rows) + "\n", encoding="utf-8")
        return path
    path = tmp_path / "export.xlsx"
    book = Workbook()
    for row in rows:
        book.active.append(row)  # 344 and 7 as number cells
    book.save(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_plain_municipality_numbers_are_read_as_gm_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    store = tmp_path / "s.duckdb"
    path = _write(tmp_path, fmt)
    assert main(["ingest", "outcome_panel", str(path), "--store", str(store), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    report = report[0] if isinstance(report, list) else report
    assert (report["rows_read"], report["accepted"], report["rejected"]) == (5, 3, 2)
    failures = {(f["row"], f["column"], f["rule"]) for f in report["failures"]}
    assert failures == {(4, "municipality", "pattern"), (5, "region", "pattern")}
    with duckdb.connect(str(store), read_only=True) as con:
        stored = sorted(
            r[0] for r in con.execute("select municipality from outcome_panel").fetchall()
        )
    assert stored == ["GM0344", "GM0344", "GM0363"]
    assert main(["ingest", "outcome_panel", str(path), "--store", str(tmp_path / "t.duckdb")]) == 0
    out = capsys.readouterr().out
    # 344, 0344 and 7 (GM0007; its row fails on the region, a plain number left alone)
    assert (
        "note: municipality numbers without GM read as CBS codes (344 as GM0344): "
        "3 row(s) in column 'gemeentecode'"
    ) in out

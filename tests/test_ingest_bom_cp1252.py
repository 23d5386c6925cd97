"""A CSV with a UTF-8 byte-order mark and a Windows-1252 body gets its row, column and advice.

The mark says UTF-8, so the file is not guessed further; it is refused (exit 1) naming the
file, the row and column of the first byte that is not UTF-8 and how to save it again,
without the cell's text (a BSN may stand beside it).
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hostile_corpus import bsns

from evalkit.cli import main

KEY = "benchmark-key-not-secret-4b7e1a9d2c5f8036"


def _export(tmp_path: Path, bsn: str) -> Path:
    rows = [
        "bsn;maand;gemeentecode;opmerking",
        f"{bsn};2025-01;GM0344;geen",
        f"{bsn};2025-02;GM0344;café {bsn}",  # é as the single byte 0xE9
    ]
    path = tmp_path / "export.csv"
    path.write_bytes(codecs.BOM_UTF8 + "\r\n".join(rows).encode("cp1252") + b"\r\n")
    return path


@pytest.mark.parametrize("command", ["ingest", "validate"])
def test_bom_with_a_windows_1252_body_names_row_column_and_advice(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    bsn = bsns(1)[0]
    path = _export(tmp_path, bsn)
    args = [command, "outcome_panel", str(path)]
    if command == "ingest":
        args += ["--store", str(tmp_path / "s.duckdb")]
    assert main(args) == 1
    said = capsys.readouterr()
    text = said.out + said.err
    assert (
        f"{path}: row 2, column 'opmerking': rule encoding: byte 0xE9 is not UTF-8, though the "
        "file starts with a UTF-8 byte-order mark" in text
    ), text
    advice = [line for line in text.splitlines() if line.strip().startswith("advice:")]
    assert len(advice) == 1 and "CSV UTF-8 (door komma's gescheiden)" in advice[0]
    assert bsn not in text and "Traceback" not in text

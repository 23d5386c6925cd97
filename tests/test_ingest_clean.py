"""A clean CSV stored by DuckDB in one pass gives the store and report of the chunked path.

Every file is ingested three ways: the default (DuckDB's one-pass load of a clean file
tried first), the chunked path alone in small chunks, and the whole-file reader. The
stored table, quarantine, ingest log and report must be the same. A spy on the real
``store_clean_csv`` says whether the one-pass load kept the file (clean) or gave it
back to the chunked path (anything to reject or to decide).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from evalkit.ingest import Store, _api, _clean, ingest_files
from tests.test_ingest_chunks import HEADER, _bsns, _panel, _row, _store_frames

SMALL = 700


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", "clean-test-key-5d1f8b3a9e2c7046a1f3b8d5")


@pytest.fixture
def outcomes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record what each call of the one-pass load did: ``stored`` or the exception's name."""
    seen: list[str] = []
    real = _api.store_clean_csv

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            load = real(*args, **kwargs)
        except Exception as exc:
            seen.append(type(exc).__name__)
            raise
        seen.append("stored")
        return load

    monkeypatch.setattr(_api, "store_clean_csv", spy)
    return seen


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def plain(tmp: Path) -> Path:
    return _write(tmp / "plain.csv", HEADER + "\n" + "\n".join(_panel(30)) + "\n")


def bom_crlf(tmp: Path) -> Path:
    """Excel's UTF-8 with BOM and CRLF line ends, no line end after the last row."""
    return _write(tmp / "bom.csv", "\ufeff" + HEADER + "\r\n" + "\r\n".join(_panel(9)), "utf-8")


def comma_quoted(tmp: Path) -> Path:
    """Comma-delimited, decimal point, quoted cells with the delimiter and a line break."""
    header = HEADER.replace(";", ",") + ",Schuldbronnen"
    lines = []
    for i, line in enumerate(_panel(8, 4)):
        cells = line.split(";")
        cells[7] = "1234.50" if cells[7] != "0" else "0"
        note = '"DUO, belasting"' if i % 3 == 0 else ('"zorg\nverzekering"' if i % 5 == 0 else "")
        lines.append(",".join([*cells, note]))
    return _write(tmp / "comma.csv", header + "\n" + "\n".join(lines) + "\n")


def forms(tmp: Path) -> Path:
    """Other spellings of the same values: aliases, lost zeros, pseudonyms, date forms."""
    ids = _bsns(6)
    lines = [
        f"{ids[0][1:] if ids[0][0] == '0' else ids[0]};2025-01;GM0363;5-2005;vrouw;19;JA;"
        "1.234,50;1;0;nee;nee;nee;nee;nee",
        f"{ids[1][:3]}.{ids[1][3:6]}.{ids[1][6:]};01-2025;GM0363;05/2005;m;19;nee;0;ja;nee;nee;"
        "nee;nee;nee;nee",
        f"{'a' * 64};1-2025;GM0363;05-2005;X;19;nee;;ja;nee;nee;nee;nee;nee;nee",
        f"{ids[2]};02-2025;GM0363;2005-05;V;19;nee;12,5;ja;nee;nee;nee;nee;nee;nee",
    ]
    return _write(tmp / "forms.csv", HEADER + "\n" + "\n".join(lines) + "\n")


def free_text_bsn(tmp: Path) -> Path:
    """A BSN typed into free text: stored masked, as the chunked path masks it."""
    ids = _bsns(4)
    lines = [
        line + (f";zie dossier {ids[3]}" if i == 2 else ";DUO")
        for i, line in enumerate(_panel(3, 2))
    ]
    return _write(tmp / "free.csv", HEADER + ";Schuldbronnen\n" + "\n".join(lines) + "\n")


def spaces_and_quotes(tmp: Path) -> Path:
    """Spaces around cells, doubled quotes, and a header wrapped inside its quotes."""
    header = HEADER.replace("Geslacht", '"Ges\nlacht"') + ";Schuldbronnen"
    lines = []
    for i, line in enumerate(_panel(6, 3)):
        cells = line.split(";")
        cells[6] = f" {cells[6]} " if i % 2 else cells[6]
        note = ['"zegt ""DUO"""', " belasting ", '""', "  "][i % 4]
        lines.append(";".join([*cells, note]))
    return _write(tmp / "spaces.csv", header + "\n" + "\n".join(lines) + "\n")


CLEAN = [plain, bom_crlf, comma_quoted, forms, free_text_bsn, spaces_and_quotes]


def one_bad_value(tmp: Path) -> Path:
    lines = _panel(10)
    lines[17] = lines[17].replace("GM0363", "GM36")
    return _write(tmp / "bad.csv", HEADER + "\n" + "\n".join(lines) + "\n")


def repeated_key(tmp: Path) -> Path:
    lines = _panel(10)
    return _write(tmp / "repeat.csv", HEADER + "\n" + "\n".join([*lines, lines[3]]) + "\n")


def same_month_twice(tmp: Path) -> Path:
    """Two texts of one month (``1-2025``, ``01-2025``): a repeated key only once typed."""
    ids = _bsns(2)
    lines = [_row(ids[0], 1), _row(ids[0], 1).replace("01-2025", "1-2025", 1), _row(ids[1], 1)]
    return _write(tmp / "typed_repeat.csv", HEADER + "\n" + "\n".join(lines) + "\n")


def empty_row(tmp: Path) -> Path:
    lines = _panel(5)
    lines[4] = ";" * 14
    return _write(tmp / "empty_row.csv", HEADER + "\n" + "\n".join(lines) + "\n")


def short_row(tmp: Path) -> Path:
    lines = _panel(5)
    lines[7] = lines[7][:30]
    return _write(tmp / "short.csv", HEADER + "\n" + "\n".join(lines) + "\n")


def rule_fails(tmp: Path) -> Path:
    lines = _panel(5)
    lines[2] = _row(_bsns(5)[0], 3, neet="ja")  # NEET but enrolled
    return _write(tmp / "rule.csv", HEADER + "\n" + "\n".join(lines) + "\n")


def sep_line(tmp: Path) -> Path:
    return _write(tmp / "sep.csv", "sep=;\n" + HEADER + "\n" + "\n".join(_panel(4)) + "\n")


NOT_CLEAN = [one_bad_value, repeated_key, same_month_twice, empty_row, short_row, rule_fails]


def _three_ways(paths: list[Path], tmp: Path, **kw: Any) -> list[dict[str, Any]]:
    """Ingest the files by default, chunked only and whole; return each way's outcome."""
    out = []
    for name, extra in (
        ("default", {}),
        ("chunked", {"clean_first": False, "chunk_bytes": SMALL}),
        ("whole", {"chunk_bytes": None}),
    ):
        store = tmp / f"{name}.duckdb"
        reports = ingest_files("outcome_panel", paths, store_path=store, **kw, **extra)
        out.append({"reports": [_report(r) for r in reports], **_store_frames(store)})
    return out


def _report(report: Any) -> dict[str, Any]:
    as_dict = report.to_dict()
    return {k: v for k, v in as_dict.items() if k != "ingested_at"}


def _same(ways: list[dict[str, Any]]) -> None:
    first = ways[0]
    for other in ways[1:]:
        assert first["reports"] == other["reports"]
        for name in ("table", "quarantine", "log"):
            pd.testing.assert_frame_equal(first[name], other[name])


@pytest.mark.parametrize("make", CLEAN, ids=lambda f: f.__name__)
def test_a_clean_file_is_stored_in_one_pass_as_the_chunked_path_stores_it(
    make: Callable[[Path], Path], tmp_path: Path, outcomes: list[str]
) -> None:
    path = make(tmp_path)
    ways = _three_ways([path], tmp_path)
    assert outcomes == ["stored"]
    assert ways[0]["reports"][0]["rejected"] == 0
    assert len(ways[0]["table"]) == ways[0]["reports"][0]["rows_read"] > 0
    _same(ways)


@pytest.mark.parametrize("make", [*NOT_CLEAN, sep_line], ids=lambda f: f.__name__)
def test_anything_not_clean_is_left_to_the_chunked_path(
    make: Callable[[Path], Path], tmp_path: Path, outcomes: list[str]
) -> None:
    path = make(tmp_path)
    ways = _three_ways([path], tmp_path)
    assert outcomes == ["NotClean"]
    if make not in (empty_row, sep_line):  # a row of empty cells is skipped, not rejected
        assert ways[0]["reports"][0]["rejected"] > 0
    _same(ways)


def test_a_key_repeated_past_the_files_start_is_found_after_the_read(
    tmp_path: Path, outcomes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The early look covers the first bytes only; the read's own key check finds the rest."""
    path = repeated_key(tmp_path)
    monkeypatch.setattr(_clean, "_HEAD_BYTES", 1024)  # the repeat lies past the first 1 KB
    assert path.stat().st_size > 4 * 1024
    ways = _three_ways([path], tmp_path)
    assert outcomes == ["NotClean"]
    assert ways[0]["reports"][0]["rejected"] == 1  # the exact copy, as the whole file gives
    _same(ways)


def test_a_key_repeated_near_the_files_end_is_left_to_the_chunked_path(
    tmp_path: Path, outcomes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last rows are looked at too: a cumulative export repeats earlier rows there."""
    lines = _panel(10)
    path = _write(tmp_path / "tail.csv", HEADER + "\n" + "\n".join([*lines, lines[55]]) + "\n")
    monkeypatch.setattr(_clean, "_HEAD_BYTES", 1024)
    read, real = [], _clean._texts
    monkeypatch.setattr(_clean, "_texts", lambda src, plan: read.append(src) or real(src, plan))
    ways = _three_ways([path], tmp_path)
    assert outcomes == ["NotClean"]
    assert len(read) == 2 and not any(isinstance(s, pa.OSFile) for s in read)  # never whole
    assert ways[0]["reports"][0]["rejected"] == 1
    _same(ways)


def test_a_file_over_the_size_cap_takes_the_chunked_path(
    tmp_path: Path, outcomes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The texts and typed values of the one pass are held at once: big files stream."""
    path = plain(tmp_path)
    monkeypatch.setattr(_clean, "CLEAN_MAX_BYTES", path.stat().st_size - 1)
    ways = _three_ways([path], tmp_path)
    assert outcomes == ["NotClean"]
    assert ways[0]["reports"][0]["accepted"] == 180
    _same(ways)


def test_a_value_the_insert_refuses_is_left_to_the_chunked_path(
    tmp_path: Path, outcomes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DuckDB error in the one pass's insert is no traceback: the chunked path stores."""
    path = plain(tmp_path)
    narrow = {**_clean.SQL_TYPES, "number": "DECIMAL(3, 0)"}  # 1.234,50 overflows it
    monkeypatch.setattr(_clean, "SQL_TYPES", narrow)
    ways = _three_ways([path], tmp_path)
    assert outcomes == ["NotClean"]
    assert ways[0]["reports"][0]["accepted"] == 180
    _same(ways)


def test_a_free_text_bsn_is_stored_masked(tmp_path: Path, outcomes: list[str]) -> None:
    path = free_text_bsn(tmp_path)
    ingest_files("outcome_panel", [path], store_path=tmp_path / "s.duckdb")
    assert outcomes == ["stored"]
    with Store(tmp_path / "s.duckdb") as store:
        sources = store.table("outcome_panel")["debt_sources"].dropna().tolist()
    assert _bsns(4)[3] not in " ".join(sources)
    assert any("dossier" in s for s in sources)


@pytest.mark.parametrize("rule", ["refuse", "keep_latest", "keep_both"])
def test_a_second_delivery_overlapping_the_first_follows_the_rule(
    rule: str, tmp_path: Path, outcomes: list[str]
) -> None:
    ids = _bsns(8)
    first = _write(
        tmp_path / "jan.csv",
        HEADER + "\n" + "\n".join(_row(b, m) for b in ids for m in (1, 2)) + "\n",
    )
    second = _write(
        tmp_path / "feb.csv",
        HEADER + "\n" + "\n".join(_row(b, m, debt="ja") for b in ids for m in (2, 3)) + "\n",
    )
    fresh = _write(tmp_path / "mar.csv", HEADER + "\n" + "\n".join(_row(b, 4) for b in ids) + "\n")
    ways = _three_ways([first, second, fresh], tmp_path, overlap=rule)
    # per way: the first file and the third (no overlap) in one pass, the second not
    assert outcomes == ["stored", "NotClean", "stored"]
    _same(ways)


def test_a_needs_list_stores_a_narrower_export(tmp_path: Path, outcomes: list[str]) -> None:
    header = "BSN;Maand;Gemeentecode;Geboortemaand;Geslacht;Leeftijd;Problematische schuld"
    lines = [";".join(line.split(";")[:7]) for line in _panel(6)]
    path = _write(tmp_path / "debts.csv", header + "\n" + "\n".join(lines) + "\n")
    ways = _three_ways([path], tmp_path, needs={"problematic_debt"})
    assert outcomes == ["stored"]
    assert ways[0]["table"]["enrolled"].isna().all()
    _same(ways)

"""A CSV ingested in many small chunks gives the store, quarantine and report of the whole file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.ingest import Store, ingest_files, validate_file
from evalkit.ingest._chunks import csv_chunks, plan_csv

HEADER = (
    "BSN;Maand;Gemeentecode;Geboortemaand;Geslacht;Leeftijd;Problematische schuld;"
    "Schuldbedrag;Ingeschreven onderwijs;Startkwalificatie behaald;Voortijdig schoolverlaten;"
    "Dakloos;Werkend;Bijstandsuitkering;Geen werk geen opleiding"
)
SMALL = 600  # bytes per chunk: a few rows each, so every file below spans many chunks


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", "chunk-test-key-7c2e9a4f1b6d3085e2a7c4f9b1d6")


def _bsns(n: int) -> list[str]:
    out, base = [], 10_000_000
    while len(out) < n:
        digits = [int(d) for d in str(base)]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10:
            out.append(f"{base}{check}")
        base += 1
    return out


def _row(bsn: str, month: int, *, debt: str = "nee", neet: str = "nee", age: str = "") -> str:
    age = age or ("19" if month < 5 else "20")
    amount = "1.234,50" if debt == "ja" else "0"
    cells = [bsn, f"{month:02d}-2025", "GM0363", "05-2005", "V", age, debt, amount]
    return ";".join([*cells, "ja", "nee", "nee", "nee", "nee", "nee", neet])


def _panel(persons: int = 12, months: int = 6) -> list[str]:
    ids = _bsns(persons)
    return [
        _row(b, m, debt="ja" if i % 3 == 0 else "nee")
        for i, b in enumerate(ids)
        for m in range(1, months + 1)
    ]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def regular(tmp: Path) -> Path:
    return _write(tmp / "regular.csv", _panel())


def irregular(tmp: Path) -> Path:
    lines = _panel()
    lines[3] = lines[3][:25]  # a short row: the export broke a line
    lines[17] += ";;;"  # trailing empty fields: the row still fits
    lines[30] += ";extra;cells"  # a long row
    lines[41] = ";;;;;;;;;;;;;;"  # a row of empty cells: skipped, its number kept
    lines[52] = lines[52].replace("GM0363", '"GM\n0363"')  # a line break inside quotes
    lines[60] = "onzin"  # one field (wrong delimiter?)
    return _write(tmp / "irregular.csv", lines)


def duplicates(tmp: Path) -> Path:
    lines = _panel()
    ids = _bsns(12)
    lines.insert(40, lines[2])  # an exact copy of a row many chunks earlier
    lines.append(lines[5])  # and one at the very end
    for _ in range(6):  # one key seven times with different values: all rows conflict
        lines.append(_row(ids[4], 3, debt="ja"))
    lines.insert(25, _row(ids[7], 2, debt="ja"))  # a conflict straddling the chunks
    return _write(tmp / "duplicates.csv", lines)


def far_copy(tmp: Path) -> Path:
    """One exact copy many chunks after its row: each chunk alone repeats no key."""
    lines = _panel()
    return _write(tmp / "far_copy.csv", [*lines, lines[0]])


def rejected(tmp: Path) -> Path:
    lines = _panel(persons=20)
    for i in range(0, len(lines), 9):
        cells = lines[i].split(";")
        cells[[1, 2, 5, 6, 14][i % 5]] = ["31-02-2025", "XX12", "45", "soms", "ja"][i % 5]
        lines[i] = ";".join(cells)
    lines[11] = "123456789" + lines[11][9:]  # not elfproef
    return _write(tmp / "rejected.csv", lines)


FILES = [regular, irregular, duplicates, far_copy, rejected]


def _store_frames(path: Path) -> dict[str, pd.DataFrame]:
    with Store(path) as store:
        table = store.table("outcome_panel").reset_index(drop=True)
        quarantine = store.quarantine().sort_values(
            ["_row", "rule", "column", "message"], kind="stable"
        )
        log = store.ingest_log().drop(columns=["ingested_at"])
    return {"table": table, "quarantine": quarantine.reset_index(drop=True), "log": log}


def _ingest(paths: list[Path], store: Path, chunk: int | None, **kw: object) -> list:
    return ingest_files("outcome_panel", paths, store_path=store, chunk_bytes=chunk, **kw)  # type: ignore[arg-type]


def _same_reports(chunked: list, whole: list) -> None:
    for a, b in zip(chunked, whole, strict=True):
        assert (a.rows_read, a.accepted, a.rejected, a.stored_rows) == (
            b.rows_read,
            b.accepted,
            b.rejected,
            b.stored_rows,
        )
        assert a.rows_read == a.accepted + a.rejected
        assert a.notes == b.notes
        pd.testing.assert_frame_equal(
            a.failures.reset_index(drop=True), b.failures.reset_index(drop=True)
        )


@pytest.mark.parametrize("make", FILES, ids=lambda f: f.__name__)
def test_many_chunks_give_the_whole_file_result(make, tmp_path: Path) -> None:
    path = make(tmp_path)
    plan = plan_csv(path, str(path))
    assert plan is not None
    assert sum(1 for _ in csv_chunks(plan, SMALL)) >= 8  # the file really is read in pieces
    chunked = _ingest([path], tmp_path / "chunked.duckdb", SMALL)
    whole = _ingest([path], tmp_path / "whole.duckdb", None)
    _same_reports(chunked, whole)
    got, want = _store_frames(tmp_path / "chunked.duckdb"), _store_frames(tmp_path / "whole.duckdb")
    for name in ("table", "quarantine", "log"):
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False)
    v_chunked = validate_file("outcome_panel", path, chunk_bytes=SMALL)
    v_whole = validate_file("outcome_panel", path, chunk_bytes=None)
    assert v_chunked.to_dict() == v_whole.to_dict()


def test_the_cases_are_in_the_files(tmp_path: Path) -> None:
    """The equivalence above is only worth something if each file has what it claims."""
    rules = {
        make.__name__: set(
            _ingest([make(tmp_path)], tmp_path / f"{make.__name__}.duckdb", SMALL)[0].failures[
                "rule"
            ]
        )
        for make in FILES
    }
    assert rules["regular"] == set()
    assert rules["irregular"] == {"columns", "pattern"}  # the quoted line break sits in GM…
    assert rules["duplicates"] == {"duplicate_row", "unique"}
    assert rules["far_copy"] == {"duplicate_row"}
    assert {"type", "pattern", "range", "age_consistent", "elfproef"} <= rules["rejected"]


@pytest.mark.parametrize("rule", ["refuse", "keep_latest", "keep_both"])
def test_overlaps_across_files_are_the_same_in_chunks(rule: str, tmp_path: Path) -> None:
    lines = _panel()
    first = _write(tmp_path / "jan.csv", lines[:40])
    second = _write(tmp_path / "feb.csv", [*lines[20:], _row(_bsns(30)[-1], 1)])
    results = {}
    for chunk in (SMALL, None):
        store = tmp_path / f"{rule}_{chunk}.duckdb"
        results[chunk] = _ingest([first, second], store, chunk, overlap=rule)
    _same_reports(results[SMALL], results[None])
    assert "overlap" in " ".join(results[SMALL][1].notes)
    got = _store_frames(tmp_path / f"{rule}_{SMALL}.duckdb")
    want = _store_frames(tmp_path / f"{rule}_None.duckdb")
    for name in ("table", "quarantine"):
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False)


def test_a_file_arrow_cannot_stream_takes_the_whole_file_path(tmp_path: Path) -> None:
    """Blank lines keep the exact reader (Arrow would drop them uncounted); nothing is lost."""
    lines = _panel()
    blank = tmp_path / "blank.csv"
    blank.write_text(HEADER + "\n" + "\n".join(lines[:10]) + "\n\n" + "\n".join(lines[10:]) + "\n")
    assert plan_csv(blank, "blank.csv") is None
    report = _ingest([blank], tmp_path / "s.duckdb", SMALL)[0]
    assert report.rows_read == report.accepted == len(lines)


def test_an_unbalanced_quote_falls_back_and_rolls_back(tmp_path: Path) -> None:
    """Arrow gives up mid-file (in the first pass, before anything is stored): the exact reader
    decides, as it does for the whole file."""
    lines = _panel()
    lines[50] = '"' + lines[50]  # the quote never closes: the rest of the file is one cell
    path = _write(tmp_path / "quote.csv", lines)
    chunked = _ingest([path], tmp_path / "a.duckdb", SMALL)
    whole = _ingest([path], tmp_path / "b.duckdb", None)
    _same_reports(chunked, whole)
    got, want = _store_frames(tmp_path / "a.duckdb"), _store_frames(tmp_path / "b.duckdb")
    pd.testing.assert_frame_equal(got["table"], want["table"], check_dtype=False)
    assert np.array_equal(got["quarantine"]["_row"], want["quarantine"]["_row"])


def copies(tmp: Path) -> Path:
    """A cumulative export: rows repeated exactly, within a chunk and many chunks later."""
    lines = _panel()
    again = [lines[i] for i in (0, 1, 0, 30, 5, 5, 71)]
    return _write(tmp / "copies.csv", [*lines[:10], lines[3], *lines[10:], *again])


def _no_second_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was read again in two passes")

    monkeypatch.setattr("evalkit.ingest._api.find_duplicate_keys", refuse)


def test_exact_copies_are_found_in_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Repeated rows that copy earlier ones (however far back) need no pass over the keys."""
    path = copies(tmp_path)
    whole = _ingest([path], tmp_path / "whole.duckdb", None)
    _no_second_pass(monkeypatch)
    chunked = _ingest([path], tmp_path / "chunked.duckdb", SMALL)
    _same_reports(chunked, whole)
    assert set(chunked[0].failures["rule"]) == {"duplicate_row"}
    assert chunked[0].rejected == 8
    got, want = _store_frames(tmp_path / "chunked.duckdb"), _store_frames(tmp_path / "whole.duckdb")
    for name in ("table", "quarantine", "log"):
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False)
    assert validate_file("outcome_panel", path, chunk_bytes=SMALL).to_dict() == (
        validate_file("outcome_panel", path, chunk_bytes=None).to_dict()
    )


@pytest.mark.parametrize("make", [copies, duplicates, far_copy], ids=lambda f: f.__name__)
def test_keys_beyond_memory_go_to_disk_with_the_same_result(
    make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for a few keys in memory the rest are checked on disk: same store, report."""
    path = make(tmp_path)
    whole = _ingest([path], tmp_path / "whole.duckdb", None)
    monkeypatch.setattr("evalkit.ingest._copykeys.MEMORY_KEYS", 7)
    chunked = _ingest([path], tmp_path / "chunked.duckdb", SMALL)
    _same_reports(chunked, whole)
    got, want = _store_frames(tmp_path / "chunked.duckdb"), _store_frames(tmp_path / "whole.duckdb")
    for name in ("table", "quarantine", "log"):
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False)


def test_first_rows_find_every_key_given_and_no_other() -> None:
    """The in-memory index of first rows, over many segments (merged as they grow)."""
    from evalkit.ingest._copykeys import FirstRows
    from evalkit.ingest._keyindex import KeysRepeat

    rng = np.random.default_rng(3)
    index, given = FirstRows(), []
    for part in range(40):
        k1 = rng.integers(0, 2**63, 997, dtype=np.uint64) * np.uint64(2)
        k2 = rng.integers(0, 2**63, 997, dtype=np.uint64)
        assert (index.find(k1, k2)[0] == -1).all()  # new keys: none found
        rows = np.arange(part * 997, (part + 1) * 997)
        index.add({"k1": k1, "k2": k2, "h": k2 ^ np.uint64(5), "r": rows})
        given.append((k1, k2))
    assert len(index.segments) < 10 and index.size == 40 * 997
    k1, k2 = (np.concatenate(x) for x in zip(*given, strict=True))
    pick = rng.permutation(len(k1))[:3000]
    first, raw = index.find(k1[pick], k2[pick])
    assert (first == pick).all() and (raw == k2[pick] ^ np.uint64(5)).all()
    other = k2[pick] + np.uint64(1)  # same k1, another k2: a collision, never a match
    assert (index.find(k1[pick], other, strict=False)[0] == -1).all()
    with pytest.raises(KeysRepeat):
        index.find(k1[pick], other)

"""The one-pass load works on codes into distinct texts and reads a clean file once.

Codes (``_codes``): repeated keys and distinct combinations agree with a plain Python
count in all three ways of computing them (a table over the range, a sort, a sort of
several columns when the range overflows). The one-pass load (``_clean``) no longer
scans the whole file before Arrow reads it: files that scan was there for (text that
is not UTF-8, blank lines, a blank line inside quotes) still leave the one pass and
end stored exactly as the chunked and whole-file paths store them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from evalkit.ingest import _chunks
from evalkit.ingest._codes import coded_column, distinct_combinations, repeats
from tests.test_ingest_chunks import HEADER, _bsns, _panel, _row
from tests.test_ingest_clean import _same, _three_ways

WIDE = [(1 << 40) + 7, (1 << 30) + 3]  # a range past int64 when combined


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", "codes-test-key-8c2e5a1f7b3d9046e1a5c7b2")


@pytest.mark.parametrize("sizes", [[5, 3], [40_000, 50_000], WIDE], ids=["dense", "sparse", "wide"])
@pytest.mark.parametrize("seed", range(4))
def test_repeats_and_combinations_agree_with_a_plain_count(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(2, 60))
    codes = [rng.integers(0, min(s, 6), size=rows).astype(np.int64) for s in sizes]
    if seed % 2:  # codes high in the range too
        codes = [c + (s - min(s, 6)) for c, s in zip(codes, sizes, strict=True)]
    pairs = list(zip(*(c.tolist() for c in codes), strict=True))
    assert repeats(codes, sizes) == (len(set(pairs)) < len(pairs))
    found = distinct_combinations(codes, sizes)
    assert sorted(zip(*(f.tolist() for f in found), strict=True)) == sorted(set(pairs))


def test_no_rows_and_one_row_repeat_nothing() -> None:
    one = [np.array([3], dtype=np.int64)]
    assert not repeats(one, [4])
    assert not repeats([np.zeros(0, dtype=np.int64)], [1])
    assert [f.tolist() for f in distinct_combinations(one, [4])] == [[3]]


def test_a_coded_column_gives_back_every_text_and_empty_cell() -> None:
    """Chunks with dictionaries of their own, and empty cells, read back in file order."""
    kind = pa.dictionary(pa.int32(), pa.string())
    parts = [["b", None, "a", "b"], ["c", "a", None], []]
    column = pa.chunked_array([pa.array(p, type=pa.string()).cast(kind) for p in parts])
    coded = coded_column(column)
    texts = coded.texts.tolist()
    back = [texts[c] for c in coded.codes]
    flat = [v for p in parts for v in p]
    assert [None if pd.isna(v) else v for v in back] == flat
    assert coded.size == 4 and pd.isna(texts[-1])  # a, b, c and the empty cell


def _write(path: Path, text: bytes) -> Path:
    path.write_bytes(text)
    return path


def plain(tmp: Path) -> Path:
    return _write(tmp / "plain.csv", (HEADER + "\n" + "\n".join(_panel(20)) + "\n").encode())


def latin1_late(tmp: Path) -> Path:
    """UTF-8 header, a Windows-1252 ``é`` in a free-text cell far down the file."""
    lines = [line + ";DUO" for line in _panel(20)]
    lines[100] = lines[100][:-3] + "caf\xe9"
    body = "\n".join(lines).encode("cp1252")
    return _write(tmp / "latin.csv", (HEADER + ";Schuldbronnen\n").encode() + body + b"\n")


def blank_line(tmp: Path) -> Path:
    lines = _panel(20)
    lines[50] = ""
    return _write(tmp / "blank.csv", (HEADER + "\n" + "\n".join(lines) + "\n").encode())


def blank_line_quoted(tmp: Path) -> Path:
    """A quoted cell with a blank line inside (a note with an empty line)."""
    note = ';"regel een\n\nregel twee"'
    lines = [line + (note if i == 30 else ";DUO") for i, line in enumerate(_panel(20))]
    text = HEADER + ";Schuldbronnen\n" + "\n".join(lines) + "\n"
    return _write(tmp / "quoted.csv", text.encode())


def some_bad_rows(tmp: Path) -> Path:
    """Bad values, a typed repeat of a key, a rule broken and a short row among good rows."""
    ids = _bsns(30)
    lines = _panel(20)
    lines[7] = lines[7].replace("GM0363", "GM36")
    lines[40] = _row(ids[2], 3).replace("03-2025", "3-2025", 1)  # typed repeat of a key
    lines[60] = _row(ids[25], 2, neet="ja")
    lines[90] = lines[90][:25]
    return _write(tmp / "bad.csv", (HEADER + "\n" + "\n".join(lines) + "\n").encode())


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every whole-file scan of the streaming plan."""
    seen: list[Path] = []
    real = _chunks._scan

    def spy(path: Path) -> bool:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(_chunks, "_scan", spy)
    return seen


def test_a_clean_file_is_read_once_without_a_scan_first(tmp_path: Path, scans: list[Path]) -> None:
    ways = _three_ways([plain(tmp_path)], tmp_path)
    assert len(scans) == 1  # only the chunked way (clean_first=False) plans with a scan
    assert ways[0]["reports"][0]["accepted"] == 120
    _same(ways)


@pytest.mark.parametrize(
    "make", [latin1_late, blank_line, blank_line_quoted, some_bad_rows], ids=lambda f: f.__name__
)
def test_what_the_scan_was_for_still_leaves_the_one_pass(
    make: Callable[[Path], Path], tmp_path: Path, scans: list[Path]
) -> None:
    path = make(tmp_path)
    ways: list[dict[str, Any]] = _three_ways([path], tmp_path)
    report = ways[0]["reports"][0]
    assert report["rows_read"] == report["accepted"] + report["rejected"]
    assert len(ways[0]["table"]) == report["accepted"]
    _same(ways)

"""The CSV scan before streaming, and the shown key texts of duplicate rows, on their edges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.ingest import _chunks
from evalkit.ingest._validate import key_text


@pytest.mark.parametrize(
    ("content", "streamable"),
    [
        (b"a;b\n1;2\n", True),
        (b"a;b\n1;2\n\n3;4\n", False),  # a blank line
        (b"a;b\n1;2\n\r\n3;4\n", False),  # a blank line with CRLF
        (b"a;b\r\n1;2\r\n", True),
        (b"a;b\n1;\xc3\xa9\n", True),  # a two-byte character
        (b"a;b\n1;\xc3\n2;3\n", False),  # half a character, then ASCII
        (b"a;b\n1;\xc3;\xa9\n", False),  # a character's halves apart: ASCII between
        (b"a;b\n1;\xff\n", False),  # not UTF-8 at all
        (b"a;b\n1;2\xc3", False),  # the file ends inside a character
        (b"a;b;c", False),  # no line break
    ],
)
@pytest.mark.parametrize("block", [1, 2, 3, 1 << 22])
def test_scan_finds_blank_lines_and_bad_utf8_across_block_edges(
    content: bytes, streamable: bool, block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    monkeypatch.setattr(_chunks, "_SCAN_BYTES", block)
    assert _chunks._scan(path) is streamable


def _object_texts(values: pd.Series, pos: np.ndarray) -> list[str]:
    return pd.Series(values.iloc[pos].to_numpy(), dtype=object).astype(str).fillna("").tolist()


def test_key_text_of_text_and_categorical_columns_is_their_str() -> None:
    rng = np.random.default_rng(3)
    n = 500
    cats = pd.Index([f"{i:064x}" for i in range(40)], dtype="str")
    shown = {
        "person_id": pd.Series(pd.Categorical.from_codes(rng.integers(-1, 40, n), cats)),
        "month": pd.Series(np.where(rng.random(n) < 0.2, None, "2025-03"), dtype="str"),
        "note": pd.Series(pd.array(["a €", None, ""] * (n // 3) + ["x"] * (n % 3), dtype="string")),
        "age": pd.Series([19, None, 20.5, "x"] * (n // 4), dtype=object),
    }
    pos = np.sort(rng.choice(n, 300, replace=False))
    texts = key_text(shown, ("person_id", "month", "note", "age"), pos)
    parts = [_object_texts(shown[k], pos) for k in ("person_id", "month", "note", "age")]
    assert texts.tolist() == [", ".join(p) for p in zip(*parts, strict=True)]
    assert any(t.startswith(", ") for t in texts)  # a missing pseudonym shows as empty

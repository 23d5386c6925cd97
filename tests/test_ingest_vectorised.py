"""The vectorised rejection bookkeeping says exactly what the row-by-row code said.

The quarantine's row content and the masking of failure values were written row by
row (one dictionary and one ``json.dumps`` per rejected row, one ``mask_bsns`` per
distinct value). They are now built column by column; these tests keep the row-by-row
code as the reference and compare on hostile values.
"""

from __future__ import annotations

import hashlib
import json
import random

import numpy as np
import pandas as pd

from evalkit.ingest._content import row_content, row_contents
from evalkit.ingest._privacy import mask_bsns, mask_series


def _reference_content(shown: dict[str, pd.Series], positions: np.ndarray) -> list[str]:
    """The row-by-row content: a dict per row, nulls as None, ``json.dumps`` each."""
    columns = {}
    for name, values in shown.items():
        part = values.iloc[positions]
        columns[name] = mask_series(part).to_numpy(dtype=object)
    frame = pd.DataFrame(columns)
    frame = frame.astype(object).where(frame.notna(), None)
    return [json.dumps(rec, ensure_ascii=False) for rec in frame.to_dict("records")]


def _hostile_texts(n: int, seed: int) -> list[str | None]:
    pieces = [
        "999999990",  # elfproef-valid: must come out masked
        "９９９９９９９９０",
        "12345672",
        "999 999 990",
        'quote " and \\ backslash',
        "tab\tnew\nline\r",
        "\x00\x1f control",
        "é ü ñ 日本 🙂",
        "\u2028 separator",
        "GM0363",
        "",
        " ",
        hashlib.sha256(b"p").hexdigest(),
        "[BSN:0123456789ab]",
        "1.234,50",
    ]
    rng = random.Random(seed)
    out: list[str | None] = []
    for _ in range(n):
        if rng.random() < 0.1:
            out.append(None)
        else:
            out.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 3))))
    return out


def test_row_content_equals_the_row_by_row_json() -> None:
    n = 3000
    shown = {
        "person_id": pd.Series(pd.Categorical(_hostile_texts(n, 1))),
        "municipality": pd.Series(_hostile_texts(n, 2), dtype="str"),
        'odd "name" é': pd.Series(_hostile_texts(n, 3), dtype=object),
        "month": pd.Series(["2025-01", None, "2025-02"] * (n // 3), dtype="str"),
    }
    positions = np.array(sorted(random.Random(4).sample(range(n), 2000)))
    got = row_content(shown, positions)
    want = _reference_content(shown, positions)
    assert list(got) == want
    assert not any("999999990" in text for text in got)


def test_row_contents_give_the_same_texts_and_one_digest_per_text() -> None:
    """The digests the store keeps contents by: equal texts, equal digests; else different."""
    n = 3000
    shown = {
        "person_id": pd.Series(pd.Categorical(_hostile_texts(n, 5))),
        "municipality": pd.Series(_hostile_texts(n, 6), dtype="str"),
        "amount": pd.Series([1.5, None, 2.0, 3] * (n // 4), dtype=object),
    }
    positions = np.arange(n)[::2]
    contents = row_contents(shown, positions, positions + 1, masked=("person_id",))
    texts = contents.series()
    assert texts.tolist() == list(row_content(shown, positions, masked=("person_id",)))
    assert texts.index.tolist() == (positions + 1).tolist()
    digests = pd.Series(list(zip(contents.k1.tolist(), contents.k2.tolist(), strict=True)))
    by_text = pd.DataFrame({"text": texts.to_numpy(), "digest": digests})
    assert (by_text.groupby("text")["digest"].nunique() == 1).all()
    assert (by_text.groupby("digest")["text"].nunique() == 1).all()
    assert texts.nunique() > 100


def test_a_key_masked_part_by_part_is_the_key_masked_whole() -> None:
    """Duplicate-key values are masked per key column before joining: the same texts."""
    from evalkit.ingest._validate import key_text

    n = 2000
    shown = {
        "person_id": pd.Series(_hostile_texts(n, 7), dtype="str"),
        "month": pd.Series(_hostile_texts(n, 8), dtype="str"),
        "other": pd.Series(_hostile_texts(n, 9), dtype=object),
    }
    key = ("person_id", "month", "other")
    pos = np.arange(n)[::3]
    whole = mask_series(pd.Series(key_text(shown, key, pos), dtype="str"))
    parts = key_text(shown, key, pos, masked=())
    assert list(parts) == whole.tolist()
    assert not any("999999990" in t for t in parts)
    assert whole.tolist() != list(key_text(shown, key, pos))  # there was something to mask


def test_row_content_of_no_rows_and_no_columns() -> None:
    assert len(row_content({"a": pd.Series(["x"], dtype="str")}, np.array([], dtype=int))) == 0
    assert list(row_content({}, np.array([0, 1]))) == ["{}", "{}"]


def test_mask_series_equals_mask_bsns_on_every_text() -> None:
    """The Arrow prefilter only skips texts that ``mask_bsns`` leaves unchanged."""
    rng = random.Random(3)
    hexes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(3)]
    parts = [
        "999999990",
        "９９９９９９９９０",
        "12345672",
        "999 999 990",
        "999.999.990",
        "31-02-2005",
        *hexes,
        hexes[0].upper(),
        "[BSN:0123456789ab]",
        ", ",
        "x",
        "2025-01",
        "0612345678",
        "12999999990",
        "-",
        " ",
        "999999990999434809",
        "1234567",
        "9",
    ]
    texts = ["".join(rng.choice(parts) for _ in range(rng.randint(1, 5))) for _ in range(20000)]
    got = mask_series(pd.Series(texts, dtype="str")).tolist()
    assert got == [mask_bsns(text) for text in texts]

"""Parsing a file's distinct texts once (``_memo``) says exactly what parsing each chunk said.

A chunked CSV is parsed column by column with a :class:`ParseMemo` that remembers every
distinct text's typed value and message across chunks. The reference is the same
``parse_column`` without a memo, chunk by chunk, on hostile texts of every column type.
"""

from __future__ import annotations

import hashlib
import hmac
import random

import numpy as np
import pandas as pd
import pytest

from evalkit.ingest._columns import parse_column
from evalkit.ingest._failures import Failures
from evalkit.ingest._memo import MEMO_LIMIT, ColumnMemo, ParseMemo
from evalkit.ingest._pseudonym import _hmac_hex
from evalkit.ingest._readers import RawTable
from evalkit.ingest._schema import load_schema

KEY = hashlib.sha256(b"test key for the memo").digest()

TEXTS = {
    "pseudonym": [
        "999999990",
        "999 999 990",
        "999.999.990",
        "999999991",
        "12345672",
        "99999999.0",
        "1234",
        hashlib.sha256(b"p").hexdigest().upper(),
        "９９９９９９９９０",
    ],
    "month": ["01-2025", "2025-01", "2025M01", "202501", "13-2025", "x", "45000", " 02-2025 "],
    "date": ["31-01-2024", "31-02-2024", "14-01-2024 25:61", "2024-01-14 10:30", "1-3-24", "abc"],
    "integer": ["12", "12,0", "12,5", "1.234", "x", "-3", "€ 5", "1e3", "99"],
    "number": ["1.234,50", "1,234.50", "12", "0,5", "x", "€ 5", "12%", "-0,0"],
    "boolean": ["ja", "Nee", "J", "waar", "maybe", "1.0", "0", "WEL"],
    "category": ["M", "man", "vrouw", "q", "X ", "f", "mbo_1", "overig"],
    "string": ["GM0363", "GM999999990", "text 999999990 text", " padded ", "AM01", "D-999999990"],
}
SHARED = ["", " ", "\t", None]


def _column(kind: str, n: int, seed: int) -> list[str | None]:
    rng = random.Random(seed)
    pool = TEXTS[kind] + SHARED
    return [rng.choice(pool) for _ in range(n)]


def _specs() -> list[tuple[str, object]]:
    out = []
    for kind in ("outcome_panel", "case_events"):
        for name, spec in load_schema(kind).columns.items():
            out.append((f"{kind}.{name}", spec))
    return out


@pytest.mark.parametrize("decimal_comma", [True, False])
@pytest.mark.parametrize(("label", "spec"), _specs(), ids=[label for label, _ in _specs()])
def test_memo_parse_equals_chunk_by_chunk_parse(label: str, spec, decimal_comma: bool) -> None:
    kind = "date" if spec.type == "date" else spec.type
    cells = _column(kind, 400, seed=len(label))
    memo = ParseMemo()
    for start in range(0, len(cells), 100):  # four chunks share the memo
        chunk = pd.Series(cells[start : start + 100], dtype="str")
        table = RawTable(pd.DataFrame({"h": chunk}), np.arange(len(chunk)) + 1, "csv")
        table.decimal_comma = decimal_comma
        mine, theirs = Failures(), Failures()
        typed, shown = parse_column(chunk, spec, table, "h", mine, KEY, memo)
        ref_typed, ref_shown = parse_column(chunk, spec, table, "h", theirs, KEY)
        pd.testing.assert_series_equal(typed, ref_typed, check_names=False)
        pd.testing.assert_series_equal(shown, ref_shown, check_names=False)
        pd.testing.assert_frame_equal(mine.frame(table.rows), theirs.frame(table.rows))
    assert memo.columns, "the memo was not used"


def test_a_text_is_parsed_once_per_file() -> None:
    seen: list[list[str]] = []

    def parser(texts: pd.Series) -> tuple[np.ndarray]:
        seen.append(texts.tolist())
        return (np.array([t.upper() for t in texts], dtype=object),)

    memo = ColumnMemo()
    (first,) = memo.parse(["a", "b"], parser)
    (second,) = memo.parse(["b", "c", "a"], parser)
    assert seen == [["a", "b"], ["c"]]
    assert first.tolist() == ["A", "B"]
    assert second.tolist() == ["B", "C", "A"]


def test_memo_starts_afresh_past_its_limit() -> None:
    memo = ColumnMemo()
    texts = [str(i) for i in range(MEMO_LIMIT)]
    memo.parse(texts, lambda u: (u.to_numpy(dtype=object),))
    (out,) = memo.parse(["x", "0"], lambda u: (u.to_numpy(dtype=object),))
    assert out.tolist() == ["x", "0"]
    assert len(memo.index) == 2


@pytest.mark.parametrize("length", [0, 1, 32, 63, 64, 65, 200])
def test_hmac_from_precomputed_states_is_hmac_sha256(length: int) -> None:
    key = bytes(range(256))[:length]
    for text in ("999999990", "", "invalid:é 日本", "x" * 500):
        want = hmac.digest(key, text.encode("utf-8"), "sha256").hex()
        assert _hmac_hex(key, text) == want


def test_key_hashes_of_categorical_pseudonyms_equal_those_of_their_texts() -> None:
    from evalkit.ingest._keyindex import key_hashes

    texts = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(50)]
    codes = np.arange(500) % 50
    categorical = pd.Categorical.from_codes(codes, categories=pd.Index(texts, dtype="str"))
    month = pd.Series(pd.to_datetime(codes % 12 * 31, unit="D")).astype("datetime64[s]")
    as_category = pd.DataFrame({"person_id": categorical, "month": month})
    as_text = as_category.assign(person_id=np.asarray(categorical, dtype=object))
    mine = key_hashes(as_category, ("person_id", "month"))
    theirs = key_hashes(as_text.astype({"person_id": "str"}), ("person_id", "month"))
    for name in ("k1", "k2"):
        np.testing.assert_array_equal(mine[name], theirs[name])


def test_coded_cells_hash_as_the_raw_cells_they_stand_for() -> None:
    from evalkit.ingest._columns import coded_cells

    memo = ParseMemo()
    spec = load_schema("outcome_panel").columns["sex"]
    for start, seed in ((0, 1), (100, 2)):  # the second chunk reuses the memo
        cells = pd.Series([*_column("category", 100, seed), "é 日本", "\u00a0M"], dtype="str")
        table = RawTable(pd.DataFrame({"h": cells}), np.arange(len(cells)) + start + 1, "csv")
        parse_column(cells, spec, table, "h", Failures(), KEY, memo)
        coded = coded_cells(cells, spec, table, "h", memo)
        assert isinstance(coded.dtype, pd.CategoricalDtype)
        pd.testing.assert_series_equal(coded.astype("str"), cells, check_names=False)
        rows = np.arange(len(cells))[::3]
        np.testing.assert_array_equal(
            pd.util.hash_pandas_object(pd.DataFrame({"h": coded}).iloc[rows], index=False),
            pd.util.hash_pandas_object(pd.DataFrame({"h": cells}).iloc[rows], index=False),
        )


@pytest.mark.parametrize("dtype", ["str", "string[python]", "object"])
def test_blank_texts_agree_with_str_strip(dtype: str) -> None:
    from evalkit.ingest._columns import blank_texts

    texts = ["a", " ", "\t\n", "\x1c", "\u00a0", "\u3000", "\u200b", "", " x ", "\x85", "\u2028"]
    cells = pd.Series(texts, dtype=dtype)
    _, uniques = pd.factorize(cells, use_na_sentinel=True)
    want = (pd.Series(uniques, dtype=cells.dtype).str.strip() == "").to_numpy(dtype=bool)
    np.testing.assert_array_equal(blank_texts(uniques, cells.dtype), want)

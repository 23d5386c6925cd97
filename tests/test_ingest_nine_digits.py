"""A column of nine-digit texts is classified by the short path exactly as by the long one.

Most identifier columns hold nothing but nine-digit BSNs; their distinct texts skip the
general path's eight passes (strip, case, separators, lost zeros, floats, hex
pseudonyms). The pseudonyms, the references shown for invalid values, the reasons and
the rules must be the same as the general path gives for the same texts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.ingest._pseudonym import _classify_uniques, _nine_digit_texts, derive_key
from tests.test_ingest_chunks import _bsns

KEY = derive_key(b"nine-digits-test-key-3f8a1c6e9b2d5074", "project")


def _general(texts: list[str]) -> tuple[np.ndarray, ...]:
    """The general path's answer for ``texts`` (a text of another shape sends it there)."""
    parts = _classify_uniques(pd.Series([*texts, "not a bsn"], dtype="str"), KEY)
    return tuple(p[:-1] for p in parts)


@pytest.mark.parametrize("seed", range(3))
def test_the_short_path_gives_the_general_answer(seed: int) -> None:
    rng = np.random.default_rng(seed)
    valid = _bsns(40)
    broken = [f"{int(t) + 1:09d}"[-9:] for t in valid[:10]]  # most fail the elfproef
    texts = [*valid, *broken, "000000000", "999999990"]
    texts = [texts[i] for i in rng.permutation(len(texts))]
    series = pd.Series(texts, dtype="str")
    assert _nine_digit_texts(series) is not None
    fast = _classify_uniques(series, KEY)
    for got, want in zip(fast, _general(texts), strict=True):
        assert got.tolist() == want.tolist()
    assert any(r is not None for r in fast[2])  # invalid ones are in it


@pytest.mark.parametrize(
    "texts",
    [["123456782", " 23456782"], ["123456782", "12345678"], ["123456782", "١٢٣٤٥٦٧٨٩"], []],
    ids=["space", "eight", "arabic-digits", "none"],
)
def test_anything_else_takes_the_general_path(texts: list[str]) -> None:
    assert _nine_digit_texts(pd.Series(texts, dtype="str")) is None

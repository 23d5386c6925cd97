"""Patterns Arrow cannot run are matched once per distinct text, with the same answer.

A municipality number without ``GM`` (a look-ahead) and a totals word (a compiled
pattern) are matched in Python's ``re``; they are matched on each column's distinct
texts and spread back, which must equal matching every cell.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from evalkit.ingest._gmcode import _NUMBER, normalise_municipality
from evalkit.ingest._readers import RawTable
from evalkit.ingest._schema import load_schema
from evalkit.ingest._totals import _WORD, _totals_positions

CELLS = ["344", " 0344 ", "344.0", "GM0344", None, "0", "12345", "٣٤٤", "344", None, "7", "Totaal"]


def _table(first: list[str | None], second: list[str | None]) -> RawTable:
    frame = pd.DataFrame({"a": pd.Series(first, dtype="str"), "b": pd.Series(second, dtype="str")})
    return RawTable(frame, np.arange(1, len(first) + 1), "csv")


def test_municipality_numbers_match_as_cell_by_cell() -> None:
    spec = load_schema("outcome_panel").columns["municipality"]
    table = _table(CELLS, CELLS)
    normalise_municipality(table, "b", spec)
    want = [
        "GM" + re.fullmatch(_NUMBER, c).group(1).zfill(4)
        if isinstance(c, str) and re.fullmatch(_NUMBER, c)
        else c
        for c in CELLS
    ]
    got = table.frame["b"].tolist()
    assert [None if pd.isna(g) else g for g in got] == want
    assert "GM0344" in got and "GM0007" in got


def test_totals_words_match_as_cell_by_cell() -> None:
    first = ["Totaal", "totaal:", " TOTAL ", "Totaal", None, "subtotaal", "totaalbedrag", "344"]
    table = _table(first, ["1.234,50"] * len(first))
    want = [i for i, c in enumerate(first) if isinstance(c, str) and _WORD.match(c.lower())]
    assert _totals_positions(table).tolist() == want == [0, 1, 2, 3, 5]

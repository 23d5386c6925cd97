"""The table workbook: evalkit writes its cells itself, byte for byte as pandas would."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.report.render import _write_sheet

OPTIONS = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
CREATED = dt.datetime(2026, 1, 2, 3, 4, 5)


def _workbook(path: Path, frames: dict[str, pd.DataFrame], *, ours: bool) -> bytes:
    with pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={"options": OPTIONS}) as writer:
        writer.book.set_properties({"author": "evalkit", "created": CREATED})
        for sheet, frame in frames.items():
            if ours:
                _write_sheet(writer, sheet, frame)
            else:
                frame.to_excel(writer, sheet_name=sheet, index=False)
    return path.read_bytes()


def _plain() -> dict[str, pd.DataFrame]:
    # what table exports hold: text (also formula-like and empty), integers, floats
    # (missing and infinite too) and None, in object columns
    first = pd.DataFrame(
        {
            "name": ["'=HYPERLINK(1)", "", "Ålesund", None, "x" * 40],
            "n": [1, 0, -7, 12, 2**40],
            "share": [0.25, math.nan, math.inf, -math.inf, 1e-17],
            "status": ["suppressed", "suppressed", "ok", "ok", "ok"],
        }
    ).astype(object)
    second = pd.DataFrame({"status": ["ok", "suppressed"], "n": [3, None]}).astype(object)
    empty = pd.DataFrame({"a": [], "b": []}).astype(object)
    return {"first": first, "second": second, "empty": empty}


def test_plain_cells_give_the_bytes_pandas_gives(tmp_path: Path) -> None:
    frames = _plain()
    ours = _workbook(tmp_path / "ours.xlsx", frames, ours=True)
    theirs = _workbook(tmp_path / "pandas.xlsx", frames, ours=False)
    assert ours == theirs


@pytest.mark.parametrize(
    "odd",
    [True, np.int64(5), np.float64(0.5), pd.Timestamp("2026-03-01"), dt.date(2026, 3, 1)],
)
def test_other_cells_are_left_to_pandas(tmp_path: Path, odd: object) -> None:
    frames = _plain()
    frames["second"] = pd.DataFrame({"status": ["ok", odd], "n": [3, 4]}).astype(object)
    ours = _workbook(tmp_path / "ours.xlsx", frames, ours=True)
    theirs = _workbook(tmp_path / "pandas.xlsx", frames, ours=False)
    assert ours == theirs

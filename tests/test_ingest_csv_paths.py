"""Arrow's CSV path and the exact Python reader agree on irregular files, row for row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.ingest._csv import _exact, _fast

HEADERS = ["a", "b", "c", "d"]


def _irregular_csv(seed: int) -> str:
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(400):
        width = int(rng.choice([4, 4, 4, 4, 2, 5, 6, 1]))
        cells = [f"v{i}_{j}" for j in range(width)]
        if width > 4 and rng.random() < 0.5:
            cells[4:] = [""] * (width - 4)  # trailing empty fields: the row still fits
        if rng.random() < 0.05:
            cells[0] = f'"quoted\nline {i}"'
        if rng.random() < 0.03:
            cells = [""] * 4  # a row of empty cells
        lines.append(";".join(cells))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(8))
def test_arrow_path_equals_the_exact_reader_on_irregular_rows(seed: int) -> None:
    body = _irregular_csv(seed)
    parsed = _fast(body.encode("utf-8"), ";", HEADERS)
    assert parsed is not None  # irregular rows no longer leave the Arrow path
    frame, rows, malformed = parsed
    ref_frame, ref_rows, ref_malformed = _exact("a;b;c;d\n" + body, ";", HEADERS)
    assert malformed and malformed == ref_malformed
    np.testing.assert_array_equal(rows, ref_rows)
    pd.testing.assert_frame_equal(
        frame.astype(object).where(frame.notna(), None),
        ref_frame.astype(object).where(ref_frame.notna(), None),
    )

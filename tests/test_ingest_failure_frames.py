"""Failures made by Arrow or by Python objects, and their summary, give the same frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from evalkit.ingest._failures import Failures
from evalkit.ingest._reports import failure_summary


def _grouped_summary(failures: pd.DataFrame) -> pd.DataFrame:
    """The summary as a pandas groupby states it (the reference)."""
    frame = failures.assign(column=failures["column"].fillna("(row)"))
    out = (
        frame.groupby(["rule", "column"], sort=False)
        .agg(
            failures=("row", "size"),
            rows=("row", "nunique"),
            first_row=("row", "min"),
            example=("message", "first"),
        )
        .reset_index()
    )
    return out.sort_values(
        ["failures", "rule", "column"], ascending=[False, True, True], kind="mergesort"
    ).reset_index(drop=True)


def _failures(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pick = lambda options: np.array(options, dtype=object)[rng.integers(0, len(options), n)]  # noqa: E731
    return pd.DataFrame(
        {
            "row": rng.integers(1, n // 2 + 2, n).astype(np.int64),
            "column": pd.Series(pick(["age", None, "person_id, month", "month"]), dtype="str"),
            "rule": pd.Series(pick(["range", "unique", "duplicate_row", "type"]), dtype="str"),
            "value": pd.Series(pick(["x", None]), dtype="str"),
            "message": pd.Series(pick(["a", "b", None, "exact copy of row 3"]), dtype="str"),
        }
    )


@pytest.mark.parametrize("n", [1, 2, 7, 60, 500])
def test_failure_summary_equals_the_grouped_one(n: int) -> None:
    for seed in range(10):
        frame = _failures(n, seed)
        pd.testing.assert_frame_equal(failure_summary(frame), _grouped_summary(frame))
    frame = _failures(n, 0).assign(message=pd.Series([None] * n, dtype="str"))
    pd.testing.assert_frame_equal(failure_summary(frame), _grouped_summary(frame))


def test_arrow_values_and_messages_give_the_frame_python_objects_give() -> None:
    values = ["12345, 2025-01", None, "x"]
    messages = ["exact copy of row 1", "exact copy of row 2", None]
    objects, arrow = Failures(), Failures()
    for failures, as_arrow in ((objects, False), (arrow, True)):
        failures.add(np.array([4, 0]), "age", "range", [3.5, float("nan")], "out of range")
        wrap = (lambda t: pa.array(t, type=pa.string())) if as_arrow else list
        failures.add(
            np.array([1, 2, 5]), "person_id, month", "duplicate_row", wrap(values), wrap(messages)
        )
        failures.add(np.array([3]), None, "columns", [None], ["too many fields"])
        failures.add(np.array([6]), "month", "type", [pd.NA], ["not a month"])
    rows = np.arange(7, dtype=np.int64) + 1
    pd.testing.assert_frame_equal(
        arrow.frame(rows, with_masked=True), objects.frame(rows, with_masked=True)
    )
    assert arrow.frame(rows)["value"].tolist()[-1] == "<NA>"  # pd.NA made text, as before

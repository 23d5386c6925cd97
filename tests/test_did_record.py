"""One vocabulary: a result's bundle record carries the numbers of its tidy headline row.

The bundle, the monitor's DiD tables and the national estimates build their records
with :func:`evalkit.did.results.record`, which reads the headline from ``tidy()``.
That only keeps every number of the bundle as it was if each estimator's tidy
headline row is the estimate it reports (``att, se, ci_low, ci_high, p_value`` of
its JSON), under each kind of inference: checked here estimator by estimator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from evalkit.did import estimate
from evalkit.did.results import HEADLINE, event_time_rows, record

JSON_NAMES = dict(zip(HEADLINE, ("att", "se", "ci_low", "ci_high", "p_value"), strict=True))


def _staggered() -> pd.DataFrame:
    """Twelve municipalities of four people; starts in month 6 (three) and 8 (two)."""
    rng = np.random.default_rng(7)
    rows = []
    for m in range(12):
        start = 6 if m < 3 else (8 if m < 5 else 0)
        for i in range(4):
            a = rng.normal()
            for t in range(1, 13):
                d = float(start > 0 and t >= start)
                y = a + 0.1 * t + 0.5 * d + 0.2 * np.sin(m + t) + rng.normal()
                rows.append((f"m{m:02d}p{i}", f"m{m:02d}", t, start, i % 2, y))
    return pd.DataFrame(rows, columns=["person", "muni", "month", "cohort", "young", "y"])


def _cells(data: pd.DataFrame, one_treated: bool) -> pd.DataFrame:
    """Municipality-month means; with ``one_treated`` only the first pilot stays treated."""
    cells = data.groupby(["muni", "month"], as_index=False).agg(
        y=("y", "mean"), cohort=("cohort", "first")
    )
    if one_treated:
        cells.loc[cells["muni"] != "m00", "cohort"] = 0
    return cells


PERSONS = {"unit": "person", "time": "month", "cohort": "cohort", "cluster": "muni", "seed": 3}
CELLS = {"unit": "muni", "time": "month", "cohort": "cohort", "seed": 3}

CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("twfe", {"inference": "analytic"}, False),
    ("twfe", {"inference": "wild", "n_boot": 199}, False),
    ("twfe", {"inference": "permutation"}, False),
    ("event_study", {"inference": "analytic"}, False),
    ("callaway_santanna", {"inference": "analytic"}, False),
    ("callaway_santanna", {"inference": "bootstrap", "n_boot": 199}, False),
    ("callaway_santanna", {"inference": "permutation"}, False),
    ("imputation", {}, False),
    ("sun_abraham", {}, False),
    ("bacon", {}, False),
    ("triple_differences", {"subgroup": "young", "inference": "placebo", "unit": "muni"}, False),
    ("synthetic_control", {"inference": "placebo"}, True),
    ("synthetic_did", {"inference": "placebo"}, True),
    ("twfe", {"inference": "conformal"}, True),
]


@pytest.mark.parametrize(("estimator", "choices", "on_cells"), CASES)
def test_the_record_carries_the_estimate_the_estimator_reports(
    estimator: str, choices: dict[str, Any], on_cells: bool
) -> None:
    data = _staggered()
    if on_cells:
        data, columns = _cells(data, one_treated=True), CELLS
    else:
        columns = PERSONS
    result = estimate(data, outcome="y", estimator=estimator, **{**columns, **choices})
    as_json, row = result.to_dict(), record(result)
    assert as_json["att"] is not None
    for name, json_name in JSON_NAMES.items():
        assert row[name] == as_json[json_name], (name, row[name], as_json[json_name])
    assert not {"att", "se", "ci_low", "ci_high"} & set(row), "a record keeps the tidy names only"
    assert row["estimator"] == as_json["estimator"] and row["inference"] == as_json["inference"]


def test_event_time_rows_are_the_event_study_the_estimator_reports() -> None:
    data = _staggered()
    for estimator in ("event_study", "imputation", "sun_abraham"):
        result = estimate(data, outcome="y", estimator=estimator, **PERSONS)
        rows = event_time_rows(result.tidy())
        reported = sorted(result.to_dict()["event_study"], key=lambda r: r["event_time"])
        assert [r["event_time"] for r in rows] == [r["event_time"] for r in reported]
        for mine, theirs in zip(rows, reported, strict=True):
            assert [mine[k] for k in HEADLINE] == [theirs[JSON_NAMES[k]] for k in HEADLINE]
    cs = estimate(data, outcome="y", estimator="callaway_santanna", **PERSONS)
    dynamic = cs.to_dict()["aggregations"]["dynamic"]["rows"]
    rows = event_time_rows(cs.tidy())
    assert [r["event_time"] for r in rows] == [r["event_time"] for r in dynamic]
    assert [r["conf_low"] for r in rows] == [r["conf_low"] for r in dynamic]
    assert [r["estimate"] for r in rows] == [r["att"] for r in dynamic]

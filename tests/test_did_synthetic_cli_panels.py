"""``evalkit did`` with the synthetic estimators on odd but realistic panels, as files.

Every case gives the estimate with its notes or one line that names the rule broken;
never a traceback, never NaN shown as a number.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.cli import main


def _panel(n_units: int = 8, n_periods: int = 12, start: int = 9, effect: float = 1.0):
    rng = np.random.default_rng(0)
    factor = rng.normal(size=n_periods).cumsum()
    rows = []
    for i in range(n_units):
        level = 0.3 * i
        for t in range(1, n_periods + 1):
            d = int(i == 3 and t >= start)  # the pilot lies inside the comparisons' range
            y = level + factor[t - 1] + rng.normal(scale=0.3) + effect * d
            rows.append({"unit": f"u{i:02d}", "time": t, "y": y, "d": d})
    return pd.DataFrame(rows)


def _did(capsys, tmp_path: Path, data: pd.DataFrame, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "cells.csv"
    data.to_csv(path, index=False, sep=";", decimal=",")  # as Dutch Excel writes it
    columns = ["--outcome", "y", "--unit", "unit", "--time", "time"]
    treatment = ["--cohort", "g"] if "g" in data.columns else ["--treated", "d"]
    code = main(["did", "--data", str(path), *columns, *treatment, "--json", *args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def _codes(out: str) -> list[str]:
    return [w["code"] for w in json.loads(out)["warning_codes"]]


def test_a_pilot_above_every_comparison_is_said_to_be_out_of_synthetic_controls_reach(
    capsys, tmp_path: Path
) -> None:
    # synthetic control without a level cannot reach a pilot 50 above every comparison:
    # it reported 47.6 for a true effect of 1 without a word
    data = _panel()
    data.loc[data["unit"] == "u03", "y"] += 50
    code, out, _ = _did(capsys, tmp_path, data, "--estimator", "synthetic_control")
    assert code == 0 and "synthetic_outside_range" in _codes(out)
    note = json.loads(out)["warnings"][0]
    assert "outside the comparison units' range in 8 of 8 pre-period(s)" in note
    code, out, _ = _did(capsys, tmp_path, data, "--estimator", "synthetic_did")
    assert code == 0 and "synthetic_outside_range" not in _codes(out)
    assert json.loads(out)["att"] == pytest.approx(1.0, abs=0.6)


def test_a_pilot_inside_the_range_gets_no_range_note(capsys, tmp_path: Path) -> None:
    code, out, _ = _did(capsys, tmp_path, _panel(), "--estimator", "synthetic_control")
    assert code == 0 and "synthetic_outside_range" not in _codes(out)


def test_identical_comparison_units_give_no_standard_error_of_zero(capsys, tmp_path: Path) -> None:
    # every placebo estimate was the same, and se = 0.0000 was shown as a number
    data = _panel()
    same = data.loc[data["unit"] == "u00", "y"].to_numpy()
    for unit in data["unit"].unique():
        if unit != "u03":
            data.loc[data["unit"] == unit, "y"] = same
    code, out, _ = _did(capsys, tmp_path, data, "--estimator", "synthetic_did")
    result = json.loads(out)
    assert code == 0 and result["se"] is None and "placebo_degenerate" in _codes(out)
    assert math.isfinite(result["att"]) and result["p_value"] == pytest.approx(1 / 8)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("one_pre", "has 1 period(s) before it; synthetic estimators need at least two"),
        ("missing_row", "the panel is not balanced: unit 'u03' has no row for period 3;"),
        ("missing_outcome", "outcome 'y' is missing or not numeric in 1 row(s) (first: unit"),
        ("unbalanced", "the panel is not balanced: unit 'u05' has no row for period 11;"),
        ("staggered_conformal", "conformal inference permutes time around one start date"),
    ],
)
def test_a_panel_the_estimators_cannot_take_is_refused_in_one_line(
    capsys, tmp_path: Path, case: str, message: str
) -> None:
    data, extra = _panel(), ["--estimator", "synthetic_did"]
    if case == "one_pre":
        data = _panel(start=2)
    elif case == "missing_row":
        data = data[~((data["unit"] == "u03") & (data["time"] == 3))]
    elif case == "missing_outcome":
        data["y"] = data["y"].where(~((data["unit"] == "u03") & (data["time"] == 3)))
    elif case == "unbalanced":
        data = data[~((data["unit"] == "u05") & (data["time"] == 11))]
    else:
        data["g"] = np.where(data["unit"] == "u03", 9, np.where(data["unit"] == "u06", 7, 0))
        extra += ["--inference", "conformal"]
    code, out, err = _did(capsys, tmp_path, data, *extra)
    assert (code, out) == (1, "")
    assert len(err.strip().splitlines()) == 1 and message in err


def test_two_pre_periods_dates_and_staggered_adoption_estimate(capsys, tmp_path: Path) -> None:
    code, out, _ = _did(capsys, tmp_path, _panel(start=3), "--estimator", "synthetic_did")
    assert code == 0 and math.isfinite(json.loads(out)["att"])
    dated = _panel().assign(time=lambda f: f["time"].map(lambda t: f"2025-{t:02d}"))
    dated["g"] = np.where(dated["unit"] == "u03", "2025-09", "")
    code, out, _ = _did(capsys, tmp_path, dated, "--estimator", "synthetic_did")
    numbered = _did(capsys, tmp_path, _panel(), "--estimator", "synthetic_did")[1]
    assert code == 0 and json.loads(out)["att"] == json.loads(numbered)["att"]
    staggered = _panel()
    staggered["g"] = np.where(staggered["unit"] == "u03", 9, 0)
    staggered.loc[staggered["unit"] == "u06", "g"] = 7
    code, out, _ = _did(capsys, tmp_path, staggered, "--estimator", "synthetic_did")
    assert code == 0 and len(json.loads(out)["cohorts"]) == 2


@pytest.mark.parametrize("estimator", ["synthetic_did", "synthetic_control", "twfe"])
def test_month_labels_without_a_leading_zero_sort_in_time(
    capsys, tmp_path: Path, estimator: str
) -> None:
    # "2025-10" sorted before "2025-2" as text: the start month landed among the wrong
    # months (a refusal with --treated, a silently wrong estimate with --cohort)
    numbered = _panel(n_periods=12, start=9)
    numbered["g"] = np.where(numbered["unit"] == "u03", 9, 0)
    want = json.loads(_did(capsys, tmp_path, numbered, "--estimator", estimator)[1])
    labelled = numbered.assign(time=numbered["time"].map(lambda t: f"2025-{t}"))
    labelled["g"] = np.where(labelled["unit"] == "u03", "2025-9", "")
    code, out, _ = _did(capsys, tmp_path, labelled, "--estimator", estimator)
    assert code == 0 and json.loads(out)["att"] == pytest.approx(want["att"], rel=1e-9)


MONTHS = ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]


@pytest.mark.parametrize(
    ("case", "message"),
    [("words", "names a month in words"), ("two_forms", "writes one period in two forms")],
)
def test_period_labels_that_cannot_be_put_in_time_order_are_refused(
    capsys, tmp_path: Path, case: str, message: str
) -> None:
    data = _panel(n_periods=12, start=9)
    if case == "words":  # "apr 2025" sorts before "jan 2025"
        data["time"] = data["time"].map(lambda t: f"{MONTHS[t - 1]} 2025")
    else:  # one export writes 2025-01, another 2025-1
        padded = data["time"].map(lambda t: f"2025-{t:02d}")
        data["time"] = padded.where(data["unit"] == "u00", data["time"].map(lambda t: f"2025-{t}"))
    code, out, err = _did(capsys, tmp_path, data, "--estimator", "synthetic_did")
    assert (code, out) == (1, "") and message in err and len(err.strip().splitlines()) == 1


def test_a_cohort_after_the_last_period_is_named_as_the_cause(capsys, tmp_path: Path) -> None:
    # the refusal said only "no unit is ever treated"
    data = _panel()
    data["g"] = np.where(data["unit"] == "u03", "20", "")  # empty cells: read as 20.0
    code, out, err = _did(capsys, tmp_path, data, "--estimator", "synthetic_did")
    assert (code, out) == (1, "")
    assert "every first treated period (20 or later) lies after the last period" in err
    assert "(12)" in err and len(err.strip().splitlines()) == 1

"""Synthetic estimators on hostile panels: scale, staggered placebos, conformal limits, input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from test_did_synthetic import _panel

from evalkit.did import estimate
from evalkit.errors import EstimationError


def test_staggered_placebo_enumerates_the_assignments_and_never_repeats_them() -> None:
    # two cohorts of one unit against four comparisons: 4 × 3 = 12 assignments, so the
    # smallest p-value is 1/13 however large the effect (199 draws gave 1/200 before)
    data = _panel(n_units=6, treated=())
    data["g"] = 0
    data.loc[data["unit"] == "u00", "g"] = 21
    data.loc[data["unit"] == "u01", "g"] = 16
    data.loc[(data["g"] > 0) & (data["time"] >= data["g"]), "y"] += 30.0
    result = estimate(
        data, outcome="y", unit="unit", time="time", cohort="g", estimator="synthetic_did"
    )
    assert result.p_value == pytest.approx(1 / 13)
    assert math.isinf(result.ci_low) and result.inference_detail["placebos"] == 12
    assert "placebo_sampled" not in [n.code for n in result.notes]


@pytest.mark.parametrize("inference", ["placebo", "conformal"])
def test_tiny_and_huge_outcome_scales_give_the_same_p_value_and_scaled_interval(inference) -> None:
    # rounding tolerances were absolute (1e-9, 1e-12): at scale 1e-12 every placebo and
    # every shift tied with the estimate, and p was 1
    data = _panel(effect=1.0)
    kw = {"outcome": "y", "unit": "unit", "time": "time", "treated": "d"}
    kw |= {"estimator": "synthetic_control", "inference": inference, "n_placebo": 5}
    ref = estimate(data, **kw)
    for scale in (1e-12, 1e12):
        res = estimate(data.assign(y=data["y"] * scale), **kw)
        assert res.p_value == ref.p_value
        assert res.att == pytest.approx(ref.att * scale, rel=1e-9)
        for got, want in ((res.ci_low, ref.ci_low), (res.ci_high, ref.ci_high)):
            assert got == pytest.approx(want * scale, rel=1e-9)


def test_conformal_with_a_level_and_a_pre_period_not_longer_than_the_post_period_says_so() -> None:
    # DiD and synthetic DiD fit a level on all periods: with 2 pre- and 28 post-periods the
    # p-value rose to 1 away from the estimate, and an effect of 50 noise SDs gave p = 1 with
    # only "the interval did not close within the effects tested"
    kw = {"outcome": "y", "unit": "unit", "time": "time", "treated": "d"}
    data = _panel(start=2, effect=50.0)
    for estimator in ("synthetic_did", "twfe"):
        res = estimate(data, estimator=estimator, inference="conformal", **kw)
        assert [n.code for n in res.notes] == ["conformal_short_pre"]
        assert math.isinf(res.ci_low) and math.isinf(res.ci_high)
    sc = estimate(data, estimator="synthetic_control", inference="conformal", **kw)
    assert sc.p_value == pytest.approx(1 / 30) and sc.ci_low > 0


def test_an_empty_conformal_set_is_said_not_left_as_nan() -> None:
    kw = {"outcome": "y", "unit": "unit", "time": "time", "treated": "d"}
    res = estimate(_panel(), estimator="synthetic_did", inference="conformal", alpha=0.9999, **kw)
    assert res.to_dict()["conf_set"] == [] and math.isnan(res.ci_low)
    assert [n.code for n in res.notes] == ["conformal_empty_set"]


def test_messages_name_integer_periods_and_units_as_written() -> None:
    data = _panel()
    data["unit"] = data["unit"].str[1:].astype(int)
    with pytest.raises(EstimationError, match=r"unit 5 has no row for period 10;"):
        estimate(
            data[~((data["unit"] == 5) & (data["time"] == 10))],
            outcome="y",
            unit="unit",
            time="time",
            treated="d",
            estimator="synthetic_did",
        )


def _cells(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        {"unit": i, "time": t, "sub": g, "y": 0.5 * g + rng.normal(), "d": int(i == 0 and t >= 21)}
        for i in range(6)
        for t in range(1, 31)
        for g in (0, 1)
        for _ in range(2)
    ]
    return pd.DataFrame(rows)


def test_triple_differences_counts_missing_outcomes_and_names_an_empty_cell() -> None:
    kw = {"outcome": "y", "unit": "unit", "time": "time", "treated": "d"}
    kw |= {"estimator": "triple_differences", "subgroup": "sub"}
    data = _cells()
    data.loc[5, "y"] = np.nan  # left out of its cell's mean: said, not silent
    res = estimate(data, **kw)
    assert res.notes[0].code == "dropped_missing_outcome" and res.n_obs == len(data) - 1
    gone = data[~((data["unit"] == 3) & (data["time"] == 5) & (data["sub"] == 1))]
    with pytest.raises(
        EstimationError, match=r"unit 3 has no row of subgroup 'sub' = 1 .* period 5"
    ):
        estimate(gone, **kw)
    with pytest.raises(EstimationError, match="must be 0 or 1 in every row; it also has 2"):
        estimate(data.assign(sub=data["sub"].where(data.index % 7 > 0, 2)), **kw)


def test_post_is_refused_by_the_synthetic_estimators_not_ignored() -> None:
    data = _panel().assign(group=lambda f: (f["unit"] == "u00").astype(int))
    data["post"] = (data["time"] >= 22).astype(int)
    with pytest.raises(EstimationError, match="takes the treatment per row"):
        estimate(
            data,
            outcome="y",
            unit="unit",
            time="time",
            treated="group",
            post="post",
            estimator="synthetic_did",
        )


@pytest.mark.parametrize("estimator", ["synthetic_did", "twfe"])
def test_a_constant_outcome_is_refused_as_twfe_refuses_it(estimator) -> None:
    # it gave att 0, se 0, p 1 (placebo) and a conformal "interval" of ±2e-11
    with pytest.raises(EstimationError, match="in every row; there is no variation"):
        estimate(
            _panel().assign(y=3.0),
            outcome="y",
            unit="unit",
            time="time",
            treated="d",
            estimator=estimator,
            inference="conformal",
        )


def test_a_cohort_in_text_periods_works_as_for_twfe() -> None:
    # cohort= needed numeric periods, while TWFE and the README accept labels ("2021-10")
    data = _panel(effect=1.0)
    label = {t: f"{2020 + (t - 1) // 12}-{(t - 1) % 12 + 1:02d}" for t in range(1, 31)}
    text = data.assign(time=data["time"].map(label))
    text["g"] = np.where(text["unit"] == "u00", label[22], "")
    kw = {"outcome": "y", "unit": "unit", "estimator": "synthetic_did"}
    want = estimate(data, time="time", treated="d", **kw)
    got = estimate(text, time="time", cohort="g", **kw)
    assert got.att == want.att and got.p_value == want.p_value
    with pytest.raises(EstimationError, match="value '2030-01' is not a period"):
        estimate(
            text.assign(g=text["g"].replace(label[22], "2030-01")), time="time", cohort="g", **kw
        )


def test_unit_ids_and_periods_that_mix_numbers_and_text_are_handled_in_words() -> None:
    # sorting 3 beside "u04" raised a bare TypeError
    data = _panel(effect=1.0)
    kw = {"outcome": "y", "unit": "unit", "time": "time", "treated": "d"}
    want = estimate(data, estimator="synthetic_did", **kw).att
    mixed = data.assign(unit=data["unit"].map(lambda u: 3 if u == "u03" else u))
    assert estimate(mixed, estimator="synthetic_did", **kw).att == pytest.approx(want, abs=1e-9)
    text = data.assign(time=data["time"].map(lambda t: f"x{t}" if t > 15 else t))
    with pytest.raises(EstimationError, match="mixes numbers and text"):
        estimate(text, estimator="synthetic_did", **kw)


def test_jackknife_with_identical_replicates_is_refused_not_a_nan_p_value() -> None:
    data = _panel(n_units=6, treated=(0, 1))
    data["y"] = data["time"] + data["unit"].str[1:].astype(float) + 2.0 * data["d"]
    with pytest.raises(EstimationError, match="every leave-one-out estimate is the same"):
        estimate(
            data,
            outcome="y",
            unit="unit",
            time="time",
            treated="d",
            estimator="synthetic_did",
            inference="jackknife",
        )

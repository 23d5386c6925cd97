"""Synthetic control, synthetic DiD, DiD and triple differences: reference, equivalences, errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.did import estimate
from evalkit.did._synth_inference import conformal_pvalues
from evalkit.did.synthetic import synthetic_fit
from evalkit.errors import EstimationError

PROP99 = Path(__file__).parent / "reference" / "prop99" / "california_prop99.csv"
COLS = {"outcome": "PacksPerCapita", "unit": "State", "time": "Year", "treated": "treated"}


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    return pd.read_csv(PROP99, sep=";")


@pytest.mark.parametrize(
    ("method", "printed"),
    [("synthetic_did", -15.604), ("synthetic_control", -19.620), ("did", -27.349)],
)
def test_prop99_matches_r_synthdid_to_the_printed_digits(prop99, method, printed) -> None:
    fit = synthetic_fit(prop99, method=method, **COLS)
    assert abs(fit.att - printed) <= 0.0005


def test_prop99_effective_numbers_of_controls_and_periods_match_r_print(prop99) -> None:
    result = estimate(prop99, estimator="synthetic_did", inference="placebo", **COLS)
    eff = result.to_dict()["effective"]
    assert round(eff["effective_units"], 1) == 16.4
    assert round(eff["effective_periods"], 1) == 2.8
    weights = pd.DataFrame(result.to_dict()["unit_weights"])
    assert weights["weight"].sum() == pytest.approx(1.0)
    assert len(weights) == 38 and (weights["weight"] >= 0).all()


def test_did_with_equal_weights_equals_twfe(prop99) -> None:
    fit = synthetic_fit(prop99, method="did", **COLS)
    twfe = estimate(prop99, estimator="twfe", inference="analytic", **COLS)
    # one treated state: a cohort of one unit, and CR1 intervals that over-reject
    assert [n.code for n in twfe.notes] == ["single_unit_cohorts", "few_treated_cr1"]
    assert fit.att == pytest.approx(twfe.att, abs=1e-8)


def _panel(n_units=12, n_periods=30, start=21, seed=0, effect=0.0, treated=(0,)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=n_periods).cumsum()
    load = rng.uniform(0.5, 1.5, n_units)
    y = (
        rng.normal(size=(n_units, 1))
        + np.outer(load, factor)
        + rng.normal(size=(n_units, n_periods))
    )
    rows = []
    for i in range(n_units):
        for t in range(n_periods):
            d = int(i in treated and t >= start)
            rows.append({"unit": f"u{i:02d}", "time": t + 1, "y": y[i, t] + effect * d, "d": d})
    return pd.DataFrame(rows)


def test_placebo_pvalue_equals_refitting_each_comparison_unit_by_hand() -> None:
    data = _panel(n_units=10, effect=3.0)
    result = estimate(
        data,
        outcome="y",
        unit="unit",
        time="time",
        treated="d",
        estimator="synthetic_did",
        inference="placebo",
        alpha=0.2,
    )
    controls = data[data["unit"] != "u00"]
    placebos = []
    for u in sorted(controls["unit"].unique()):
        fake = controls.assign(d=((controls["unit"] == u) & (controls["time"] >= 22)).astype(int))
        placebos.append(synthetic_fit(fake, outcome="y", unit="unit", time="time", treated="d").att)
    placebos = np.abs(placebos)
    expected = (1 + np.sum(placebos >= abs(result.att))) / (len(placebos) + 1)
    assert result.p_value == pytest.approx(expected)
    radius = np.sort(placebos)[::-1][math.floor(0.2 * 10) - 1]
    assert result.ci_low == pytest.approx(result.att - radius)
    assert result.ci_high == pytest.approx(result.att + radius)


def test_placebo_with_eleven_comparisons_says_no_effect_can_be_significant() -> None:
    result = estimate(
        _panel(effect=50.0),
        outcome="y",
        unit="unit",
        time="time",
        treated="d",
        estimator="synthetic_control",
        inference="placebo",
    )
    assert result.p_value == pytest.approx(1 / 12)
    assert result.ci_low == -math.inf and result.ci_high == math.inf
    assert [n.code for n in result.notes] == ["placebo_unbounded"]
    assert "1/12" in result.warnings[0]


def test_conformal_did_pvalue_equals_the_definition() -> None:
    data = _panel(effect=1.0)
    fit = synthetic_fit(data, outcome="y", unit="unit", time="time", treated="d", method="did")
    y = fit.panel.y
    post = np.arange(30) >= 21
    for tau0 in (0.0, 1.0, 4.0):
        series = y[0] - tau0 * post
        base = y[1:].mean(axis=0)
        resid = np.abs(series - base - (series - base).mean())
        stats = [np.roll(resid, -j)[post].mean() for j in range(30)]
        expected = np.mean(np.asarray(stats) >= stats[0] - 1e-12)
        assert conformal_pvalues(fit, np.array([tau0]))[0] == pytest.approx(expected)


def test_conformal_interval_moves_with_a_constant_effect() -> None:
    kw = {
        "outcome": "y",
        "unit": "unit",
        "time": "time",
        "treated": "d",
        "estimator": "synthetic_did",
        "inference": "conformal",
    }
    a = estimate(_panel(n_periods=40, start=30, effect=0.0), **kw)
    b = estimate(_panel(n_periods=40, start=30, effect=5.0), **kw)
    assert b.att - a.att == pytest.approx(5.0, abs=1e-6)
    assert a.p_value >= 1 / 40 and a.inference_detail["smallest_p"] == pytest.approx(1 / 40)
    assert a.ci_low < a.att < a.ci_high
    width = a.ci_high - a.ci_low
    assert b.ci_low == pytest.approx(a.ci_low + 5.0, abs=0.05 * width)


def test_conformal_with_too_few_periods_says_so() -> None:
    result = estimate(
        _panel(n_periods=12, start=8),
        outcome="y",
        unit="unit",
        time="time",
        treated="d",
        estimator="synthetic_did",
        inference="conformal",
    )
    assert math.isinf(result.ci_low) and result.notes[0].code == "conformal_unbounded"


def test_jackknife_is_refused_with_one_treated_unit_and_runs_with_two() -> None:
    kw = {
        "outcome": "y",
        "unit": "unit",
        "time": "time",
        "treated": "d",
        "estimator": "synthetic_did",
        "inference": "jackknife",
    }
    with pytest.raises(EstimationError, match="not defined with one treated unit"):
        estimate(_panel(), **kw)
    result = estimate(_panel(n_units=20, treated=(0, 1)), **kw)
    assert result.se > 0 and result.ci_low < result.att < result.ci_high


def test_staggered_adoption_averages_cohort_fits_by_treated_cells() -> None:
    data = _panel(n_units=14, n_periods=30, treated=())
    data["g"] = 0
    data.loc[data["unit"].isin(["u00", "u01"]), "g"] = 21
    data.loc[data["unit"] == "u02", "g"] = 16
    fit = synthetic_fit(data, outcome="y", unit="unit", time="time", cohort="g")
    parts = []
    for _g, others in ((21, ["u02"]), (16, ["u00", "u01"])):
        sub = data[~data["unit"].isin(others)]
        parts.append(synthetic_fit(sub, outcome="y", unit="unit", time="time", cohort="g").att)
    cells = np.array([2 * 10, 1 * 15])
    assert fit.att == pytest.approx(np.dot(parts, cells) / cells.sum())
    with pytest.raises(EstimationError, match="staggered"):
        estimate(
            data,
            outcome="y",
            unit="unit",
            time="time",
            cohort="g",
            estimator="synthetic_did",
            inference="conformal",
        )


def test_triple_differences_cancel_unit_by_period_shocks() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(12):
        for t in range(1, 31):
            shock = rng.normal(scale=5.0)
            for g in (0, 1):
                d = int(i == 0 and t >= 21)
                y = shock + 0.5 * g + 2.0 * d * g + rng.normal(scale=0.01)
                rows.append({"unit": i, "time": t, "sub": g, "y": y, "d": d})
    data = pd.DataFrame(rows)
    result = estimate(
        data,
        outcome="y",
        unit="unit",
        time="time",
        treated="d",
        estimator="triple_differences",
        subgroup="sub",
        inference="conformal",
    )
    assert result.att == pytest.approx(2.0, abs=0.02)
    assert result.p_value == pytest.approx(1 / 30)


def test_user_errors_name_the_problem() -> None:
    data = _panel()
    with pytest.raises(EstimationError, match="not balanced"):
        estimate(
            data.iloc[1:],
            outcome="y",
            unit="unit",
            time="time",
            treated="d",
            estimator="synthetic_did",
        )
    off = data.copy()
    off.loc[(off["unit"] == "u00") & (off["time"] == 30), "d"] = 0
    with pytest.raises(EstimationError, match="untreated later"):
        estimate(off, outcome="y", unit="unit", time="time", treated="d", estimator="synthetic_did")
    with pytest.raises(EstimationError, match="needs subgroup="):
        estimate(
            data, outcome="y", unit="unit", time="time", treated="d", estimator="triple_differences"
        )
    with pytest.raises(EstimationError, match="is for the synthetic estimators"):
        estimate(
            data,
            outcome="y",
            unit="unit",
            time="time",
            treated="d",
            estimator="twfe",
            inference="placebo",
        )
    with pytest.raises(EstimationError, match="not available for synthetic_did"):
        estimate(
            data,
            outcome="y",
            unit="unit",
            time="time",
            treated="d",
            estimator="synthetic_did",
            inference="wild",
        )


def test_conformal_interval_with_a_gap_around_zero_says_so() -> None:
    # A pilot of the demo design's power simulation (12 municipalities, 30 months; one of
    # its first 60 simulated pilots) whose conformal test rejects a zero effect (p = 1/30)
    # while effects on both sides of zero are not rejected: the reported interval, the
    # hull of the effects not rejected, contains zero, and the estimate must say why.
    data = pd.read_csv(Path(__file__).parent / "data" / "conformal_gap_panel.csv")
    kw = {"outcome": "y", "unit": "unit", "time": "time", "treated": "treated"}
    result = estimate(data, estimator="twfe", inference="conformal", cluster="unit", **kw)
    assert result.p_value == pytest.approx(1 / 30)
    assert result.ci_low < 0 < result.ci_high
    assert "conformal_set_gaps" in [n.code for n in result.notes]
    fit = synthetic_fit(data, method="did", **kw)
    below = conformal_pvalues(fit, np.array([result.ci_low / 2, 0.0, result.ci_high / 2]))
    assert below[1] <= 0.05 and below[0] > 0.05 and below[2] > 0.05


def test_conformal_interval_without_gaps_has_no_such_note() -> None:
    result = estimate(
        _panel(n_periods=40, start=30, effect=0.0),
        outcome="y",
        unit="unit",
        time="time",
        treated="d",
        estimator="synthetic_did",
        inference="conformal",
    )
    assert "conformal_set_gaps" not in [n.code for n in result.notes]


def test_conformal_set_with_a_gap_is_two_pieces_whose_ends_the_test_confirms() -> None:
    # The gap pilot above: the set of effects not rejected is two intervals with zero
    # (p = 1/30) between them; the hull is ci_low/ci_high.
    data = pd.read_csv(Path(__file__).parent / "data" / "conformal_gap_panel.csv")
    kw = {"outcome": "y", "unit": "unit", "time": "time", "treated": "treated"}
    result = estimate(data, estimator="twfe", inference="conformal", cluster="unit", **kw)
    pieces = result.extra["conf_set"]
    assert len(pieces) == 2
    (a, b), (c, d) = pieces
    assert a < b < 0.0 < c < d
    assert (result.ci_low, result.ci_high) == (a, d)
    assert result.to_dict()["conf_set"] == [[a, b], [c, d]]
    fit = synthetic_fit(data, method="did", **kw)
    # an end's rejected neighbour lies within a refinement step (1/40 of the coarse step)
    gaps = fit.panel.y[fit.cohorts[0].treated].mean(axis=0) - fit.panel.y[fit.panel.controls].mean(
        axis=0
    )
    coarse = 2 * 4 * (np.ptp(gaps) + abs(fit.att)) / 40
    step = coarse / 40
    ends = np.array([a, b, c, d])
    inside = conformal_pvalues(fit, ends)
    assert (inside > 0.05).all()
    for end, outward in zip(ends, (-1, 1, -1, 1), strict=True):
        beyond = conformal_pvalues(fit, end + outward * np.linspace(0, step, 41)[1:])
        assert (beyond <= 0.05).any(), end
    assert conformal_pvalues(fit, np.array([0.0]))[0] <= 0.05
    # the middle of each piece is not rejected either
    assert (conformal_pvalues(fit, np.array([(a + b) / 2, (c + d) / 2])) > 0.05).all()
    # the printed summary names the pieces, not only the hull in its table
    assert f"confidence set: [{a:.4f}, {b:.4f}] \u222a [{c:.4f}, {d:.4f}]" in result.summary()


def test_conformal_set_of_a_fit_without_gaps_is_its_interval() -> None:
    result = estimate(
        _panel(n_periods=40, start=30, effect=0.0),
        outcome="y",
        unit="unit",
        time="time",
        treated="d",
        estimator="synthetic_did",
        inference="conformal",
    )
    assert result.extra["conf_set"] == [[result.ci_low, result.ci_high]]


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

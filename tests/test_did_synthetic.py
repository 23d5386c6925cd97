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

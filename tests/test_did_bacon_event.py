"""Bacon decomposition adds up to TWFE; the event study leaves out −1 and recovers known effects."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.did import bacon_decomposition, estimate
from evalkit.did._data import prepare
from evalkit.errors import EstimationError


def _staggered(
    seed: int = 0, always: bool = False, never: bool = True, dynamic: bool = True
) -> pd.DataFrame:
    """Balanced panel, cohorts 3, 5, 7 (+ never, + always), effects growing with event time."""
    rng = np.random.default_rng(seed)
    cohorts = [3] * 6 + [5] * 8 + [7] * 5 + ([0] * 9 if never else []) + ([1] * 4 if always else [])
    rows = []
    for i, g in enumerate(cohorts):
        a = rng.normal()
        for t in range(1, 10):
            e = t - g if g else None
            eff = (1.0 + 0.5 * e if dynamic else 1.0) if g and t >= g else 0.0
            rows.append((f"u{i}", t, g, a + 0.1 * t + eff + 0.3 * rng.normal()))
    return pd.DataFrame(rows, columns=["id", "t", "cohort", "y"])


@pytest.mark.parametrize("always", [False, True])
@pytest.mark.parametrize("never", [False, True])
def test_bacon_weights_sum_to_one_and_reproduce_twfe(always: bool, never: bool) -> None:
    df = _staggered(always=always, never=never)
    kw = dict(outcome="y", unit="id", time="t", cohort="cohort", inference="analytic")
    twfe = estimate(df, estimator="twfe", **kw)
    bacon = estimate(df, estimator="bacon", **kw)
    comp = pd.DataFrame(bacon.to_dict()["components"])
    assert list(comp.columns) == ["type", "treated", "control", "estimate", "weight"]
    assert comp["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (comp["weight"] * comp["estimate"]).sum() == pytest.approx(twfe.att, abs=1e-10)
    assert bacon.att == twfe.att
    types = set(comp["type"])
    assert ("Treated vs Untreated" in types) == never
    assert ("Later vs Always Treated" in types) == always
    assert {"Earlier vs Later Treated", "Later vs Earlier Treated"} <= types


def test_bacon_forbidden_comparisons_are_biased_with_dynamic_effects() -> None:
    comp = bacon_decomposition(
        prepare(
            _staggered(),
            outcome="y",
            unit="id",
            time="t",
            cohort="cohort",
            treated=None,
            post=None,
            covariates=(),
            cluster=None,
        )
    )
    late = comp[comp["type"] == "Later vs Earlier Treated"]
    clean = comp[comp["type"] == "Treated vs Untreated"]
    assert late["estimate"].mean() < clean["estimate"].mean() - 0.5


def test_bacon_two_by_two_is_a_difference_of_means_by_hand() -> None:
    df = _staggered()
    comp = bacon_decomposition(
        prepare(
            df,
            outcome="y",
            unit="id",
            time="t",
            cohort="cohort",
            treated=None,
            post=None,
            covariates=(),
            cluster=None,
        )
    )
    row = comp[(comp["treated"] == "5") & (comp["control"] == "never")].iloc[0]
    m = df.groupby(["cohort", df["t"] >= 5])["y"].mean()
    assert row["estimate"] == pytest.approx(
        (m[(5, True)] - m[(5, False)]) - (m[(0, True)] - m[(0, False)])
    )


def test_bacon_needs_a_balanced_panel() -> None:
    df = _staggered().iloc[1:]
    with pytest.raises(EstimationError, match="balanced panel"):
        estimate(
            df,
            outcome="y",
            unit="id",
            time="t",
            cohort="cohort",
            estimator="bacon",
            inference="analytic",
        )


def test_event_study_reference_period_is_minus_one_and_recovers_dynamics() -> None:
    df = _staggered(seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = estimate(
            df,
            outcome="y",
            unit="id",
            time="t",
            cohort="cohort",
            estimator="event_study",
            inference="analytic",
        )
    tidy = res.tidy()
    events = tidy.dropna(subset=["event_time"])
    assert -1 not in set(events["event_time"])
    assert set(events["event_time"]) == set(range(-6, 7)) - {-1}
    assert all(events["term"] == [f"event_time::{e}" for e in events["event_time"]])
    post = events[events["event_time"] >= 0]
    truth = 1.0 + 0.5 * post["event_time"].astype(float)
    assert np.all(np.abs(post["estimate"] - truth) < 4 * post["std_error"] + 0.05)
    pre = events[events["event_time"] < -1]
    assert np.all(np.abs(pre["estimate"]) < 4 * pre["std_error"] + 0.05)
    out = res.to_dict()
    assert out["reference_period"] == -1
    assert [r["event_time"] for r in out["event_study"]] == list(events["event_time"])
    assert out["pretrend"]["df"] == 5 and 0 <= out["pretrend"]["p_value"] <= 1
    assert out["att"] == pytest.approx(post["estimate"].mean())


def test_event_study_single_cohort_equals_differences_of_means() -> None:
    df = _staggered(seed=2)
    df = df[df["cohort"].isin([0, 5])]
    res = estimate(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="event_study",
        inference="analytic",
    )
    m = df.groupby([df["cohort"] > 0, "t"])["y"].mean()
    gap = m[True] - m[False]
    for row in res.tidy().dropna(subset=["event_time"]).itertuples():
        e = int(row.event_time)
        assert row.estimate == pytest.approx(gap[5 + e] - gap[4], abs=1e-9)


def test_event_study_bins_end_points() -> None:
    df = _staggered(seed=3)
    res = estimate(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="event_study",
        inference="analytic",
        min_e=-3,
        max_e=3,
    )
    events = list(res.tidy().dropna(subset=["event_time"])["event_time"])
    assert events == [-3, -2, 0, 1, 2, 3]
    with pytest.raises(EstimationError, match="min_e must be ≤ -1"):
        estimate(
            df, outcome="y", unit="id", time="t", cohort="cohort", estimator="event_study", min_e=0
        )


def test_event_study_on_an_unbalanced_panel() -> None:
    df = _staggered(seed=4).sample(frac=0.85, random_state=1)
    res = estimate(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="event_study",
        inference="analytic",
    )
    assert res.n_obs == len(df)
    assert np.isfinite(res.att) and np.isfinite(res.se)


def test_twfe_on_two_periods_equals_the_two_by_two() -> None:
    df = _staggered(seed=5, dynamic=False)
    df = df[df["cohort"].isin([0, 5]) & df["t"].isin([4, 5])]
    twfe = estimate(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="twfe",
        inference="analytic",
    )
    dd = estimate(
        df, outcome="y", unit="id", time="t", cohort="cohort", estimator="2x2", inference="analytic"
    )
    assert twfe.att == pytest.approx(dd.att, abs=1e-10)

"""The joint pre-trend test on Callaway–Sant'Anna's pre-period event-time estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from evalkit.did import estimate
from evalkit.did.cs import event_time_pretest


def _panel(n_units: int, n_periods: int, seed: int, cohorts: tuple[int, ...], trend: float = 0.0):
    r = np.random.default_rng(seed)
    units = pd.DataFrame(
        {
            "u": np.arange(n_units),
            "cl": np.arange(n_units) // 2,
            "g": r.choice(list(cohorts), n_units),
        }
    )
    df = units.merge(pd.DataFrame({"t": np.arange(1, n_periods + 1)}), how="cross")
    treated = df.g > 0
    effect = 0.5 * (treated & (df.t >= df.g))
    df["y"] = r.normal(size=len(df)) + effect + trend * treated * df.t + 0.1 * df.t
    return df


def _cs(df: pd.DataFrame, **kw):
    return estimate(
        df,
        outcome="y",
        unit="u",
        time="t",
        cohort="g",
        estimator="callaway_santanna",
        inference="analytic",
        cluster="cl",
        **kw,
    )


def test_one_cohort_gives_the_cell_wald_statistic_in_hotelling_form() -> None:
    # With one cohort the pre-period event-time rows are the pre-period cells and carry
    # no weight-estimation term, so W is R did's cell pre-test statistic.
    res = _cs(_panel(80, 6, seed=1, cohorts=(0, 5)), control="never")
    test = event_time_pretest(res)
    k, g = 3, res.n_clusters  # cells t = 2, 3, 4 against their previous periods
    assert test["valid"] and test["df"] == k and test["event_times"] == [-3, -2, -1]
    assert test["wald"] == pytest.approx(res.options["pretest_stat"], rel=1e-10)
    f = test["wald"] * (g - k) / (k * g)
    assert test["statistic"] == pytest.approx(f, rel=1e-12)
    assert test["df_denominator"] == g - k
    assert test["p_value"] == pytest.approx(special.fdtrc(k, g - k, f), rel=1e-12)


def test_staggered_pre_trend_is_found_and_its_absence_is_not() -> None:
    flat = event_time_pretest(_cs(_panel(120, 10, seed=2, cohorts=(0, 6, 8)), control="notyet"))
    sloped = _panel(120, 10, seed=2, cohorts=(0, 6, 8), trend=0.3)
    trending = event_time_pretest(_cs(sloped, control="notyet"))
    assert flat["valid"] and trending["valid"]
    assert flat["p_value"] > 0.05 and trending["p_value"] < 1e-3
    assert flat["event_times"] == [-6, -5, -4, -3, -2, -1]  # cohort 8 from period 2


def test_more_pre_period_rows_than_clusters_is_not_tested() -> None:
    df = _panel(16, 12, seed=3, cohorts=(0, 9, 11))
    df["cl"] = df["u"] // 4  # four clusters, nine pre-period rows (cohort 11 from period 2)
    test = event_time_pretest(_cs(df, control="notyet"))
    assert not test["valid"] and test["p_value"] is None
    assert test["reason"] == "more_effects_than_clusters"
    assert test["reason_values"] == {"k": 9, "clusters": 4}


def test_few_treated_clusters_are_not_tested() -> None:
    df = _panel(60, 6, seed=4, cohorts=(0,))
    df.loc[df["cl"] < 2, "g"] = 5  # two treated clusters
    test = event_time_pretest(_cs(df, control="never"), few_treated_threshold=5)
    assert test["reason"] == "few_treated_clusters" and test["reason_values"] == {"treated": 2}

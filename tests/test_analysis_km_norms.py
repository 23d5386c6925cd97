"""Kaplan–Meier quantiles as R ``survival`` defines them, and censoring-aware norm shares."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from evalkit.analysis.norms import Norm, _group_positions, norm_shares, within_share
from evalkit.analysis.survival import km_fit
from evalkit.analysis.throughput import norm_did

REF = Path(__file__).parent / "reference" / "survival_aml"


def test_median_of_ten_uncensored_durations_is_the_midpoint_of_the_flat_stretch():
    # R: survfit(Surv(1:10) ~ 1) prints median 5.5 (the curve is 0.5 on [5, 6)).
    fit = km_fit(np.arange(1, 11, dtype=float), np.ones(10))
    assert fit["median"] == 5.5
    # 1 - S = 0.8 on [8, 9): p80 is 8.5
    assert fit["p80"] == 8.5


def test_plateau_at_one_half_to_the_end_gives_a_value_not_not_reached():
    # three events, then three cases censored: the curve stays at 0.5 from day 30 to
    # the last follow-up (60); R's rule takes the midpoint, 45.
    fit = km_fit(np.array([10, 20, 30, 40, 50, 60.0]), np.array([1, 1, 1, 0, 0, 0]))
    assert fit["median"] == 45.0
    assert math.isnan(fit["p80"])  # never reaches 0.8


def test_quantile_without_a_flat_is_the_first_time_the_curve_passes_the_level():
    fit = km_fit(np.array([2, 4, 6.0]), np.array([1, 1, 1]))
    assert fit["median"] == 4.0


def test_aml_medians_equal_r_survival_printed_output():
    data = pd.read_csv(REF / "aml.csv")
    expected = pd.read_csv(REF / "r_print.csv").set_index("x")
    for group, sub in data.groupby("x"):
        fit = km_fit(sub["time"].to_numpy(float), sub["status"].to_numpy(float))
        row = expected.loc[group]
        assert fit["n"] == row["n"]
        assert fit["n_events"] == row["events"]
        assert fit["median"] == pytest.approx(row["median"], abs=0.5)


def _exponential_cases(n: int = 3000, seed: int = 12) -> tuple[pd.DataFrame, float]:
    """Cases starting uniformly over six months, exponential durations (mean 25 days)."""
    rng = np.random.default_rng(seed)
    first, cutoff = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-06-30")
    start = pd.Series(first + pd.to_timedelta(rng.integers(0, (cutoff - first).days + 1, n), "D"))
    duration = np.ceil(rng.exponential(25.0, n))  # whole days, at least 1
    follow = (cutoff - start).dt.days.to_numpy(float)
    frame = pd.DataFrame(
        {
            "interval": "registration_to_first_conversation",
            "event": duration <= follow,
            "competing": False,
            "days": np.minimum(duration, follow),
            "start_month": start.dt.strftime("%Y-%m"),
        }
    )
    frame["working_days"] = frame["days"]
    truth = 1 - math.exp(-28 / 25)  # P(ceil(T) <= 28) = P(T <= 28)
    return frame, truth


def test_last_start_month_share_is_near_the_truth_not_inflated_by_censoring():
    frame, truth = _exponential_cases()
    norm = Norm("first_conversation", "registration_to_first_conversation", 4, "weeks")
    out = norm_shares(frame, [norm], groupings=[("start_month",)], dims=("start_month",))
    last = out.loc[out["start_month"] == "2025-06"].iloc[0]
    naive = last["n_within"] / (last["n_within"] + last["n_breach"])
    assert naive > 0.9  # dropping the not-yet-known cases keeps the quick ones
    assert abs(last["share_within"] - truth) < 0.06, (last["share_within"], truth)
    assert last["conf_low"] <= truth <= last["conf_high"]
    everything = norm_shares(frame, [norm], groupings=[()], dims=())
    assert everything["share_within"].iloc[0] == pytest.approx(truth, abs=0.03)


def test_dropout_is_a_competing_event_not_censoring():
    # 4 cases: conversation on day 3 and 10, a drop-out on day 5, one open at day 40.
    elapsed = np.array([3.0, 10.0, 5.0, 40.0])
    event = np.array([True, True, False, False])
    dropout = np.array([False, False, True, False])
    share, lo, hi = within_share(elapsed, event, dropout, 28.0, 0.05)
    assert share == pytest.approx(0.5)  # 2 of 4 reached the conversation in time
    as_censored, *_ = within_share(elapsed, event, np.zeros(4, bool), 28.0, 0.05)
    assert as_censored == pytest.approx(0.625)  # Kaplan–Meier would treat the drop-out as lost
    assert lo <= share <= hi


def test_share_is_unknown_when_nobody_was_followed_up_to_the_limit():
    share, lo, hi = within_share(
        np.array([1.0, 2.0]), np.array([True, False]), np.zeros(2, bool), 28, 0.05
    )
    assert math.isnan(share) and math.isnan(lo) and math.isnan(hi)


@pytest.mark.parametrize(
    ("elapsed", "event", "dropout", "share", "count"),
    [
        # every case reached the end event before the limit: all within, not unknown
        ([3.0, 5.0, 7.0, 10.0, 12.0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0], 1.0, 5),
        # one closed without it: 4 of 5 within
        ([3.0, 5.0, 7.0, 10.0, 12.0], [1, 0, 1, 1, 1], [0, 1, 0, 0, 0], 0.8, 4),
    ],
)
def test_a_group_whose_cases_all_ended_before_the_limit_has_a_share(
    elapsed, event, dropout, share, count
):
    """A quarter in which every pilot case was seen in time used to vanish as 'unknown'."""
    got = within_share(np.array(elapsed), np.array(event, bool), np.array(dropout, bool), 28, 0.05)
    assert got[0] == pytest.approx(share)
    wilson = proportion_confint(count, len(elapsed), 0.05, "wilson")
    assert got[1:] == pytest.approx(wilson)


def test_a_case_censored_early_does_not_hide_a_share_the_later_cases_settle():
    # open until day 2 (censored), then conversations on days 5 and 8: nobody is left at
    # risk before the 28-day limit, and the Aalen-Johansen share is 1
    share, lo, hi = within_share(
        np.array([2.0, 5.0, 8.0]), np.array([False, True, True]), np.zeros(3, bool), 28, 0.05
    )
    assert share == pytest.approx(1.0) and lo < 1.0 and hi == pytest.approx(1.0)


def test_norm_did_states_not_estimable_when_the_pilot_has_no_pre_pilot_cases():
    # the pilot municipality's cases all start after its pilot start: its treatment is
    # constant, collinear with its fixed effect
    rows = []
    for mun, months in (("GM0001", range(4, 12)), ("GM0002", range(0, 12))):
        for m in months:
            for i in range(3):
                rows.append(
                    {
                        "interval": "registration_to_first_conversation",
                        "municipality": mun,
                        "start_date": pd.Timestamp(2025, 1, 1) + pd.DateOffset(months=m, days=i),
                        "event": True,
                        "competing": False,
                        "days": float(10 + 10 * i),
                        "working_days": float(8 + 7 * i),
                        "group": "pilot" if mun == "GM0001" else "comparison",
                    }
                )
    frame = pd.DataFrame(rows)
    frame["start_month"] = frame["start_date"].dt.strftime("%Y-%m")
    frame["start_quarter"] = (
        frame["start_date"].dt.year.astype(str) + "-Q" + frame["start_date"].dt.quarter.astype(str)
    )
    norm = Norm("first_conversation", "registration_to_first_conversation", 4, "weeks")
    out = norm_did(
        frame,
        [norm],
        pilot_starts={"GM0001": date(2025, 4, 1)},
        comparison_units=["GM0002"],
    )
    status = out["status"].iloc[0]
    assert status.startswith("not_estimable: ")
    assert "collinear with the fixed effects" in status


def test_a_share_never_leaves_zero_to_one():
    """Aalen-Johansen increments summed to 1.0000000000000002 in school_to_work_region."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(3, 40))
        elapsed = rng.integers(1, 27, n).astype(float)
        event = rng.random(n) < 0.9
        share, lo, hi = within_share(elapsed, event, ~event, 28, 0.05)
        assert 0.0 <= lo <= share <= hi <= 1.0


def test_norm_groups_are_groupbys_groups_in_its_order() -> None:
    frame = pd.DataFrame(
        {
            "group": ["pilot", "comparison", None, "pilot", "comparison", "pilot"],
            "month": ["2025-02", "2025-01", "2025-01", "2025-01", "2025-01", "2025-02"],
        }
    )
    for by in (("group",), ("group", "month"), ("month",)):
        expected = [
            (key if isinstance(key, tuple) else (key,), list(rows.index))
            for key, rows in frame.groupby(list(by), sort=True)
        ]
        got = [(key, list(at)) for key, at in _group_positions(frame, by)]
        assert got == expected
    assert [list(at) for _, at in _group_positions(frame, ())] == [list(range(6))]

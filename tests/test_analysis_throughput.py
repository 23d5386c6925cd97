"""Throughput: intervals with censoring, Kaplan–Meier by hand, norms, working days."""

from __future__ import annotations

import dataclasses
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.analysis.calendar_nl import add_working_days, dutch_holidays, working_days_between
from evalkit.analysis.intervals import case_intervals, events_after
from evalkit.analysis.norms import Norm, norm_shares, norm_status, parse_norms
from evalkit.analysis.survival import km_curve, km_fit, km_summary
from evalkit.analysis.throughput import THROUGHPUT_TABLES, norm_did, throughput_tables
from evalkit.errors import DataValidationError, EvalkitError
from evalkit.pipeline.assemble import limitations
from evalkit.protocol import load_protocol

REF = date(2025, 3, 31)


def ev(
    case,
    etype,
    day,
    *,
    person=None,
    mun="GM0001",
    domain="debts",
    org="Schuldhulp A",
    org_type="debt_help",
    crisis=False,
    outcome=None,
    receiving=None,
    coach=None,
    crisis_type=None,
):
    return {
        "event_id": f"{case}-{etype}-{day}",
        "case_id": case,
        "person_id": person or f"p{case}",
        "municipality": mun,
        "domain": domain,
        "org_type": org_type,
        "organisation": org,
        "coach_id": coach,
        "event_type": etype,
        "event_date": pd.Timestamp(day),
        "crisis": crisis,
        "crisis_type": crisis_type,
        "outcome": outcome,
        "receiving_org": receiving,
    }


def km_log() -> pd.DataFrame:
    """Ten registrations on 1 March 2025; first conversation after the days below.

    Days:    1  2  2  3  4  5  6  7  8  9
    event:   y  y  n  y  y  n  y  y  n  y
    The censored ones: case c3 exits on day 2 without a conversation, c6 exits on day 5,
    c9 registers a day later and is still open at the reference date 10 March (day 8).
    """
    start = pd.Timestamp("2025-03-01")
    rows = []
    days = [1, 2, 2, 3, 4, 5, 6, 7, 8, 9]
    status = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1]
    for i, (d, s) in enumerate(zip(days, status, strict=True), start=1):
        c = f"c{i}"
        rows.append(ev(c, "registration", start + pd.Timedelta(days=int(i == 9))))
        if s:
            rows.append(ev(c, "first_conversation", start + pd.Timedelta(days=d)))
        elif i != 9:
            rows.append(ev(c, "exit", start + pd.Timedelta(days=d)))
    return pd.DataFrame(rows)


def test_intervals_censor_at_exit_or_reference_date_and_keep_open_cases():
    iv = case_intervals(km_log(), reference_date=date(2025, 3, 10))
    r = iv.loc[iv["interval"] == "registration_to_first_conversation"].set_index("case_id")
    assert len(r) == 10  # nothing dropped
    assert r.loc["c3", "days"] == 2 and not r.loc["c3", "event"]
    assert r.loc["c6", "days"] == 5 and not r.loc["c6", "event"]
    assert r.loc["c9", "days"] == 8 and not r.loc["c9", "event"]
    assert r.loc["c10", "days"] == 9 and r.loc["c10", "event"]


def test_kaplan_meier_matches_hand_computation():
    iv = case_intervals(km_log(), reference_date=date(2025, 3, 10))
    sub = iv.loc[iv["interval"] == "registration_to_first_conversation"]
    fit = km_fit(sub["days"].to_numpy(), sub["event"].to_numpy())
    # S(1)=9/10, S(2)=.9*8/9=.8, S(3)=.8*6/7, S(4)=S(3)*5/6, S(6)=S(4)*3/4 = .4286 -> median 6
    # S(7)=S(6)*2/3=.2857, S(9)=0 (8 is censored) -> 80th percentile (S<=.2) is 9
    assert fit["n"] == 10 and fit["n_events"] == 7 and fit["n_censored"] == 3
    assert fit["median"] == 6 and fit["p80"] == 9
    curve = km_curve(sub, groupings=((),))
    s = curve.set_index("time")["surv"]
    hand = {
        0: 1,
        1: 0.9,
        2: 0.8,
        3: 0.8 * 6 / 7,
        4: 0.8 * 5 / 7,
        6: 0.8 * 5 / 7 * 3 / 4,
        7: 0.8 * 5 / 7 * 3 / 4 * 2 / 3,
        9: 0.0,
    }
    for t, v in hand.items():
        assert s.loc[t] == pytest.approx(v, abs=1e-12)
    assert curve.loc[curve["time"] == 3, "n_risk"].item() == 7
    inside = curve.loc[(curve["surv"] > 0) & (curve["surv"] < 1)]
    assert (inside["conf_low"] < inside["surv"]).all()
    assert (inside["surv"] < inside["conf_high"]).all()


def test_km_summary_groups_and_counts():
    log = km_log()
    log.loc[log["case_id"].isin(["c1", "c2", "c3"]), "org_type"] = "municipality"
    iv = case_intervals(log, reference_date=date(2025, 3, 10))
    tab = km_summary(iv, groupings=((), ("org_type",)))
    tab = tab.loc[tab["interval"] == "registration_to_first_conversation"]
    assert set(tab["org_type"]) == {"all", "municipality", "debt_help"}
    assert tab.loc[tab["org_type"] == "municipality", "n"].item() == 3
    assert tab.loc[tab["org_type"] == "all", "median"].item() == 6


def test_norm_shares_count_censored_cases_on_both_sides():
    start = pd.Timestamp("2025-01-06")  # a Monday
    d = pd.Timedelta
    rows = [
        # done within 28 days / done late / open 40 days at reference (breach) /
        # open 10 days at reference (not yet known) / closed at day 30 without conversation
        *[ev("a", "registration", start), ev("a", "first_conversation", start + d(days=20))],
        *[ev("b", "registration", start), ev("b", "first_conversation", start + d(days=35))],
        ev("c", "registration", pd.Timestamp("2025-02-19")),
        ev("d", "registration", pd.Timestamp("2025-03-21")),
        *[ev("e", "registration", start), ev("e", "exit", start + pd.Timedelta(days=30))],
        # exactly on the limit counts as within
        *[ev("f", "registration", start), ev("f", "first_conversation", start + d(days=28))],
    ]
    iv = case_intervals(pd.DataFrame(rows), reference_date=REF)
    norm = parse_norms(None)
    norm = next(n for n in norm if n.name == "debt_help_first_conversation")
    st = norm_status(iv, norm).set_index("case_id")["status"]
    assert st.to_dict() == {
        "a": "within",
        "b": "breach",
        "c": "breach",
        "d": "unknown",
        "e": "breach",
        "f": "within",
    }
    tab = norm_shares(iv, [norm], groupings=((),))
    row = tab.iloc[0]
    assert (row["n"], row["n_within"], row["n_breach"], row["n_breach_open"], row["n_unknown"]) == (
        6,
        2,
        3,
        2,
        1,
    )
    assert row["share_within"] == pytest.approx(2 / 5)
    assert row["conf_low"] < 0.4 < row["conf_high"]


def test_crisis_norm_counts_working_days_over_easter():
    # registration Thursday 17 April 2025; Good Friday is a working day, Easter Monday not:
    # Fri 18 (1), Tue 22 (2), Wed 23 (3), Thu 24 (4)
    rows = [
        ev("x", "registration", pd.Timestamp("2025-04-17"), crisis=True),
        ev("x", "first_conversation", pd.Timestamp("2025-04-23")),
        ev("y", "registration", pd.Timestamp("2025-04-17"), crisis=True),
        ev("y", "first_conversation", pd.Timestamp("2025-04-24")),
    ]
    iv = case_intervals(pd.DataFrame(rows), reference_date=date(2025, 6, 30))
    crisis = next(n for n in parse_norms(None) if n.name == "debt_help_first_conversation_crisis")
    st = norm_status(iv, crisis).set_index("case_id")
    assert st.loc["x", "elapsed"] == 3 and st.loc["x", "status"] == "within"
    assert st.loc["y", "elapsed"] == 4 and st.loc["y", "status"] == "breach"
    plain = next(n for n in parse_norms(None) if n.name == "debt_help_first_conversation")
    assert norm_status(iv, plain).empty  # crisis cases fall under the crisis norm only


def test_only_wgs_crises_get_the_three_day_norm():
    day = pd.Timestamp("2025-03-03")
    rows = [
        ev("evict", "registration", day, crisis=True, crisis_type="eviction"),
        ev("other", "registration", day, crisis=True, crisis_type="other"),
        ev("untyped", "registration", day, crisis=True),
        ev("none", "registration", day),
    ]
    iv = case_intervals(pd.DataFrame(rows), reference_date=date(2025, 3, 31))
    norms = {n.name: n for n in parse_norms(None)}
    crisis = set(norm_status(iv, norms["debt_help_first_conversation_crisis"])["case_id"])
    plain = set(norm_status(iv, norms["debt_help_first_conversation"])["case_id"])
    assert crisis == {"evict", "untyped"} and plain == {"other", "none"}


def test_dutch_holidays_and_working_days():
    h = dutch_holidays([2023, 2025], liberation_day="lustrum")
    names = dict(zip(h["date"].dt.date, h["name"], strict=True))
    assert names[date(2025, 4, 26)] == "Koningsdag"  # 27 April 2025 is a Sunday
    assert names[date(2023, 4, 27)] == "Koningsdag"
    assert names[date(2025, 5, 5)] == "Bevrijdingsdag"  # lustrum year
    assert date(2023, 5, 5) not in names
    assert names[date(2025, 4, 21)] == "Tweede paasdag"
    assert names[date(2025, 5, 29)] == "Hemelvaartsdag"
    assert names[date(2025, 6, 9)] == "Tweede pinksterdag"
    # Christmas 2024: Tue 24 -> Fri 27 is one working day (Wed 25, Thu 26 are holidays)
    assert working_days_between([date(2024, 12, 24)], [date(2024, 12, 27)])[0] == 1
    # Across New Year: Fri 27 Dec 2024 -> Fri 3 Jan 2025: Mon 30, Tue 31, Thu 2, Fri 3
    assert working_days_between([date(2024, 12, 27)], [date(2025, 1, 3)])[0] == 4
    # King's Day 2025 falls on a Saturday: no working day lost that week
    assert working_days_between([date(2025, 4, 24)], [date(2025, 4, 29)])[0] == 3
    # King's Day 2024 (Saturday 27 April) and 2023 (Thursday 27 April)
    assert working_days_between([date(2023, 4, 26)], [date(2023, 4, 28)])[0] == 1
    # Liberation Day is off every year for legal deadlines (Algemene termijnenwet art. 3):
    # Monday 5 May 2025 and Tuesday 5 May 2026; the collective-agreement rule keeps only
    # the lustrum year
    assert working_days_between([date(2025, 5, 2)], [date(2025, 5, 6)])[0] == 1
    assert working_days_between([date(2026, 5, 4)], [date(2026, 5, 6)])[0] == 1
    lustrum = {"liberation_day": "lustrum"}
    assert working_days_between([date(2026, 5, 4)], [date(2026, 5, 6)], **lustrum)[0] == 2
    assert working_days_between([date(2025, 5, 2)], [date(2025, 5, 6)], **lustrum)[0] == 1
    assert (
        working_days_between([date(2025, 5, 2)], [date(2025, 5, 6)], liberation_day="never")[0] == 2
    )
    # Easter 2024: Thu 28 March -> Tue 2 April: Fri 29 (working day), Tue 2 -> 2
    assert working_days_between([date(2024, 3, 28)], [date(2024, 4, 2)])[0] == 2
    assert working_days_between([date(2024, 3, 28)], [date(2024, 4, 2)], good_friday=True)[0] == 1
    assert add_working_days(date(2025, 4, 17), 3) == date(2025, 4, 23)
    assert add_working_days(date(2025, 4, 19), 1) == date(2025, 4, 22)
    assert np.isnan(working_days_between([None], [date(2025, 1, 1)])[0])


def test_easter_based_holidays_match_published_easter_dates():
    # Easter Sundays (Gregorian): 2024-03-31, 2025-04-20, 2026-04-05, 2027-03-28
    h = dutch_holidays([2024, 2025, 2026, 2027])
    by_name = h.groupby("name")["date"].apply(lambda s: sorted(s.dt.date)).to_dict()
    assert by_name["Tweede paasdag"] == [
        date(2024, 4, 1),
        date(2025, 4, 21),
        date(2026, 4, 6),
        date(2027, 3, 29),
    ]
    assert by_name["Hemelvaartsdag"] == [
        date(2024, 5, 9),
        date(2025, 5, 29),
        date(2026, 5, 14),
        date(2027, 5, 6),
    ]
    assert by_name["Tweede pinksterdag"] == [
        date(2024, 5, 20),
        date(2025, 6, 9),
        date(2026, 5, 25),
        date(2027, 5, 17),
    ]
    assert by_name["Koningsdag"] == [
        date(2024, 4, 27),
        date(2025, 4, 26),
        date(2026, 4, 27),
        date(2027, 4, 27),
    ]


def test_queens_day_before_2014_and_bad_option():
    h = dutch_holidays([2013, 2008], liberation_day="never")
    days = set(h["date"].dt.date)
    assert date(2013, 4, 30) in days and date(2008, 4, 30) in days
    with pytest.raises(EvalkitError, match="lustrum, always, never"):
        dutch_holidays([2025], liberation_day="sometimes")  # type: ignore[arg-type]


def test_parse_norms_overrides_removes_and_rejects():
    norms = {
        n.name: n
        for n in parse_norms({"participatiewet_decision": {"limit": 6}, "advance_payment": None})
    }
    assert norms["participatiewet_decision"].limit == 6
    assert norms["participatiewet_decision"].unit == "weeks"
    assert "advance_payment" not in norms
    with pytest.raises(EvalkitError, match="unit='months' is not allowed"):
        parse_norms({"x": {"interval": "registration_to_start", "limit": 1, "unit": "months"}})
    with pytest.raises(EvalkitError, match="interval='nope'"):
        parse_norms({"x": {"interval": "nope", "limit": 1}})
    with pytest.raises(EvalkitError, match="limit must be a number"):
        parse_norms({"x": {"interval": "registration_to_start", "limit": "soon"}})
    with pytest.raises(EvalkitError, match=r"where: unknown column\(s\) colour"):
        parse_norms(
            {"x": {"interval": "registration_to_start", "limit": 1, "where": {"colour": "red"}}}
        )
    assert Norm("w", "registration_to_start", 2, "weeks").limit_days == 14


def test_throughput_tables_periods_advance_payment_and_future_events():
    rows = [
        ev("p1", "registration", pd.Timestamp("2024-11-04"), mun="GM0001"),
        ev("p1", "first_conversation", pd.Timestamp("2024-11-08"), mun="GM0001"),
        ev("p2", "registration", pd.Timestamp("2025-02-03"), mun="GM0001"),
        ev("p2", "first_conversation", pd.Timestamp("2025-02-05"), mun="GM0001"),
        ev(
            "q1",
            "application",
            pd.Timestamp("2025-01-06"),
            mun="GM0002",
            domain="income",
            org_type="municipality",
            org="Gemeente B",
            outcome="advance_requested",
        ),
        ev(
            "q1",
            "decision",
            pd.Timestamp("2025-01-20"),
            mun="GM0002",
            domain="income",
            org_type="municipality",
            org="Gemeente B",
            outcome="advance_payment",
        ),
        ev(
            "q1",
            "decision",
            pd.Timestamp("2025-02-14"),
            mun="GM0002",
            domain="income",
            org_type="municipality",
            org="Gemeente B",
            outcome="granted",
        ),
        ev("q2", "registration", pd.Timestamp("2025-05-01"), mun="GM0002"),  # after reference
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # left out without a warning: the pipeline states it
        tabs = throughput_tables(
            pd.DataFrame(rows),
            reference_date=REF,
            pilot_starts={"GM0001": date(2025, 1, 1)},
            comparison_units=["GM0002"],
        )
    assert events_after(pd.DataFrame(rows), REF) == 1
    assert set(tabs) == set(THROUGHPUT_TABLES)
    km = tabs["km_summary"]
    per = km.loc[
        (km["interval"] == "registration_to_first_conversation") & (km["group"] == "pilot")
    ].set_index("period")
    assert per.loc["before", "median"] == 4 and per.loc["during", "median"] == 2
    n = tabs["norms"].set_index(["norm", "org_type", "group", "period"])
    adv = n.loc[("advance_payment", "all", "all", "all")]
    assert adv["n_within"] == 1 and adv["n"] == 1 and adv["n_unknown"] == 0
    dec = n.loc[("participatiewet_decision", "all", "all", "all")]
    assert dec["n_within"] == 1  # first decision 14 days after the application
    monthly = tabs["norms_monthly"]
    assert {"month", "group", "n", "share_within"} <= set(monthly.columns)
    for name, table in tabs.items():
        assert isinstance(table, pd.DataFrame), name


def test_reference_date_must_be_a_date():
    with pytest.raises(EvalkitError, match="reference_date must be a date"):
        throughput_tables(
            km_log(),
            reference_date="2025-01-01",  # type: ignore[arg-type]
            pilot_starts={},
            comparison_units=[],
        )


def test_no_runtime_warnings_from_km_on_degenerate_groups():
    iv = case_intervals(km_log().iloc[:2], reference_date=date(2025, 3, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        km_summary(iv)
        km_curve(iv)


def test_missing_columns_are_named():
    with pytest.raises(DataValidationError, match=r"required column.*event_date"):
        throughput_tables(
            km_log().drop(columns=["event_date"]),
            reference_date=REF,
            pilot_starts={},
            comparison_units=[],
        )


def n_fast(m: int, qi: int) -> int:
    """Cases (of 10) meeting the norm: 4-6 with some noise, 4 more in the pilot once started."""
    return 4 + (m * 3 + qi * qi * 5) % 3 + (4 if m == 1 and qi >= 4 else 0)


def did_events() -> pd.DataFrame:
    """GM0001 (pilot from 2025-01) and six comparisons, 10 debt cases per quarter each."""
    rows = []
    for m in range(1, 8):
        mun = f"GM000{m}"
        for qi, q in enumerate(pd.period_range("2024Q1", "2025Q4", freq="Q")):
            for k in range(10):
                start = q.start_time + pd.Timedelta(days=3 * k)
                fast = k < n_fast(m, qi)
                case = f"{mun}-{q}-{k}"
                rows.append(ev(case, "registration", start, mun=mun))
                rows.append(
                    ev(
                        case,
                        "first_conversation",
                        start + pd.Timedelta(days=10 if fast else 40),
                        mun=mun,
                    )
                )
    return pd.DataFrame(rows)


def test_norm_did_recovers_a_known_jump_in_the_share_within_norm():
    iv = case_intervals(
        did_events(),
        reference_date=date(2026, 6, 30),
        pilot_starts={"GM0001": date(2025, 1, 1)},
        comparison_units=[f"GM000{m}" for m in range(2, 8)],
    )
    norm = [n for n in parse_norms(None) if n.name == "debt_help_first_conversation"]
    did = norm_did(
        iv,
        norm,
        pilot_starts={"GM0001": date(2025, 1, 1)},
        comparison_units=[f"GM000{m}" for m in range(2, 8)],
    )
    row = did.iloc[0]
    assert row["status"] == "ok"
    # the same TWFE estimate by hand: regress double-demeaned shares on double-demeaned D
    y = np.array([[n_fast(m, qi) / 10 for qi in range(8)] for m in range(1, 8)])
    d = np.zeros((7, 8))
    d[0, 4:] = 1

    def demean(a):
        return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean()

    expected = (demean(d) * demean(y)).sum() / (demean(d) ** 2).sum()
    assert 0.3 < expected < 0.5
    assert row["estimate"] == pytest.approx(expected, abs=1e-9)
    assert (row["n_cells"], row["n_cases"], row["n_cells_transition"]) == (56, 560, 0)
    assert row["n_treated_clusters"] == 1
    assert "treated" in row["warnings"]  # one pilot municipality: few-treated inference
    assert "few_treated_permutation" in [c["code"] for c in row["warning_codes"] if c]
    # a start in the middle of a quarter: that quarter is left out for the pilot
    mid = norm_did(
        iv,
        norm,
        pilot_starts={"GM0001": date(2025, 2, 1)},
        comparison_units=[f"GM000{m}" for m in range(2, 8)],
    ).iloc[0]
    assert mid["n_cells_transition"] == 1 and mid["n_cells"] == 55
    monthly = norm_did(
        iv,
        norm,
        pilot_starts={"GM0001": date(2025, 1, 1)},
        comparison_units=[f"GM000{m}" for m in range(2, 8)],
        period="month",
    )
    # all cases start in a quarter's first month: the same cells, the same estimate
    assert monthly.iloc[0]["n_cells"] == 56
    assert monthly.iloc[0]["estimate"] == pytest.approx(expected, abs=1e-9)
    with pytest.raises(EvalkitError, match="quarter, month"):
        norm_did(
            iv,
            norm,
            pilot_starts={"GM0001": date(2025, 1, 1)},
            comparison_units=["GM0002"],
            period="week",
        )  # type: ignore[arg-type]


def test_the_bundle_states_events_left_out_after_the_reference_date() -> None:
    """From the registered reference date to the bundle's limitations (the report words them)."""
    root = Path(__file__).resolve().parents[1]
    shipped = load_protocol(root / "protocols" / "examples" / "school_to_work_region.yaml")
    dates = pd.to_datetime(["2026-03-30", "2026-03-31", "2026-04-01", "2026-04-02"])
    events = pd.DataFrame({"case_id": ["a", "a", "b", "b"], "event_date": dates})

    def codes(reference: str | None) -> dict:
        throughput = dataclasses.replace(shipped.throughput, reference_date=reference)
        protocol = dataclasses.replace(shipped, throughput=throughput)
        out = limitations(protocol, [], {"status": "registered"}, None, events)
        return {row["code"]: row["values"] for row in out}

    late = codes("2026-03-31")["events_after_reference"]
    assert late == {"n_events": 2, "reference_date": "2026-03-31"}
    assert "events_after_reference" not in codes(None)  # default: the latest event


def test_a_share_difference_interval_is_cut_to_its_range() -> None:
    """A permutation interval of a share difference that reaches past 1 is cut, with a note."""
    from evalkit.analysis.did_bridge import within_range
    from evalkit.report.warning_text import warning_text

    rec = {
        "estimate": 0.82,
        "conf_low": 0.17,
        "conf_high": 1.53,
        "warnings": "w",
        "warning_codes": [None],
    }
    cut = within_range(rec, -1.0, 1.0)
    assert (cut["conf_low"], cut["conf_high"]) == (0.17, 1.0)
    assert cut["warning_codes"][-1] == {
        "code": "interval_cut_to_range",
        "values": {"range_low": -1.0, "range_high": 1.0},
    }
    assert cut["warnings"].startswith("w; the interval was cut to [-1, 1]")
    nl = warning_text(cut["warning_codes"][-1], "nl") or ""
    assert "van \u22121 tot 1:" in nl
    inside = {**rec, "conf_high": 0.9}
    assert within_range(inside, -1.0, 1.0) is inside
    unbounded = {**rec, "conf_low": -np.inf, "conf_high": np.inf}
    assert within_range(unbounded, -1.0, 1.0) is unbounded


def test_norm_did_intervals_stay_within_minus_one_and_one() -> None:
    """Two pilots go from no case within the norm to all of them: the interval stops at 1."""
    rows = []
    units = [f"GM{m:04d}" for m in range(1, 13)]
    for m, mun in enumerate(units):
        for qi, q in enumerate(pd.period_range("2024Q1", "2025Q4", freq="Q")):
            pilot_on = m < 2 and qi >= 4
            n_within = 10 if pilot_on else (0 if m < 2 else (m * 7 + qi * 3) % 9)
            for k in range(10):
                start = q.start_time + pd.Timedelta(days=3 * k)
                days = 10 if k < n_within else 40
                case = f"{mun}-{q}-{k}"
                rows.append(ev(case, "registration", start, mun=mun))
                rows.append(
                    ev(case, "first_conversation", start + pd.Timedelta(days=days), mun=mun)
                )
    starts = {u: date(2025, 1, 1) for u in units[:2]}
    iv = case_intervals(
        pd.DataFrame(rows), reference_date=date(2026, 6, 30), pilot_starts=starts,
        comparison_units=units[2:],
    )  # fmt: skip
    norm = [n for n in parse_norms(None) if n.name == "debt_help_first_conversation"]
    row = norm_did(iv, norm, pilot_starts=starts, comparison_units=units[2:]).iloc[0]
    assert row["status"] == "ok" and row["inference"] == "permutation"
    assert row["estimate"] > 0.9
    assert row["conf_high"] == 1.0 and -1.0 <= row["conf_low"] < 1.0
    assert "interval_cut_to_range" in [c["code"] for c in row["warning_codes"] if c]

"""Monitoring tables: registrations, active cases at month end, and completeness."""

from __future__ import annotations

from datetime import date

import pandas as pd

from evalkit.analysis.breaches import current_breaches
from evalkit.analysis.monitoring import completeness_table, data_up_to, registrations_table


def _events() -> pd.DataFrame:
    rows = [
        ("c1", "GM9001", "registration", "2025-10-03"),
        ("c1", "GM9001", "exit", "2025-11-30"),
        ("c2", "GM9001", "registration", "2025-10-20"),
        ("c3", "GM9002", "registration", "2025-11-02"),
        ("c3", "GM9002", "dropout", "2025-12-01"),
    ]
    return pd.DataFrame(rows, columns=["case_id", "municipality", "event_type", "event_date"])


def test_registrations_and_active_cases_per_month() -> None:
    table = pd.DataFrame(registrations_table(_events(), pilot_units=["GM9001"]))
    pilot = table.loc[table["group"] == "pilot"].set_index("period")
    comparison = table.loc[table["group"] == "comparison"].set_index("period")
    assert list(pilot.index) == ["2025-10", "2025-11", "2025-12"]
    assert list(pilot["n_registrations"]) == [2, 0, 0]
    # c1 closes on 30 November: still active at the end of October, not at the end of November
    assert list(pilot["n_active"]) == [2, 1, 1]
    assert list(comparison["n_registrations"]) == [0, 1, 0]
    assert list(comparison["n_active"]) == [0, 1, 0]


def test_completeness_counts_missing_shares() -> None:
    frame = pd.DataFrame({"a": [1, None, 3, None], "b": ["x", "y", "z", "w"], "_row": [1, 2, 3, 4]})
    rows = {r["column"]: r for r in completeness_table({"outcome_panel": frame})}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["share_missing"] == 0.5 and rows["a"]["n"] == 4
    assert rows["b"]["share_missing"] == 0.0


def _norm_events() -> pd.DataFrame:
    """Debt-help cases on 31 March 2026 (norm: first conversation within 4 weeks = 28 days).

    Pilot GM9001, organisation A: p1 (coach x, registered 60 days before) and p2 (coach x,
    10 days before) still wait; p3 (coach y, 40 days before) waits; p4 had its first
    conversation in time; p5 (coach y, 50 days before) closed without one (not open).
    Comparison GM9002, organisation B: q1 (no coach, 30 days before) waits.
    """
    ref = pd.Timestamp("2026-03-31")
    rows = [
        ("p1", "GM9001", "A", "x", "registration", ref - pd.Timedelta(days=60)),
        ("p2", "GM9001", "A", "x", "registration", ref - pd.Timedelta(days=10)),
        ("p3", "GM9001", "A", None, "registration", ref - pd.Timedelta(days=40)),
        ("p3", "GM9001", "A", "y", "intake", ref - pd.Timedelta(days=35)),
        ("p4", "GM9001", "A", "x", "registration", ref - pd.Timedelta(days=50)),
        ("p4", "GM9001", "A", "x", "first_conversation", ref - pd.Timedelta(days=45)),
        ("p5", "GM9001", "A", "y", "registration", ref - pd.Timedelta(days=50)),
        ("p5", "GM9001", "A", "y", "dropout", ref - pd.Timedelta(days=5)),
        ("q1", "GM9002", "B", None, "registration", ref - pd.Timedelta(days=30)),
        ("z1", "GM9099", "C", "w", "registration", ref - pd.Timedelta(days=90)),
    ]
    frame = pd.DataFrame(
        rows,
        columns=["case_id", "municipality", "organisation", "coach_id", "event_type", "event_date"],
    )
    return frame.assign(
        event_id=[f"e{i}" for i in range(len(frame))],
        person_id=frame["case_id"],
        domain="debts",
        org_type="debt_help",
    )


def test_current_breaches_per_organisation_and_coach() -> None:
    rows = current_breaches(
        _norm_events(),
        reference_date=date(2026, 3, 31),
        pilot_starts={"GM9001": date(2025, 10, 1)},
        comparison_units=["GM9002"],
        norms={"debt_help_first_conversation_crisis": None, "participatiewet_decision": None},
    )
    got = [
        (r["group"], r["organisation"], r["coach"], r["n_open"], r["n_within"], r["n_past_norm"])
        for r in rows
        if r["norm"] == "debt_help_first_conversation"
    ]
    # p1 (60 d) and p2 (10 d) held by x; p3 (40 d) by y; p4 reached its end, p5 closed;
    # q1 waits 30 > 28 days; z1 is in neither group; the group's total comes last
    assert got == [
        ("pilot", "A", "x", 2, 1, 1),
        ("pilot", "A", "y", 1, 0, 1),
        ("pilot", "all", "all", 3, 1, 2),
        ("comparison", "B", None, 1, 0, 1),
        ("comparison", "all", "all", 1, 0, 1),
    ]


def test_data_up_to_per_source() -> None:
    panel = pd.DataFrame({"month": pd.to_datetime(["2026-01-01", "2026-02-01"])})
    responses = pd.DataFrame({"admin_date": ["2026-02-03", "2026-03-14"]})
    got = data_up_to(panel=panel, events_reference=date(2026, 3, 31), responses=responses)
    assert got == {
        "case_events": "2026-03-31",
        "outcome_panel": "2026-02",
        "questionnaire": "2026-03-14",
    }
    assert data_up_to(panel=panel) == {"outcome_panel": "2026-02"}

"""Monitoring tables: registrations, active cases at month end, and completeness."""

from __future__ import annotations

import pandas as pd

from evalkit.analysis.monitoring import completeness_table, registrations_table


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

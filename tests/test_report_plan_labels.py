"""The plan's tables keep every text column as a label, whatever pandas reads text as."""

from __future__ import annotations

from evalkit.report.plan_relations import table_of
from evalkit.report.plan_rules import rule_for


def test_a_month_column_with_a_sigma_row_stays_a_label() -> None:
    """pandas 3 reads text as its string dtype, whose missing value is NaN, not None.

    The Σ row the monitor adds under each group has no month, so ``period`` held NaN
    there and stopped counting as a label: a cell of the registrations was then known
    by its group alone, and relations between months could not find it.
    """
    records = [
        {"group": g, "period": p, "n_registrations": n, "n_active": a}
        for g, p, n, a in [
            ("pilot", "2026-01", 12, 30),
            ("pilot", "2026-02", 3, 31),
            ("comparison", "2026-01", 25, 80),
            ("comparison", "2026-02", 14, 82),
        ]
    ]
    source = "monitoring.registrations"
    table = table_of(source, records, rule_for(source, list(records[0])))
    assert table.keys == ["group", "period"]
    sigma = table.frame.iloc[len(records) :]
    assert list(sigma["group"]) == ["pilot", "comparison"]
    assert list(sigma["period"]) == [None, None]
    assert list(sigma["n_registrations"]) == [15, 39]

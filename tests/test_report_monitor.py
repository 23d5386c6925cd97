"""The monitor's computations on small hand-made inputs: periods and masking of the norm
share figure, key figures and the comparison with the previous monitor, its history file."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from evalkit.errors import ReportError
from evalkit.report.figures_groups import norm_share_periods
from evalkit.report.monitor_changes import (
    changes,
    delivery_stamp,
    history_path,
    key_figures,
    previous_entry,
    read_history,
    record_monitor,
)


def _norm_rows(column: str, periods: list[str], group: str, cells: list[tuple[int, int]]):
    return [
        {
            "norm": "x",
            "group": group,
            column: p,
            "n_within": w,
            "n_breach": b,
            "n_unknown": 0,
            "n": w + b,
            "share_within": w / (w + b),
        }
        for p, (w, b) in zip(periods, cells, strict=True)
    ]


MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]


def test_months_are_kept_when_few_cells_are_small() -> None:
    monthly = pd.DataFrame(
        _norm_rows("month", MONTHS, "pilot", [(20, 10), (15, 12), (30, 3), (25, 10)])
        + _norm_rows("month", MONTHS, "comparison", [(40, 20), (35, 15), (30, 12), (28, 11)])
        + _norm_rows("month", MONTHS, "all", [(60, 30), (50, 27), (60, 15), (53, 21)])
    )
    data, freq = norm_share_periods(monthly, None, norm="x", threshold=10)
    assert freq == "month"
    assert set(data["group"]) == {"pilot", "comparison"}  # "all" is not a group
    pilot = data.loc[data["group"] == "pilot"].set_index("period")
    # one pilot month of four has 3 breaches (a quarter: months are kept), masked
    assert pilot.loc["2026-03", "hidden"] and pd.isna(pilot.loc["2026-03", "share_within"])
    assert pilot.loc["2026-01", "share_within"] == pytest.approx(20 / 30)
    assert int(data["hidden"].sum()) == 1


def test_quarters_are_used_when_too_many_months_are_small() -> None:
    monthly = pd.DataFrame(
        _norm_rows("month", MONTHS, "pilot", [(5, 2), (6, 1), (30, 12), (7, 3)])
        + _norm_rows("month", MONTHS, "comparison", [(40, 20), (35, 15), (30, 12), (28, 11)])
    )
    quarterly = pd.DataFrame(
        _norm_rows("quarter", ["2026-Q1", "2026-Q2"], "pilot", [(41, 15), (7, 3)])
        + _norm_rows("quarter", ["2026-Q1", "2026-Q2"], "comparison", [(105, 47), (28, 11)])
    )
    data, freq = norm_share_periods(monthly, quarterly, norm="x", threshold=10)
    assert freq == "quarter"
    pilot = data.loc[data["group"] == "pilot"].set_index("period")
    assert pilot.loc["2026-Q1", "share_within"] == pytest.approx(41 / 56)
    # the small quarter is masked, not the whole figure dropped
    assert pilot.loc["2026-Q2", "hidden"] and pd.isna(pilot.loc["2026-Q2", "share_within"])
    assert str(pilot.loc["2026-Q1", "date"].date()) == "2026-01-01"
    empty, _ = norm_share_periods(monthly, quarterly, norm="unknown", threshold=10)
    assert empty.empty


def test_periods_the_plan_hid_stay_as_gaps() -> None:
    # counts the release's plan hid arrive missing; they counted as 0 and the period vanished
    monthly = pd.DataFrame(
        _norm_rows("month", MONTHS, "pilot", [(20, 10), (15, 12), (30, 13), (25, 10)])
        + _norm_rows("month", MONTHS, "comparison", [(40, 20), (35, 15), (30, 12), (28, 11)])
    )
    hidden = (monthly["group"] == "pilot") & (monthly["month"] == "2026-02")
    monthly.loc[hidden, ["n_within", "n_breach", "share_within"]] = None
    data, freq = norm_share_periods(monthly, None, norm="x", threshold=10)
    pilot = data.loc[data["group"] == "pilot"].set_index("period")
    assert freq == "month" and len(pilot) == 4
    assert pilot.loc["2026-02", "hidden"] and pd.isna(pilot.loc["2026-02", "share_within"])


def _bundle(registrations_pilot: int, past: int, share: float, sha: str, within: int = 18) -> dict:
    return {
        "protocol_id": "p",
        "data": {"sources": [{"kind": "case_events", "sha256": sha}]},
        "monitoring": {
            "data_up_to": {"case_events": "2026-03-31"},
            "registrations": [
                {"period": "2026-02", "group": "pilot", "n_registrations": 50, "n_active": 80},
                {
                    "period": "2026-03",
                    "group": "pilot",
                    "n_registrations": registrations_pilot,
                    "n_active": 90,
                },
                {"period": "2026-03", "group": "comparison", "n_registrations": 0, "n_active": 12},
            ],
            "breaches": [
                {
                    "norm": "n1",
                    "group": "pilot",
                    "organisation": "A",
                    "coach": "coach aa",
                    "n_open": within + past,
                    "n_within": within,
                    "n_past_norm": past,
                },
                {
                    "norm": "n1",
                    "group": "pilot",
                    "organisation": "all",
                    "coach": "all",
                    "n_open": within + past,
                    "n_within": within,
                    "n_past_norm": past,
                },
            ],
        },
        "throughput": {
            "norms": [
                {
                    "norm": "n1",
                    "org_type": "all",
                    "group": "pilot",
                    "period": "during",
                    "n": 42,
                    "n_within": 30,
                    "n_breach": 12,
                    "n_unknown": 0,
                    "share_within": share,
                },
                {
                    "norm": "n1",
                    "org_type": "all",
                    "group": "comparison",
                    "period": "during",
                    "n": 34,
                    "n_within": 30,
                    "n_breach": 4,
                    "n_unknown": 0,
                    "share_within": 0.88,
                },
            ]
        },
    }


def test_key_figures_store_what_the_monitor_shows() -> None:
    figures = {
        (f["what"], f["group"], f["detail"]): f["value"]
        for f in key_figures(_bundle(7, 12, 0.7, "a"), threshold=10)
    }
    # the latest month: 7 pilot registrations are suppressed (stored as missing), 0 is shown
    assert figures[("registrations_month", "pilot", "")] is None
    assert figures[("registrations_month", "comparison", "")] == 0
    assert figures[("active", "pilot", "")] == 90
    assert figures[("past_norm", "pilot", "n1")] == 12  # the group's total row only
    # what the table hides to protect another cell is hidden here too: 8 still within
    # the norm would follow from 20 open minus 12 past it, so the 12 goes as well
    hidden = {
        (f["what"], f["group"]): f["value"]
        for f in key_figures(_bundle(7, 12, 0.7, "a", within=8), threshold=10)
    }
    assert hidden[("past_norm", "pilot")] is None
    assert figures[("share_within", "pilot", "n1")] == 0.7
    # 4 comparison breaches: the share would reveal them, so it is missing too
    assert figures[("share_within", "comparison", "n1")] is None


def test_changes_against_the_previous_monitor() -> None:
    before = key_figures(_bundle(25, 12, 0.70, "a"), threshold=10)
    now = key_figures(_bundle(31, 20, 0.75, "b"), threshold=10)
    rows = {(r["what"], r["group"]): r for r in changes(now, before)}
    assert rows[("registrations_month", "pilot")]["change"] == 6
    assert rows[("past_norm", "pilot")]["previous"] == 12
    assert rows[("past_norm", "pilot")]["change"] == 8
    assert rows[("share_within", "pilot")]["change"] == pytest.approx(0.05)
    assert rows[("share_within", "comparison")]["change"] is None  # suppressed both times
    # a figure the previous monitor did not have has no previous value and no change
    fresh = changes(now, [])
    assert all(r["previous"] is None and r["change"] is None for r in fresh)


def test_history_compares_with_the_latest_other_delivery(tmp_path) -> None:
    path = history_path(tmp_path, "p")
    first, second = _bundle(25, 12, 0.7, "a"), _bundle(31, 20, 0.75, "b")
    assert previous_entry(read_history(path), delivery_stamp(first)) is None
    record_monitor(path, first, 10)
    # rendering the same delivery again finds no earlier monitor: same output
    assert previous_entry(read_history(path), delivery_stamp(first)) is None
    entry = previous_entry(read_history(path), delivery_stamp(second))
    assert entry is not None and entry["stamp"] == delivery_stamp(first)
    record_monitor(path, second, 10)
    record_monitor(path, second, 10)  # re-rendered: replaced, not added
    history = json.loads(path.read_text(encoding="utf-8"))
    assert [m["stamp"] for m in history["monitors"]] == [
        delivery_stamp(first),
        delivery_stamp(second),
    ]
    again = previous_entry(read_history(path), delivery_stamp(second))
    assert again is not None and again["stamp"] == delivery_stamp(first)
    assert "coach aa" not in path.read_text(encoding="utf-8")  # totals only


def test_a_damaged_history_gets_a_clear_message(tmp_path) -> None:
    path = history_path(tmp_path, "p")
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match="monitor history"):
        read_history(path)


def test_waiting_curves_are_drawn_per_group() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_analysis_figures import tables

    from evalkit.report.figures_monitoring import km_plot

    curve = tables()["km_curve"]
    plot = km_plot(
        curve, interval="registration_to_first_conversation", by="group", norm_days=28, lang="en"
    )
    # one curve per group from the per-group rows (all org types, both periods), no pooling
    assert set(plot.data["curve"]) == {"Pilot", "Comparison"}
    assert set(plot.data["group"]) == {"pilot", "comparison"}
    assert (plot.data["period"] == "all").all() and (plot.data["org_type"] == "all").all()
    starts = plot.data.groupby("group")["n_risk"].max()
    assert starts.sum() == 30  # the 30 cases, each in exactly one group's curve
    plot.draw()


def test_since_last_section_takes_the_entry_as_json_or_parsed(tmp_path) -> None:
    from evalkit.report.context import ReportContext
    from evalkit.report.monitoring import since_last

    before = _bundle(25, 12, 0.70, "a")
    entry = {
        "stamp": delivery_stamp(before),
        "data_up_to": {"case_events": "2026-02-28"},
        "figures": key_figures(before, threshold=10),
    }
    ctx = ReportContext(_bundle(31, 20, 0.75, "b"), "nl", figure_dir=tmp_path)
    as_json = since_last(ctx, json.dumps(entry))
    # quarto hands -P values over as YAML, so the entry may come parsed
    assert since_last(ctx, entry).split(": Kerncijfers")[1] == as_json.split(": Kerncijfers")[1]
    assert "casusgebeurtenissen 28 februari 2026" in as_json
    assert "+6" in as_json and "+5,0 procentpunt" in as_json
    for first in ("", None):
        assert "nog geen eerdere monitor" in since_last(ctx, first)


def test_parallel_renders_of_one_monitor_keep_the_history_whole(tmp_path) -> None:
    # nl and en of one monitor render in parallel threads of one process: their temporary
    # files shared a name (the process id), and one rename found the file gone
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "p.monitor.history.json"
    bundle = _bundle(40, 3, 0.8, "a" * 64)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: record_monitor(path, bundle, 10), range(64)))
    history = read_history(path)
    assert len(history["monitors"]) == 1  # the same delivery, recorded once
    assert not list(tmp_path.glob(".*.tmp"))


def _with_outcome(bundle: dict, means: tuple[float, float]) -> dict:
    """Add a binary outcome panel (pilot and comparison, three months) to a monitor bundle."""
    bundle["protocol"] = {"outcomes": [{"id": "neet", "type": "binary", "role": "primary"}]}
    bundle["data"]["sources"].append({"kind": "outcome_panel", "sha256": "panel"})
    bundle["monitoring"]["data_up_to"]["outcome_panel"] = "2026-03"
    bundle["confirmatory"] = {"effects": [{"outcome": "neet", "role": "primary"}]}
    bundle["trends"] = [
        {"outcome": "neet", "month": m, "group": g, "n": 200, "mean": mean}
        for m in ("2026-01", "2026-02", "2026-03")
        for g, mean in zip(("pilot", "comparison"), means, strict=True)
    ]
    return bundle


def test_a_binary_outcome_reads_as_a_percentage_in_the_monitor(tmp_path) -> None:
    """The demo's monitor wrote NEET as 0,049 where the summary writes its level as 5,9%."""
    from evalkit.report.context import ReportContext
    from evalkit.report.monitoring import since_last
    from evalkit.report.monitoring_trends import outcome_trend

    before = _with_outcome(_bundle(25, 12, 0.70, "a"), (0.062, 0.08))
    entry = {
        "stamp": delivery_stamp(before),
        "data_up_to": {"case_events": "2026-02-28"},
        "figures": key_figures(before, threshold=10),
    }
    now = _with_outcome(_bundle(31, 20, 0.75, "b"), (0.049, 0.08))
    ctx = ReportContext(now, "nl", figure_dir=tmp_path)
    trend = outcome_trend(ctx)
    # 0.049 -> 4,9%, 0.08 -> 8,0%; the column says it is a share
    assert ">4,9%<" in trend and ">8,0%<" in trend and "0,049" not in trend
    assert "Aandeel" in trend
    # since the last monitor: 6,2% -> 4,9%, a change of -1,3 percentage points
    changed = since_last(ctx, entry)
    assert ">6,2%<" in changed and ">4,9%<" in changed and "\u22121,3 procentpunt" in changed
    assert "0,062" not in changed

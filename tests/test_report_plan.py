"""The suppression plan on small hand-made bundles, each checked against a hand computation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import ReportError
from evalkit.report.disclosure import PRIMARY, SECONDARY
from evalkit.report.monitor_tables import registrations_spec, registrations_status
from evalkit.report.plan import SuppressionPlan
from evalkit.report.plan_file import save_plan
from evalkit.report.plan_search import pinned
from evalkit.report.tables import make_table

FIXTURE = Path(__file__).parent / "data" / "bundle_fixture.json"


def _plan(**parts) -> SuppressionPlan:
    bundle: dict = {"settings": {"disclosure_threshold": 10}}
    for dotted, records in parts.items():
        head, _, tail = dotted.partition("__")
        if tail:
            bundle.setdefault(head, {})[tail] = records
        else:
            bundle[head] = records
    return SuppressionPlan.from_bundle(bundle)


def _status(plan: SuppressionPlan, source: str, col: str) -> list[str]:
    return list(plan.statuses[source][col])


def _norm(group, period, n, w, b, u, share=0.5):
    return {
        "norm": "x",
        "org_type": "all",
        "group": group,
        "period": period,
        "limit": 4.0,
        "n": n,
        "n_within": w,
        "n_breach": b,
        "n_breach_open": 0,
        "n_unknown": u,
        "share_within": share,
    }


def test_primary_counts_are_1_to_threshold_minus_1():
    plan = _plan(
        sample__flow=[
            {"step": s, "n_persons": v} for s, v in zip("abcd", [0, 1, 9, 10], strict=True)
        ]
    )
    assert _status(plan, "sample.flow", "n_persons") == ["", PRIMARY, PRIMARY, ""]
    with pytest.raises(ReportError, match="positive integer"):
        SuppressionPlan.from_bundle({}, threshold=0)


def test_row_total_gets_the_smallest_non_zero_complement_and_the_share_goes_with_it():
    # 70 = 46 + 4 + 20: hiding the 4 alone gives it back as 70 − 46 − 20
    plan = _plan(throughput__norms=[_norm("all", "all", 70, 46, 4, 20)])
    st = plan.statuses["throughput.norms"].iloc[0]
    assert (st["n_breach"], st["n_unknown"], st["n_within"], st["n"]) == (
        PRIMARY,
        SECONDARY,
        "",
        "",
    )
    # share_within × (n − n_unknown) would give n_within back: hidden with its counts
    assert st["share_within"] == SECONDARY and st["limit"] == ""
    # two small parts protect each other: nothing more is hidden
    plan = _plan(throughput__norms=[_norm("all", "all", 60, 50, 4, 6)])
    st = plan.statuses["throughput.norms"].iloc[0]
    assert (st["n_breach"], st["n_unknown"], st["n_within"], st["n"]) == (
        PRIMARY,
        PRIMARY,
        "",
        "",
    )


def test_the_all_row_of_a_breakdown_is_a_total():
    # pilot 3 + comparison 37 = all 40 (and within each row n = events + censored)
    rows = [
        {"interval": "i", "group": g, "period": "all", "n": n, "n_events": e, "n_censored": c}
        for g, n, e, c in [("all", 40, 25, 15), ("pilot", 3, 0, 3), ("comparison", 37, 25, 12)]
    ]
    plan = _plan(throughput__durations=rows)
    n = _status(plan, "throughput.durations", "n")
    censored = _status(plan, "throughput.durations", "n_censored")
    assert n == ["", PRIMARY, SECONDARY]  # 37, not 40: the smaller non-zero cell
    # pilot n_censored (3) is primary; its row (3 = 0 + 3) and its column (15 = 3 + 12)
    # each need a second hidden cell: the comparison's 12 covers the column, and the
    # comparison row 37 = 25 + 12 then has two hidden cells
    assert censored == ["", PRIMARY, SECONDARY]
    assert _status(plan, "throughput.durations", "n_events") == ["", "", ""]


def test_relations_that_do_not_hold_are_not_used():
    # the "all" row is not the sum here (a pilot row is missing): no complement needed
    rows = [
        {"interval": "i", "group": g, "period": "all", "n": n, "n_events": n, "n_censored": 0}
        for g, n in [
            (
                "all",
                50,
            ),
            ("pilot", 4),
            ("comparison", 37),
        ]
    ]
    plan = _plan(throughput__durations=rows)
    assert _status(plan, "throughput.durations", "n") == ["", PRIMARY, ""]
    # n = n_events + 0 holds in every row: the 4 events go with the 4 cases
    assert _status(plan, "throughput.durations", "n_events") == ["", PRIMARY, ""]


def test_a_system_of_relations_can_pin_a_cell_that_no_single_relation_pins():
    # a + b = T, a − c = d, b − c = e: three unknowns, three independent equations
    system = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, -1.0], [0.0, 1.0, -1.0]])
    assert list(pinned(system)) == [True, True, True]
    # drop one equation: a + b = T, a − c = d leaves a line of solutions
    assert list(pinned(system[:2])) == [False, False, False]
    # x1 − x2 = 0 and x2 = k: both pinned; x3 + x4 = m: neither
    other = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    assert list(pinned(other)) == [True, True, False, False]


def test_design_facts_and_estimates_from_enough_persons_are_shown():
    row = {
        "scale": "zrm_mean",
        "wave": "T3m",
        "method": "did_2x2",
        "n_pilot": 112,
        "n_comparison": 104,
        "change_pilot": 0.36,
        "change_comparison": 0.11,
        "estimate": 0.24,
        "std_error": None,
        "p_value": 0.25,
        "n_treated_clusters": 1,
    }
    small = {**row, "n_pilot": 7}
    plan = _plan(questionnaire__change_did=[row, small])
    st = plan.statuses["questionnaire.change_did"]
    # one pilot municipality is a design fact, not a small count
    assert list(st["n_treated_clusters"]) == ["", ""]
    assert list(st["estimate"]) == ["", SECONDARY] and list(st["p_value"]) == ["", SECONDARY]
    assert list(st["change_comparison"]) == ["", ""]  # 104 persons: shown
    assert list(st["change_pilot"]) == ["", SECONDARY]


def test_category_labels_are_not_counts_and_the_distribution_adds_up_to_its_persons():
    dist = [
        {"group": "all", "period": "all", "n_organisations": k, "n_persons": v}
        for k, v in [(1, 601), (2, 222), (3, 52), (4, 15), (5, 3)]
    ]
    switches = [
        {
            "group": "all",
            "period": "all",
            "n": 893,
            "mean_organisations": 1.43,
            "median_organisations": 1.0,
            "share_3plus_organisations": 0.078,
            "n_warm_handovers": 189,
        }
    ]
    plan = _plan(throughput__switches_distribution=dist, throughput__switches=switches)
    st = plan.statuses["throughput.switches_distribution"]
    assert list(st["n_organisations"]) == [""] * 5
    # 893 = 601 + 222 + 52 + 15 + 3: the 3 gets the smallest other cell, 15
    assert list(st["n_persons"]) == ["", "", "", SECONDARY, PRIMARY]
    sw = plan.statuses["throughput.switches"].iloc[0]
    # the mean number of organisations is Σ k·n_k / n, the 3+ share Σ_{k≥3} n_k / n:
    # both would give the hidden cells back
    assert sw["mean_organisations"] == SECONDARY and sw["share_3plus_organisations"] == SECONDARY
    assert sw["median_organisations"] == "" and sw["n"] == ""


def test_the_same_persons_have_the_same_status_in_every_table():
    durations = [
        {"interval": "i", "group": "all", "period": "all", "n": 40, "n_events": 35, "n_censored": 5}
    ]
    km = [
        {"interval": "i", "org_type": o, "group": "all", "period": "all", "unit": "days", **c}
        for o, c in [
            ("all", {"n": 40, "n_events": 35, "n_censored": 5}),
            ("school", {"n": 40, "n_events": 35, "n_censored": 5}),
        ]
    ]
    plan = _plan(throughput__durations=durations, throughput__km_summary=km)
    d = plan.statuses["throughput.durations"].iloc[0]
    k = plan.statuses["throughput.km_summary"].iloc[0]
    assert (d["n_censored"], d["n_events"]) == (PRIMARY, SECONDARY)
    assert (k["n_censored"], k["n_events"]) == (PRIMARY, SECONDARY)


def test_caseload_keeps_coaches_and_hides_what_gives_the_cases_back():
    rows = [
        {
            "week": "2026-01-05",
            "organisation": "Doorstroompunt",
            "n_holders": 1,
            "n_active": a,
            "mean_caseload": float(a),
            "max_caseload": a,
            "benchmark_high": 35,
        }
        for a in (7, 30)
    ]
    plan = _plan(throughput__caseload=rows)
    st = plan.statuses["throughput.caseload"]
    assert list(st["n_holders"]) == ["", ""] and list(st["benchmark_high"]) == ["", ""]
    assert list(st["n_active"]) == [PRIMARY, ""]
    # with one coach, mean and maximum caseload are the active cases
    assert list(st["mean_caseload"]) == [SECONDARY, ""]
    assert list(st["max_caseload"]) == [SECONDARY, ""]


def test_a_sigma_row_the_monitor_adds_is_part_of_the_plan():
    rows = [
        {"period": p, "group": "pilot", "n_registrations": n, "n_active": 40}
        for p, n in [("2026-01", 8), ("2026-02", 25), ("2026-03", 31)]
    ]
    plan = _plan(monitoring__registrations=rows)
    st = plan.statuses["monitoring.registrations"]
    # rows 0–2 are the bundle's, row 3 the Σ row (64) the monitor shows
    assert list(st["n_registrations"]) == [PRIMARY, SECONDARY, "", ""]
    frame = pd.DataFrame([*rows, {"period": "Σ", "n_registrations": 64}])
    table = make_table(
        "registrations",
        "Registrations",
        frame,
        "en",
        10,
        plan=plan,
        source="monitoring.registrations",
    )
    assert table is not None
    # one mark for the small count and for its complement
    assert list(table.display().iloc[:, 2]) == ["·", "·", "31", "64"]
    assert list(table.export()["n_registrations"]) == ["suppressed", "suppressed", 31, 64]


def test_a_subset_of_rows_keeps_the_status_of_its_records_and_the_plan_is_reproducible():
    rows = [
        {"group": "pilot", "wave": f"T{i}", "n": n, "n_low": k, "share_low": k / n}
        for i, (n, k) in enumerate([(50, 4), (60, 30), (70, 35)])
    ]
    plan = _plan(questionnaire__zrm_domains=rows)
    frame = pd.DataFrame(rows).iloc[[2, 0]]  # a section shows two rows, reordered
    status = plan.status("questionnaire.zrm_domains", frame)
    assert list(status["n_low"]) == ["", PRIMARY]
    assert list(status["share_low"]) == ["", SECONDARY]  # share × n would give the 4 back
    assert list(status["n"]) == ["", ""]
    again = _plan(questionnaire__zrm_domains=rows)
    assert again.digest == plan.digest and len(plan.digest) == 12


def test_documents_of_one_release_share_one_plan():
    from evalkit.report.plan import plan_for

    rows = [{"group": "pilot", "wave": "T0", "n": 50, "n_low": 4, "share_low": 0.08}]
    first = plan_for({"questionnaire": {"zrm_domains": rows}}, 10)
    again = plan_for({"questionnaire": {"zrm_domains": [dict(r) for r in rows]}}, 10)
    assert again is first  # a second document loading the same bundle gets the same plan
    other = plan_for({"questionnaire": {"zrm_domains": rows}}, 5)
    assert other is not first and other.threshold == 5
    assert list(other.statuses["questionnaire.zrm_domains"]["n_low"]) == ["primary"]


def test_monitor_registrations_follow_the_plan_with_the_cases_they_add_up_to():
    """The monitor's months add up to the evaluation's cases per group and period.

    The small pilot month (8) is hidden in the monitor; the pilot's months during the
    pilot (8 + 40) are the evaluation's cases of that group and period, and its Σ (103)
    is shown under the table: a plan of the monitor table alone would hide 8 and 25
    (its smallest other month) and leave 8 = 48 − 40.
    """
    months = ("2026-01", "2026-02", "2026-03", "2026-04")
    values = {"pilot": (30, 25, 8, 40), "comparison": (50, 60, 55, 45)}
    rows = [
        {"period": m, "group": g, "n_registrations": values[g][k], "n_active": 60}
        for k, m in enumerate(months)
        for g in ("pilot", "comparison")
    ]
    durations = [
        {
            "interval": "registration_to_first_conversation",
            "group": g,
            "period": p,
            "n": sum(values[g][k] for k in ks),
            "n_events": sum(values[g][k] for k in ks),
            "n_censored": 0,
        }
        for g in ("pilot", "comparison")
        for p, ks in (("before", (0, 1)), ("during", (2, 3)))
    ]
    bundle = {
        "settings": {"disclosure_threshold": 10, "pilot_start": "2026-03-01"},
        "monitoring": {"registrations": rows},
        "throughput": {"durations": durations},
    }
    plan = SuppressionPlan.from_bundle(bundle)
    frame, _ = registrations_spec(bundle)
    assert frame is not None
    hidden = registrations_status(bundle, frame, plan) != ""
    shown = {
        (p, c): frame.at[i, c]
        for i, p in zip(frame.index, frame["period"], strict=True)
        for c in ("n_registrations_pilot", "n_registrations_comparison")
        if not hidden.at[i, c]
    }
    assert ("2026-03", "n_registrations_pilot") not in shown
    during = plan.statuses["throughput.durations"]["n"].tolist()[3]  # pilot, during
    sigma = ("Σ", "n_registrations_pilot") in shown
    later = ("2026-04", "n_registrations_pilot") in shown
    # the hidden month follows neither from Σ and the other months nor from the
    # evaluation's cases during the pilot and the other month
    others = all(("2026-0" + str(k), "n_registrations_pilot") in shown for k in (1, 2, 4))
    assert not (sigma and others)
    assert not (later and during == "")
    # one plan: the monitor's cells carry the status the plan gives their records
    st = plan.statuses["monitoring.registrations"]["n_registrations"]
    assert hidden.at[frame.index[1], "n_registrations_pilot"] == bool(st.iloc[4])  # 2026-03


def test_status_reads_the_known_cells_and_shows_every_other_cell():
    # a table's status is looked up for rows and columns in any order and subset; rows
    # outside the bundle table and columns a section adds are shown ("")
    known = pd.DataFrame(
        {"n": ["", PRIMARY, SECONDARY], "share": [SECONDARY, "", PRIMARY], "x": [None, "", ""]},
        index=[0, 1, 2],
    )
    plan = SuppressionPlan(threshold=10, statuses={"t": known})
    frame = pd.DataFrame({"share": [1, 2, 3, 4], "label": list("abcd"), "n": [5, 6, 7, 8]})
    frame.index = [2, 7, 0, 1]
    frame["x"] = 0
    got = plan.status("t", frame)
    expected = pd.DataFrame(
        {
            "share": [PRIMARY, "", SECONDARY, ""],
            "label": ["", "", "", ""],
            "n": [SECONDARY, "", "", PRIMARY],
            "x": ["", "", np.nan, ""],  # a missing mark in a text column reads as NaN
        },
        index=[2, 7, 0, 1],
        dtype=object,
    )
    pd.testing.assert_frame_equal(got, expected)
    assert (plan.status("other", frame) == "").all().all()


def test_rows_of_gives_the_cells_iterrows_gives():
    """Equivalence: the relations read rows by ``rows_of`` (no Series per row) as by iterrows."""
    from evalkit.report.plan_relations import rows_of

    frame = pd.DataFrame(
        {
            "group": ["pilot", None, "all", np.nan],
            "period": pd.array(["2024-01", "2024-Q1", "all", None], dtype="str"),
            "n": [3, 12, 15, 0],
            "share": [0.5, np.nan, 1.0, 0.25],
        },
        index=[4, 7, 9, 11],
    )
    mine = list(rows_of(frame))
    theirs = [(int(i), row) for i, row in frame.iterrows()]
    assert [i for i, _ in mine] == [i for i, _ in theirs] == [4, 7, 9, 11]
    for (_, row), (_, ref) in zip(mine, theirs, strict=True):
        assert list(row) == list(ref.index)
        for col, value in row.items():
            assert value == ref[col] or (pd.isna(value) and pd.isna(ref[col])), col
        assert row.get("missing", "all") == ref.get("missing", "all") == "all"
    assert list(rows_of(frame.iloc[:0])) == []


def test_a_document_over_a_saved_plan_imports_no_scipy(tmp_path) -> None:
    """The report kernels read saved plans: scipy (for the planner's QR) stays unimported."""
    bundle = tmp_path / "results.json"
    shutil.copy(FIXTURE, bundle)
    save_plan(bundle)
    script = (
        "import sys\n"
        "from evalkit.report.context import ReportContext\n"
        "from evalkit.report.render import evaluation_sections\n"
        f"ctx = ReportContext.load({str(bundle)!r}, 'nl')\n"
        "for section in evaluation_sections():\n"
        "    section(ctx)\n"
        "print(sorted(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert done.stdout.strip() == "[]"


def test_the_planner_factorises_on_one_blas_thread_in_a_fresh_process(tmp_path) -> None:
    """scipy's BLAS, loaded on first use, is still under the planner's one-thread limit."""
    bundle = tmp_path / "results.json"
    shutil.copy(FIXTURE, bundle)
    script = (
        "import os\n"
        "from threadpoolctl import threadpool_info\n"
        "from evalkit.report import plan_search\n"
        "from evalkit.report.plan_file import save_plan\n"
        "seen = set()\n"
        "solve = plan_search.pinned\n"
        "def pinned(matrix):\n"
        "    seen.update(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas')\n"
        "    return solve(matrix)\n"
        "plan_search.pinned = pinned\n"
        f"save_plan({str(bundle)!r})\n"
        "print(sorted(seen))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.strip() == "[1]"


def _curve(times: list[float], events: list[int], at_risk: list[int], group: str) -> list[dict]:
    rows, surv = [], 1.0
    for t, d, n in zip(times, events, at_risk, strict=True):
        surv *= 1 - d / n if t else 1.0
        rows.append({"interval": "x", "group": group, "time": t, "surv": surv, "n_risk": n,
                     "n_events": d, "conf_low": surv, "conf_high": surv})  # fmt: skip
    return rows


def test_a_survival_curve_is_released_only_at_steps_of_at_least_threshold_events():
    """Each released step of a Kaplan–Meier curve stands for ≥ threshold events (by hand).

    A fall from one shown survival value to the next is a fraction events / at risk; a
    step of 1–9 events shown at full precision gave its counts back (the demo's export:
    5,412 of 9,688 hidden counts, all of them the curve's).
    """
    # events 0 (start), 4, 3, 5 (12 since the start: shown), 9, 1 (10: shown), 2, 6 (8: tail)
    pilot = _curve([0, 1, 2, 3, 5, 6, 8, 9], [0, 4, 3, 5, 9, 1, 2, 6], [60, 60, 56, 53, 48,
                   39, 38, 36], "pilot")  # fmt: skip
    # a single day with 10 events is a step of its own
    other = _curve([0, 2, 4], [0, 10, 3], [40, 40, 30], "comparison")
    plan = _plan(throughput__km_curve=pilot + other)
    shown = [s == "" for s in _status(plan, "throughput.km_curve", "surv")]
    assert shown == [True, False, False, True, False, True, False, False, True, True, False]
    assert _status(plan, "throughput.km_curve", "conf_low") == _status(
        plan, "throughput.km_curve", "surv"
    )
    assert all(s != "" for s in _status(plan, "throughput.km_curve", "n_events"))
    # the figures get the released steps only, rounded to three decimals
    masked = plan.masked({"throughput": {"km_curve": pilot + other}})["throughput"]["km_curve"]
    released = [r["surv"] for r in masked if r["surv"] is not None]
    assert released == [1.0, round(pilot[3]["surv"], 3), round(pilot[5]["surv"], 3), 1.0, 0.75]


def test_the_share_of_a_yes_no_scale_is_hidden_with_its_small_count():
    """8 of 101 responders interviewed on paper: 0.079 × 101 gave the 8 back (by hand).

    The mean of a yes/no scale is a share of persons; its counts are in the table, the 8
    is primary, the 93 beside it the complement of ``n_responders = yes + no``, and the
    mean and the standardised difference go with them. A scale with more values keeps
    its mean.
    """
    paper = {"group": "all", "wave": "T3m", "scale": "mode_paper", "n_responders": 101,
             "n_nonresponders": 49, "mean_responders": 8 / 101, "mean_nonresponders": 12 / 49,
             "std_diff": -0.4, "n_responders_yes": 8, "n_responders_no": 93,
             "n_nonresponders_yes": 12, "n_nonresponders_no": 37}  # fmt: skip
    mhi5 = {"group": "all", "wave": "T3m", "scale": "mhi5", "n_responders": 101,
            "n_nonresponders": 49, "mean_responders": 60.1, "mean_nonresponders": 56.2,
            "std_diff": 0.2}  # fmt: skip
    plan = _plan(questionnaire__nonresponse=[paper, mhi5])
    status = plan.statuses["questionnaire.nonresponse"]
    assert list(status.loc[0, ["n_responders_yes", "n_responders_no"]]) == [PRIMARY, SECONDARY]
    assert status.loc[0, "mean_responders"] != "" and status.loc[0, "std_diff"] != ""
    assert status.loc[0, "n_nonresponders_yes"] == "" and status.loc[0, "mean_nonresponders"] == ""
    assert status.loc[0, "n_responders"] == ""  # the base stays: 101 persons answered
    assert (status.loc[1] == "").all()


def test_a_share_of_persons_beside_its_base_is_hidden_when_it_stands_for_few():
    """Balance and monthly trends: a share k / n with k or n − k of 1–9 is hidden (by hand).

    "sex=X 0.9 %" of 342 pilot persons is 3 persons, even rounded to a tenth of a
    percent; the levels of one characteristic add up to the base, so the smallest other
    level is hidden with it. A mean that is no share (age) stays, as do large shares.
    """

    def row(variable: str, pilot: float, comparison: float = 0.5) -> dict:
        return {"variable": variable, "pilot_mean": pilot, "comparison_mean": comparison,
                "std_diff": 0.1, "n_pilot": 342, "n_comparison": 6832}  # fmt: skip

    balance = [
        row("age", 22.26, 22.13),
        row("sex=M", 172 / 342),
        row("sex=V", 167 / 342),
        row("sex=X", 3 / 342),
        row("problematic_debt", 27 / 342),
        row("homeless", 1 / 342),
        row("enrolled", 339 / 342),
    ]
    trends = [
        {"outcome": "early_school_leaving", "month": "2024-02", "group": "pilot",
         "mean": 2 / 290, "n": 290},
        {"outcome": "neet", "month": "2024-02", "group": "pilot", "mean": 11 / 226, "n": 226},
    ]  # fmt: skip
    plan = _plan(sample__balance=balance, trends=trends)
    hidden = [s != "" for s in _status(plan, "sample.balance", "pilot_mean")]
    assert hidden == [False, False, True, True, False, True, True]
    assert _status(plan, "sample.balance", "std_diff") == [
        "" if not h else SECONDARY for h in hidden
    ]
    assert all(s == "" for s in _status(plan, "sample.balance", "comparison_mean"))
    assert [s != "" for s in _status(plan, "trends", "mean")] == [True, False]

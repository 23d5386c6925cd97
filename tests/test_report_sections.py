"""Section builders on bundle parts shaped as the pipeline writes them (no kernel needed)."""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.report import monitoring, sections_back, sections_results
from evalkit.report.context import ReportContext

FIXTURE = Path(__file__).parent / "data" / "bundle_fixture.json"


def _ctx(tmp_path, lang="en", **parts) -> ReportContext:
    bundle = json.loads(FIXTURE.read_text(encoding="utf-8"))
    bundle.update(parts)
    return ReportContext(bundle, lang, figure_dir=tmp_path)


def test_exploratory_effects_are_shown_and_labelled(tmp_path):
    ctx = _ctx(
        tmp_path,
        exploratory=[
            {
                "id": "debt_amount",
                "title": {"nl": "Schuldhoogte", "en": "Debt amount"},
                "file": "analyses/debt_amount.yaml",
                "effects": [
                    {
                        "outcome": "n_creditors",
                        "label": {"nl": "Aantal schuldeisers", "en": "Number of creditors"},
                        "estimate": -0.15,
                        "std_error": None,
                        "conf_low": None,
                        "conf_high": None,
                        "p_value": 0.083,
                        "inference": "conley_taber",
                    }
                ],
            }
        ],
    )
    md = sections_results.exploratory(ctx)
    assert "Exploratory, not pre-registered" in md
    assert "Number of creditors" in md and "−0.150" in md and "Conley–Taber" in md
    assert "Not available" not in md


def test_limitations_from_pipeline_codes(tmp_path):
    ctx = _ctx(
        tmp_path,
        limitations=[
            {"code": "few_treated_clusters", "values": {"n_treated": 2, "n_clusters": 12}},
            {"code": "not_pre_registered", "values": {}},
            {"code": "something_new", "values": {"k": 3}},
        ],
    )
    md = sections_back.limitations(ctx)
    assert "There are only 2 treated municipalities." in md
    assert md.count("The protocol was not pre-registered.") == 1
    assert "Limitation (something new): k = 3." in md
    assert "Power (simulation)" in md and "34.0%" in md


def test_caseload_shows_latest_weeks_with_suppression(tmp_path):
    weeks = [f"2026-01-{d:02d}" for d in range(1, 11)]
    rows = [
        {
            "week": w,
            "organisation": "Doorstroompunt",
            "n_holders": 1,
            "n_active": 5 + i,
            "mean_caseload": 5.0 + i,
            "n_above": 0,
            "benchmark_low": 30,
            "benchmark_high": 35,
        }
        for i, w in enumerate(weeks)
    ]
    ctx = _ctx(tmp_path, throughput={"caseload": rows})
    md = monitoring.caseload(ctx)
    assert "2026-01-01" not in md and "2026-01-10" in md  # only the latest 8 weeks
    # 7, 8, 9 active cases are suppressed, with the mean caseload (= n_active / 1 coach) ...
    assert md.count('<td class="num">·</td>') == 6 and '<td class="num">10</td>' in md
    assert ">35<" in md  # ... but the benchmark (a setting, not data) is not
    assert "0 of 10 coach-weeks" in md


def test_sections_say_not_available_for_missing_parts(tmp_path):
    ctx = _ctx(tmp_path, robustness=None, subgroups=None, throughput=None)
    for md in (
        sections_results.robustness(ctx),
        sections_results.subgroups(ctx),
        sections_results.throughput(ctx),
    ):
        assert "Not available: the results bundle does not contain this part." in md

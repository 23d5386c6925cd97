"""The report's sensitivity analysis and event studies side by side, from bundle parts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evalkit.report import sections_results, sections_sensitivity
from evalkit.report.context import ReportContext

FIXTURE = Path(__file__).parent / "data" / "bundle_fixture.json"

RECORD = {
    "outcome": "neet",
    "estimator": "sun_abraham",
    "restriction": "relative_magnitudes",
    "target": "mean",
    "method": "C-LF",
    "estimate": -0.034,
    "original": {"lb": -0.052, "ub": -0.016},
    "rows": [
        {"bound": 0.5, "lb": -0.049, "ub": -0.012},
        {"bound": 1.0, "lb": -0.061, "ub": 0.004},
    ],
    "breakdown": 0.8125,
    "breakdown_censored": False,
    "warnings": [
        "only 2 of 20 clusters are treated: the robust intervals of the sensitivity analysis "
        "rest on a normal approximation ...",
        "55 singleton fixed effect(s) dropped from the model.",
    ],
    "warning_codes": [
        {"code": "sensitivity_few_treated_normal", "values": {"treated": 2, "clusters": 20}},
        None,
    ],
    "error": None,
}
EVENTS = [
    {
        "outcome": "neet",
        "estimator": est,
        "event_time": e,
        "estimate": 0.01 * e,
        "std_error": 0.01,
        "conf_low": 0.01 * e - 0.02,
        "conf_high": 0.01 * e + 0.02,
    }
    for est in ("callaway_santanna", "imputation", "sun_abraham")
    for e in (-2, 0, 1)
]


def _ctx(tmp_path: Path, lang: str, robustness: dict) -> ReportContext:
    bundle = json.loads(FIXTURE.read_text(encoding="utf-8"))
    bundle["robustness"] = {**bundle.get("robustness", {}), **robustness}
    return ReportContext(bundle, lang, figure_dir=tmp_path)


def test_breakdown_in_words_plot_and_table_in_both_languages(tmp_path: Path) -> None:
    nl = sections_sensitivity.sensitivity(_ctx(tmp_path, "nl", {"sensitivity": [RECORD]}))
    assert "hoogstens 0,81 keer zo groot" in nl
    assert "figure-sensitivity.png" in nl and (tmp_path / "figure-sensitivity.png").stat().st_size
    assert "table-sensitivity" in nl
    assert "Het aantal pilotgemeenten is klein (2 van de 20)" in nl
    assert "singleton" not in nl  # only the sensitivity analysis' own warnings
    en = sections_sensitivity.sensitivity(_ctx(tmp_path, "en", {"sensitivity": [RECORD]}))
    assert "at most 0.81 times the largest month-to-month difference" in en


def test_no_breakdown_and_censored_sentences(tmp_path: Path) -> None:
    none = {**RECORD, "breakdown": None}
    text = sections_sensitivity.sensitivity(_ctx(tmp_path, "en", {"sensitivity": [none]}))
    assert "depends heavily on the assumption of equal trends" in text
    cens = {**RECORD, "breakdown": 2.0, "breakdown_censored": True}
    text = sections_sensitivity.sensitivity(_ctx(tmp_path, "nl", {"sensitivity": [cens]}))
    assert "de grootste onderzochte waarde" in text


def test_event_studies_side_by_side_and_inside_the_robustness_chapter(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "en", {"sensitivity": [RECORD], "event_studies": EVENTS})
    chapter = sections_results.robustness(ctx)
    assert "Event studies side by side" in chapter and "figure-event-studies.png" in chapter
    assert chapter.index("How sensitive") < chapter.index("Event studies side by side")
    data = sections_sensitivity.side_by_side_plot(
        pd.DataFrame(
            [{**r, "outcome_label": "NEET", "estimator_label": r["estimator"]} for r in EVENTS]
        ),
        "en",
        "x",
        "y",
    ).data
    assert set(data["estimator_label"]) == {"callaway_santanna", "imputation", "sun_abraham"}


def test_nothing_registered_means_no_section(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "en", {})
    assert sections_sensitivity.sensitivity(ctx) == ""
    assert sections_sensitivity.event_studies(ctx) == ""

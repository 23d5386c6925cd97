"""Section builders on bundle parts shaped as the pipeline writes them (no kernel needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from evalkit.report import (
    monitoring,
    sections_back,
    sections_front,
    sections_measures,
    sections_protocol,
    sections_results,
)
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


def test_events_after_the_reference_date_are_stated_in_both_languages(tmp_path):
    def sentences(n: int, lang: str) -> str:
        late = {
            "code": "events_after_reference",
            "values": {"n_events": n, "reference_date": "2026-03-31"},
        }
        return sections_back.limitations(_ctx(tmp_path, lang=lang, limitations=[late]))

    en, nl = sentences(3, "en"), sentences(3, "nl")
    assert "3 case events after the reference date 31 March 2026 were left out" in en
    assert "3 casusgebeurtenissen na de peildatum 31 maart 2026 zijn buiten" in nl
    assert "Limitation (" not in en and "Beperking (" not in nl
    assert "1 case event after the reference date 31 March 2026 was left out" in sentences(1, "en")
    assert "1 casusgebeurtenis na de peildatum 31 maart 2026 is buiten" in sentences(1, "nl")


def test_counts_agree_with_their_nouns_in_both_languages(tmp_path):
    def few(n: int, lang: str) -> str:
        lim = {"code": "few_treated_clusters", "values": {"n_treated": n, "n_clusters": 12}}
        return sections_back.limitations(_ctx(tmp_path, lang=lang, limitations=[lim]))

    assert "Er is maar 1 pilotgemeente." in few(1, "nl") and "deze gemeente." in few(1, "nl")
    assert "Er zijn maar 3 pilotgemeenten." in few(3, "nl") and "deze gemeenten." in few(3, "nl")
    assert "There is only 1 treated municipality." in few(1, "en")
    assert "There are only 3 treated municipalities." in few(3, "en")
    for lang in ("nl", "en"):
        assert "(n)" not in few(1, lang) and "(ies)" not in few(3, lang)


def test_caseload_shows_each_months_last_week_most_recent_first(tmp_path):
    weeks = pd.date_range("2026-01-05", periods=13, freq="7D").strftime("%Y-%m-%d")
    rows = [
        {
            "week": w,
            "organisation": "all",
            "n_holders": 3,
            "n_active": 4 + i,
            "mean_caseload": (4 + i) / 3,
            "max_caseload": 2 + i,
            "n_above": 0,
            "benchmark_low": 30,
            "benchmark_high": 35,
        }
        for i, w in enumerate(weeks)
    ]
    ctx = _ctx(tmp_path, throughput={"caseload": rows})
    md = monitoring.caseload(ctx)
    # one row per month: its last week (26 Jan, 23 Feb, 30 Mar), the latest month first
    assert "2026-01-05" not in md and "2026-02-16" not in md
    assert md.index("2026-03-30") < md.index("2026-02-23") < md.index("2026-01-26")
    assert md.count("<tr>") == 4  # header and three months
    assert '<td class="num">·</td>' in md  # 7 active cases in the week of 26 January are suppressed
    assert "0 of 3 coaches held more than 35 active cases" in md


def test_sections_say_not_available_for_missing_parts(tmp_path):
    ctx = _ctx(tmp_path, robustness=None, subgroups=None, throughput=None)
    for md in (
        sections_results.robustness(ctx),
        sections_results.subgroups(ctx),
        sections_measures.throughput(ctx),
    ):
        assert "Not available: the results bundle does not contain this part." in md


def test_registration_time_without_a_git_record_is_said_to_rest_on_the_lock_alone(tmp_path):
    from evalkit.report import sections_front

    bundle = json.loads(FIXTURE.read_text(encoding="utf-8"))
    reg = {**bundle["registration"], "registered_at": "2025-09-01T10:00:00Z"}
    for git_added, lang, phrase in (
        (None, "en", "not confirmed by a git commit"),
        (None, "nl", "niet bevestigd door versiebeheer"),
        ("2025-09-01T10:05:00Z", "en", None),
    ):
        ctx = _ctx(tmp_path, lang, registration={**reg, "git_added_at": git_added})
        facts = sections_front.key_facts(ctx)
        if phrase is None:
            assert "not confirmed" not in facts
        else:
            assert phrase in facts


def test_balance_shows_shares_as_percentages_and_means_as_numbers(tmp_path):
    rows = [
        {"variable": "age", "pilot_mean": 22.25, "comparison_mean": 22.26, "std_diff": -0.003},
        {"variable": "sex=M", "pilot_mean": 0.527, "comparison_mean": 0.5002, "std_diff": 0.053},
        {"variable": "neet", "pilot_mean": 0.0459, "comparison_mean": 0.0441, "std_diff": 0.009},
    ]
    for row in rows:
        row.update(n_pilot=283, n_comparison=3291)
    sample = {"flow": [], "balance": rows}
    nl = sections_protocol.sample(_ctx(tmp_path, lang="nl", sample=sample))
    en = sections_protocol.sample(_ctx(tmp_path, sample=sample))
    # NEET's 4.6% read "0,0" when it shared one number format with an age of 22.3
    assert "4,6%" in nl and "4,4%" in nl and "52,7%" in nl and "22,3" in nl
    assert "4.6%" in en and "Balance in the pre-period, shares" in en and "Pilot share" in en
    assert "0,0 " not in nl.replace("0,003", "")


def test_effects_table_says_its_shares_are_the_texts_percentage_points(tmp_path):
    nl = sections_results.effects_table(
        _ctx(tmp_path, lang="nl"), "primary", "effects_primary", "c.effects_primary"
    )
    en = sections_results.effects_table(
        _ctx(tmp_path), "primary", "effects_primary", "c.effects_primary"
    )
    # the fixture's debt effect is -0.031: the text says -3.1 percentage points
    assert "(\u22120,031 is \u22123,1 procentpunt)" in nl
    assert "(\u22120.031 is \u22123.1 percentage points)" in en


def test_an_effects_table_writes_each_row_in_its_own_unit(tmp_path):
    """debt_free_future's secondary table holds shares beside days: a share stays 0,026.

    With one format per column the days (16,9) made the whole column one decimal, and
    a share effect of 0.026 read "0,0".
    """
    ctx = _ctx(tmp_path, lang="nl")
    ctx.bundle["protocol"]["outcomes"].append(
        {"id": "days_to_plan", "type": "duration", "unit": {"nl": "dagen", "en": "days"}}
    )
    share = next(e for e in ctx.bundle["confirmatory"]["effects"] if e["role"] == "secondary")
    share["result"] |= {"estimate": 0.026, "conf_low": -0.015, "conf_high": 0.066}
    ctx.bundle["confirmatory"]["effects"].append(
        {
            "outcome": "days_to_plan",
            "label": {"nl": "Dagen tot plan van aanpak", "en": "Days to plan"},
            "role": "secondary",
            "type": "duration",
            "baseline_mean": 59.5,
            "smallest_effect": 14.0,
            "result": {
                "estimate": -16.94,
                "std_error": None,
                "conf_low": -39.004,
                "conf_high": 2.976,
                "p_value": 0.091,
                "inference": "permutation",
                "n_treated_clusters": 1,
                "n_clusters": 22,
            },
        }
    )
    html = sections_results.effects_table(ctx, "secondary", "s", "c.effects_secondary")
    cells = [[c.split(">", 1)[1] for c in r.split("</td>")[:-1]] for r in html.split("<tr>")[2:]]
    rows = {row[0]: row[1:] for row in cells}
    unit, estimate, _, interval = rows[share["label"]["nl"]][:4]
    assert (unit, estimate, interval) == ("aandeel", "0,026", "[\u22120,015; 0,066]")
    unit, estimate, _, interval = rows["Dagen tot plan van aanpak"][:4]
    assert (unit, estimate, interval) == ("dagen", "\u221216,9", "[\u221239,0; 3,0]")


def test_nonresponse_means_keep_the_decimals_of_their_quantity(tmp_path):
    """A share beside a 0-100 score in one column: 0.512 against 0.795, not 0.5 against 0.8."""
    rows = [
        {"group": "all", "wave": "T3m", "scale": "mhi5", "n_responders": 191}
        | {"n_nonresponders": 68, "mean_responders": 55.41, "mean_nonresponders": 47.22}
        | {"std_diff": 0.494},
        {"group": "all", "wave": "T3m", "scale": "mhi5_unhealthy", "n_responders": 191}
        | {"n_nonresponders": 68, "mean_responders": 0.512, "mean_nonresponders": 0.795}
        | {"std_diff": -0.463},
        {"group": "all", "wave": "T3m", "scale": "zrm_mean", "n_responders": 210}
        | {"n_nonresponders": 90, "mean_responders": 2.934, "mean_nonresponders": 2.611}
        | {"std_diff": 0.461},
    ]
    ctx = _ctx(tmp_path, questionnaire={"nonresponse": rows})
    shown = sections_measures.bundle_tables(ctx, "questionnaire")["nonresponse"].display()
    means = [list(shown.iloc[:, j]) for j in (5, 6)]
    assert means == [["55.4", "0.512", "2.93"], ["47.2", "0.795", "2.61"]]


def test_change_rows_keep_the_decimals_of_their_scale_and_p_reads_below(tmp_path):
    """MHI-5 (0-100) and a share in one change table; a Wilcoxon p below 0.001 reads so."""
    base = {"group": "all", "wave": "T3m", "n": 161, "wilcoxon_statistic": 4163.0}
    rows = [
        base
        | {"scale": "mhi5", "mean_t0": 54.857, "mean_later": 58.037, "mean_change": 3.180}
        | {"sd_change": 16.40, "conf_low": 0.627, "conf_high": 5.733, "wilcoxon_p": 0.00955},
        base
        | {"scale": "satisfaction_agree_share", "mean_t0": 0.452, "mean_later": 0.491}
        | {"mean_change": 0.0395, "sd_change": 0.31, "conf_low": -0.0031, "conf_high": 0.0821}
        | {"wilcoxon_p": 0.00002},
    ]
    ctx = _ctx(tmp_path, questionnaire={"change": rows})
    table = sections_measures.bundle_tables(ctx, "questionnaire")["change"]
    html = ctx.table(table)
    for text in ("54.9", "58.0", "3.2", "0.452", "0.491", "0.040", "&lt; 0.001", "0.010"):
        assert f">{text}" in html or f"{text}]" in html or f"[{text}" in html, text
    assert "0.000<" not in html and ">0.5<" not in html
    assert "[0.6, 5.7]" in html and "[\u22120.003, 0.082]" in html


def test_difference_in_change_rows_take_the_decimals_of_their_scale(tmp_path):
    """MHI-5 (0-100) beside ZRM (1-5) and a share: 2.0, 0.16 and 0.026, one per scale."""
    change = [
        {"group": "all", "wave": "T3m", "n": 145, "scale": scale, "mean_t0": t0}
        | {"mean_later": later, "mean_change": later - t0}
        for scale, t0, later in (
            ("mhi5", 59.2, 60.3),
            ("zrm_mean", 3.08, 3.25),
            ("satisfaction_agree_share", 0.507, 0.533),
        )
    ]
    did = [
        {"scale": scale, "wave": "T3m", "method": "did_2x2", "n_pilot": 75, "n_comparison": 70}
        | {"estimate": est, "std_error": None, "conf_low": low, "conf_high": high}
        | {"p_value": 0.762, "status": "ok"}
        for scale, est, low, high in (
            ("mhi5", 1.9657, -24.649, 60.566),
            ("zrm_mean", 0.1572, -0.1974, 0.7666),
            ("satisfaction_agree_share", 0.0261, -0.5426, 0.9284),
        )
    ]
    ctx = _ctx(tmp_path, questionnaire={"change": change, "change_did": did})
    html = ctx.table(sections_measures.bundle_tables(ctx, "questionnaire")["change_did"])
    for text in (">2.0<", "[\u221224.6, 60.6]", ">0.16<", "[\u22120.20, 0.77]", ">0.026<"):
        assert text in html, text
    assert "[\u22120.543, 0.928]" in html
    assert ">1.966<" not in html and "[\u22120.2, 0.8]" not in html


def test_an_estimator_without_the_inference_comparison_says_it_is_not_made(tmp_path):
    """Callaway–Sant'Anna has no side-by-side inference: not "missing from the bundle"."""
    ctx = _ctx(tmp_path)
    ctx.bundle["confirmatory"]["estimator"] = "callaway_santanna"
    ctx.bundle["robustness"].pop("inference_comparison")
    text = sections_results.robustness(ctx)
    assert "Not made: the comparison of inference methods" in text
    assert "does not contain this part" not in text.split("Alternative control")[0]


def test_the_sensitivity_table_names_outcomes_by_their_label(tmp_path):
    from evalkit.report import sections_sensitivity

    record = {
        "outcome": "neet",
        "restriction": "relative_magnitudes",
        "original": {"lb": -0.05, "ub": -0.02},
        "rows": [{"bound": 0.5, "lb": -0.12, "ub": 0.05}],
        "breakdown": 0.14,
        "warnings": [],
        "warning_codes": [],
    }
    ctx = _ctx(tmp_path)
    ctx.bundle["robustness"]["sensitivity"] = [record]
    html = sections_sensitivity.sensitivity(ctx)
    rows = re.findall(r"<tr><td>([^<]*)</td>", html)
    assert rows and set(rows) == {ctx.outcome_label("neet")} and "neet" not in rows


def test_the_protocol_in_brief_names_every_estimator_and_writes_units(tmp_path):
    """Every estimator has a name in both languages; smallest effects carry their unit;
    a deviation's registered value reads as the protocol's YAML, not as a Python dict."""
    from evalkit.report.i18n import TEXT
    from evalkit.spec import ESTIMATORS

    assert [e for e in ESTIMATORS if f"est.{e}" not in TEXT] == []
    ctx = _ctx(tmp_path)
    outcomes = ctx.bundle["protocol"]["outcomes"]
    binary = next(o for o in outcomes if o.get("type") == "binary")
    binary["smallest_effect"] = 0.02
    ctx.bundle["protocol"]["analysis"]["estimator"] = "callaway_santanna"
    new = {"sensitivity": {"restriction": "relative_magnitudes", "bounds": [0.5, 1]}}
    ctx.bundle.setdefault("registration", {})["deviations"] = [
        {"date": "2026-12-04", "field": "analysis.robustness", "old": None, "new": new}
        | {"reason": "added"}
    ]
    html = sections_protocol.protocol_brief(ctx)
    assert "Callaway–Sant&#x27;Anna (by start group and period)" in html
    assert "callaway santanna" not in html
    assert "2.0 percentage points" in html
    assert "{sensitivity: {restriction: relative_magnitudes, bounds: [0.5, 1]}}" in html
    assert "{&#x27;sensitivity&#x27;" not in html and "{'sensitivity'" not in html


def test_a_protocol_without_exploratory_analyses_says_so(tmp_path):
    ctx = _ctx(tmp_path, exploratory=[])
    text = sections_results.exploratory(ctx)
    assert "No exploratory analyses for this protocol" in text
    assert "does not contain this part" not in text


def test_a_part_without_a_registered_source_is_not_applicable(tmp_path):
    """No case events or questionnaire registered (the national protocol): say so."""
    ctx = _ctx(tmp_path, throughput=None, questionnaire=None)
    ctx.bundle["protocol"]["data_sources"] = [{"kind": "outcome_panel", "files": ["x.csv"]}]
    for text in (sections_measures.throughput(ctx), sections_measures.questionnaire(ctx)):
        assert "Not applicable: the protocol registers no data source of the kind" in text
        assert "does not contain this part" not in text
    # registered but absent from the bundle: that part is missing, and the document says so
    ctx.bundle["protocol"]["data_sources"].append({"kind": "case_events", "files": ["e.csv"]})
    assert "does not contain this part" in sections_measures.throughput(ctx)


def test_an_outcome_with_two_hypotheses_shows_both(tmp_path):
    """population_breakthrough_18: H1 (debts) and H3 (debts, turning 18) share an outcome."""
    ctx = _ctx(tmp_path)
    outcome = ctx.bundle["protocol"]["outcomes"][0]["id"]
    ctx.bundle["protocol"]["hypotheses"] = [
        {"id": "H1", "outcome": outcome, "text": "Debts fall."},
        {"id": "H3", "outcome": outcome, "text": "Most among those turning 18."},
    ]
    html = sections_protocol.protocol_brief(ctx)
    assert "H1: Debts fall. · H3: Most among those turning 18." in html


def test_an_effect_that_rounds_to_zero_has_no_sign_and_no_direction(tmp_path):
    from evalkit.report.formatting import fmt_num

    assert fmt_num(0.0003, "nl", 1, signed=True) == "0,0"
    assert fmt_num(-0.04, "en", 1, signed=True) == "0.0"
    assert fmt_num(0.06, "en", 1, signed=True) == "+0.1"
    ctx = _ctx(tmp_path)
    effects = ctx.bundle["confirmatory"]["effects"]
    primary = [e for e in effects if e.get("role") == "primary"]
    for e in primary:
        e["result"]["estimate"] = 0.0001 if e["type"] == "binary" else 0.01
        e["expected_direction"] = "decrease"
    text = sections_front.effect_sentences(ctx)
    assert text.count("Rounded, that is no change in either direction.") == len(primary) > 0
    assert "against the intended direction" not in text and "+0.0" not in text


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_bacon_says_why_it_is_empty_when_every_unit_starts_together(tmp_path, lang) -> None:
    def section(starts: list[str]) -> str:
        bundle = {
            "protocol": {
                "units": {"treated": [{"unit": f"GM{i}", "start": s} for i, s in enumerate(starts)]}
            },
            "confirmatory": {"estimator": "twfe"},
            "robustness": {"bacon": []},
        }
        ctx = ReportContext(bundle, lang, figure_dir=tmp_path, collect_only=True)
        text = sections_results.robustness(ctx)
        return text[text.index("{#bacon}") :]

    together = section(["2025-10", "2025-10"])
    assert "Goodman-Bacon" in together
    assert ReportContext({}, lang, figure_dir=tmp_path).t("s.not_available") not in together
    # staggered starts without rows: the part is missing, and the report says so
    apart = section(["2025-10", "2026-01"])
    assert ReportContext({}, lang, figure_dir=tmp_path).t("s.not_available") in apart


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_sections_say_when_the_protocol_registers_none(tmp_path, lang) -> None:
    bundle = {
        "protocol": {
            "outcomes": [{"id": "neet", "role": "primary"}],
            "population": {"subgroups": []},
        },
        "confirmatory": {"effects": []},
    }
    ctx = ReportContext(bundle, lang, figure_dir=tmp_path, collect_only=True)
    missing = ctx.t("s.not_available")
    secondary, groups = sections_results.secondary(ctx), sections_results.subgroups(ctx)
    assert ctx.t("s.no_secondary") in secondary and missing not in secondary
    assert ctx.t("s.no_subgroups") in groups and missing not in groups
    # registered but absent from the bundle: missing, and the report says so
    bundle["protocol"]["outcomes"].append({"id": "debt", "role": "secondary"})
    bundle["protocol"]["population"]["subgroups"].append({"id": "turning_18"})
    ctx = ReportContext(bundle, lang, figure_dir=tmp_path, collect_only=True)
    assert missing in sections_results.secondary(ctx)
    assert missing in sections_results.subgroups(ctx)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_national_bundle_says_what_the_national_analysis_does_not_compute(tmp_path, lang) -> None:
    bundle = {"confirmatory": {"estimator": "callaway_santanna"}, "robustness": {"pretrend": []}}
    pilot = ReportContext(bundle, lang, figure_dir=tmp_path, collect_only=True)
    national = ReportContext(
        {**bundle, "settings": {"scope": "national"}}, lang, figure_dir=tmp_path, collect_only=True
    )
    placebo = sections_results.robustness(pilot)
    assert pilot.t("s.not_available") in placebo
    placebo = sections_results.robustness(national)
    assert national.t("s.not_computed_national") in placebo
    assert national.t("s.not_available") not in placebo


def test_person_months_kept_twice_under_keep_both_are_a_limitation(tmp_path):
    # Under overlap rule keep_both the analysis counted a repeated person-month once per
    # delivery, and neither the bundle nor the report said so.
    from evalkit.pipeline.assemble import limitations
    from evalkit.protocol import load_protocol

    protocol = load_protocol(Path(__file__).resolve().parents[1] / "protocols" / "demo.yaml")
    month = pd.to_datetime(["2025-01-01", "2025-02-01", "2025-01-01", "2025-01-01"])
    panel = pd.DataFrame({"person_id": ["a", "a", "a", "b"], "month": month})
    out = limitations(protocol, [], {"status": "registered"}, None, None, panel)
    assert {"code": "repeated_person_months", "values": {"n": 1}} in out
    unique = limitations(protocol, [], {"status": "registered"}, None, None, panel.iloc[1:])
    assert "repeated_person_months" not in {row["code"] for row in unique}
    for n, lang, text in [
        (1, "en", "1 person-month is in the outcome data more than once"),
        (8910, "en", "8,910 person-months are in the outcome data more than once"),
        (2, "nl", "2 persoonsmaanden staan meer dan eens in de uitkomstdata"),
    ]:
        lim = [{"code": "repeated_person_months", "values": {"n": n}}]
        md = sections_back.limitations(_ctx(tmp_path, lang=lang, limitations=lim))
        assert text in md and "Limitation (" not in md and "Beperking (" not in md


def test_case_events_and_answers_kept_twice_under_keep_both_are_limitations(tmp_path):
    # keep_both kept repeated case events and questionnaire answers without a word, while
    # the panel's repeated person-months were a limitation; they count twice the same way.
    from evalkit.pipeline.assemble import limitations
    from evalkit.protocol import load_protocol

    protocol = load_protocol(Path(__file__).resolve().parents[1] / "protocols" / "demo.yaml")
    events = pd.DataFrame(
        {
            "event_id": ["E1", "E2", "E1", "E1"],
            "case_id": ["C1"] * 4,
            "event_type": ["registration", "first_conversation"] + ["registration"] * 2,
            "event_date": pd.to_datetime(["2025-01-06", "2025-01-20", "2025-01-06", "2025-01-06"]),
        }
    )
    answers = pd.DataFrame(
        {"person_id": ["a", "a", "a"], "wave": ["T0", "T0", "T1"], "item": ["q1", "q1", "q1"]}
    )
    out = limitations(protocol, [], {"status": "registered"}, None, events, None, answers)
    assert {"code": "repeated_case_events", "values": {"n": 2}} in out
    assert {"code": "repeated_questionnaire_answers", "values": {"n": 1}} in out
    once = limitations(protocol, [], {"status": "registered"}, None, events[:2], None, answers[1:])
    assert not {"repeated_case_events", "repeated_questionnaire_answers"} & {
        row["code"] for row in once
    }
    for code, n, lang, text in [
        ("repeated_case_events", 2, "en", "2 case events are in the case data more than once"),
        ("repeated_case_events", 1, "nl", "1 casusgebeurtenis staat meer dan eens"),
        ("repeated_questionnaire_answers", 1, "en", "1 questionnaire answer is in the"),
        ("repeated_questionnaire_answers", 3, "nl", "3 vragenlijstantwoorden staan meer dan"),
    ]:
        lim = [{"code": code, "values": {"n": n}}]
        md = sections_back.limitations(_ctx(tmp_path, lang=lang, limitations=lim))
        assert text in md and "Limitation (" not in md and "Beperking (" not in md


def test_the_nonresponse_table_shows_the_analysis_columns_but_the_yes_no_counts(tmp_path):
    """The document takes the non-response table's columns from the bundle, not a copy.

    A column the analysis adds shows without a second list in the report; the persons
    with each answer of a yes/no scale (there for the suppression plan) stay in the
    exports only.
    """
    from evalkit.report.plan_rules import NONRESPONSE_YES_NO

    row = {"group": "all", "wave": "T3m", "scale": "mode_paper", "n_responders": 191}
    row |= {"n_nonresponders": 68, "median_responders": 0.0, "mean_responders": 0.1}
    row |= {"mean_nonresponders": 0.2, "std_diff": -0.3}
    row |= {"n_responders_yes": 19, "n_responders_no": 172}
    row |= {"n_nonresponders_yes": 14, "n_nonresponders_no": 54}
    ctx = _ctx(tmp_path, questionnaire={"nonresponse": [row]})
    html = "\n".join(sections_measures.generic_tables(ctx, "questionnaire"))
    shown = re.findall(r'data-col="([^"]+)"', html)
    assert shown == [c for c in row if c not in NONRESPONSE_YES_NO]
    exported = sections_measures.bundle_tables(ctx, "questionnaire")["nonresponse"].export()
    assert list(exported.columns) == list(row)

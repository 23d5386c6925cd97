"""The funders' summary: interval wording, the one-line answer, young people, power in one sentence.

Numbers are computed by hand from the bundle fixture (tests/data/bundle_fixture.json):
problematic debt att = -0.031, interval [-0.05256; -0.00944], adjusted p = 0.012,
210 young people in the pilot, 12 municipalities of which 1 pilot.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import pytest

from evalkit.report.context import ReportContext
from evalkit.report.i18n import label
from evalkit.report.sections_front import effect_sentences
from evalkit.report.summary import power_sentence, questionnaire_sentence, summary_body
from evalkit.report.verdict import (
    disagreement,
    interval_kind,
    min_pilot_p,
    power_kind,
    verdict_kind,
)

FIXTURE = Path(__file__).parent / "data" / "bundle_fixture.json"


def _bundle() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _ctx(bundle: dict, lang: str = "nl") -> ReportContext:
    return ReportContext(bundle, lang, collect_only=True)


@pytest.mark.parametrize(
    ("low", "high", "direction", "relevant", "kind"),
    [
        (None, 0.1, "decrease", 0.01, "unbounded"),
        (-math.inf, 0.1, "decrease", 0.01, "unbounded"),
        (-0.05, -0.01, "decrease", 0.01, "benefit_only"),
        (0.01, 0.05, "decrease", 0.01, "harm_only"),
        (0.01, 0.05, "increase", 0.01, "benefit_only"),
        # the case: [-5.0; 2.1] allows a large improvement and a large harm
        (-5.0, 2.1, "decrease", 1.0, "large_both"),
        (-0.5, 2.1, "decrease", 1.0, "large_harm"),
        (-2.0, 0.5, "decrease", 1.0, "large_benefit"),
        (-0.5, 0.5, "decrease", 1.0, "no_relevant"),
        (-0.5, 0.5, "decrease", None, "includes_zero"),
        (0.2, 0.5, None, None, "excludes_zero"),
        (-0.2, 0.5, None, None, "includes_zero"),
    ],
)
def test_interval_wording_follows_the_interval(low, high, direction, relevant, kind):
    assert interval_kind(low, high, direction, relevant) == kind


def test_verdict_needs_the_p_value_and_the_interval_to_agree():
    assert verdict_kind("benefit_only", 0.012, 0.05) == "worked"
    assert verdict_kind("benefit_only", 0.2, 0.05) == "unclear"
    assert verdict_kind("harm_only", 0.05, 0.05) == "harmed"  # p at alpha rejects
    assert verdict_kind("unbounded", 0.001, 0.05) == "cannot_tell"
    assert verdict_kind("no_relevant", 0.6, 0.05) == "no_relevant"


def test_an_interval_that_seems_to_contradict_the_verdict_is_explained():
    # conformal p 0.033 and interval [-4.6; -0.5], Holm over two hypotheses: p 0.067
    assert disagreement("benefit_only", 0.033, 0.067, 0.05) == "uncorrected"
    assert disagreement("benefit_only", 0.08, 0.08, 0.05) == "different_procedures"
    assert disagreement("benefit_only", 0.08, None, 0.05) == "different_procedures"
    assert disagreement("includes_zero", 0.01, 0.02, 0.05) == "different_procedures"
    # a conformal set with gaps: zero rejected, yet inside the interval (its hull)
    assert disagreement("includes_zero", 0.033, None, 0.05, set_gaps=True) == "conformal_gaps"
    assert disagreement("benefit_only", 0.01, None, 0.05, set_gaps=True) is None
    assert disagreement("benefit_only", 0.01, 0.02, 0.05) is None
    assert disagreement("large_both", 0.4, 0.6, 0.05) is None
    assert disagreement("unbounded", 0.01, None, 0.05) is None


def _neet_like(bundle: dict) -> dict:
    """The shipped one-municipality example's NEET: interval excludes zero, Holm p does not."""
    effect = bundle["confirmatory"]["effects"][0]
    effect["result"].update(conf_low=-0.0464, conf_high=-0.0052, p_value=0.0333)
    effect["p_adjusted"] = 0.0667
    return bundle


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("nl", "niet gecorrigeerd voor het toetsen van meerdere hypothesen"),
        ("en", "not corrected for testing several hypotheses"),
    ],
)
def test_both_documents_explain_an_uncorrected_interval(lang, said):
    bundle = _neet_like(_bundle())
    ctx = _ctx(bundle, lang)
    assert said in summary_body(ctx)
    assert said in effect_sentences(_ctx(bundle, lang))
    assert said not in summary_body(_ctx(_bundle(), lang))  # the fixture's effect agrees


@pytest.mark.parametrize(
    ("lang", "said"),
    [("nl", "nul ligt in een gat daartussen"), ("en", "zero lies in a gap between them")],
)
def test_both_documents_explain_zero_in_a_gap_of_the_conformal_set(lang, said):
    # a bundle whose record has the note but not the set: only the hull to go by
    bundle = _bundle()
    result = bundle["confirmatory"]["effects"][0]["result"]
    result.update(conf_low=-0.057, conf_high=0.044, p_value=1 / 30)
    gap = {"code": "conformal_set_gaps", "values": {}}  # as the bundle stores a code
    result["warning_codes"] = [*(result.get("warning_codes") or []), gap]
    bundle["confirmatory"]["effects"][0]["p_adjusted"] = None
    assert said in summary_body(_ctx(bundle, lang))
    assert said in effect_sentences(_ctx(bundle, lang))
    assert said not in summary_body(_ctx(_bundle(), lang))


def _split_set(bundle: dict) -> dict:
    """The gap pilot of tests/data/conformal_gap_panel.csv as the fixture's debt effect."""
    result = bundle["confirmatory"]["effects"][0]["result"]
    pieces = [[-0.0573, -0.0044], [0.0004, 0.0443]]
    result.update(conf_low=-0.0573, conf_high=0.0443, p_value=1 / 30, conf_set=pieces)
    gap = {"code": "conformal_set_gaps", "values": {}}
    result["warning_codes"] = [*(result.get("warning_codes") or []), gap]
    bundle["confirmatory"]["effects"][0]["p_adjusted"] = None
    return bundle


def test_a_set_with_zero_in_its_gap_excludes_zero_but_not_a_direction():
    pieces = [(-0.0573, -0.0044), (0.0004, 0.0443)]
    kind = interval_kind(-0.0573, 0.0443, "decrease", 0.01, pieces)
    assert kind == "split"
    assert verdict_kind(kind, 1 / 30, 0.05) == "unclear"
    assert disagreement(kind, 1 / 30, None, 0.05) == "conformal_split"
    assert disagreement(kind, 1 / 30, 0.067, 0.05) == "uncorrected"
    # zero inside a piece, or every piece on one side: the hull's wording
    assert interval_kind(-0.06, 0.04, "decrease", 0.01, [(-0.06, 0.01), (0.02, 0.04)]) == (
        "large_both"
    )
    assert interval_kind(-0.06, -0.01, "decrease", 0.01, [(-0.06, -0.04), (-0.03, -0.01)]) == (
        "benefit_only"
    )


@pytest.mark.parametrize(
    ("lang", "union", "said"),
    [
        ("nl", "[\u22125,7; \u22120,4] \u222a [0,0; 4,4]", "liggen aan beide kanten van nul"),
        ("en", "[\u22125.7, \u22120.4] \u222a [0.0, 4.4]", "lie on both sides of zero"),
    ],
)
def test_both_documents_print_a_set_with_a_gap_as_a_union(lang, union, said):
    bundle = _split_set(_bundle())
    for text in (summary_body(_ctx(bundle, lang)), effect_sentences(_ctx(bundle, lang))):
        assert union in text
        assert said in text
        assert "bevat nul" not in text and "contains zero" not in text
    assert "\u222a" not in summary_body(_ctx(_bundle(), lang))


def test_smallest_permutation_p_value():
    assert min_pilot_p(12, 1) == pytest.approx(1 / 12)
    assert min_pilot_p(12, 2) == pytest.approx(1 / 66)  # C(12, 2) = 66
    assert min_pilot_p(1, 1) is None
    assert min_pilot_p(None, 1) is None


def test_power_kind_reads_the_simulation():
    rows = [
        {"outcome": "a", "effect": -0.01, "power": 0.34, "mde": 0.021},
        {"outcome": "b", "effect": -0.01, "power": 0.0, "mde": None},
        {"outcome": "b", "effect": -0.03, "power": 0.0, "mde": None},
    ]
    assert power_kind(rows, "a") == ("mde", 0.021)
    assert power_kind(rows, "b") == ("none_detectable", None)
    assert power_kind(rows, "c") == ("unknown", None)


def test_one_line_answer_and_young_people_per_1000():
    text = summary_body(_ctx(_bundle()))
    line = next(x for x in text.split("\n\n") if x.startswith("**Heeft het gewerkt?**"))
    assert "\n" not in line
    # -0.031 * 1000 = 31 fewer per 1,000; 0.031 * 210 = 6.51, about 7 of the pilot's 210
    assert "Geregistreerde problematische schuld: waarschijnlijk wel" in line
    assert "ongeveer 31 minder per 1.000 jongeren" in line
    assert "gecorrigeerde p = 0,012" in line
    assert "onder de 210 jongeren die de pilot per maand telt, zijn dat er ongeveer 7" in text
    # the interval in percentage points: [-5.256; -0.944] -> [−5,3; −0,9]
    assert "[\u22125,3; \u22120,9] procentpunt" in text
    assert "aan de kant van verbetering" in text


def test_the_pilot_population_is_its_young_people_per_month_after_the_start():
    # the effect on a share applies to the young people the pilot has in a month of the
    # evaluated period (trend n over post 2026-01..06), not to everyone seen before it
    bundle = _bundle()
    for row in bundle["trends"]:
        if row["group"] == "pilot" and row["outcome"] == "problematic_debt":
            row["n"] = 180 if row["month"] >= "2026-01" else 240
    text = summary_body(_ctx(bundle))
    # 0.031 * 180 = 5.58 -> about 6 of 180; the balance table's 210 is not used
    assert "onder de 180 jongeren die de pilot per maand telt, zijn dat er ongeveer 6" in text
    assert "ongeveer 7" not in text  # 0.031 * 210, from the balance table
    english = summary_body(_ctx(bundle, "en"))
    assert "among the 180 young people the pilot has in a month, that is about 6" in english


def test_english_answer():
    text = summary_body(_ctx(_bundle(), "en"))
    assert "**Did it work?** Registered problematic debt: probably yes" in text
    assert "about 31 fewer per 1,000 young people" in text
    assert "[\u22125.3, \u22120.9] percentage points" in text


def test_one_unit_per_quantity_and_no_broken_sentence():
    for lang in ("nl", "en"):
        text = summary_body(_ctx(_bundle(), lang))
        assert not re.search(r"\d[.,]\d{3} (procentpunt|percentage points)", text)
        assert not re.search(r"\b(is|zijn), (is|zijn) \u2013", text)
        assert " \u2013." not in text


def test_power_in_one_sentence_when_no_effect_can_reach_significance():
    bundle = _bundle()
    bundle["power"] = [
        {"outcome": "problematic_debt", "effect": e, "power": 0.0, "mde": None, "n_sims": 50}
        for e in (0.0, -0.01, -0.02, -0.03)
    ]
    effects = [e for e in bundle["confirmatory"]["effects"] if e["role"] == "primary"]
    nl = power_sentence(_ctx(bundle), effects)
    assert "1 pilotgemeente tegenover 11 vergelijkingsgemeenten" in nl
    assert "de kleinst mogelijke p is 0,083" in nl  # 1/12
    en = power_sentence(_ctx(bundle, "en"), effects)
    assert en.startswith("No effect size can reach significance at α = 0.05 with 1 pilot")
    assert "0.0%" not in summary_body(_ctx(bundle))


def test_power_as_smallest_detectable_effect():
    bundle = _bundle()
    effects = [e for e in bundle["confirmatory"]["effects"] if e["role"] == "primary"]
    text = power_sentence(_ctx(bundle, "en"), effects)
    # mde 0.021 of a share = 2.1 percentage points
    assert text.startswith("This design could only detect effects on Registered problematic debt")
    assert "larger than 2.1 percentage points" in text


def test_unbounded_interval_is_said_not_drawn():
    bundle = copy.deepcopy(_bundle())
    for e in bundle["confirmatory"]["effects"]:
        e["result"]["conf_low"] = e["result"]["conf_high"] = None
    text = summary_body(_ctx(bundle))
    assert "het interval is onbegrensd" in text
    assert "Het 95%-interval is onbegrensd" in text
    assert "<!-- figure effects -->" not in text  # no bare dots
    assert "voor geen enkele hoofduitkomst is het 95%-interval begrensd" in text


def test_every_registered_hypothesis_is_accounted_for():
    bundle = _bundle()
    bundle["confirmatory"]["hypotheses"] = [
        {
            "id": "H1",
            "outcome": "problematic_debt",
            "status": "estimated",
            "estimate": -0.031,
            "conf_low": -0.05256,
            "conf_high": -0.00944,
            "p_adjusted": 0.012,
        },
        {
            "id": "H2",
            "outcome": "neet",
            "status": "not_estimated",
            "estimate": None,
            "reason": "the estimator could not run on these data (no rows)",
            "reason_code": "estimate_failed",
            "reason_values": {"outcome": "neet", "subgroup": "", "detail": "no rows"},
        },
    ]
    bundle["confirmatory"]["family"] = {"method": "holm", "size": 2}
    text = summary_body(_ctx(bundle))
    assert "**H1**" in text and "**H2**" in text
    assert "effect \u22123,1 procentpunt" in text
    assert "geen schatting. Reden: de schatting kon op deze gegevens niet worden gemaakt" in text
    assert "could not run" not in text  # the bundle's English sentence stays out of Dutch


@pytest.mark.parametrize(
    ("lang", "with_", "against"),
    [
        (
            "nl",
            "Dat is de richting van de hypothese (daling).",
            "tegen de richting van de hypothese (stijging) in",
        ),
        (
            "en",
            "That is the direction of the hypothesis (decrease).",
            "against the direction of the hypothesis (increase)",
        ),
    ],
)
def test_a_hypothesis_says_whether_its_estimate_goes_its_way(lang, with_, against):
    # p is two-sided: an effect against a one-sided hypothesis must not read as support
    bundle = copy.deepcopy(_bundle())
    found = {"status": "estimated", "estimate": -0.031, "conf_low": -0.05, "conf_high": -0.01}
    bundle["confirmatory"]["hypotheses"] = [
        {"id": h, "outcome": "neet", "direction": d, "p_adjusted": 0.012, **found}
        for h, d in (("H1", "decrease"), ("H2", "increase"), ("H3", "two_sided"))
    ]
    bundle["confirmatory"]["family"] = {"method": "holm", "size": 3}
    lines = [line for line in summary_body(_ctx(bundle, lang)).splitlines() if "- **H" in line]
    assert len(lines) == 3
    assert with_ in lines[0] and against not in lines[0]
    assert against in lines[1] and with_ not in lines[1]
    assert with_ not in lines[2] and against not in lines[2]


@pytest.mark.parametrize(
    ("lang", "words", "not_said"),
    [
        ("nl", "nagenoeg geen verschil (minder dan 1 per 1.000 jongeren)", "ongeveer 0 "),
        ("en", "virtually no difference (less than 1 per 1,000 young people)", "about 0 "),
    ],
)
def test_an_effect_that_rounds_to_zero_per_1000_is_no_measurable_difference(lang, words, not_said):
    bundle = copy.deepcopy(_bundle())
    for e in bundle["confirmatory"]["effects"]:
        if e.get("type") == "binary":
            e["result"]["estimate"] = 0.0004  # 0.4 per 1,000: rounds to 0
    text = summary_body(_ctx(bundle, lang))
    assert words in text
    assert not_said not in text  # neither "about 0 more per 1,000" nor "about 0 of 210"


@pytest.mark.parametrize(
    ("robustness", "en", "nl"),
    [
        (None, "the methods, robustness analyses and all tables", "de robuustheidsanalyses"),
        (
            {"pretrend": [{"outcome": "x"}]},
            "the methods, a pre-trend test and all tables",
            "een toets op trends vóór de start",
        ),
        ({}, "contains the methods and all tables", "bevat de methoden en alle tabellen"),
    ],
)
def test_the_last_line_promises_only_the_robustness_checks_the_bundle_has(robustness, en, nl):
    # None: the fixture's own checks (a pilot's: pre-trend, placebo, inference, ...);
    # the national bundle has the pre-trend test only.
    bundle = _bundle()
    if robustness is not None:
        bundle["robustness"] = robustness
    assert en in summary_body(_ctx(bundle, "en")).rstrip().splitlines()[-1]
    assert nl in summary_body(_ctx(bundle, "nl")).rstrip().splitlines()[-1]


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_tiny_p_value_reads_p_below_not_p_equals_below(lang):
    bundle = _bundle()
    bundle["confirmatory"]["effects"][0]["p_adjusted"] = 0.00002
    texts = summary_body(_ctx(bundle, lang)) + effect_sentences(_ctx(bundle, lang))
    assert "= <" not in texts
    assert "p < 0,001" in texts if lang == "nl" else "p < 0.001" in texts


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("nl", "effect \u221213,9 dagen, interval [\u221218,2; \u22129,6] dagen"),
        ("en", "effect \u221213.9 days, interval [\u221218.2, \u22129.6] days"),
    ],
)
def test_a_hypothesis_on_a_duration_is_written_in_its_registered_unit(lang, said):
    bundle = _bundle()
    bundle["protocol"]["outcomes"].append(
        {"id": "days_to_start", "type": "duration", "unit": {"nl": "dagen", "en": "days"}}
    )
    bundle["confirmatory"]["hypotheses"] = [
        {
            "id": "H2",
            "outcome": "days_to_start",
            "status": "estimated",
            "estimate": -13.868,
            "conf_low": -18.179,
            "conf_high": -9.557,
            "p_adjusted": 5.75e-10,
        }
    ]
    bundle["confirmatory"]["family"] = {"method": "holm", "size": 1}
    assert said in summary_body(_ctx(bundle, lang))


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_tiny_questionnaire_p_value_reads_p_below(lang):
    bundle = _bundle()
    bundle.setdefault("questionnaire", {})["change_did"] = [
        {
            "scale": "zrm",
            "wave": "T3m",
            "method": "did_2x2",
            "estimate": 0.30,
            "conf_low": 0.23,
            "conf_high": 0.36,
            "p_value": 0.00002,
            "n_pilot": 120,
            "n_comparison": 300,
            "n_treated_clusters": 8,
            "status": "ok",
        }
    ]
    text = questionnaire_sentence(_ctx(bundle, lang)).replace("\\", "")  # markdown escapes
    assert "(p < 0,001)" in text if lang == "nl" else "(p < 0.001)" in text
    assert "= <" not in text


def test_each_questionnaire_wave_has_its_own_sentence():
    """debt_free_future measures at T3m and T6m: each scale's two changes must be told apart."""
    row = {"method": "did_2x2", "n_pilot": 120, "n_comparison": 300}
    row |= {"n_treated_clusters": 8, "status": "ok", "p_value": 0.4}
    bundle = _bundle()
    bundle.setdefault("questionnaire", {})["change_did"] = [
        {
            **row,
            "scale": "mhi5",
            "wave": "T3m",
            "estimate": 1.97,
            "conf_low": -24.6,
            "conf_high": 60.6,
        },
        {
            **row,
            "scale": "mhi5",
            "wave": "T6m",
            "estimate": 3.60,
            "conf_low": -37.7,
            "conf_high": 49.1,
        },
    ]
    nl = questionnaire_sentence(_ctx(bundle, "nl")).replace("\\", "")
    assert "van de nulmeting tot T3m tussen pilot- en vergelijkingsgroep): " in nl
    first, second = nl.split(" Tot T6m: ")
    assert "+1,97" in first and "+3,60" not in first
    assert second.startswith("psychische gezondheid (MHI-5) +3,60")
    en = questionnaire_sentence(_ctx(bundle, "en")).replace("\\", "")
    assert " To T6m: mental health (MHI-5) +3.60" in en


@pytest.mark.parametrize(
    ("lang", "said"),
    [("nl", "staat er in stukken"), ("en", "is drawn as its pieces")],
)
def test_the_figure_draws_a_set_with_a_gap_as_its_pieces(monkeypatch, tmp_path, lang, said):
    import evalkit.report.summary as summary

    drawn = []
    real = summary.effects_plot
    monkeypatch.setattr(summary, "effects_plot", lambda f, *a: drawn.append(f) or real(f, *a))
    bundle = _split_set(_bundle())
    text = summary_body(ReportContext(bundle, lang, tmp_path))
    assert said in text
    frame = drawn[0]
    name = frame["outcome_label"].iloc[0]
    ranges = frame.loc[frame["outcome_label"] == name, ["conf_low", "conf_high"]]
    # shares are drawn in percentage points: the two pieces, not their hull [-5.73; 4.43]
    assert ranges.round(2).values.tolist() == [[-5.73, -0.44], [0.04, 4.43]]
    plot = real(frame, lang)
    ranges_layer, points_layer = plot.layers[1].geom.data, plot.data
    assert (ranges_layer["outcome_label"] == name).sum() == 2
    assert len(points_layer) == frame["outcome_label"].nunique()
    assert said not in summary_body(ReportContext(_bundle(), lang, tmp_path))


def _answer_line(text: str) -> str:
    marks = ("**Heeft het gewerkt?**", "**Did it work?**")
    return next(p for p in text.split("\n\n") if p.startswith(marks))


@pytest.mark.parametrize(
    ("lang", "said", "chance"),
    [
        ("nl", "dus de richting is onbekend", "kan toeval zijn"),
        ("en", "so the direction is unknown", "may be chance"),
    ],
)
def test_the_one_line_answer_for_a_set_with_a_gap_names_the_direction_not_chance(
    lang, said, chance
):
    bundle = _split_set(_bundle())
    line = _answer_line(summary_body(_ctx(bundle, lang)))
    first = line.split(". ")[0]
    assert said in first and chance not in first
    # after a correction that no longer rejects zero, chance is the answer again
    bundle["confirmatory"]["effects"][0]["p_adjusted"] = 0.067
    line = _answer_line(summary_body(_ctx(bundle, lang)))
    assert said not in line and chance in line.split(". ")[0]


@pytest.mark.parametrize(
    ("lang", "share", "score"),
    [
        # 0.1174 -> +11,7 pp, [0.052; 0.183] -> [5,2; 18,3]; the 0-10 score is not "NPS"
        ("nl", "+11,7 procentpunt [5,2; 18,3]", "aanbevelingsscore (0–10) \u22120,11"),
        ("en", "+11.7 percentage points [5.2, 18.3]", "recommendation score (0–10) \u22120.11"),
    ],
)
def test_questionnaire_shares_in_points_and_the_score_not_called_nps(lang, share, score):
    """The demo's satisfaction share read '+0,12' and its 0-10 score 'NPS −0,11'.

    The NPS runs from −100 to 100 (the demo's pilot: −13 to 3); the change scales
    hold the mean 0-10 answer, so calling that difference "NPS" gives the NPS a
    second format and a tenth of its size.
    """
    row = {"method": "did_2x2", "n_pilot": 112, "n_comparison": 104, "wave": "T3m"}
    row |= {"n_treated_clusters": 8, "status": "ok", "p_value": 0.4}
    bundle = _bundle()
    bundle.setdefault("questionnaire", {})["change_did"] = [
        {**row, "scale": "satisfaction_agree_share", "estimate": 0.1174}
        | {"conf_low": 0.052, "conf_high": 0.183},
        {**row, "scale": "nps", "estimate": -0.106, "conf_low": None, "conf_high": None},
    ]
    text = questionnaire_sentence(_ctx(bundle, lang)).replace("\\", "")
    assert share in text
    assert score in text
    assert "NPS" not in text and "0,12" not in text and "0.12 " not in text
    # the evaluation's tables name the scale the same way (nonresponse, change, change_did)
    assert label("code", "nps", lang) == score.rsplit(" ", 1)[0]

"""Estimator warnings in the report language: every code has a sentence, numbers per language."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

from evalkit.did.notes import TEMPLATES, Note, fields
from evalkit.report import sections_results
from evalkit.report.context import ReportContext
from evalkit.report.i18n import TEXT
from evalkit.report.warning_text import FORMATS, warning_text, warning_texts

FIXTURE = Path(__file__).parent / "data" / "bundle_fixture.json"


def _names(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _ctx(tmp_path: Path, lang: str) -> ReportContext:
    bundle = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return ReportContext(bundle, lang, figure_dir=tmp_path)


def test_every_code_the_estimators_can_give_has_a_dutch_and_english_sentence() -> None:
    missing = [c for c in TEMPLATES if set(TEXT.get(f"w.{c}", {})) < {"nl", "en"}]
    assert not missing, f"add w.<code> (nl and en) to translations.yaml for {missing}"
    stale = sorted(k for k in TEXT if k.startswith("w.") and k[2:] not in TEMPLATES)
    assert not stale, f"translations for codes no estimator gives: {stale}"
    for code in TEMPLATES:
        for lang in ("nl", "en"):
            extra = _names(TEXT[f"w.{code}"][lang]) - fields(code)
            assert not extra, f"w.{code} ({lang}) uses values the note does not have: {extra}"
    unformatted = {name for code in TEMPLATES for name in fields(code)} - set(FORMATS)
    assert not unformatted, f"say how the report writes the value(s) {sorted(unformatted)}"


def test_numbers_in_a_warning_follow_the_language() -> None:
    note = Note(
        "permutation_unbounded",
        {"treated": 1, "clusters": 12, "assignments": 12, "smallest": 1 / 12, "alpha": 0.05}
        | {"level": 0.95},
    )
    nl, en = (warning_text(note.to_dict(), lang) for lang in ("nl", "en"))
    assert nl is not None and "1/12 = 0,083" in nl and "alfa = 0,05" in nl and "95%" in nl
    assert en is not None and "1/12 = 0.083" in en and "alpha = 0.05" in en
    draws = warning_text(Note("wild_enumerated", {"clusters": 12, "draws": 4096}).to_dict(), "nl")
    assert draws is not None and "alle 4.096 mogelijke" in draws
    cohorts = Note("single_unit_cohorts", {"cohorts": [2005, 2007]}).to_dict()
    assert "begint in 2005, 2007 " in (warning_text(cohorts, "nl") or "")
    method = Note("inference_failed", {"method": "conley_taber", "reason": "x"}).to_dict()
    assert (warning_text(method, "nl") or "").startswith("De methode Conley–Taber kon niet")


def test_a_warning_without_a_usable_code_keeps_its_english_text() -> None:
    coded = Note("wild_unreliable", {"treated": 1})
    texts = ["an older warning", coded.text]
    assert warning_texts(texts, [None, coded.to_dict()], "nl") == [
        "an older warning",
        warning_text(coded.to_dict(), "nl"),
    ]
    assert warning_texts(texts, None, "nl") == texts  # a bundle from before warning_codes
    unknown = [{"code": "not_a_code", "values": {}}, coded.to_dict()]
    assert warning_texts(texts, unknown, "nl")[0] == "an older warning"
    assert warning_texts(texts, [coded.to_dict()], "nl") == texts  # cannot pair them up
    assert warning_texts("", [], "nl") == []


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_primary_effects_show_the_warnings_in_the_report_language(tmp_path, lang) -> None:
    md = sections_results.primary(_ctx(tmp_path, lang))
    english = Note("wild_unreliable", {"treated": 1}).text
    assert english not in md
    if lang == "nl":
        assert "De wild cluster bootstrap is onbetrouwbaar bij zo weinig pilotgemeenten" in md
        assert "in stappen van 2/4.096" in md
    else:
        assert "The wild cluster bootstrap is unreliable with so few pilot municipalities" in md
        assert "in steps of 2/4,096" in md
    assert md.count("MacKinnon–Webb") == 1  # the same note of every primary outcome once


def test_robustness_tables_show_the_warnings_in_dutch(tmp_path) -> None:
    ctx = _ctx(tmp_path, "nl")
    md = sections_results.robustness(ctx)
    assert "Het aantal pilotgemeenten is klein (1 van de 12)" in md  # CR1 row
    assert "Het aantal pilotgemeenten (1 van de 12) is kleiner dan 5" in md  # Conley–Taber row
    assert "clusters are treated" not in md and "unreliable" not in md
    table = next(t for t in ctx.tables if t.name == "inference_comparison")
    assert "warning_codes" not in table.columns  # codes are not shown or exported
    assert table.export()["warnings"].str.contains("pilotgemeenten").all()


def _failed_subgroup_bundle() -> dict:
    """The fixture with a subgroup no pilot member belongs to, and its hypothesis."""
    from evalkit.analysis.quiet import summary_row

    bundle = json.loads(FIXTURE.read_text(encoding="utf-8"))
    gap = Note("subgroup_no_pilot", {"definition": "school_type == 'vo'"})
    row = summary_row("neet", None, [gap.text], codes=[gap.to_dict()], subgroup="vo")
    crash = summary_row("problematic_debt", None, ["EstimationError: singular design"])
    bundle["subgroups"] = [
        row | {"label": {"nl": "Voortgezet onderwijs", "en": "Secondary school"}},
        crash | {"subgroup": "vo", "label": {"nl": "Voortgezet onderwijs", "en": "Secondary"}},
    ]
    values = {"outcome": "neet", "subgroup": "vo", "detail": gap.text}
    bundle["confirmatory"]["hypotheses"] = [
        {"id": "H3", "outcome": "neet", "subgroup": "vo", "status": "not_estimated"}
        | {"reason_code": "subgroup_not_estimated", "reason_values": values}
    ]
    return bundle


def test_a_subgroup_that_could_not_be_estimated_says_why_in_dutch(tmp_path) -> None:
    """The estimator's English error reached the Dutch subgroup notes and hypothesis list."""
    from evalkit.report.hypotheses import hypotheses_list

    ctx = ReportContext(_failed_subgroup_bundle(), "nl", figure_dir=tmp_path)
    md = sections_results.subgroups(ctx)
    assert "Niemand in de pilotgroep hoort bij deze subgroep" in md
    assert "Deze schatting kon niet worden gemaakt (technische melding" in md
    assert "no one in the pilot group" not in md
    listed = hypotheses_list(ctx).replace("\\", "")  # markdown escapes
    assert (
        "kon voor Geen werk en geen opleiding (NEET) niet worden geschat: niemand in de "
        "pilotgroep hoort bij deze subgroep, dus er is geen effect te schatten." in listed
    )
    assert "no one" not in listed and ".." not in listed
    english = hypotheses_list(ReportContext(_failed_subgroup_bundle(), "en", figure_dir=tmp_path))
    english = english.replace("\\", "")
    assert "could not be estimated for" in english and ": no one in the pilot group" in english

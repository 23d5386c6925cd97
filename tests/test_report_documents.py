"""The three report documents rendered from a results bundle, in both languages.

Renders once per module (evalkit's own engine, real kernel, real pandoc) and checks
content, language, disclosure control, self-containment, manifests, exports, byte
identity, graceful rendering of a sparse bundle, and the pages in headless Chromium.
"""

from __future__ import annotations

import copy
import hashlib
import html as htmllib
import json
import re
from pathlib import Path

import pytest

from evalkit.errors import ReportError
from evalkit.report import output_name, render_reports

HERE = Path(__file__).parent
FIXTURE = HERE / "data" / "bundle_fixture.json"
BUILD = HERE.parent / "build" / "test-screenshots"
PSEUDONYM = "5e0f" * 16
DOCS = ("evaluation", "monitor", "summary")


def _bundle() -> dict:
    bundle = json.loads(FIXTURE.read_text(encoding="utf-8"))
    # a pseudonym that leaked into an exploratory table must never reach the HTML
    bundle["exploratory"][0]["tables"].append({"age_band": PSEUDONYM, "n": 50, "share_debt": 0.1})
    return bundle


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("reports")
    bundle_path = root / "results.json"
    bundle_path.write_text(json.dumps(_bundle()), encoding="utf-8")
    out = root / "out"
    messages: list[str] = []
    paths = render_reports(
        bundle_path,
        out,
        stem="demo",
        langs=("nl", "en"),
        documents=DOCS,
        progress=messages.append,
        engine="evalkit",
    )
    return {"bundle": bundle_path, "out": out, "paths": paths, "messages": messages}


def _html(rendered: dict, doc: str, lang: str) -> str:
    return (rendered["out"] / output_name("demo", doc, lang)).read_text(encoding="utf-8")


def _text(html: str) -> str:
    body = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", body))


def test_output_names_manifests_and_progress(rendered):
    names = {p.name for p in rendered["paths"]}
    for doc in DOCS:
        for lang in ("nl", "en"):
            assert output_name("demo", doc, lang) in names
    assert {
        "demo.html",
        "demo.en.html",
        "demo.monitor.html",
        "demo.summary.en.html",
        "demo.manifest.json",
        "demo.monitor.en.manifest.json",
        "demo.xlsx",
    } <= names
    assert rendered["messages"][0] == "demo: evaluation (nl)"
    manifest = json.loads((rendered["out"] / "demo.en.manifest.json").read_text())
    html = rendered["out"] / "demo.en.html"
    assert manifest["output"]["sha256"] == hashlib.sha256(html.read_bytes()).hexdigest()
    assert (
        manifest["inputs"]["bundle"]["sha256"]
        == hashlib.sha256(rendered["bundle"].read_bytes()).hexdigest()
    )
    assert manifest["inputs"]["qmd"]["file"] == "evaluation.qmd"
    assert manifest["inputs"]["evalkit_version"] and manifest["lang"] == "en"


def test_first_page_of_the_evaluation(rendered):
    html = _html(rendered, "evaluation", "nl")
    first = _text(html[: html.index('id="protocol"')])
    for needle in (
        "Registratiehash (sha256)",
        "4f0c2a1e 9b7d3c5a 8e6f1b2d 4c6a8e0f 2b4d6c8a 0e2f4b6d 8c0a2e4f 6b8d0c2a",
        "15 september 2025, 10:30 UTC",
        "Geregistreerd vóór de data",
        "ja",
        "0.1.0",
        "Seed",
        "outcome_panel.csv",
        "66.000",
        "Wat we vonden",
        "−3,1 procentpunt",
        "[−5,3; −0,9]",
    ):
        assert needle in first, needle


def test_all_sections_present_in_both_languages(rendered):
    nl, en = _html(rendered, "evaluation", "nl"), _html(rendered, "evaluation", "en")
    for anchor in (
        "protocol",
        "deviations",
        "data-quality",
        "sample",
        "primary",
        "robustness",
        "pretrend",
        "placebo",
        "inference",
        "alt-control",
        "bacon",
        "secondary",
        "subgroups",
        "throughput",
        "questionnaire",
        "exploratory",
        "limitations",
        "appendix",
        "software",
        "full-protocol",
        "privacy",
    ):
        assert f'id="{anchor}"' in nl and f'id="{anchor}"' in en, anchor
    assert '<html lang="nl"' in nl and '<html lang="en"' in en
    assert "Primaire uitkomsten" in nl and "Primary outcomes" in en
    assert "Verkennend, niet vooraf geregistreerd" in nl
    assert "Exploratory, not pre-registered" in en
    assert "De financier heeft de rapportagedatum naar voren gehaald." in nl  # deviations
    assert "The funder moved the report date forward." in en
    assert "Met maar 1 pilotgemeente" in nl  # few-treated warning explained
    # estimator warnings worded from their codes, not the estimators' English
    assert "De wild cluster bootstrap is onbetrouwbaar bij zo weinig pilotgemeenten" in nl
    assert "The wild cluster bootstrap is unreliable with so few pilot municipalities" in en
    assert "compare with inference=" not in nl + en
    assert "0,012" in nl and "0.012" in en  # adjusted p-value, decimal comma in Dutch


def test_figures_are_embedded_with_captions_and_cross_references(rendered):
    nl = _html(rendered, "evaluation", "nl")
    assert nl.count("<figure") == nl.count("<figcaption") >= 2
    assert '<a href="#figure-event-study">Figuur 1</a>' in nl
    assert '<a href="#figure-trends">Figuur 2</a>' in nl
    assert re.search(
        r'<img[^>]+src="data:image/png;base64,[^"]+"[^>]+alt="Figuur 2: Maandgemiddelde', nl
    )
    en = _html(rendered, "evaluation", "en")
    assert '<a href="#figure-trends">Figure 2</a>' in en


def test_every_document_is_self_contained_and_has_header_cells(rendered):
    for doc in DOCS:
        for lang in ("nl", "en"):
            html = _html(rendered, doc, lang)
            assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), (doc, lang)
            assert "<link" not in html and "<script" not in html
            assert "<th" in html or doc == "summary"
            assert f'<html lang="{lang}"' in html


def test_disclosure_control_and_no_pseudonyms(rendered):
    for doc in DOCS:
        for lang in ("nl", "en"):
            html = _html(rendered, doc, lang)
            body = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
            assert not re.search(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])", body), (
                doc,
                lang,
            )
    nl = _text(_html(rendered, "evaluation", "nl"))
    assert "·" in nl and "Aantallen kleiner dan 10 zijn onderdrukt" in nl
    assert re.search(r"In dit rapport zijn [1-9]\d* cellen onderdrukt", nl)
    # the subgroup estimate from 7 persons is hidden along with its count
    subgroups = nl[nl.index("Effecten per subgroep") :]
    assert "−0,020" not in subgroups.split("Doorlooptijden")[0]
    monitor = _text(_html(rendered, "monitor", "nl"))
    # 8 registrations in December are suppressed, and one more cell of that column (total
    # shown); both carry the same mark
    assert "Σ" in monitor and monitor.count("·") >= 2 and "<10" not in monitor


def test_tables_exported_as_csv_and_one_workbook(rendered):
    import openpyxl

    folder = rendered["out"] / "demo_tables"
    csvs = sorted(p.name for p in folder.glob("*.csv"))
    assert {
        "effects_primary.csv",
        "data_quality.csv",
        "sample_flow.csv",
        "subgroups.csv",
        "registrations.csv",
    } <= set(csvs)
    effects = (folder / "effects_primary.csv").read_text(encoding="utf-8").splitlines()
    assert effects[0].startswith("outcome,unit,estimate,std_error")
    assert "-0.031" in effects[1]
    subgroups = (folder / "subgroups.csv").read_text(encoding="utf-8")
    assert "suppressed" in subgroups and "<10" not in subgroups
    book = openpyxl.load_workbook(rendered["out"] / "demo.xlsx", read_only=True)
    assert len(book.sheetnames) == len(csvs)
    book.close()
    for path in folder.glob("*.csv"):
        assert PSEUDONYM not in path.read_text(encoding="utf-8")


def test_same_inputs_same_bytes(rendered, tmp_path):
    render_reports(
        rendered["bundle"],
        tmp_path,
        stem="demo",
        langs=("nl",),
        documents=DOCS,
        engine="evalkit",
    )
    assert (tmp_path / "demo.html").read_bytes() == (rendered["out"] / "demo.html").read_bytes()
    # the exports too: the workbook carries no render time, CSVs have a fixed order
    assert (tmp_path / "demo.xlsx").read_bytes() == (rendered["out"] / "demo.xlsx").read_bytes()
    for csv in (tmp_path / "demo_tables").glob("*.csv"):
        assert csv.read_bytes() == (rendered["out"] / "demo_tables" / csv.name).read_bytes()


def test_not_preregistered_and_sparse_bundle_render_gracefully(tmp_path):
    full = json.loads(FIXTURE.read_text(encoding="utf-8"))
    sparse = {
        "bundle_version": 2,
        "evalkit_version": "0.1.0",
        "protocol_id": "bare",
        "generated": {"code_commit": None, "seed": 3},
        "protocol": copy.deepcopy(full["protocol"]),
        "registration": {
            "status": "not_registered",
            "sha256": None,
            "registered_at": None,
            "registered_before_data": None,
            "deviations": [],
        },
        "settings": {
            "disclosure_threshold": 10,
            "languages": ["nl", "en"],
            "pilot_start": "2025-10",
        },
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(sparse), encoding="utf-8")
    paths = render_reports(
        path, tmp_path / "out", stem="bare", langs=("en",), documents=DOCS, engine="evalkit"
    )
    html = paths[0].read_text(encoding="utf-8")
    first = _text(html[: html.index('id="protocol"')])
    assert "this evaluation was not pre-registered" in first
    assert "NOT pre-registered" in first
    assert html.count("Not available: the results bundle does not contain this part.") >= 8
    assert "The protocol was not pre-registered." in html  # limitations from facts
    assert "<img" not in html


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"langs": ("de",)}, "language(s) ['de'] not allowed; use one or more of nl, en"),
        (
            {"documents": ("brochure",)},
            "not allowed; use one or more of evaluation, monitor, summary",
        ),
        ({"stem": "a/b"}, "must be a plain file name"),
    ],
)
def test_bad_arguments_are_report_errors(tmp_path, kwargs, message):
    args = {"stem": "demo", **kwargs}
    with pytest.raises(ReportError, match=re.escape(message)):
        render_reports(FIXTURE, tmp_path, **args)


def test_bad_bundle_is_a_report_error(tmp_path):
    with pytest.raises(ReportError, match="results bundle not found"):
        render_reports(tmp_path / "none.json", tmp_path, stem="x")
    bad = tmp_path / "v9.json"
    bad.write_text('{"bundle_version": 9}', encoding="utf-8")
    with pytest.raises(ReportError, match="bundle_version 9 is not supported"):
        render_reports(bad, tmp_path, stem="x")


@pytest.mark.parametrize("doc", DOCS)
def test_dutch_documents_are_dutch_throughout(rendered, doc):
    """No raw code and no English word in what a Dutch reader sees (see tests/language.py)."""
    from language import foreign_words

    html = _html(rendered, doc, "nl")
    assert foreign_words(html, frozenset({"demo"})) == {}


# ------------------------------------------------------------------ real browser


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_printed_evaluation_fits_a4_with_every_table_whole(rendered, browser, lang):
    """Laid out for A4 (print media, the page's width inside its margins) nothing sticks out.

    A table wider than the page would be cut off on paper (or shrink the whole page);
    its last header cell is the column that went missing first. The PDF is kept for a look.
    """
    from browser import A4_CONTENT_PX

    name = output_name("demo", "evaluation", lang)
    layout = browser.print_layout(rendered["out"] / name)
    assert layout["page_width"] == A4_CONTENT_PX
    assert layout["document_width"] <= A4_CONTENT_PX, "something is wider than the A4 page"
    tables = layout["tables"]
    assert len(tables) > 20
    for table in tables:
        assert table["right"] <= A4_CONTENT_PX + 0.5, table
        assert table["overflow"] <= 0, table  # no column hidden in a scroll box
    primary = next(t for t in tables if t["id"] == "table-effects_primary")
    expected = "Clusters (pilot / alle)" if lang == "nl" else "Clusters (treated / all)"
    assert primary["last_header"] == expected
    pdf = browser.print_pdf(rendered["out"] / name, BUILD / name.replace(".html", ".pdf"))
    assert pdf.read_bytes()[:5] == b"%PDF-"


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_evaluation_tables_show_whole_on_a_laptop_screen(rendered, browser, lang):
    """At 1280 px, a common laptop width, no table of the evaluation hides columns.

    Tables wider than the page scroll sideways with their first column fixed; the page is
    wide enough that none of the demo's needs to (the Dutch primary-results and handover
    tables did, by up to 190 px, when the page was 62rem wide).
    """
    name = output_name("demo", "evaluation", lang)
    layout = browser.layout(rendered["out"] / name, media="screen", width=1280, height=900)
    assert layout["document_width"] <= 1280
    assert len(layout["tables"]) > 20
    hidden = [(t["caption"], t["overflow"]) for t in layout["tables"] if t["overflow"] > 0]
    assert hidden == []


@pytest.mark.browser
@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_page_in_headless_chromium(rendered, browser, doc, lang):
    name = output_name("demo", doc, lang)
    shot = BUILD / name.replace(".html", ".png")
    page = browser.check(rendered["out"] / name, shot)
    assert page.network_requests == []
    assert page.console_errors == []
    assert page.broken_images == []
    assert page.lang == lang and page.title
    if doc != "monitor":
        assert page.images and all(i["alt"] for i in page.images)
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.browser
def test_browser_check_sees_a_network_request_and_a_console_error(browser, tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html lang="nl"><head><title>x</title></head><body>'
        '<img src="https://example.invalid/pixel.png" alt="x">'
        "<script>console.error('kapot')</script></body></html>",
        encoding="utf-8",
    )
    check = browser.check(page)
    assert check.network_requests == ["https://example.invalid/pixel.png"]
    assert any("kapot" in e for e in check.console_errors)
    assert len(check.broken_images) == 1


def test_one_kernel_session_across_bundles(tmp_path):
    from evalkit.report import KernelSession

    with KernelSession() as session:
        first = render_reports(
            FIXTURE,
            tmp_path / "a",
            stem="a",
            documents=("summary",),
            engine="evalkit",
            session=session,
        )
        second = render_reports(
            FIXTURE,
            tmp_path / "b",
            stem="b",
            documents=("summary",),
            engine="evalkit",
            session=session,
        )
    assert first[0].read_bytes() == second[0].read_bytes()

"""End to end: demo data → ingest → analyze → report, through the real command line.

One run of the demo protocol in a temporary working folder (real files, real
DuckDB store, real Jupyter kernel and pandoc) is shared by the tests below.
"""

from __future__ import annotations

import copy
import datetime as dt
import html as htmllib
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from evalkit.cli import main
from evalkit.report import render_reports
from evalkit.report.bundle import read_bundle
from evalkit.report.engine import KernelSession
from evalkit.report.formatting import fmt_date
from evalkit.report.plan import SuppressionPlan, bundle_threshold
from evalkit.report.plan_file import load_plan
from evalkit.report.render import write_exports

ROOT = Path(__file__).resolve().parents[1]
SECOND = "school_to_work_region"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("e2e")
    (work / "protocols").mkdir()
    for file in (ROOT / "protocols").glob("demo.yaml*"):
        shutil.copy2(file, work / "protocols" / file.name)
    # a second protocol (staggered, Callaway–Sant'Anna): its demo data are made by an
    # analysis worker while the main thread ingests the demo's, and the two overlap
    (work / "protocols" / "examples").mkdir()
    for file in (ROOT / "protocols" / "examples").glob(f"{SECOND}.*"):
        shutil.copy2(file, work / "protocols" / "examples" / file.name)
    shutil.copytree(ROOT / "analyses", work / "analyses")
    _declare_a_deviation(work / "protocols" / "demo.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        mp.setenv("EVALKIT_PSEUDONYM_KEY", "e2e-test-key-not-secret-7c41d9a2e6f3b805")
        code = main(
            [
                "run",
                "protocols/demo.yaml",
                f"protocols/examples/{SECOND}.yaml",
                "--lang",
                "nl",
                "en",
                "--documents",
                "evaluation",
                "summary",
                "monitor",
            ]
        )
    assert code == 0
    return work


DEVIATION_REASON = {
    "nl": "Met de financier afgesproken: een kleiner effect is beleidsmatig niet relevant.",
    "en": "Agreed with the funder: a smaller effect is not relevant for policy.",
}


def _declare_a_deviation(protocol: Path) -> None:
    """Change the registered demo as a user would, with the deviation that covers it."""
    data = yaml.safe_load(protocol.read_text(encoding="utf-8"))
    homeless = next(o for o in data["outcomes"] if o["id"] == "homeless")
    old = homeless["smallest_effect"]
    homeless["smallest_effect"] = 0.004
    data["deviations"] = [
        {
            "date": dt.datetime.now(dt.UTC).date().isoformat(),
            "field": "outcomes[homeless].smallest_effect",
            "old": old,
            "new": 0.004,
            "reason": DEVIATION_REASON,
        }
    ]
    protocol.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _bundle(work: Path) -> dict:
    return json.loads((work / "build" / "demo" / "results.json").read_text(encoding="utf-8"))


def test_run_writes_the_demo_files_and_reports(demo_run: Path) -> None:
    raw = demo_run / "data" / "raw" / "demo"
    for name in ("outcome_panel.csv", "questionnaire.sav", "case_events.xlsx", "truth.json"):
        assert (raw / name).is_file(), name
    for name in ("demo.html", "demo.en.html", "demo.summary.html", "demo.summary.en.html"):
        assert (demo_run / "build" / "reports" / name).is_file(), name
    assert (demo_run / "build" / "evalkit.duckdb").is_file()


def test_a_second_protocol_runs_alongside(demo_run: Path) -> None:
    # its data were made in a worker process, its bundle computed in one, its two
    # languages rendered as separate jobs; the run log lists everything in protocol order
    raw = demo_run / "data" / "raw" / "examples" / SECOND
    assert {p.name for p in raw.iterdir()} >= {"outcome_panel.csv", "case_events.xlsx"}
    bundle = json.loads((demo_run / "build" / SECOND / "results.json").read_text("utf-8"))
    assert bundle["confirmatory"]["estimator"] == "callaway_santanna"
    written = json.loads((demo_run / "build" / "last_run.json").read_text("utf-8"))["written"]
    firsts = [w for w in written if w.endswith("results.json")]
    assert firsts == ["build/demo/results.json", f"build/{SECOND}/results.json"]
    for name in (f"{SECOND}.html", f"{SECOND}.en.html", f"{SECOND}.xlsx"):
        assert (demo_run / "build" / "reports" / name).is_file(), name


def test_the_run_saves_each_release_s_suppression_plan_once(demo_run: Path) -> None:
    # made in the analysis worker beside the bundle, read by the kernels and the exports
    for pid in ("demo", SECOND):
        path = demo_run / "build" / pid / "results.json"
        bundle = read_bundle(path)
        saved = load_plan(path, bundle_threshold(bundle))
        assert saved is not None, pid
        assert saved.digest == SuppressionPlan.from_bundle(bundle).digest


def test_the_run_s_table_exports_are_those_of_the_release(demo_run: Path, tmp_path: Path) -> None:
    # the run writes each protocol's CSV and XLSX tables in an analysis worker while
    # the kernels render; the same tables as `write_exports` (what `evalkit report`
    # writes after the documents) gives on its own, monitor's previous delivery included
    reports = demo_run / "build" / "reports"
    for pid in ("demo", SECOND):
        written = write_exports(
            demo_run / "build" / pid / "results.json",
            tmp_path / pid,
            stem=pid,
            lang="nl",
            documents=("evaluation", "summary", "monitor"),
        )
        assert written == [tmp_path / pid / f"{pid}.xlsx", tmp_path / pid / f"{pid}_tables"]
        ours = {p.name: p.read_bytes() for p in (reports / f"{pid}_tables").iterdir()}
        theirs = {p.name: p.read_bytes() for p in written[1].iterdir()}
        assert ours.keys() == theirs.keys() and len(ours) > 10, pid
        assert [n for n in ours if ours[n] != theirs[n]] == [], pid
        assert (reports / f"{pid}.xlsx").read_bytes() == written[0].read_bytes(), pid


def test_a_run_that_only_renders_writes_the_exports_in_its_render_job(
    demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # bundles up to date, another set of documents: no analysis worker is started, so
    # the first language's render job writes the tables, as `evalkit report` does
    work = tmp_path / "again"
    shutil.copytree(demo_run, work, symlinks=True)
    reports = work / "build" / "reports"
    shutil.rmtree(reports / "demo_tables")
    (reports / "demo.xlsx").unlink()
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        mp.setenv("EVALKIT_PSEUDONYM_KEY", "e2e-test-key-not-secret-7c41d9a2e6f3b805")
        assert (
            main(["run", "protocols/demo.yaml", "--lang", "nl", "--documents", "evaluation"]) == 0
        )
    said = " ".join(capsys.readouterr().err.split())  # the progress lines wrap
    assert "up to date: build/demo/results.json" in said
    written = write_exports(
        work / "build" / "demo" / "results.json",
        tmp_path / "alone",
        stem="demo",
        documents=("evaluation",),
    )
    assert (reports / "demo.xlsx").read_bytes() == written[0].read_bytes()
    ours = {p.name: p.read_bytes() for p in (reports / "demo_tables").iterdir()}
    assert ours == {p.name: p.read_bytes() for p in written[1].iterdir()}


def test_every_row_is_accounted_for(demo_run: Path) -> None:
    for source in _bundle(demo_run)["data"]["sources"]:
        assert source["rows_read"] == source["accepted"] + source["rejected"], source["file"]
        assert source["rows_read"] > 0


def test_report_shows_results_table_and_embedded_figure(demo_run: Path) -> None:
    html = (demo_run / "build" / "reports" / "demo.html").read_text(encoding="utf-8")
    assert "Geregistreerde problematische schuld" in html
    assert "<table" in html and "<th" in html
    assert re.search(r'<img[^>]+src="data:image/(png|svg\+xml)', html)
    english = (demo_run / "build" / "reports" / "demo.en.html").read_text(encoding="utf-8")
    assert "Registered problematic debt" in english


def test_report_loads_nothing_from_the_network(demo_run: Path) -> None:
    for html_file in (demo_run / "build" / "reports").glob("*.html"):
        html = html_file.read_text(encoding="utf-8")
        links = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', html)
        external = [u for u in links if u.lower().startswith(("http://", "https://", "//"))]
        assert not external, (html_file.name, external[:5])


def test_report_shows_no_identifier(demo_run: Path) -> None:
    bsns = set(
        re.findall(
            r"\b9\d{8}\b",
            (demo_run / "data" / "raw" / "demo" / "outcome_panel.csv").read_text(
                encoding="cp1252", errors="replace"
            ),
        )
    )
    for html_file in (demo_run / "build" / "reports").glob("*.html"):
        html = html_file.read_text(encoding="utf-8")
        assert not re.search(r"\b[0-9a-f]{64}\b", html), html_file.name
        assert not any(b in html for b in list(bsns)[:500]), html_file.name


def test_twfe_interval_covers_the_true_effect(demo_run: Path) -> None:
    """The registered (few-treated) interval covers the truth, and so does a bounded one.

    With 1 of 12 municipalities treated the default Conley–Taber interval at 95 % may be
    unbounded (the design cannot support more); the wild-bootstrap interval shown beside
    it is bounded, so its coverage is a check that can fail. The estimate has the sign
    of the true effect.
    """
    truth = json.loads(
        (demo_run / "data" / "raw" / "demo" / "truth.json").read_text(encoding="utf-8")
    )
    bundle = _bundle(demo_run)
    assert bundle["confirmatory"]["estimator"] == "twfe"
    primary = [e for e in bundle["confirmatory"]["effects"] if e["role"] == "primary"]
    assert primary
    side = bundle["robustness"]["inference_comparison"]
    for effect in primary:
        oid = effect["outcome"]
        true_att = truth["outcomes"][oid]["att"]
        result = effect["result"]
        low = -float("inf") if result["conf_low"] is None else result["conf_low"]
        high = float("inf") if result["conf_high"] is None else result["conf_high"]
        assert low <= true_att <= high, (oid, true_att, result)
        assert (result["estimate"] < 0) == (true_att < 0), (oid, result["estimate"], true_att)
        wild = next(r for r in side if r["outcome"] == oid and r["inference"] == "wild")
        assert wild["conf_low"] is not None and wild["conf_high"] is not None
        assert wild["conf_low"] <= true_att <= wild["conf_high"], (oid, true_att, wild)


def test_first_page_shows_registration_and_the_deviation(demo_run: Path) -> None:
    registration = _bundle(demo_run)["registration"]
    assert registration["status"] == "registered_with_deviations"
    # The shipped demo was registered (2026-11) after its synthetic pilot started (2025-10):
    # that is a retrospective registration, whatever a fresh store's first ingest says.
    assert registration["first_data_ingest_at"] > registration["registered_at"]
    assert registration["registered_before_data"] is False
    assert registration["retrospective"] is True
    assert registration["months_after_pilot_start"] == 13
    lock = json.loads((demo_run / "protocols" / "demo.yaml.lock.json").read_text(encoding="utf-8"))
    for name, lang in (("demo.html", "nl"), ("demo.en.html", "en")):
        html = (demo_run / "build" / "reports" / name).read_text(encoding="utf-8")
        assert lock["sha256"][:8] in html, name
        assert DEVIATION_REASON[lang] in html, name
        assert "outcomes[homeless].smallest_effect" in html, name
        assert "deze evaluatie is niet vooraf geregistreerd" not in html, name
        assert "this evaluation was not pre-registered" not in html, name
        assert 'class="retrospective"' in html, name
        late = "13 maanden ná de start" if lang == "nl" else "13 months after the pilot"
        assert late in html, name
    summary = (demo_run / "build" / "reports" / "demo.summary.en.html").read_text(encoding="utf-8")
    assert "fixed only after the pilot had started" in summary
    assert "according to a plan fixed in advance" not in summary


def test_bundle_is_reproducible(demo_run: Path) -> None:
    first = (demo_run / "build" / "demo" / "results.json").read_bytes()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(demo_run)
        mp.setenv("EVALKIT_PSEUDONYM_KEY", "e2e-test-key-not-secret-7c41d9a2e6f3b805")
        assert main(["analyze", "protocols/demo.yaml"]) == 0
    assert (demo_run / "build" / "demo" / "results.json").read_bytes() == first


def test_a_bundle_computes_the_case_intervals_once(demo_run: Path, tmp_path: Path) -> None:
    # the throughput tables and the current norm breaches share one computation of
    # every case's intervals; the bundle is the run's, byte for byte
    import evalkit.analysis.intervals as intervals
    from evalkit.pipeline.assemble import compute_bundle, load_inputs
    from evalkit.pipeline.paths import paths_for
    from evalkit.report.bundle import write_bundle

    calls = []
    real = intervals.case_intervals

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(demo_run)
        mp.setenv("EVALKIT_PSEUDONYM_KEY", "e2e-test-key-not-secret-7c41d9a2e6f3b805")
        for module in ("intervals", "throughput", "breaches"):
            mp.setattr(f"evalkit.analysis.{module}.case_intervals", counted)
        bundle = compute_bundle(load_inputs(paths_for(Path("protocols/demo.yaml"))))
    assert len(calls) == 1
    ours = write_bundle(bundle, tmp_path / "results.json").read_bytes()
    assert ours == (demo_run / "build" / "demo" / "results.json").read_bytes()


def test_pruning_the_plan_re_solves_only_the_systems_of_the_cell_shown_again(
    demo_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a complementary cell shown again changes only the systems its relations are in;
    # the demo's plan equals the one that re-solves every system after each cell
    from evalkit.report import plan_search as planner

    bundle = read_bundle(demo_run / "build" / "demo" / "results.json")
    scans: list[int] = []
    whole = planner.Planner._determined

    def counted(self):
        scans.append(1)
        return whole(self)

    monkeypatch.setattr(planner.Planner, "_determined", counted)
    near = SuppressionPlan.from_bundle(bundle)
    n_near = len(scans)
    scans.clear()
    monkeypatch.setattr(
        planner.Planner, "_determined_near", lambda self, _: set(self._determined())
    )
    everywhere = SuppressionPlan.from_bundle(bundle)
    assert n_near + 10 < len(scans)
    assert near.digest == everywhere.digest and near.n_suppressed > 0
    assert near.statuses.keys() == everywhere.statuses.keys()
    assert all(near.statuses[s].equals(everywhere.statuses[s]) for s in everywhere.statuses)


def test_dutch_reports_of_shipped_protocols_are_dutch_throughout(demo_run: Path) -> None:
    """Every Dutch document of the run: no raw code, no English word (tests/language.py)."""
    from language import foreign_words

    pages = [
        p for p in sorted((demo_run / "build" / "reports").glob("*.html")) if ".en." not in p.name
    ]
    assert len(pages) == 6  # two protocols × evaluation, summary and monitor
    for page in pages:
        stem = page.name.split(".")[0]  # the protocol's id names its files and is shown as such
        found = foreign_words(page.read_text(encoding="utf-8"), frozenset({stem}))
        assert found == {}, page.name


@pytest.mark.browser
def test_real_reports_print_on_a4_with_every_table_whole(demo_run: Path, browser) -> None:
    """The real evaluations laid out for A4: no table wider than the page."""
    from browser import A4_CONTENT_PX

    for name in ("demo.html", f"{SECOND}.html"):
        layout = browser.print_layout(demo_run / "build" / "reports" / name)
        assert layout["document_width"] <= A4_CONTENT_PX, name
        wide = [t["id"] for t in layout["tables"] if t["right"] > A4_CONTENT_PX + 0.5]
        assert wide == [], name


@pytest.mark.browser
def test_real_reports_load_cleanly_in_chromium(demo_run: Path, browser) -> None:
    """Every report of the real demo run, opened from disk: no network, no console error."""
    shots = ROOT / "build" / "test-screenshots"
    pages = sorted((demo_run / "build" / "reports").glob("*.html"))
    assert len(pages) == 12  # two protocols × evaluation, summary and monitor × nl and en
    for page_file in pages:
        page = browser.check(page_file, shots / f"e2e-{page_file.stem}.png")
        assert page.network_requests == [], page_file.name
        assert page.console_errors == [], page_file.name
        assert page.broken_images == [], page_file.name
        # a summary whose every interval is unbounded draws no figure (and says so)
        assert page.images or ".summary." in page_file.name, page_file.name
        assert page.lang in ("nl", "en")


# ---------------------------------------------------------------- the weekly monitor

RAW_COACH = re.compile(r"JC\d{4}-\d{2}")  # the demo's coach ids ("Casemanager" column)


def _page_text(html: str) -> str:
    body = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", body))


def _table_rows(html: str, ident: str) -> list[list[str]]:
    table = re.search(rf'<table id="{ident}">(.*?)</table>', html, re.S)
    assert table, ident
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    return [
        [htmllib.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r)] for r in rows
    ]


def test_monitor_shows_what_a_pilot_lead_asks_for(demo_run: Path) -> None:
    reports = demo_run / "build" / "reports"
    bundle = _bundle(demo_run)
    up_to = bundle["monitoring"]["data_up_to"]
    assert set(up_to) == {"case_events", "outcome_panel", "questionnaire"}
    for lang, words in {
        "nl": (
            "Gegevens tot en met",
            "vergelijking",
            "pilot tegen vergelijking",
            "nog geen eerdere",
        ),
        "en": ("Data up to", "comparison", "pilot against comparison", "no earlier monitor"),
    }.items():
        html = (
            reports / ("demo.monitor.html" if lang == "nl" else "demo.monitor.en.html")
        ).read_text(encoding="utf-8")
        text = _page_text(html)
        assert words[0] in text and fmt_date(up_to["case_events"], lang) in text, lang
        # most recent month first, pilot beside comparison, the total last
        rows = _table_rows(html, "table-registrations")
        periods = [r[0] for r in rows[1:-1]]
        newest = max(r["period"] for r in bundle["monitoring"]["registrations"])
        assert periods[0] == newest and periods == sorted(periods, reverse=True), lang
        assert rows[-1][0] == "Σ" and len(rows[0]) == 5
        # current breaches per organisation and keyed coach label, pilot and comparison
        breaches = _table_rows(html, "table-breaches")
        groups = {r[1] for r in breaches[1:]}
        assert groups == {"pilot", words[1]}, lang
        assert any(re.fullmatch(r"coach [0-9a-f]{6,}", r[3]) for r in breaches[1:]), lang
        assert text.count(words[2]) >= 2  # waiting curves of two intervals, by group
        assert 'id="figure-monitor-km-registration_to_first_conversation"' in html
        assert 'id="figure-monitor-trend"' in html and 'id="figure-monitor-zrm"' in html
        assert "table-zrm_waves" in html and "table-response_waves" in html
        assert words[3] in text  # the first monitor of this protocol says so
        assert not RAW_COACH.search(html), lang
        assert not re.search(r"\b[0-9a-f]{64}\b", html), lang
    for export in (reports / "demo_tables").glob("*.csv"):
        assert not RAW_COACH.search(export.read_text(encoding="utf-8")), export.name
    history = json.loads((reports / "demo.monitor.history.json").read_text(encoding="utf-8"))
    assert len(history["monitors"]) == 1 and not RAW_COACH.search(json.dumps(history))


def _render_monitor(bundle: dict, folder: Path, session) -> str:
    folder.mkdir(exist_ok=True)
    path = folder / f"bundle-{len(list(folder.glob('bundle-*.json')))}.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    render_reports(
        path,
        folder / "out",
        stem="demo",
        documents=("monitor",),
        engine="evalkit",
        session=session,
        export_tables=False,
    )
    return (folder / "out" / "demo.monitor.html").read_text(encoding="utf-8")


def test_monitor_compares_with_the_last_delivery_and_serves_a_panel_only_pilot(
    demo_run: Path, tmp_path: Path
) -> None:
    first = _bundle(demo_run)
    # the next week's delivery: other files, more registrations, one more case past the norm
    second = copy.deepcopy(first)
    for source in second["data"]["sources"]:
        source["sha256"] = source["sha256"][::-1]
    last = max(r["period"] for r in second["monitoring"]["registrations"])
    for row in second["monitoring"]["registrations"]:
        if row["period"] == last and row["group"] == "comparison":
            row["n_registrations"] += 12
            expected = row["n_registrations"]
    # an outcome panel only: what a pilot without case or questionnaire data delivers
    panel_only = copy.deepcopy(first)
    panel_only["protocol"]["data_sources"] = [
        s for s in panel_only["protocol"]["data_sources"] if s["kind"] == "outcome_panel"
    ]
    panel_only["data"]["sources"] = [
        s for s in panel_only["data"]["sources"] if s["kind"] == "outcome_panel"
    ]
    panel_only["throughput"], panel_only["questionnaire"] = {}, {}
    panel_only["monitoring"].update(
        registrations=[],
        breaches=[],
        data_up_to={"outcome_panel": first["monitoring"]["data_up_to"]["outcome_panel"]},
    )
    with KernelSession() as session:
        _render_monitor(first, tmp_path, session)
        compared = _render_monitor(second, tmp_path, session)
        alone = _render_monitor(panel_only, tmp_path / "panel", session)
    assert "Vergeleken met de vorige monitor" in _page_text(compared)
    rows = _table_rows(compared, "table-since_last")
    registered = next(
        r for r in rows if r[0] == "Aanmeldingen in de laatste maand" and r[2] == "vergelijking"
    )
    assert registered[3:] == [str(expected - 12), str(expected), "+12"], registered
    text = _page_text(alone)
    assert "Niet aangeleverd voor deze pilot: casusgebeurtenissen, vragenlijsten" in text
    assert "Niet beschikbaar" not in text and "Nu over de norm heen" not in text
    assert 'id="figure-monitor-trend"' in alone
    trend = _table_rows(alone, "table-outcome_trend")
    assert {r[2] for r in trend[1:]} == {"pilot", "vergelijking"}
    assert "Gegevens tot en met: uitkomstpanel" in text


def test_staggered_example_reports_show_its_sensitivity_analysis(demo_run: Path) -> None:
    """The registered robustness of school_to_work_region reaches both evaluations."""
    bundle = json.loads((demo_run / "build" / SECOND / "results.json").read_text(encoding="utf-8"))
    assert bundle["robustness"]["sensitivity"], "no sensitivity analysis in the bundle"
    for name, heading, side in (
        (f"{SECOND}.html", "Hoe gevoelig is de conclusie voor ongelijke trends?", "naast elkaar"),
        (f"{SECOND}.en.html", "How sensitive is the conclusion to unequal trends?", "side by side"),
    ):
        html = (demo_run / "build" / "reports" / name).read_text(encoding="utf-8")
        assert 'id="sensitivity"' in html and heading in html, name
        assert "(HonestDiD)</h3>" in html and "data:image/png;base64" in html, name
        # the registered imputation and Sun–Abraham event studies beside Callaway–Sant'Anna
        part = html[html.index('id="event-studies"') :]
        part = part[: part.index("<h3", 10)]
        assert side in part and "Borusyak" in part and "Sun" in part, name
        assert "data:image/png;base64" in part, name

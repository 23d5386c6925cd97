"""A hostile protocol through the whole pipeline: nothing it carries runs, all shows as text.

The demo protocol, with its title, pilot name, registry, outcome labels, hypothesis
texts and subgroup label replaced by payloads (``<script>``, ``<img onerror>``, a
``javascript:`` markdown link, a pandoc raw-HTML span, a Quarto shortcode and a
spreadsheet formula), runs end to end through the command line (demo data, store,
analysis, Jupyter kernel, pandoc) in both languages with every document. Every HTML
page is parsed: no script, event handler, ``javascript:`` URL or raw-HTML element may
come from a payload, and each payload shows as the characters typed, the monitor
included. Every file the run writes has a safe name, and no CSV or XLSX cell holds a
live formula.
"""

from __future__ import annotations

import csv
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
import yaml

from evalkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
LINK = "[x](javascript:alert(3))"
RAW = "`<b id=rawhtml>r</b>`{=html}"
SHORTCODE = "{{< include /etc/passwd >}}"
FORMULA = '=HYPERLINK("http://x","y")'
SVG = "<svg onload=alert(4)>"
#: mathtext to matplotlib (the label is a figure's facet title): made rendering fail
MATH = "$$\\input{/etc/passwd}$$"
#: a line of backticks ends a fenced block (the appendix's YAML, a table's raw HTML)
FENCE = "a\n```\n![x](x){onerror=alert(5)} [y](javascript:alert(5))\n\n```{=html}\nb"
#: a right-to-left override reorders the rest of its sentence on screen
BIDI = "\u202eevil"
PAYLOADS = (SCRIPT, IMG, LINK, RAW, SHORTCODE, SVG, MATH, FENCE, BIDI)
DOCS = ("", ".en", ".summary", ".summary.en", ".monitor", ".monitor.en")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _hostile(protocol: Path) -> None:
    data = yaml.safe_load(protocol.read_text(encoding="utf-8"))
    both = lambda text: {"nl": text, "en": text}  # noqa: E731
    meta = data["metadata"]
    meta["title"] = both(f"{SCRIPT} {RAW}")
    meta["pilot"] = f"{IMG} {FORMULA} {BIDI}"
    meta["registry"] = LINK
    meta["organisations"] = [FORMULA, "+cmd|' /C calc'!A0"]
    data["outcomes"][0]["label"] = both(f"{LINK} {IMG} {MATH}")
    data["outcomes"][1]["label"] = both(f"{RAW} {FORMULA}")
    for h in data["hypotheses"]:
        h["text"] = both(f"{SCRIPT} {SHORTCODE} {LINK}")
    data["population"]["subgroups"][0]["label"] = both(f"{IMG} {SHORTCODE} @SUM(A1)")
    data["hypotheses"][0]["id"] = SVG  # an id without a pattern, shown beside its text
    data["intervention"] = both(FENCE)  # shown per language, so one text per language
    data["missing_data"] = FENCE  # a top-level plain text: its YAML lines are indented by 2
    data["throughput"] = {  # a norm whose name has a path in it, its label a fence
        "norms": {
            f"a/../b {SVG}": {
                "interval": "registration_to_first_conversation",
                "limit": 4,
                "unit": "weeks",
                "label": f"{FENCE} {SVG}",
            }
        }
    }
    data["deviations"] = [
        {"date": "2025-01-01", "field": SVG, "old": FENCE, "new": {"k": SVG}, "reason": FENCE}
    ]
    protocol.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("hostile_run")
    (work / "protocols").mkdir()
    # unregistered on purpose: a registration lock would refuse the changed texts
    shutil.copy2(ROOT / "protocols" / "demo.yaml", work / "protocols" / "demo.yaml")
    _hostile(work / "protocols" / "demo.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        mp.setenv("EVALKIT_PSEUDONYM_KEY", "hostile-test-key-not-secret-2f9a61c0")
        documents = ["--documents", "evaluation", "summary", "monitor"]
        code = main(["run", "protocols/demo.yaml", "--lang", "nl", "en", *documents])
    assert code == 0
    return work / "build" / "reports"


class _Page(HTMLParser):
    """What would run in a browser, and the visible text (script and style left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.live: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
            # the page's own scripts are inline and fixed; a payload's would hold alert(
            if tag == "script" and values.get("src"):
                self.live.append(f"script src={values['src']}")
        if tag in ("iframe", "object", "embed"):
            self.live.append(tag)
        if values.get("id") == "rawhtml":
            self.live.append("raw html span")
        for name, value in attrs:
            if name.startswith("on"):
                self.live.append(f"{tag} {name}={value}")
            if name in ("href", "src", "action") and re.match(
                r"\s*javascript:", value or "", re.IGNORECASE
            ):
                self.live.append(f"{tag} {name}={value}")
        if tag == "img" and values.get("src") == "x":
            self.live.append("img src=x")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            if "alert(" in data:
                self.live.append(f"script with {data.strip()[:60]!r}")
            return
        self.text.append(data)


def _page(reports: Path, doc: str) -> _Page:
    page = _Page()
    page.feed((reports / f"demo{doc}.html").read_text(encoding="utf-8"))
    page.close()
    return page


@pytest.mark.parametrize("doc", DOCS)
def test_no_payload_runs_in_any_document(hostile_run: Path, doc: str) -> None:
    page = _page(hostile_run, doc)
    assert page.live == []


@pytest.mark.parametrize("doc", DOCS)
def test_payloads_show_as_the_text_typed(hostile_run: Path, doc: str) -> None:
    text = " ".join(" ".join(_page(hostile_run, doc).text).split())
    assert SCRIPT in text and RAW in text  # the title, on every page
    assert IMG in text  # the pilot's name, the monitor included
    if ".monitor" not in doc:  # outcome labels and links are the evaluation's and summary's
        assert LINK in text
    if doc in ("", ".en"):  # hypotheses, registry and subgroups: the evaluation
        assert SHORTCODE in text
    assert "\\<" not in text and "\\[" not in text  # no markdown escapes left visible
    if doc in ("", ".en"):
        assert MATH in text and SVG in text
    if ".summary" in doc:  # prose; the evaluation's appendix keeps the protocol verbatim
        assert "evil" in text and "\u202e" not in text


def test_every_written_file_has_a_safe_name(hostile_run: Path) -> None:
    names = [p.name for p in hostile_run.rglob("*")]
    assert len(names) > 40
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z0-9_.-]+", n)]
    assert bad == []


def test_exports_hold_no_live_formula(hostile_run: Path) -> None:
    seen = 0
    for path in sorted(hostile_run.rglob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    assert cell[:1] not in ("=", "+", "@", "\t", "\r"), (path.name, cell)
                    if cell.startswith("-"):
                        float(cell)  # a negative number, nothing else
                    seen += "HYPERLINK" in cell
    book = openpyxl.load_workbook(hostile_run / "demo.xlsx")
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                seen += isinstance(cell.value, str) and "HYPERLINK" in cell.value
    book.close()
    assert seen, "the payload reaches the exports (as text), so this test checks something"

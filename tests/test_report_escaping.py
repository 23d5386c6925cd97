"""Text from the protocol and the data is inserted as text, never as markup.

A hostile bundle (script tags, an ``onerror`` image, a ``javascript:`` link, a norm
name with ``/``, an external registration written as a markdown link, spreadsheet
formulas in organisation and coach names) is rendered through the real engine
(Jupyter kernel + pandoc). The HTML is parsed and must hold no script, no event
handler and no ``javascript:`` link, while the payloads show as visible text; every
CSV cell that begins with a formula character is neutralised, and numbers (also
negative ones) stay numbers.
"""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evalkit.report import output_name, render_reports
from evalkit.report.escape import csv_cell, md_escape, safe_name

FIXTURE = Path(__file__).parent / "data" / "bundle_fixture.json"
DOCS = ("evaluation", "monitor", "summary")
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "[x](javascript:alert(1))"
#: An external registration that is neither an id nor a URL: shown as text on the first page.
REGISTRY = "[OSF](javascript:alert(2)) <script>alert(2)</script>"
#: matplotlib reads text between dollar signs as mathtext: a label like this made rendering fail
MATH = "$$\\input{/etc/passwd}$$"
#: A line of backticks ends the raw-HTML block a table is written in; what follows is markdown
FENCE = "a\n```\n![x](x){onerror=alert(3)} [y](javascript:alert(3))\n\n```{=html}\nb"
#: A right-to-left override: it reorders what follows it in the same paragraph
BIDI = "\u202eevil"
FORMULAS = ('=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3", "\tx", "\rx")


def _hostile_bundle() -> dict:
    bundle = json.loads(FIXTURE.read_text(encoding="utf-8"))
    meta = bundle["protocol"]["metadata"]
    meta["title"] = {"nl": SCRIPT, "en": SCRIPT}
    meta["pilot"] = IMG + " " + BIDI  # in prose: would turn the sentence's numbers around
    outcome = bundle["protocol"]["outcomes"][0]
    both = f"{LINK} {IMG} {MATH}"  # the label is a facet title of the primary figures
    outcome["label"] = {"nl": both, "en": both}
    for effect in bundle["confirmatory"]["effects"]:
        if effect["outcome"] == outcome["id"]:
            effect["label"] = outcome["label"]
    # the title is also the caption of the analysis's table, inside the raw-HTML block
    bundle["exploratory"][0]["title"] = {"nl": IMG + FENCE, "en": SCRIPT + FENCE}
    bundle["exploratory"][0]["id"] = "../etc/" + SCRIPT
    norms = bundle["throughput"]["norms"]
    norms[0]["norm"] = "a/b " + SCRIPT
    caseload = bundle["throughput"]["caseload"]
    for i, row in enumerate(caseload):
        row["coach"] = FORMULAS[i % len(FORMULAS)]
    bundle["throughput"]["handovers"][0]["from_org"] = '=HYPERLINK("http://x","y")'
    bundle["registration"]["registry"] = meta["registry"] = REGISTRY
    # a top-level text: the appendix's YAML indents its lines by 2, so ``` closed the block
    bundle["protocol"]["intervention"] = FENCE
    return bundle


class _Scan(HTMLParser):
    """Collect what would run in a browser: scripts, on* attributes, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.live: list[str] = []
        self.text: list[str] = []
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed"):
            self.live.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.live.append(f"{tag} {name}")
            if name in ("href", "src") and (value or "").strip().lower().startswith("javascript"):
                self.live.append(f"{tag} {name}={value}")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.live.append("img src=x")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.lasttag == "title" and not self.title:
            self.title = data


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    bundle = root / "results.json"
    bundle.write_text(json.dumps(_hostile_bundle()), encoding="utf-8")
    out = root / "out"
    render_reports(bundle, out, stem="x", langs=("nl", "en"), documents=DOCS, engine="evalkit")
    return out


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_no_payload_runs_and_each_shows_as_text(hostile: Path, doc: str, lang: str) -> None:
    scan = _Scan()
    scan.feed((hostile / output_name("x", doc, lang)).read_text(encoding="utf-8"))
    assert scan.live == []
    text = " ".join(scan.text)
    assert SCRIPT in text  # the title, shown as text in every document
    if doc != "monitor":
        assert IMG in text
    if doc == "evaluation":
        assert REGISTRY in text  # the first page's external registration
        assert MATH in text  # the outcome label, typed dollars and backslash included
    # plain-text places (page title, table captions) get the text, not its markdown escapes
    assert scan.title.endswith(": " + SCRIPT), scan.title
    assert "\\<" not in text and "\\=" not in text
    if doc == "summary":  # prose; the evaluation's appendix keeps the protocol verbatim
        assert "evil" in text and "\u202e" not in text


def test_csv_exports_hold_no_live_formula(hostile: Path) -> None:
    files = sorted(hostile.rglob("*.csv"))
    assert files
    seen_negative = False
    for path in files:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    if cell[:1] in ("=", "+", "@", "\t", "\r"):
                        pytest.fail(f"{path.name}: live formula {cell!r}")
                    if cell.startswith("-"):
                        float(cell)  # a negative number is still a number, nothing else
                        seen_negative = True
    assert seen_negative, "the fixture has negative estimates; they must stay numbers"
    # the coach names sit in the bundle table's export (the monitor shows monthly totals)
    caseload = (hostile / "x_tables" / "throughput_caseload.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in caseload and "'@SUM(A1)" in caseload and "'-2+3" in caseload


def test_escape_helpers() -> None:
    assert csv_cell("=1+1") == "'=1+1"
    assert csv_cell("-x") == "'-x"
    assert csv_cell(-3.5) == -3.5 and csv_cell("plain") == "plain"
    assert safe_name("a/b <script>") == "a_b_script"
    assert safe_name("../..") == "table"
    assert "\\<" in md_escape("<b>") and md_escape("a b") == "a b"
    assert md_escape("a\u202eb\u2067c\u2069") == "abc"

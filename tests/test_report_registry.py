"""The external registration (``metadata.registry``) on page one: linked when known, else text.

The first-page line goes through the real pandoc (markdown → HTML5) as the report
engine runs it, and the HTML is read back: OSF, AEA and DOI ids link to their
registry page, and a hostile value is shown as text, never as markup.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pypandoc
import pytest

from evalkit.report.context import ReportContext
from evalkit.report.registry import registry_markdown, registry_url
from evalkit.report.sections_front import registry_link


class _Page(HTMLParser):
    """Per paragraph: its links (href, text), its text, and whatever would run.

    Anything but ``p`` and ``a`` tags, and every ``on*`` attribute, would be live markup.
    """

    def __init__(self) -> None:
        super().__init__()
        self.paragraphs: list[dict] = []
        self._in_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "p":
            self.paragraphs.append({"links": [], "live": [], "text": ""})
            return
        here = self.paragraphs[-1]
        if tag == "a":
            here["links"].append([dict(attrs).get("href") or "", ""])
            self._in_link = True
        else:
            here["live"].append(tag)
        here["live"] += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        self._in_link = self._in_link and tag != "a"

    def handle_data(self, data: str) -> None:
        if self.paragraphs:
            self.paragraphs[-1]["text"] += data
            if self._in_link:
                self.paragraphs[-1]["links"][-1][1] += data


LINKED = [
    ("osf.io/abcde", "https://osf.io/abcde"),
    ("https://osf.io/abcde/", "https://osf.io/abcde"),
    ("OSF: abcde", "https://osf.io/abcde"),
    ("OSF abcd3", "https://osf.io/abcd3"),
    ("AEARCTR-0012345", "https://www.socialscienceregistry.org/trials/12345"),
    ("AEA RCT Registry: AEARCTR-0000007", "https://www.socialscienceregistry.org/trials/7"),
    ("10.17605/OSF.IO/ABCDE", "https://doi.org/10.17605/OSF.IO/ABCDE"),
    ("doi:10.1257/rct.12345-1.0", "https://doi.org/10.1257/rct.12345-1.0"),
    ("https://doi.org/10.1257/rct.1", "https://doi.org/10.1257/rct.1"),
    ("https://example.org/trial?id=4", "https://example.org/trial?id=4"),
]
PLAIN = ["Ethics board 2025-17", "osfabcde", "OSF: abc", "AEARCTR-", "ftp://example.org/x"]
HOSTILE = [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "javascript:alert(1)",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code`\n# heading",
]
HOSTILE_URL = 'https://evil.example/x")<script>alert(1)</script>(<img/src=x/onerror=alert(1)>'
VALUES = [v for v, _ in LINKED] + PLAIN + HOSTILE + [HOSTILE_URL]


@pytest.fixture(scope="module")
def shown() -> dict[str, dict]:
    """Every value's first-page markdown through pandoc once (as the engine runs it)."""
    markdown = "\n\n".join(registry_markdown(v) for v in VALUES)
    page = _Page()
    html = pypandoc.convert_text(
        markdown, "html5", format="markdown-smart", extra_args=["--wrap=none"]
    )
    page.feed(html)
    assert len(page.paragraphs) == len(VALUES)
    return dict(zip(VALUES, page.paragraphs, strict=True))


@pytest.mark.parametrize(("value", "url"), LINKED)
def test_registry_ids_link_to_their_registry_page(shown, value: str, url: str) -> None:
    assert registry_url(value) == url
    assert shown[value]["links"] == [[url, value]] and shown[value]["live"] == []


@pytest.mark.parametrize("value", PLAIN)
def test_other_text_is_shown_and_not_linked(shown, value: str) -> None:
    assert registry_url(value) is None
    assert shown[value]["links"] == [] and shown[value]["live"] == []
    assert shown[value]["text"].strip() == value


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_registry_is_text(shown, value: str) -> None:
    assert shown[value]["links"] == [] and shown[value]["live"] == []
    assert shown[value]["text"].strip() == " ".join(value.splitlines())


def test_a_hostile_url_stays_inside_its_link(shown) -> None:
    assert shown[HOSTILE_URL]["live"] == []
    ((href, text),) = shown[HOSTILE_URL]["links"]
    assert text == HOSTILE_URL
    assert href.startswith("https://evil.example/x") and not set(href) & set("<>\"'() ")


def test_the_first_page_line_names_and_links_the_registry() -> None:
    bundle = {"registration": {"registry": "AEARCTR-0012345"}}
    line = registry_link(ReportContext(bundle, "en"))
    assert line.startswith("External registration: ")
    assert line.endswith("(https://www.socialscienceregistry.org/trials/12345)")
    dutch = registry_link(ReportContext({"protocol": {"metadata": {"registry": "x"}}}, "nl"))
    assert dutch == "Externe registratie: x"
    assert registry_link(ReportContext({}, "en")) == ""

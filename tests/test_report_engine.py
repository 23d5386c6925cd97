"""evalkit's own rendering engine: qmd parsing, parameters, cell options, pandoc output."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from evalkit.errors import ReportError
from evalkit.report.engine import build_notebook, render_qmd
from evalkit.report.qmd import parse_qmd

DATA = Path(__file__).parent / "data" / "report"


def test_parse_front_matter_cells_and_options():
    doc = parse_qmd((DATA / "engine_features.qmd").read_text(encoding="utf-8"))
    assert doc.front_matter["lang"] == "nl"
    assert doc.front_matter["execute"] == {"echo": False, "warning": False}
    code = [c for c in doc.cells if c.kind == "code"]
    assert code[0].options == {"tags": ["parameters"]}
    assert code[1].options["label"] == "fig-line"
    assert code[1].options["fig-alt"] == "Een stijgende lijn"
    assert not code[1].source.startswith("#|")
    assert [c.kind for c in doc.cells][:3] == ["code", "markdown", "code"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\ntitle: [unclosed\n---\n", "front matter is not valid YAML"),
        ("---\ntitle: x\n", "never closed"),
        ("```{python}\nx = 1\n", "line 1: code cell '{python}' is never closed"),
        ("```{r}\nx <- 1\n```\n", "language 'r' is not supported (allowed: python)"),
        ("```{python}\n#| echo: [\nx = 1\n```\n", "line 1: cell options"),
    ],
)
def test_parse_errors_name_the_problem(text, message):
    with pytest.raises(ReportError, match=re.escape(message)):
        parse_qmd(text, Path("doc.qmd"))


def test_parameters_injected_after_tagged_cell_in_sorted_order():
    doc = parse_qmd((DATA / "engine_features.qmd").read_text(encoding="utf-8"))
    nb, index = build_notebook(doc, {"lang": "en", "factor": 3})
    assert nb.cells[0].source == 'lang = "nl"\nfactor = 1'
    assert nb.cells[1].source == "# injected parameters\nfactor = 3\nlang = 'en'"
    assert [c["id"] for c in nb.cells] == [f"cell-{i:03d}" for i in range(len(nb.cells))]
    assert None in index  # the eval: false cell is not in the notebook
    assert not any("never runs" in c.source for c in nb.cells)


def test_parameters_must_be_json_like():
    doc = parse_qmd("```{python}\n#| tags: [parameters]\nx = 1\n```\n")
    with pytest.raises(ReportError, match="parameter 'x' must be JSON-like"):
        build_notebook(doc, {"x": object()})


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("engine") / "features.html"
    render_qmd(DATA / "engine_features.qmd", out, {"lang": "en", "factor": 2}, engine="evalkit")
    return out.read_text(encoding="utf-8")


def test_html_is_self_contained_with_lang_and_figure(rendered):
    assert rendered.startswith("<!DOCTYPE html>")
    assert '<html lang="en"' in rendered
    assert re.search(r"<figure id=\"fig-line\">\s*<img[^>]+src=\"data:image/png;base64,", rendered)
    assert "<figcaption" in rendered and "Figure 1: Een lijn" in rendered
    assert 'alt="Figure 1: Een lijn"' in rendered
    assert not re.search(r"(src|href)=\"https?://", rendered)
    assert "mathjax" not in rendered.lower()


def test_cross_references_resolved_per_language(rendered):
    assert '<a href="#fig-line">Figure 1</a>' in rendered
    assert '<a href="#tbl-small">Table 1</a>' in rendered
    assert "@fig-" not in rendered and "@tbl-" not in rendered


def test_table_has_header_cells_and_caption(rendered):
    assert '<table id="tbl-small">' in rendered
    assert "<caption>Table 1: Een tabel</caption>" in rendered
    assert "<th>kolom a</th>" in rendered


def test_cell_options_echo_include_eval_output_asis(rendered):
    assert re.search(r"<pre[^>]*class=\"sourceCode python\"", rendered)  # echo: true
    assert "shown_code" in re.sub(r"<[^>]+>", "", rendered)
    assert "HIDDEN-INCLUDE" not in rendered  # include: false
    assert "never runs" not in rendered  # eval: false
    assert "HIDDEN-OUTPUT" not in rendered  # output: false
    assert "<strong>asis-2</strong>" in rendered  # output: asis, parameter injected
    assert "plain-output" in rendered  # plain stream output as a code block
    assert "import matplotlib" not in rendered  # echo: false from front matter


def test_rendering_twice_gives_identical_bytes(tmp_path):
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    render_qmd(DATA / "engine_features.qmd", a, {"lang": "nl", "factor": 5}, engine="evalkit")
    render_qmd(DATA / "engine_features.qmd", b, {"lang": "nl", "factor": 5}, engine="evalkit")
    assert a.read_bytes() == b.read_bytes()
    assert "Figuur 1: Een lijn" in a.read_text(encoding="utf-8")


def test_rendering_leaves_the_working_directory_alone(tmp_path, monkeypatch):
    # Reports render in background threads while the main thread reads data by
    # relative path; a process-wide chdir during a render broke those reads.
    import os

    calls: list[str] = []
    real_chdir = os.chdir
    monkeypatch.setattr(os, "chdir", lambda path: (calls.append(str(path)), real_chdir(path)))
    render_qmd(DATA / "engine_features.qmd", tmp_path / "c.html", {"lang": "en"}, engine="evalkit")
    assert calls == []


def test_failing_cell_is_named(tmp_path):
    qmd = tmp_path / "bad.qmd"
    qmd.write_text(
        "```{python}\n#| label: broken\nraise ValueError('kapot')\n```\n", encoding="utf-8"
    )
    with pytest.raises(
        ReportError, match=r"cell 'broken' \(bad.qmd, line 1\) failed: ValueError: kapot"
    ):
        render_qmd(qmd, tmp_path / "bad.html", {}, engine="evalkit")


def test_unknown_cross_reference_is_an_error(tmp_path):
    qmd = tmp_path / "ref.qmd"
    qmd.write_text("See @fig-missing.\n", encoding="utf-8")
    with pytest.raises(ReportError, match="@fig-missing points to no figure"):
        render_qmd(qmd, tmp_path / "ref.html", {}, engine="evalkit")


def test_engine_option_checked(tmp_path):
    with pytest.raises(ReportError, match="use one of auto, quarto, evalkit"):
        render_qmd(DATA / "engine_features.qmd", tmp_path / "x.html", {}, engine="knitr")  # type: ignore[arg-type]


def test_quarto_is_used_when_on_path(tmp_path, monkeypatch):
    # a stand-in `quarto` that records how it was called (real quarto is not installed here)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "quarto"
    fake.write_text(
        "#!/bin/sh\n"
        'out=""; prev=""\n'
        'for a in "$@"; do [ "$prev" = "--output" ] && out="$a"; prev="$a"; done\n'
        'printf "%s\\n" "$@" > "$out"\n'
        'echo "QUARTO_PYTHON=$QUARTO_PYTHON" >> "$out"\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out" / "doc.en.html"
    render_qmd(DATA / "engine_features.qmd", out, {"lang": "en", "bundle": "/x/results.json"})
    args = out.read_text(encoding="utf-8").splitlines()
    assert args[0] == "render" and args[1].endswith("/engine_features.qmd")
    assert ["--to", "html"] == args[2:4]
    assert "-M" in args and "lang:en" in args and "embed-resources:true" in args
    assert "bundle:/x/results.json" in args and "lang:en" in args
    assert args[-1] == f"QUARTO_PYTHON={sys.executable}"


def test_a_warmed_up_kernel_keeps_its_imports_out_of_the_garbage_collector(tmp_path):
    # its full collections walked every module object again while the documents rendered
    import nbformat

    from evalkit.report.engine import KernelSession

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import gc\nprint(gc.get_freeze_count())"))
    with KernelSession() as session:
        session.warm_up("evalkit.report.context")
        out = session.execute(nb, tmp_path)
    printed = [o["text"] for c in out.cells for o in c.get("outputs", []) if "text" in o]
    assert int(printed[-1]) > 50_000

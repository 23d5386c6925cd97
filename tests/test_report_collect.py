"""What the table exports and the documents share, and what only the documents make.

The exports collect a bundle's tables with the documents' own section code
(``collect_tables``, a ``ReportContext`` with ``collect_only``); they need no figure,
so figures are given to ``ReportContext.figure`` as builders that only a document
calls. These tests check that the exports then build no plot, that their tables are
still the documents' tables, and the cheaper spellings of the masked bundle, the plan's
digest and the PNG writer against the definitions they replace.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.report import sections_measures, sections_results
from evalkit.report.bundle import read_bundle
from evalkit.report.context import ReportContext
from evalkit.report.figures import png_bytes, trend_plot
from evalkit.report.plan import SuppressionPlan
from evalkit.report.render import collect_tables, evaluation_sections

FIXTURE = Path(__file__).parent / "data" / "bundle_fixture.json"
DOCUMENTS = ("evaluation", "summary")
#: The sections ``collect_tables`` runs for the evaluation and the summary, in its order.
SECTIONS = evaluation_sections()


@pytest.fixture(scope="module")
def bundle() -> dict:
    return read_bundle(FIXTURE)


def _with_figures(bundle: dict, lang: str, folder: Path) -> ReportContext:
    """Run the sections as a document does: figures built and drawn into ``folder``."""
    ctx = ReportContext(copy.deepcopy(bundle), lang, figure_dir=folder)
    for section in SECTIONS:
        section(ctx)
    for part in ("throughput", "questionnaire"):
        ctx.tables.extend(sections_measures.bundle_tables(ctx, part).values())
    return ctx


def test_collecting_the_tables_builds_no_plot() -> None:
    # in a fresh process: plotnine is imported only where a plot is built
    script = (
        "import sys\n"
        "from evalkit.report.bundle import read_bundle\n"
        "from evalkit.report.render import collect_tables, evaluation_sections\n"
        f"collect_tables(read_bundle({str(FIXTURE)!r}), 'nl', {DOCUMENTS!r})\n"
        "print('plotnine' in sys.modules)\n"
        "from evalkit.report import sections_results as s\n"
        "from evalkit.report.context import ReportContext\n"
        "import tempfile\n"
        "with tempfile.TemporaryDirectory() as tmp:\n"
        f"    s.primary(ReportContext(read_bundle({str(FIXTURE)!r}), 'nl', figure_dir=tmp))\n"
        "print('plotnine' in sys.modules)\n"
    )
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    # the exports built none; the same bundle's document does draw (so the check bites)
    assert out.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_exported_tables_are_the_documents_tables(
    bundle: dict, lang: str, tmp_path: Path
) -> None:
    collected = collect_tables(copy.deepcopy(bundle), lang, DOCUMENTS)
    drawn = _with_figures(bundle, lang, tmp_path)
    assert list(tmp_path.glob("figure-*.png")), "the fixture's document draws figures"
    unique = {}
    for table in drawn.tables:
        unique.setdefault(table.name, table)
    assert [t.name for t in collected] == list(unique)
    for table in collected:
        other = unique[table.name]
        assert table.caption == other.caption
        assert table.export().equals(other.export()), table.name


def test_a_figure_may_be_given_as_its_builder(bundle: dict, tmp_path: Path) -> None:
    trends = sections_results.records_frame(bundle["trends"])
    labels = {o: o for o in trends["outcome"].unique()}

    def build() -> object:
        return trend_plot(trends, labels, bundle["settings"].get("pilot_start"), "nl")

    ctx = ReportContext(bundle, "nl", figure_dir=tmp_path)
    markdown = ctx.figure(build, "trends", "Trends")
    assert "figure-trends.png" in markdown
    assert (tmp_path / "figure-trends.png").read_bytes() == png_bytes(build())

    def never() -> object:
        raise AssertionError("a table collection must not build a figure")

    collecting = ReportContext(bundle, "nl", figure_dir=tmp_path, collect_only=True)
    assert collecting.figure(never, "trends", "Trends") == "<!-- figure trends -->"


def test_the_shown_bundle_is_the_masked_bundle_made_once(bundle: dict) -> None:
    ctx = ReportContext(bundle, "nl")
    shown = ctx.shown
    assert shown is ctx.shown
    assert shown == ctx.plan.masked(bundle)
    assert shown != bundle  # the fixture hides cells, so the comparison means something


def test_the_plan_digest_is_the_fingerprint_of_its_hidden_cells(bundle: dict) -> None:
    plan = SuppressionPlan.from_bundle(bundle)
    # the definition, spelled out a column at a time
    hidden = sorted(
        f"{src}|{i}|{col}"
        for src, st in plan.statuses.items()
        for col in st.columns
        for i in st.index[st[col] != ""]
    )
    assert len(hidden) == plan.n_suppressed > 0
    blob = json.dumps([plan.threshold, hidden]).encode()
    assert plan.digest == hashlib.sha256(blob).hexdigest()[:12]


def test_png_bytes_are_what_savefig_writes(bundle: dict) -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    from evalkit.report.figures import _DPI, _theme

    trends = sections_results.records_frame(bundle["trends"])
    plot = trend_plot(trends, {}, None, "en")
    buf = io.BytesIO()
    rc = {"svg.hashsalt": "evalkit", "path.simplify": True, "font.family": "DejaVu Sans"}
    with matplotlib.rc_context(rc):  # as png_bytes draws
        fig = (plot + _theme(7.5, 4.0)).draw()  # type: ignore[operator]
        fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
        plt.close(fig)
    assert png_bytes(plot) == buf.getvalue()

"""Dutch throughout and tables that fit: the checks on one table and on the language checker.

The rendered documents are checked in ``test_report_documents.py`` (the fixture bundle,
all three documents) and ``test_pipeline_e2e.py`` (the shipped demo and a second shipped
protocol, end to end); this module tests the pieces those checks rest on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from language import foreign_words

from evalkit.report.context import ReportContext
from evalkit.report.tables import make_table

FIXTURE = Path(__file__).parent / "data" / "bundle_fixture.json"


def test_language_check_flags_codes_and_english_but_not_dutch_names_or_files() -> None:
    english = (
        "<table><caption>Tabel 21: Did</caption><tr><th>N promoters</th><th>Response rate</th>"
        "</tr><tr><td>debt_help_first_conversation</td><td>weeks</td><td>all</td></tr></table>"
        "<p>Doorlooptijd registration to first conversation</p>"
    )
    found = foreign_words(english)
    assert set(found) == {
        "Did",
        "promoters",
        "Response",
        "rate",
        "debt_help_first_conversation",
        "weeks",
        "all",
        "registration",
        "to",
        "first",
        "conversation",
    }
    dutch = (
        "<h2>Samenvatting</h2><p>Het effect (DiD, TWFE) op de NPS en de MHI-5 is klein; zie "
        "<code>throughput_caseload</code> en throughput_caseload.csv in "
        "data/raw/demo/case_events.xlsx. Kaplan–Meier, Conley–Taber, ZRM: financiën, basale "
        "ADL; de periode vóór de pilot, of later.</p><pre>estimator: twfe</pre>"
        "<script>var all_the = 1;</script><style>.x_y { color: red }</style>"
        '<img src="data:image/png;base64,QUxMX1RIRQ==" alt="Figuur 1">'
    )
    assert foreign_words(dutch) == {}
    assert foreign_words("<p>Protocol demo_2026</p>", frozenset({"demo_2026"})) == {}


def _ctx(tmp_path: Path, lang: str = "nl") -> ReportContext:
    return ReportContext(json.loads(FIXTURE.read_text(encoding="utf-8")), lang, tmp_path)


FEW = {"treated": 1, "comparison": 11, "clusters": 12, "threshold": 10}


def _did_frame() -> pd.DataFrame:
    """Three rows with the same long warning, as the norm DiD table has them."""
    return pd.DataFrame(
        {
            "norm": ["debt_help_first_conversation", "participatiewet_decision", "advance_payment"],
            "unit": ["weeks", "working_days", "weeks"],
            "estimator": ["twfe"] * 3,
            "estimate": [-0.05, 0.01, None],
            "conf_low": [-0.12, -0.04, None],
            "conf_high": [0.02, 0.06, None],
            "status": ["ok", "ok", "not_estimable: the estimator's design is singular"],
            "warnings": [["few treated"], ["few treated", "single unit"], []],
            "warning_codes": [
                [{"code": "few_treated_permutation", "values": FEW}],
                [
                    {"code": "few_treated_permutation", "values": FEW},
                    {"code": "single_unit_cohorts", "values": {"cohorts": "8"}},
                ],
                [],
            ],
        }
    )


def test_a_warning_is_stated_once_below_its_table_and_rows_refer_to_it(tmp_path) -> None:
    ctx = _ctx(tmp_path)
    table = make_table("did", "Effect", _did_frame(), "nl", 10, count_columns=[])
    html = ctx.table(table)
    body, notes = html.split('<div class="table-notes">')
    assert "pilotgemeenten" not in body  # no warning inside the rows
    assert notes.count("<li>") == 2  # two distinct warnings, each once
    rows = body.split("<tbody>")[1].split("<tr>")[1:]
    last = [row.split("<td")[-1].split(">", 1)[1].split("</td>")[0] for row in rows]
    assert last == ["1", "1, 2", "\u2013"]  # each row names its own warnings
    assert 'data-col="notes">Opm.</th>' in body
    # one interval column instead of two, in the document; the export keeps both ends
    assert 'data-col="ci">95%-interval</th>' in body and "Ondergrens" not in body
    assert "[−0,120; 0,020]" in body
    assert {"conf_low", "conf_high", "warnings"} <= set(ctx.tables[0].export().columns)
    export_warnings = ctx.tables[0].export()["warnings"].tolist()
    assert "vergelijkingsgemeenten" in export_warnings[1] and "één eenheid" in export_warnings[1]


def test_codes_in_cells_are_translated_and_verbatim_names_shown_as_code(tmp_path) -> None:
    ctx = _ctx(tmp_path)
    table = make_table("did", "Effect", _did_frame(), "nl", 10, count_columns=[])
    html = ctx.table(table)
    for dutch in ("weken", "werkdagen", "Schuldhulp: eerste gesprek", "niet te schatten", "TWFE"):
        assert dutch in html
    assert foreign_words(html) == {}
    devs = pd.DataFrame({"field": ["analysis.alpha"], "old": ["0.05"], "new": ["0.1"]})
    html = ctx.table(make_table("deviations", "Afwijkingen", devs, "nl", 10, count_columns=[]))
    assert "<td><code>analysis.alpha</code></td>" in html


def test_the_protocol_brief_shows_every_period_in_both_languages(tmp_path: Path) -> None:
    """Every period with its months: "pre: January …" read as a status code showed "pre"."""
    from evalkit.report.sections_protocol import protocol_brief

    for lang, words in (("en", ("pre (", "intervention (", "post (")), ("nl", ("vooraf (",))):
        ctx = _ctx(tmp_path, lang)
        protocol_brief(ctx)
        brief = next(t for t in ctx.tables if t.name == "protocol")
        shown = brief.display()
        cell = str(shown.iloc[:, 1][shown.iloc[:, 0].isin(["Periods", "Perioden"])].iloc[0])
        assert all(w in cell for w in words), cell
        assert cell.count("·") == 2, cell  # three periods, each with its months

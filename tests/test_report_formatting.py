"""Numbers and dates per language: decimal comma in Dutch, decimal point in English."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from evalkit.errors import ReportError
from evalkit.report.formatting import fmt_ci, fmt_count, fmt_date, fmt_num, fmt_p, fmt_pct
from evalkit.report.i18n import TEXT, fill, label, t


@pytest.mark.parametrize(
    ("lang", "num", "count", "ci", "pct"),
    [
        ("nl", "\u22121.234,57", "12.345", "[\u22120,05; 0,01]", "12,5%"),
        ("en", "\u22121,234.57", "12,345", "[\u22120.05, 0.01]", "12.5%"),
    ],
)
def test_numbers_per_language(lang, num, count, ci, pct):
    assert fmt_num(-1234.5678, lang) == num
    assert fmt_count(12345, lang) == count
    assert fmt_ci(-0.05, 0.01, lang) == ci
    assert fmt_pct(0.125, lang) == pct


def test_edge_cases():
    assert fmt_num(-0.0001, "nl") == "0,00"  # no negative zero
    assert fmt_num(None, "nl") == "\u2013" and fmt_num(math.nan, "en") == "\u2013"
    assert fmt_num(0.031, "nl", 1, signed=True) == "0,0"  # a rounded zero has no sign
    assert fmt_p(0.0004, "nl") == "< 0,001" and fmt_p(0.0412, "en") == "0.041"


def test_dates():
    assert fmt_date("2025-10", "nl") == "oktober 2025"
    assert fmt_date("2025-10", "en") == "October 2025"
    assert (
        fmt_date("2026-02-03T08:12:00+00:00", "nl", with_time=True) == "3 februari 2026, 08:12 UTC"
    )
    assert fmt_date("2026-02-03", "en") == "3 February 2026"


def test_unknown_language_lists_allowed_values():
    with pytest.raises(ReportError, match="use one of nl, en"):
        fmt_num(1, "de")


def test_translation_table_is_complete_for_both_languages():
    for key, entry in TEXT.items():
        assert set(entry) == {"nl", "en"}, key
        assert entry["nl"].strip() or key == "s.unit_abs", key


def test_translation_table_reads_as_the_pure_python_loader_reads_it():
    # the table is read with libyaml where present: it must give the very same texts
    source = Path(__file__).parents[1] / "evalkit" / "report" / "translations.yaml"
    expected = yaml.safe_load(source.read_text(encoding="utf-8"))
    assert TEXT == expected
    assert list(TEXT) == list(expected)


def test_translation_fallback_and_missing_key():
    assert t("h.primary", "en") == "Primary outcomes"
    assert label("col", "n_people_seen", "nl") == "N people seen"
    with pytest.raises(ReportError, match="no translation"):
        t("does.not.exist", "nl")


def test_one_number_format_per_column():
    import pandas as pd

    from evalkit.report.tables import make_table

    frame = pd.DataFrame(
        {
            "group": ["pilot", "comparison", "all"],
            "nps": [-25.0, -21.959459, 2.777778],
            "mean": [59.064151, 7.5, 62.577778],
            "response_rate": [0.72, 1.0, 0.6933333],
        }
    )
    table = make_table("t", "c", frame, "nl", 10)
    shown = table.display()
    # NPS is a whole score: -25, -22, 3 (never -25 beside -22,0 beside 2,778)
    assert list(shown.iloc[:, 1]) == ["\u221225", "\u221222", "3"]
    # one column, one number of decimals, chosen from the largest value
    assert list(shown.iloc[:, 2]) == ["59,1", "7,5", "62,6"]
    assert list(shown.iloc[:, 3]) == ["72,0%", "100,0%", "69,3%"]


def test_templates_choose_the_noun_that_agrees_with_the_count() -> None:
    template = "{n} {n:plural:maand|maanden}"
    assert fill(template, n=1) == "1 maand"
    assert fill(template, n=2) == "2 maanden" and fill(template, n=0) == "0 maanden"
    assert fill(template, n="1") == "1 maand"  # counts arrive formatted as well
    assert fill(template, n="1.000") == "1.000 maanden"  # one thousand (Dutch)
    assert fill(template, n=np.int64(1)) == "1 maand"
    assert fill("{x:.2f}", x=1) == "1.00"  # ordinary format specs still work


def test_throughput_times_in_days_have_one_decimal():
    """Medians and 80th percentiles of days: "8,0" beside "7,5", never "8,000" beside "7"."""
    import pandas as pd

    from evalkit.report.tables import make_table

    frame = pd.DataFrame(
        {
            "from_org_type": ["all", "debt_help"],
            "n": [260, 12],
            "median": [8.0, 7.5],
            "median_ci_low": [7.0, 4.0],
            "p80": [14.0, 17.0],
        }
    )
    shown = make_table("t", "c", frame, "nl", 10, count_columns=[]).display()
    assert list(shown.iloc[:, 2]) == ["8,0", "7,5"]
    assert list(shown.iloc[:, 3]) == ["7,0", "4,0"]
    assert list(shown.iloc[:, 4]) == ["14,0", "17,0"]

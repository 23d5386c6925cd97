"""Disclosure control: primary, secondary and dependent suppression; pseudonym scrubbing."""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit.errors import ReportError
from evalkit.report.disclosure import PRIMARY, SECONDARY, protect, scrub
from evalkit.report.tables import make_table


def test_primary_suppression_hides_small_counts_but_not_zero():
    df = pd.DataFrame({"group": list("abcd"), "n": [0, 1, 9, 10]})
    p = protect(df, 10)
    assert list(p.status["n"]) == ["", PRIMARY, PRIMARY, ""]
    assert p.n_suppressed == 2


def test_threshold_is_configurable_and_checked():
    df = pd.DataFrame({"n": [4, 5]})
    assert list(protect(df, 5).status["n"]) == [PRIMARY, ""]
    with pytest.raises(ReportError, match="positive integer"):
        protect(df, 0)


def test_dependent_values_are_hidden_with_their_count():
    df = pd.DataFrame({"month": ["2024-01", "2024-02"], "n": [7, 200], "mean": [0.5, 0.1]})
    p = protect(df, 10)
    assert p.status.loc[0, "mean"] == SECONDARY
    assert p.status.loc[1, "mean"] == ""
    masked = p.masked()
    assert pd.isna(masked.loc[0, "mean"]) and pd.isna(masked.loc[0, "n"])
    assert masked.loc[1, "mean"] == 0.1


def test_secondary_suppression_in_a_column_with_a_total_row():
    # 3 + 40 + 25 = 68: with the total shown, hiding only the 3 would reveal it
    df = pd.DataFrame({"period": ["a", "b", "c", "total"], "n": [3, 40, 25, 68]})
    p = protect(df, 10, total_row=True)
    assert list(p.status["n"]) == [PRIMARY, "", SECONDARY, ""]


def test_secondary_suppression_within_groups():
    df = pd.DataFrame({"kind": ["x", "x", "x", "y", "y", "y"], "n": [5, 30, 35, 20, 30, 50]})
    p = protect(df, 10, total_row=True, groups=["kind"])
    assert list(p.status["n"]) == [PRIMARY, SECONDARY, "", "", "", ""]


def test_secondary_suppression_along_a_row_total():
    df = pd.DataFrame(
        {"norm": ["a"], "n": [60], "n_within": [50], "n_breach": [4], "n_unknown": [6]}
    )
    p = protect(df, 10, row_totals={"n": ["n_within", "n_breach", "n_unknown"]})
    # 4 and 6 are both primary: two hidden parts cannot be recovered from the total
    assert p.status.loc[0, "n_breach"] == PRIMARY and p.status.loc[0, "n_unknown"] == PRIMARY
    assert p.status.loc[0, "n_within"] == ""
    df2 = pd.DataFrame(
        {"norm": ["a"], "n": [70], "n_within": [46], "n_breach": [4], "n_unknown": [20]}
    )
    p2 = protect(df2, 10, row_totals={"n": ["n_within", "n_breach", "n_unknown"]})
    assert p2.status.loc[0, "n_breach"] == PRIMARY
    assert p2.status.loc[0, "n_unknown"] == SECONDARY  # the smallest other part


def test_table_display_and_export_show_the_suppression():
    df = pd.DataFrame({"wave": ["T0", "T3m"], "n": [8, 120], "mean": [60.0, 66.5]})
    table = make_table("scores", "Scores", df, "nl", 10)
    shown = table.display()
    # one mark for every hidden cell, small count or complement alike
    assert list(shown["Aantal"]) == ["·", "120"]
    assert list(shown["Gemiddelde"]) == ["·", "66,5"]
    exported = table.export()
    assert list(exported["n"]) == ["suppressed", 120]
    assert list(exported["mean"]) == ["suppressed", 66.5]
    assert table.n_suppressed == 2


def test_scrub_removes_64_hex_pseudonyms_only():
    pseudonym = "0123456789abcdef" * 4
    assert scrub(f"person {pseudonym} left") == "person […] left"
    assert scrub("sha 0123456789abcdef…") == "sha 0123456789abcdef…"
    assert scrub(pseudonym + "ff") == pseudonym + "ff"  # 66 hex: not a pseudonym


def test_unknown_count_column_is_an_error():
    with pytest.raises(ReportError, match="count columns not in the table"):
        protect(pd.DataFrame({"n": [1]}), 10, count_columns=["n_missing"])


def test_html_table_with_shared_headers_and_escaping():
    df = pd.DataFrame({"n_open": [12], "n_censored": [30], "rule": ["<script>&"]})
    table = make_table("t", "T", df, "nl", 10)
    html = table.to_html("Tabel 1: T", "table-t")
    assert html.count(">Nog open</th>") == 2  # two columns, one Dutch header
    assert "&lt;script&gt;&amp;" in html and "<script>" not in html
    assert '<td class="num">12</td>' in html

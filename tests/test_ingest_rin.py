"""RIN identifiers (RINPERSOONS + RINPERSOON): own format rules, keyed pseudonyms, never shown."""

from __future__ import annotations

import pandas as pd

from evalkit.ingest import classify_rin, pseudonymise

KEY = b"test-key"


def test_valid_pairs_get_stable_pseudonyms_distinct_from_bsn_ones() -> None:
    out = classify_rin(
        pd.Series(["R", "r ", "R"]), pd.Series(["123456789", "123456789", "000000042"]), key=KEY
    )
    assert out["reason"].isna().all()
    assert out["pseudonym"][0] == out["pseudonym"][1]  # case and spaces do not matter
    assert out["pseudonym"][0] != out["pseudonym"][2]
    assert len(out["pseudonym"][0]) == 64
    # 123456789 fails the elfproef, yet is a valid RINPERSOON; and never the BSN pseudonym
    assert out["pseudonym"][0] != pseudonymise("111222333", key=KEY)


def test_leading_zeros_lost_by_a_spreadsheet_are_restored() -> None:
    out = classify_rin(pd.Series(["R", "R"]), pd.Series(["42", "000000042"]), key=KEY)
    assert out["pseudonym"][0] == out["pseudonym"][1]


def test_invalid_pairs_name_the_rule_and_never_show_the_value() -> None:
    out = classify_rin(
        pd.Series(["RR", "R", None]), pd.Series(["123456789", "12345678X", "123456789"]), key=KEY
    )
    assert list(out["rule"]) == ["rinpersoons", "rinpersoon", "rinpersoons"]
    assert out["pseudonym"].isna().all()
    for shown in out["shown"]:
        assert shown.startswith("#") and "123456789" not in shown and len(shown) == 13

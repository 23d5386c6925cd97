"""RIN identifiers (RINPERSOONS + RINPERSOON): own format rules, keyed pseudonyms, never shown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

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


# -- a RIN export ingested end to end -------------------------------------------------------

RIN_KEY = "rin-ingest-test-key-5d1c9e7a3b2f8064"


def _rin_export(n: int) -> tuple[list[str], list[list[str]], list[tuple[str, str]]]:
    """A panel export with RINPERSOONS + RINPERSOON instead of a BSN; rows 3 and 5 invalid."""
    from bad_corpus import make_bad

    header = ["RINPERSOONS", "RINPERSOON", *make_bad.PANEL_HEADER[1:]]
    rows, pairs = [], []
    for i, row in enumerate(make_bad.panel_rows(n)):
        person = i // 3  # three months per person
        source, number = "R", f"{7_000_000 + person:09d}"  # leading zeros, no elfproef
        if i == 3:
            source = "RR"
        if i == 5:
            number = "12345678X"
        pairs.append((source, number))
        rows.append([source, number, *row[1:]])
    return header, rows, pairs


def _all_text(store: Path) -> str:
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        return "\n".join(con.execute(f'SELECT * FROM "{t}"').df().to_csv() for t in tables)
    finally:
        con.close()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_rin_export_ingests_with_rin_pseudonyms_and_shows_no_number(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from bad_corpus import make_bad

    from evalkit.cli import main
    from evalkit.ingest import Store, load_key

    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", RIN_KEY)
    header, rows, pairs = _rin_export(12)
    path = tmp_path / f"cbs_export.{fmt}"
    if fmt == "csv":
        path.write_text(make_bad.csv_text(header, rows), encoding="utf-8")
    else:  # a typed export: the number column is an integer, its leading zeros gone
        frame = pd.DataFrame(rows, columns=header)
        numbers = pd.to_numeric(frame["RINPERSOON"], errors="coerce").astype("Int64")
        frame = frame.assign(RINPERSOON=numbers)
        frame.loc[5, "RINPERSOON"] = pd.NA  # a number that is not one stays empty
        frame.to_parquet(path, index=False)
    store = tmp_path / "store.duckdb"
    code = main(["ingest", "outcome_panel", str(path), "--store", str(store)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    with Store(store, read_only=True) as s:
        panel = s.table("outcome_panel")
        quarantine = s.quarantine("outcome_panel")
    assert len(panel) == 10 and sorted(quarantine["_row"].unique()) == [4, 6]  # data rows 4 and 6
    assert set(quarantine["rule"]) == {"rinpersoons", "rinpersoon"}
    key = load_key()
    valid = [i for i in range(12) if i not in (3, 5)]
    expected = classify_rin(
        pd.Series([pairs[i][0] for i in valid]), pd.Series([pairs[i][1] for i in valid]), key=key
    )["pseudonym"]
    assert sorted(panel["person_id"].astype(str)) == sorted(expected)
    assert panel["person_id"].nunique() == 4  # three months of four persons
    everything = _all_text(store) + printed.out + printed.err
    for _, number in pairs:
        assert number.lstrip("0") not in everything

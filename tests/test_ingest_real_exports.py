"""Real exports (``real_exports``) through the CLI: what a careful reader accepts, the exit
codes README promises, exact accounting, and no BSN in any output, log or store table."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import real_exports
from test_ingest_adversary import leaked
from test_ingest_hostile import store_text

from evalkit.cli import main

KEY = "real-exports-key-2c8e4a6f1d9b3057e2c8a4f6"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("EVALKIT_PSEUDONYM_SCOPE", raising=False)


def _leaks(text: str) -> set[str]:
    import test_ingest_adversary

    planted = test_ingest_adversary.PLANTED
    test_ingest_adversary.PLANTED = set(real_exports.BSN)
    try:
        return leaked(text)
    finally:
        test_ingest_adversary.PLANTED = planted


def test_the_leak_check_knows_this_corpus_bsns() -> None:
    assert _leaks(f"x {real_exports.BSN[0]} y") and _leaks("cm 999.434.809")
    assert not _leaks("GM0344, 01-05-2005, 1.250,50, 030 286 00 00")


@pytest.mark.parametrize("case", real_exports.cases(), ids=lambda c: c.name)
def test_a_real_export_is_read_as_a_careful_reader_would(
    case: real_exports.Real, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / case.name
    case.write(path)
    store = tmp_path / "s.duckdb"
    for command in ("ingest", "validate"):
        args = [command, case.kind, str(path), *case.args, "--json"]
        if command == "ingest":
            args += ["--store", str(store)]
        code = main(args)
        out, err = capsys.readouterr()
        assert code == case.exit, err
        assert case.says in err and "Traceback" not in err
        assert not _leaks(out + err), (command, out + err)
        if code == 1:
            assert err.count("\n") == 1 and not out
            continue
        report = json.loads(out.splitlines()[0])
        assert report["rows_read"] == report["accepted"] + report["rejected"]
        assert (report["rows_read"], report["accepted"]) == (case.rows, case.accepted), report
    if store.exists():
        con = duckdb.connect(str(store), read_only=True)
        try:
            bad = con.execute(
                "SELECT count(*) FROM ingest_log WHERE rows_read <> accepted + rejected"
            )
            assert bad.fetchone() == (0,)
        finally:
            con.close()
        assert main(["store", "quarantine", "--store", str(store)]) == 0
        assert main(["store", "status", "--store", str(store)]) == 0
        shown = capsys.readouterr()
        assert not _leaks(store_text(store) + shown.out + shown.err)


def test_a_code_spss_declares_missing_is_no_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 99999 'Onbekend' in the amount was stored as a debt of 99,999, and 9 'Weet niet' in a
    # required yes/no column was called "not a yes/no value" (an age of 99: out of range).
    path = tmp_path / "schulden.sav"
    real_exports.declared_missing(path)
    store = tmp_path / "s.duckdb"
    assert main(["ingest", "outcome_panel", str(path), "--store", str(store), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(f["row"], f["column"], f["rule"], f["message"]) for f in report["failures"]] == [
        (
            4,
            "problematic_debt",
            "required",
            "problematic_debt is required but holds 9, a code the file declares missing "
            "('Weet niet')",
        )
    ]
    con = duckdb.connect(str(store), read_only=True)
    try:
        amounts = con.execute("SELECT _row, debt_amount FROM outcome_panel ORDER BY _row")
        assert amounts.fetchall() == [(1, 0.0), (2, 1250.5), (3, None), (5, 1250.5), (6, 2501.0)]
    finally:
        con.close()

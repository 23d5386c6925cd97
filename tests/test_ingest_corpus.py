"""The bad-input corpus: every broken file gets the right message and exact accounting."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from bad_corpus import make_bad

from evalkit.cli import main
from evalkit.errors import IngestError
from evalkit.ingest import Store, ingest_files, validate_file

BAD = Path(__file__).parent / "data" / "bad"

CASES = make_bad.cases()


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", "corpus-test-key-5a8c2e7f1b4d9063c7e1")


@pytest.fixture(scope="session")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad_binaries")
    make_bad.build(folder, binary=True, text_files=False)
    return folder


def _path(case, binaries: Path) -> Path:
    return (binaries if case.binary else BAD) / case.name


def test_corpus_is_large_and_covers_every_kind_and_format() -> None:
    assert len(CASES) >= 40
    assert {c.kind for c in CASES} == {"outcome_panel", "case_events", "questionnaire"}
    assert {Path(c.name).suffix for c in CASES} >= {".csv", ".xlsx", ".sav", ".dta", ".parquet"}
    assert sum(c.error is not None for c in CASES) >= 10


def test_committed_text_files_match_the_generator(tmp_path: Path) -> None:
    make_bad.build(tmp_path, binary=False)
    for case in CASES:
        if not case.binary:
            assert (BAD / case.name).read_bytes() == (tmp_path / case.name).read_bytes(), case.name


@pytest.mark.parametrize("case", [c for c in CASES if c.error], ids=lambda c: c.name)
def test_unusable_file_gives_one_clear_line_and_exit_1(
    case, binaries: Path, capsys, tmp_path: Path
) -> None:
    path = _path(case, binaries)
    with pytest.raises(IngestError) as info:
        validate_file(case.kind, path, sheet=case.sheet)
    message = str(info.value)
    assert re.search(case.error, message), message
    assert message.startswith(str(path)), "the message names the file first"
    args = ["ingest", case.kind, str(path), "--store", str(tmp_path / "s.duckdb")]
    args += ["--sheet", case.sheet] if case.sheet else []
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("evalkit ingest: ") and case.name in err[0]
    with Store(tmp_path / "s.duckdb") as store:  # nothing stored for an unusable file
        assert store.ingest_log().empty and store.quarantine().empty


@pytest.mark.parametrize("case", [c for c in CASES if not c.error], ids=lambda c: c.name)
def test_readable_file_accounting_and_failures(case, binaries: Path, tmp_path: Path) -> None:
    path = _path(case, binaries)
    report = validate_file(case.kind, path, sheet=case.sheet)
    assert (report.rows_read, report.accepted, report.rejected) == (
        case.rows_read,
        case.accepted,
        case.rejected,
    )
    got = Counter(
        f"{r}:{'' if c is None else c}"
        for r, c in zip(
            report.failures["rule"],
            report.failures["column"].astype(object).where(report.failures["column"].notna(), None),
            strict=True,
        )
    )
    assert dict(got) == case.rules
    assert set(report.failures["row"]) <= set(range(1, case.rows_read + 1))
    assert len(set(report.failures["row"])) == case.rejected
    for message in report.failures["message"]:
        assert message and "Traceback" not in message
    assert bool(case.says) == bool(case.rejected), "every case with rejections states its messages"
    for expected in case.says:
        assert any(expected in m for m in report.failures["message"]), (
            expected,
            list(report.failures["message"]),
        )

    store_path = tmp_path / "store.duckdb"
    [ingested] = ingest_files(case.kind, [path], store_path=store_path, sheet=case.sheet)
    assert (ingested.rows_read, ingested.accepted, ingested.rejected) == (
        case.rows_read,
        case.accepted,
        case.rejected,
    )
    with Store(store_path) as store:
        table = store.table(case.kind)
        quarantine = store.quarantine(case.kind)
        log = store.ingest_log()
    stored_rows = table["_row"].nunique() if len(table) else 0
    assert stored_rows == case.accepted
    assert quarantine["_row"].nunique() == case.rejected
    assert not set(table.get("_row", [])) & set(quarantine["_row"])  # a row is kept once
    assert int(log["rows_read"].iloc[0]) == int(log["accepted"].iloc[0]) + int(
        log["rejected"].iloc[0]
    )
    if case.kind != "questionnaire" and len(table):
        assert table["person_id"].str.fullmatch(r"[0-9a-f]{64}").all()
    # No raw identifier anywhere in the store: scan every text cell of every table.
    raw_ids = set(make_bad.BSN) | set(case.raw_bsns)
    con = duckdb.connect(str(store_path), read_only=True)
    try:
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            text = json.dumps(con.execute(f'SELECT * FROM "{name}"').fetchall(), default=str)
            leaked = [b for b in raw_ids if b in text]
            assert not leaked, f"raw identifiers {leaked} stored in {name}"
    finally:
        con.close()


def test_json_output_names_every_failure_without_raw_bsn(capsys, tmp_path: Path) -> None:
    path = BAD / "op_invalid_bsn.csv"
    assert (
        main(
            ["ingest", "outcome_panel", str(path), "--store", str(tmp_path / "s.duckdb"), "--json"]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert list(out) == [
        "file",
        "sha256",
        "kind",
        "rows_read",
        "accepted",
        "rejected",
        "skipped_duplicate_file",
        "failures",
    ]
    assert out["rows_read"] == out["accepted"] + out["rejected"] == 4
    assert {f["rule"] for f in out["failures"]} == {"elfproef", "bsn"}
    for failure in out["failures"]:
        assert set(failure) == {"row", "column", "rule", "value", "message"}
        assert failure["column"] == "person_id" and failure["value"].startswith("#")
    text = json.dumps(out)
    assert "123456789" not in text and "123456" not in text and "Jansen" not in text


def test_validate_out_writes_every_failure(tmp_path: Path, capsys) -> None:
    path = BAD / "op_wrong_types.csv"
    assert main(["validate", "outcome_panel", str(path), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "4 rows read, 1 would be accepted, 3 rejected" in out
    assert "'twintig' is not a whole number" in out
    lines = (tmp_path / "failures.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row,column,rule,value,message,file" and len(lines) == 4


def test_ten_megabyte_single_line_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "op_10mb_line.csv"
    path.write_bytes(b"BSN;" + b"x" * (10 * 1024 * 1024))
    with pytest.raises(
        IngestError, match=r"first line is over 1,000,000 bytes long without a line break"
    ):
        validate_file("outcome_panel", path)
    assert main(["validate", "outcome_panel", str(path)]) == 1
    assert capsys.readouterr().err.count("\n") == 1

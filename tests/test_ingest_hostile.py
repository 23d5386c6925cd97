"""Over a hundred hostile files of every format through the CLI: clear exits, exact
accounting, and none of the planted BSNs in any output, message, log or store table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import hostile_corpus
import pytest

from evalkit.cli import main

KEY = "hostile-test-key-9c3e7a1f5b8d2046e4a7"
_CANDIDATE = re.compile(r"(?<![0-9])[0-9](?:[ .\-]?[0-9]){8}(?![0-9])")
PLANTED = set(hostile_corpus.BSN)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("EVALKIT_PSEUDONYM_SCOPE", raising=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[hostile_corpus.Hostile]]:
    folder = tmp_path_factory.mktemp("hostile")
    return folder, hostile_corpus.build(folder)


def leaked(text: str) -> set[str]:
    """Planted BSNs found in ``text``, written with or without separators."""
    found = {re.sub(r"[^0-9]", "", m) for m in _CANDIDATE.findall(text)}
    return found & PLANTED


def store_text(store: Path) -> str:
    if not store.exists():
        return ""
    con = duckdb.connect(str(store), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        return "".join(con.execute(f'SELECT * FROM "{t}"').df().to_csv() for t in tables)
    finally:
        con.close()


def test_the_corpus_is_large_and_has_every_format(corpus) -> None:
    _, cases = corpus
    assert len(cases) >= 110
    suffixes = {Path(c.name).suffix for c in cases}
    assert {".csv", ".xlsx", ".sav", ".dta", ".parquet"} <= suffixes
    for suffix in (".xlsx", ".sav", ".dta", ".parquet"):
        assert sum(c.name.endswith(suffix) for c in cases) >= 12


def test_every_file_exits_clearly_with_exact_accounting_and_no_bsn(
    corpus, tmp_path: Path, capsys
) -> None:
    folder, cases = corpus
    store = tmp_path / "s.duckdb"
    problems, outputs = [], []
    for case in cases:
        path = str(folder / case.name)
        args = [
            "ingest",
            case.kind,
            path,
            "--store",
            str(store),
            "--json",
            "--overlap",
            "keep_both",
        ]
        code = main(args)
        out, err = capsys.readouterr()
        outputs.append(out + err)
        if code != case.exit:
            problems.append(f"{case.name}: exit {code}, expected {case.exit}: {err.strip()}")
        if case.says and case.says not in err:
            problems.append(f"{case.name}: expected {case.says!r} in {err.strip()!r}")
        if code == 1 and err.count("\n") != 1:
            problems.append(f"{case.name}: expected one line, got {err!r}")
        for line in out.splitlines():
            report = json.loads(line)
            if report["rows_read"] != report["accepted"] + report["rejected"]:
                problems.append(f"{case.name}: accounting {report}")
        if bsn := leaked(out + err):
            problems.append(f"{case.name}: raw BSN {sorted(bsn)[:2]} in the output")
    assert not problems, "\n".join(problems)
    assert not leaked(store_text(store))


def test_named_cases_do_what_the_readme_promises(corpus, tmp_path: Path, capsys) -> None:
    folder, _ = corpus

    def run(name: str) -> dict:
        store = tmp_path / f"{name}.duckdb"
        assert (
            main(["ingest", "outcome_panel", str(folder / name), "--store", str(store), "--json"])
            == 0
        )
        return json.loads(capsys.readouterr().out)

    for name in ("cr_only.csv", "wrapped_header.csv", "wrapped_header.xlsx", "stray_note.xlsx"):
        report = run(name)
        assert report["rows_read"] == 6 and report["accepted"] >= 5, (name, report)
    far = run("far_xfd.xlsx")
    assert far["accepted"] == 6 and far["rejected"] == 1  # the stray cell's row, with its reason
    timed = run("f_impossible_time.csv")
    assert [f["rule"] for f in timed["failures"]] == ["type"] and "25:61" in timed["failures"][0][
        "message"
    ]
    zeros = run("f_lost_zeros.parquet")
    assert zeros["accepted"] == 6  # 1000007 is 001000007 with two zeros lost


def test_unknown_kind_is_a_usage_error(corpus, capsys) -> None:
    folder, _ = corpus
    assert main(["ingest", "panel", str(folder / "f_valid.csv")]) == 2
    assert "unknown KIND 'panel'" in capsys.readouterr().err


def test_the_whole_corpus_in_one_cli_process_never_aborts(corpus, tmp_path: Path) -> None:
    folder, cases = corpus
    store = tmp_path / "all.duckdb"
    env = {**os.environ, "EVALKIT_PSEUDONYM_KEY": KEY}
    files = [str(folder / c.name) for c in cases]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evalkit.cli",
            "ingest",
            "outcome_panel",
            *files,
            "--json",
            "--store",
            str(store),
            "--overlap",
            "keep_both",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 1  # some files are unusable; none aborts the process
    assert "Traceback" not in done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    errors = done.stderr.strip().splitlines()
    assert len(reports) + len(errors) == len(cases)
    assert len(errors) == sum(c.exit == 1 for c in cases)
    for report in reports:
        assert report["rows_read"] == report["accepted"] + report["rejected"]
    con = duckdb.connect(str(store), read_only=True)
    try:
        log = con.execute(
            "SELECT sum(rows_read), sum(accepted), sum(rejected) FROM ingest_log"
        ).fetchone()
        quarantined = con.execute("SELECT count(DISTINCT (file, _row)) FROM quarantine").fetchone()
    finally:
        con.close()
    assert log[0] == log[1] + log[2] and quarantined[0] <= log[2]
    assert not leaked(done.stdout + done.stderr + store_text(store))

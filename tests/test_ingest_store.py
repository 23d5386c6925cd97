"""The store: accounting, duplicates, transactions, the long questionnaire, and the demo files."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from evalkit.cli import main
from evalkit.errors import IngestError
from evalkit.ingest import Store, file_sha256, ingest_files, pseudonymise

BAD = Path(__file__).parent / "data" / "bad"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", "store-test-key-3f9a1c7e5b2d8046a1f3c9e7b5d2")


def test_reingesting_the_same_file_is_a_no_op_that_says_so(tmp_path: Path, capsys) -> None:
    store = tmp_path / "s.duckdb"
    path = BAD / "op_wrong_types.csv"
    [first] = ingest_files("outcome_panel", [path], store_path=store)
    assert not first.skipped_duplicate_file and first.accepted == 1
    assert main(["ingest", "outcome_panel", str(path), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "already ingested on" in out and "skipped" in out
    [again] = ingest_files("outcome_panel", [path], store_path=store)
    assert again.skipped_duplicate_file and again.to_dict()["failures"] == []
    assert (again.rows_read, again.accepted, again.rejected) == (4, 1, 3)
    with Store(store) as s:
        assert len(s.ingest_log()) == 1 and len(s.table("outcome_panel")) == 1
        assert s.quarantine()["_row"].nunique() == 3


def test_store_reads_back_by_file_and_logs_everything(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    a, b = BAD / "op_extra_columns.csv", BAD / "op_tab_separated.csv"
    before = dt.datetime.now(dt.UTC)
    reports = ingest_files("outcome_panel", [a, b], store_path=store, overlap="keep_both")
    assert [r.sha256 for r in reports] == [file_sha256(a), file_sha256(b)]
    with Store(store) as s:
        log = s.ingest_log()
        assert list(log.columns) == [
            "file",
            "sha256",
            "bytes",
            "rows_read",
            "accepted",
            "rejected",
            "kind",
            "schema_version",
            "evalkit_version",
            "ingested_at",
            "pseudonym_scope",
            "overlap",
            "overlap_rule",
            "overlap_with",
        ]
        assert log["bytes"].tolist() == [a.stat().st_size, b.stat().st_size]
        only_b = s.table("outcome_panel", sha256s=[reports[1].sha256])
        assert len(only_b) == 4 and set(only_b["_source_sha256"]) == {reports[1].sha256}
        assert s.table("outcome_panel", sha256s=[]).empty
        first = s.first_ingest_time("outcome_panel")
        assert first.tzinfo == dt.UTC and before - dt.timedelta(
            seconds=1
        ) <= first <= dt.datetime.now(dt.UTC)
        assert s.first_ingest_time("case_events") is None
        panel = s.table("outcome_panel")
    assert str(panel["month"].dtype).startswith("datetime64") and (panel["month"].dt.day == 1).all()
    assert panel["problematic_debt"].dtype == bool and panel["age"].dtype.kind == "i"
    assert panel["debt_amount"].tolist()[0] == 1234.5
    assert set(panel.columns) >= {"person_id", "month", "neet", "_source_sha256", "_row"}


def test_quarantine_keeps_rejected_rows_pseudonymised(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    ingest_files("outcome_panel", [BAD / "op_invalid_bsn.csv"], store_path=store)
    with Store(store) as s:
        q = s.quarantine("outcome_panel")
    assert q["_row"].tolist() == [1, 2, 3] and set(q["rule"]) == {"elfproef", "bsn"}
    content = [json.loads(c) for c in q["content"]]
    assert all(c["person_id"].startswith("#") for c in content)
    assert content[0]["municipality"] == "GM0363" and content[0]["month"] == "2025-01"
    assert "123456789" not in q.to_json()


def test_a_failure_halfway_leaves_the_store_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "s.duckdb"
    ingest_files("outcome_panel", [BAD / "op_extra_columns.csv"], store_path=store)
    original = Store._insert

    def failing(self, table, frame, columns):
        if table == "ingest_log":
            raise OSError("disk full")
        return original(self, table, frame, columns)

    monkeypatch.setattr(Store, "_insert", failing)
    with pytest.raises(OSError, match="disk full"):
        ingest_files("outcome_panel", [BAD / "op_wrong_types.csv"], store_path=store)
    monkeypatch.setattr(Store, "_insert", original)
    with Store(store) as s:
        assert (
            len(s.table("outcome_panel")) == 4 and s.quarantine().empty and len(s.ingest_log()) == 1
        )


def test_a_kill_halfway_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    ingest_files("outcome_panel", [BAD / "op_extra_columns.csv"], store_path=store)
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from evalkit.ingest import Store, ingest_files
        original = Store._insert
        def killing(self, table, frame, columns):
            original(self, table, frame, columns)
            if table == "quarantine":  # data and quarantine written, log line not yet: die
                os.kill(os.getpid(), signal.SIGKILL)
        Store._insert = killing
        ingest_files("outcome_panel", [Path({str(BAD / "op_wrong_types.csv")!r})],
                     store_path=Path({str(store)!r}))
    """)
    env = {**os.environ, "EVALKIT_PSEUDONYM_KEY": "store-test-key-3f9a1c7e5b2d8046a1f3c9e7b5d2"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, check=False, timeout=120
    )
    assert done.returncode == -signal.SIGKILL
    with Store(store) as s:
        assert (
            len(s.table("outcome_panel")) == 4 and s.quarantine().empty and len(s.ingest_log()) == 1
        )


def _questionnaire_sav(path: Path) -> None:
    frame = pd.DataFrame(
        {
            "respondent": ["111222333", "123456782"],
            "gemeente": ["GM0363", "GM0599"],
            "meting": [1.0, 1.0],
            "afnamedatum": ["03-02-2025", "04-02-2025"],
            "zrm_financien": [3.0, 9.0],
            "mhi5_3": [7.0, 2.0],
            "nps": [9.0, 10.0],
            "tevr_1": [8.0, np.nan],
        }
    )
    pyreadstat.write_sav(
        frame,
        str(path),
        variable_value_labels={
            "meting": {1.0: "Nulmeting"},
            "zrm_financien": {9.0: "weet niet"},
            "mhi5_3": {7.0: "weigert"},
            "tevr_1": {8.0: "n.v.t."},
        },
        missing_ranges={
            "zrm_financien": [{"lo": 7.0, "hi": 9.0}],
            "mhi5_3": [7.0],
            "tevr_1": [8.0],
        },
    )


def test_questionnaire_is_stored_long_with_typed_missing_reasons(tmp_path: Path) -> None:
    path = tmp_path / "q.sav"
    _questionnaire_sav(path)
    [report] = ingest_files("questionnaire", [path], store_path=tmp_path / "s.duckdb")
    assert (report.rows_read, report.accepted, report.rejected) == (2, 2, 0)
    with Store(tmp_path / "s.duckdb") as s:
        q = s.table("questionnaire")
    assert list(q.columns) == [
        "person_id",
        "municipality",
        "group",
        "wave",
        "admin_date",
        "mode",
        "instrument",
        "instrument_version",
        "item",
        "value",
        "missing_reason",
        "_source_sha256",
        "_row",
    ]
    assert len(q) == 8 and set(q["wave"]) == {"T0"}
    got = {
        (r.person_id, r.item): (
            None if pd.isna(r.value) else r.value,
            None if pd.isna(r.missing_reason) else r.missing_reason,
        )
        for r in q.itertuples()
    }
    p1, p2 = pseudonymise(["111222333", "123456782"])
    assert got == {
        (p1, "zrm_financien"): (3.0, None),
        (p1, "mhi5_3"): (None, "refused"),
        (p1, "nps"): (9.0, None),
        (p1, "tevr_1"): (None, "not_applicable"),
        (p2, "zrm_financien"): (None, "unknown"),
        (p2, "mhi5_3"): (2.0, None),
        (p2, "nps"): (10.0, None),
        (p2, "tevr_1"): (None, "not_asked"),
    }
    assert set(q.loc[q["item"] == "zrm_financien", "instrument_version"]) == {"2017"}


def test_store_status_command(tmp_path: Path, capsys) -> None:
    store = tmp_path / "s.duckdb"
    ingest_files("case_events", [BAD / "ce_end_before_start.csv"], store_path=store)
    assert main(["store", "status", "--store", str(store), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (
        row["kind"],
        row["rows_read"],
        row["accepted"],
        row["rejected"],
        row["stored_rows"],
    ) == ("case_events", 5, 4, 1, 4)
    assert main(["store", "quarantine", "--store", str(store)]) == 0
    assert "end_before_start" in capsys.readouterr().out
    with pytest.raises(IngestError, match="no store yet"):
        Store(tmp_path / "none.duckdb", read_only=True)


def test_the_demo_files_ingest_cleanly(tmp_path: Path) -> None:
    pytest.importorskip("evalkit.synth")
    assert main(["demo", "--out", str(tmp_path / "demo"), "--seed", "1"]) == 0
    store = tmp_path / "s.duckdb"
    files = {
        "outcome_panel": "outcome_panel.csv",
        "questionnaire": "questionnaire.sav",
        "case_events": "case_events.xlsx",
    }
    for kind, name in files.items():
        [report] = ingest_files(kind, [tmp_path / "demo" / name], store_path=store)
        assert report.rows_read > 100 and report.rejected == 0, report.summary()
    with Store(store) as s:
        q = s.table("questionnaire")
        assert set(q["missing_reason"].dropna()) <= {
            "not_asked",
            "unknown",
            "refused",
            "not_applicable",
        }
        assert q["value"].dropna().between(0, 10).all()
        assert s.table("outcome_panel")["person_id"].str.fullmatch(r"[0-9a-f]{64}").all()


def test_an_unusable_file_does_not_stop_the_others(tmp_path: Path, capsys) -> None:
    store = tmp_path / "s.duckdb"
    good, bad = BAD / "ce_future_event.csv", BAD / "ce_alias_collision.csv"
    assert (
        main(["ingest", "case_events", str(bad), str(good), "--store", str(store), "--json"]) == 1
    )
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        f"evalkit ingest: {bad}: duplicate header: columns 'BSN' and 'Pseudoniem' both map "
        "to 'person_id'; remove one or rename it"
    )
    [line] = captured.out.strip().splitlines()
    assert json.loads(line)["file"] == str(good)
    with Store(store) as s:
        assert s.ingest_log()["file"].tolist() == [str(good)]


def test_validate_json_has_the_ingest_fields_and_a_summary(capsys) -> None:
    assert main(["validate", "case_events", str(BAD / "ce_two_persons.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rows_read"], out["accepted"], out["rejected"]) == (5, 0, 5)
    assert out["summary"] == [
        {
            "rule": "one_person_per_case",
            "column": "person_id",
            "failures": 5,
            "rows": 5,
            "first_row": 1,
            "example": "case_id C1 has 2 different person_id values",
        }
    ]
    assert out["notes"][0] == "read as format csv, encoding utf-8, delimiter ;"


def test_a_newer_schema_adds_columns_to_the_stored_table(tmp_path: Path, monkeypatch) -> None:
    old_dir = tmp_path / "schemas_v1"
    old_dir.mkdir()
    full = (ROOT / "data_schemas" / "case_events.yaml").read_text(encoding="utf-8")
    lines = [
        line
        for line in full.splitlines()
        if not line.lstrip().startswith(("outcome:", "receiving_org:"))
    ]
    (old_dir / "case_events.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = tmp_path / "s.duckdb"
    monkeypatch.setenv("EVALKIT_SCHEMA_DIR", str(old_dir))
    ingest_files("case_events", [BAD / "ce_future_event.csv"], store_path=store)
    with Store(store) as s:
        assert "outcome" not in s.table("case_events").columns
    monkeypatch.delenv("EVALKIT_SCHEMA_DIR")
    ingest_files(
        "case_events",
        [BAD / "ce_decision_before_application.csv"],
        store_path=store,
        overlap="keep_both",
    )
    with Store(store) as s:
        table = s.table("case_events")
    assert {"outcome", "receiving_org"} <= set(table.columns) and len(table) == 4 + 6
    assert table["outcome"].isna().all()


def test_an_empty_store_returns_frames_with_the_stored_columns(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as s:
        events = s.table("case_events")
        assert events.empty and {"event_id", "event_date", "_source_sha256", "_row"} <= set(
            events.columns
        )
        assert s.ingest_log().empty and s.quarantine().empty and s.status().empty
        with pytest.raises(IngestError, match="unknown kind 'panel'"):
            s.table("panel")


def test_an_overlap_names_every_file_that_holds_the_key_and_the_earliest_first(
    tmp_path: Path,
) -> None:
    # keep_both keeps a key in several files; the note named only the one whose name sorts
    # first, and the refusal message that one too, not the earliest delivery.
    text = (BAD / "op_extra_columns.csv").read_text(encoding="utf-8")
    z, b, a = tmp_path / "z_first.csv", tmp_path / "b_second.csv", tmp_path / "a_third.csv"
    z.write_text(text, encoding="utf-8")
    b.write_text(text.replace("\n", "\r\n"), encoding="utf-8")
    a.write_text(text.replace(";", "\t"), encoding="utf-8")
    store = tmp_path / "s.duckdb"
    ingest_files("outcome_panel", [z], store_path=store)
    [second] = ingest_files("outcome_panel", [b], store_path=store, overlap="keep_both")
    assert second.accepted == 4 and f"stored from {z}; stored both" in " ".join(second.notes)
    [third] = ingest_files("outcome_panel", [a], store_path=store, overlap="refuse")
    assert third.rejected == 4
    assert f"stored from {b}, {z}; rejected them" in " ".join(third.notes)
    assert set(third.failures["message"]) == {
        f"key (person_id, month) is already stored from {z}; overlap rule refuse"
    }


def test_keep_latest_replaces_only_the_protocols_own_rows_in_a_shared_store(
    tmp_path: Path,
) -> None:
    # A protocol looks for overlaps among its own files only, but keep_latest deleted the
    # key from every file: another protocol's delivery of the same person-months was lost.
    text = (BAD / "op_extra_columns.csv").read_text(encoding="utf-8")
    other, own_1, own_2 = tmp_path / "other.csv", tmp_path / "own_1.csv", tmp_path / "own_2.csv"
    other.write_text(text, encoding="utf-8")
    own_1.write_text(text.replace("\n", "\r\n"), encoding="utf-8")
    own_2.write_text(text.replace(";", "\t"), encoding="utf-8")
    store = tmp_path / "s.duckdb"
    ingest_files("outcome_panel", [other], store_path=store)
    own = [file_sha256(own_1), file_sha256(own_2)]
    for path in (own_1, own_2):
        ingest_files(
            "outcome_panel", [path], store_path=store, overlap="keep_latest", overlap_among=own
        )
    with Store(store) as s:
        assert len(s.table("outcome_panel", sha256s=[file_sha256(other)])) == 4
        assert len(s.table("outcome_panel", sha256s=own)) == 4
        assert s.table("outcome_panel", sha256s=own)["_source_sha256"].eq(own[1]).all()


def test_a_kill_after_keep_latest_deleted_the_old_rows_leaves_them_stored(
    tmp_path: Path,
) -> None:
    # keep_latest deletes the stored rows before it inserts the new ones: a kill -9
    # between that and the log line must leave the earlier delivery as it was.
    text = (BAD / "op_extra_columns.csv").read_text(encoding="utf-8")
    first, again = tmp_path / "first.csv", tmp_path / "again.csv"
    first.write_text(text, encoding="utf-8")
    again.write_text(text.replace(";", "\t"), encoding="utf-8")
    store = tmp_path / "s.duckdb"
    ingest_files("outcome_panel", [first], store_path=store)
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from evalkit.ingest import Store, ingest_files
        original = Store._insert
        def killing(self, table, frame, columns):
            original(self, table, frame, columns)
            if table == "quarantine":  # old rows deleted, new ones in, log line not yet
                os.kill(os.getpid(), signal.SIGKILL)
        Store._insert = killing
        ingest_files("outcome_panel", [Path({str(again)!r})], store_path=Path({str(store)!r}),
                     overlap="keep_latest")
    """)
    env = {**os.environ, "EVALKIT_PSEUDONYM_KEY": "store-test-key-3f9a1c7e5b2d8046a1f3c9e7b5d2"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, check=False, timeout=120
    )
    assert done.returncode == -signal.SIGKILL
    with Store(store) as s:
        assert len(s.ingest_log()) == 1
        assert s.table("outcome_panel")["_source_sha256"].eq(file_sha256(first)).sum() == 4
    [report] = ingest_files("outcome_panel", [again], store_path=store, overlap="keep_latest")
    assert report.accepted == 4 and "replaced the stored rows" in " ".join(report.notes)
    with Store(store) as s:
        assert s.table("outcome_panel")["_source_sha256"].eq(file_sha256(again)).sum() == 4
        assert len(s.table("outcome_panel")) == 4

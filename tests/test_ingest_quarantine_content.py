"""The quarantine keeps each distinct row content once, and gives every rejected row its own."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from evalkit.ingest import Store, ingest_files
from evalkit.ingest._pseudonym import load_key, resolve_scope
from evalkit.ingest._readers import read_raw
from evalkit.ingest._schema import load_schema
from evalkit.ingest._validate import validate_table
from tests.test_ingest_chunks import SMALL, _bsns, _panel, _row, _write, irregular, rejected

KEY = "quarantine-content-key-3e8b1d7a9c2f4605b1e8"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)


def cumulative(tmp: Path) -> Path:
    """Three months delivered, then the first two again, twice: many exact copies."""
    lines = _panel(persons=10, months=3)
    again = [line for line in lines if not line.split(";")[1].startswith("03")]
    return _write(tmp / "cumulative.csv", [*lines, *again, *again])


def every_rule(tmp: Path) -> Path:
    """Rows rejected for each reason: cells, rules, malformed lines, copies and conflicts."""
    lines = rejected(tmp).read_text(encoding="utf-8").splitlines()[1:]
    odd = irregular(tmp).read_text(encoding="utf-8").splitlines()[1:]
    ids = _bsns(40)
    # copies of a valid row, and of a row rejected for a cell (the copy fails twice)
    extra = [lines[2], lines[2], lines[9], lines[9], _row(ids[30], 4, debt="ja"), _row(ids[30], 4)]
    return _write(tmp / "every_rule.csv", [*lines, *odd[3:5], odd[60], *extra])


def _contents(store: Path) -> tuple[pd.DataFrame, int]:
    with Store(store) as s:
        frame = s.quarantine()
    con = duckdb.connect(str(store), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM quarantine_content").fetchone()
    finally:
        con.close()
    return frame, int(row[0]) if row else 0


@pytest.mark.parametrize("chunk", [SMALL, None])
def test_each_distinct_content_is_stored_once(chunk: int | None, tmp_path: Path) -> None:
    path = cumulative(tmp_path)
    report = ingest_files(
        "outcome_panel", [path], store_path=tmp_path / "s.duckdb", chunk_bytes=chunk
    )[0]
    assert report.rejected == 40 and set(report.failures["rule"]) == {"duplicate_row"}
    frame, stored = _contents(tmp_path / "s.duckdb")
    assert len(frame) == 40
    assert stored == frame["content"].nunique() == 20  # the 20 rows copied, each once
    for row, text in zip(frame["_row"], frame["content"], strict=True):
        content = json.loads(text)
        first = int(report.failures.set_index("row").loc[row, "message"].split()[-1])
        assert first <= 30 and content["month"] == f"2025-{(first - 1) % 3 + 1:02d}"


@pytest.mark.parametrize("chunk", [SMALL, None])
def test_every_rejected_row_keeps_its_own_content(chunk: int | None, tmp_path: Path) -> None:
    """Whatever the reason (cell, rule, malformed line, copy, conflict, overlap), the
    quarantine gives each failure the content of its own row, as validation made it."""
    path = every_rule(tmp_path)
    first = _write(tmp_path / "first.csv", _panel(persons=3, months=2))
    store = tmp_path / "s.duckdb"
    reports = ingest_files("outcome_panel", [first, path], store_path=store, chunk_bytes=chunk)
    schema = load_schema("outcome_panel")
    table = read_raw(path, known=schema.header_keys())
    key = load_key(resolve_scope(None))
    want = validate_table(table, schema, file=reports[1].file, key=key).content
    frame, stored = _contents(store)
    frame = frame[frame["file"] == reports[1].file]
    rules = set(frame["rule"])
    assert {"columns", "duplicate_row", "unique", "overlap", "pattern", "elfproef"} <= rules
    assert len(frame) == len(reports[1].failures)
    copies = set(frame.loc[frame["rule"] == "duplicate_row", "_row"])
    assert copies & set(frame.loc[frame["rule"] != "duplicate_row", "_row"])  # fails twice
    assert stored < len(frame)
    overlap = frame["rule"] == "overlap"
    for row, text in zip(frame["_row"][~overlap], frame["content"][~overlap], strict=True):
        assert text == want[row]
    with Store(store) as s:
        stored_ids = set(s.table("outcome_panel")["person_id"])
    for text in frame["content"][overlap]:
        assert json.loads(text)["person_id"] in stored_ids  # the row as it would be stored
    raw = " ".join(frame["content"])
    assert not any(bsn in raw for bsn in _bsns(40))


def test_a_store_with_contents_in_the_quarantine_rows_still_reads(tmp_path: Path) -> None:
    """Rows quarantined with their text in ``quarantine.content`` read back as before."""
    path = cumulative(tmp_path)
    store = tmp_path / "s.duckdb"
    ingest_files("outcome_panel", [path], store_path=store)
    con = duckdb.connect(str(store))
    try:
        con.execute(
            'INSERT INTO quarantine (kind, file, _source_sha256, _row, "column", rule, value, '
            "message, content) VALUES ('outcome_panel', 'old.csv', 'x', 7, NULL, 'type', "
            "'a', 'b', '{\"person_id\": \"p\"}')"
        )
    finally:
        con.close()
    with Store(store) as s:
        old = s.quarantine("outcome_panel").query("file == 'old.csv'")
    assert old["content"].tolist() == ['{"person_id": "p"}']
    assert list(old.columns) == [
        "kind",
        "file",
        "_source_sha256",
        "_row",
        "column",
        "rule",
        "value",
        "message",
        "content",
    ]

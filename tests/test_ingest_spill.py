"""Failures of a mostly rejected file go to a spill file beyond a limit, same report."""

from __future__ import annotations

import gc
import io
import json
from pathlib import Path

import pytest
from bad_corpus import make_bad

from evalkit.cli import main
from evalkit.ingest import Store, _spill, ingest_files, validate_file

SMALL = 600  # bytes per chunk: a few rows each


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", "spill-test-key-3e8a1c6f9b2d7054c1e8")


@pytest.fixture
def rejected(tmp_path: Path) -> Path:
    """240 rows: most fail the municipality pattern, some the age range too, a few pass."""
    rows = []
    for i, bsn in enumerate(make_bad.valid_bsns(240, start=999_000_000)):
        row = make_bad.panel_rows(2)[1]
        row[0] = bsn
        row[2] = "GM0363" if i % 9 == 0 else f"X{i}"
        row[5] = "40" if i % 4 == 0 else "19"
        rows.append(row)
    path = tmp_path / "afgewezen.csv"
    path.write_text(make_bad.csv_text(make_bad.PANEL_HEADER, rows), encoding="utf-8")
    return path


def _json(report) -> str:
    out = io.StringIO()
    report.write_json(out)
    return out.getvalue()


@pytest.mark.parametrize("chunk_bytes", [SMALL, None])
def test_spilled_failures_give_the_same_report(
    rejected: Path, tmp_path: Path, chunk_bytes: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = validate_file("outcome_panel", rejected, chunk_bytes=chunk_bytes)
    [held_ingest] = ingest_files(
        "outcome_panel", [rejected], store_path=tmp_path / "a.duckdb", chunk_bytes=chunk_bytes
    )
    monkeypatch.setattr(_spill, "SPILL_ROWS", 25)
    spilled = validate_file("outcome_panel", rejected, chunk_bytes=chunk_bytes)
    [spilled_ingest] = ingest_files(
        "outcome_panel", [rejected], store_path=tmp_path / "b.duckdb", chunk_bytes=chunk_bytes
    )
    assert not held.failure_set.spilled and spilled.failure_set.spilled
    assert spilled_ingest.failure_set.spilled and len(spilled.failure_set) > 200
    for a, b in [(held, spilled), (held_ingest, spilled_ingest)]:
        assert a.failures.equals(b.failures)
        assert a.summary().equals(b.summary())
        assert a.to_text() == b.to_text()
        assert _json(a) == _json(b) == json.dumps(a.to_dict(), ensure_ascii=False) + "\n"
    # The summary added up chunk by chunk is the one of all failures at once.
    assert spilled.summary().equals(_spill.failure_summary(spilled.failures))
    with Store(tmp_path / "b.duckdb") as store:
        assert len(store.quarantine()) == len(spilled_ingest.failure_set)  # one per failure
    spill = spilled.failure_set._spill
    assert spill is not None and spill.is_file()
    del spilled
    gc.collect()
    assert not spill.exists()  # the spill file goes with the report


def test_validate_out_writes_every_spilled_failure(
    rejected: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["validate", "outcome_panel", str(rejected), "--out"]
    assert main([*args, str(tmp_path / "held")]) == 0
    held = capsys.readouterr().out
    monkeypatch.setattr(_spill, "SPILL_ROWS", 25)
    assert main([*args, str(tmp_path / "spilled")]) == 0
    assert capsys.readouterr().out.replace("spilled", "held") == held
    a = (tmp_path / "held" / "failures.csv").read_text(encoding="utf-8")
    b = (tmp_path / "spilled" / "failures.csv").read_text(encoding="utf-8")
    assert a == b and a.count("\n") > 200

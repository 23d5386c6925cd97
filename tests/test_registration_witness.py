"""A lock replaced after the data arrived is caught by the store, also outside git.

Outside git the seal has no key: whoever edits the lock can recompute it and
back-date the registration. The store is a witness the forger does not control
without losing the ingest history: each ingest under a protocol records the seal of
the lock in place, and the analysis compares the present lock with those seen.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_ingest_needs import KEY, _debt_protocol

from evalkit.pipeline import analyze_protocol, ingest_protocol, paths_for
from evalkit.protocol import register
from evalkit.protocol.registration import Lock, content_sha256, read_lock
from evalkit.protocol.timing import registration_timing
from evalkit.report import ReportContext
from evalkit.report.sections_front import warnings_block

BACK_DATED = "2024-06-01T09:00:00Z"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from evalkit import synth

    written = synth.write_demo(synth.generate(synth.PilotDesign(), 1), tmp_path / "full")
    panel = pd.read_csv(
        written["outcome_panel"], sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False
    )
    (tmp_path / "data").mkdir()
    panel.to_csv(tmp_path / "data" / "panel.csv", sep=";", index=False)
    (tmp_path / "protocols").mkdir()
    raw = _debt_protocol(["data/panel.csv"])
    path = tmp_path / "protocols" / "debt_only.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    register(path, now=pd.Timestamp(BACK_DATED).to_pydatetime())
    return path


def _forge(path: Path) -> None:
    """Change a registered choice and write a lock with recomputed hashes and the old time."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["analysis"]["alpha"] = 0.1
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    lock = read_lock(path)
    assert lock is not None
    content = {**lock.content, "analysis": {**lock.content["analysis"], "alpha": 0.1}}
    forged = Lock(
        path=lock.path,
        protocol_id=lock.protocol_id,
        sha256=content_sha256(content),
        registered_at=BACK_DATED,
        evalkit_version=lock.evalkit_version,
        git_commit=lock.git_commit,
        content=content,
    )
    lock.path.write_text(json.dumps(forged.to_dict()), encoding="utf-8")
    assert read_lock(path) == forged  # outside git the forged lock passes its own checks


def _run(path: Path) -> dict:
    paths = paths_for(path, build=path.parents[1] / "build")
    ingest_protocol(paths)
    return json.loads(analyze_protocol(paths).read_text(encoding="utf-8"))


def test_a_lock_replaced_after_the_data_is_reported_and_dates_the_registration(project) -> None:
    first = _run(project)["registration"]
    assert first["lock_replaced_at"] is None and first["git_added_at"] is None
    assert first["registered_before_data"] is True and first["retrospective"] is False
    _forge(project)
    bundle = _run(project)
    reg = bundle["registration"]
    assert bundle["confirmatory"]["alpha"] == 0.1  # the forged choice ran
    assert reg["registered_at"] == BACK_DATED  # what the forged lock claims
    assert reg["lock_replaced_at"] is not None
    assert [s["seal"] for s in reg["lock_seals_seen"]][-1] == reg["lock_seal"]
    assert len(reg["lock_seals_seen"]) == 2
    assert reg["effective_registered_at"] >= reg["first_data_ingest_at"]
    assert reg["registered_before_data"] is False and reg["retrospective"] is True
    for lang, words in (("nl", "Vervangen registratie"), ("en", "Replaced registration")):
        block = warnings_block(ReportContext(bundle, lang, collect_only=True))
        assert words in block and "{.retrospective}" in block


def test_the_same_lock_seen_again_is_no_replacement(project) -> None:
    _run(project)
    reg = _run(project)["registration"]
    assert reg["lock_replaced_at"] is None and len(reg["lock_seals_seen"]) == 1
    assert reg["registered_before_data"] is True


def test_a_replacement_moves_the_registration_past_the_pilot_start() -> None:
    common = {
        "registered_at": "2024-06-01T09:00:00Z",
        "git_added": None,
        "pilot_start": "2025-10",
        "first_post_month": "2025-10",
        "data_months": ["2026-03"],
        "first_ingest_at": "2026-04-01T08:00:00Z",
    }
    assert registration_timing(**common)["registered_before_data"] is True
    moved = registration_timing(**common, lock_replaced_at="2026-04-01T08:00:05Z")
    assert moved["effective_registered_at"] == "2026-04-01T08:00:05Z"
    assert moved["retrospective"] is True and moved["registered_before_data"] is False

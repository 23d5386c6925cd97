"""End to end: `evalkit analyze` refuses a tampered registered protocol, and lists deviations."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from protocol_helpers import protocol_dict, write_protocol

from evalkit.cli import main
from evalkit.protocol import register
from evalkit.synth import PilotDesign, generate, write_demo


def test_analyze_refuses_tampering_and_runs_with_the_deviation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = protocol_dict()
    design = PilotDesign.from_protocol(
        {**data, "demo": {"generator": "pilot", "n_persons": 250, "effects": {"neet": -0.05}}}
    )
    panel = write_demo(generate(design, seed=5), tmp_path / "raw")["outcome_panel"]
    data["data_sources"][0]["files"] = [str(panel)]
    path = write_protocol(tmp_path, data)
    store, build = tmp_path / "store.duckdb", tmp_path / "build"
    assert main(["ingest", "outcome_panel", str(panel), "--store", str(store)]) == 0
    register(path, now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    capsys.readouterr()

    data["outcomes"][0]["smallest_effect"] = 0.02  # changed after registration, undeclared
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    analyze = ["analyze", str(path), "--store", str(store), "--build", str(build)]
    assert main(analyze) == 1
    err = capsys.readouterr().err
    assert "without a deviation entry for outcomes[neet].smallest_effect" in err
    assert "outcomes[neet].smallest_effect: registered 0.01, now 0.02" in err
    assert not (build / "small" / "results.json").exists()

    data["deviations"] = [
        {
            "date": "2026-01-10",
            "field": "outcomes[neet].smallest_effect",
            "old": 0.01,
            "new": 0.02,
            "reason": "Agreed with the funder: one point is not policy-relevant.",
        }
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert main(analyze) == 0, capsys.readouterr().err
    bundle = json.loads((build / "small" / "results.json").read_text(encoding="utf-8"))
    registration = bundle["registration"]
    assert registration["status"] == "registered_with_deviations"
    assert registration["registered_at"] == "2020-01-01T00:00:00Z"
    assert registration["registered_before_data"] is True
    assert registration["first_data_ingest_at"] > registration["registered_at"]
    assert registration["deviations"] == data["deviations"]

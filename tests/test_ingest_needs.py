"""Only what the protocol needs: a debt-only export ingests and analyses end to end."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evalkit.cli import main
from evalkit.errors import IngestError
from evalkit.ingest import ingest_files
from evalkit.pipeline import analyze_protocol, ingest_protocol, paths_for
from evalkit.pipeline.columns import columns_needed
from evalkit.protocol import load_protocol

ROOT = Path(__file__).resolve().parent.parent
KEY = "needs-test-key-4e9b2d7a1c6f8035b3e7"
DEBT_ONLY = [
    "BSN",
    "Maand",
    "Gemeentecode",
    "Geboortemaand",
    "Leeftijd",
    "Problematische schuld",
    "Schuldbedrag",
    "Aantal schuldeisers",
]


def _debt_protocol(files: list[str]) -> dict:
    raw = yaml.safe_load((ROOT / "protocols" / "demo.yaml").read_text(encoding="utf-8"))
    raw["id"] = "debt_only"
    raw["outcomes"] = [o for o in raw["outcomes"] if o["id"] == "problematic_debt"]
    raw["hypotheses"] = [h for h in raw["hypotheses"] if h["outcome"] == "problematic_debt"]
    power = raw["power"]
    power["base_rates"] = {"problematic_debt": power["base_rates"]["problematic_debt"]}
    power["results"] = [r for r in power["results"] if r["outcome"] == "problematic_debt"]
    raw["data_sources"] = [{"kind": "outcome_panel", "schema_version": 2, "files": files}]
    raw.pop("demo", None)
    return raw


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from evalkit import synth

    root = tmp_path_factory.mktemp("debt_only")
    written = synth.write_demo(synth.generate(synth.PilotDesign(), 1), root / "full")
    panel = pd.read_csv(
        written["outcome_panel"], sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False
    )
    raw = root / "data" / "raw"
    raw.mkdir(parents=True)
    panel[DEBT_ONLY].to_csv(raw / "schulden.csv", sep=";", index=False)
    (root / "protocols").mkdir()
    protocol = _debt_protocol(["data/raw/schulden.csv"])
    (root / "protocols" / "debt_only.yaml").write_text(
        yaml.safe_dump(protocol, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return root


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    monkeypatch.chdir(project)


def test_the_columns_a_debt_protocol_needs_are_derived_from_its_definitions(project) -> None:
    protocol = load_protocol(project / "protocols" / "debt_only.yaml")
    assert columns_needed(protocol, "outcome_panel") == [
        "age",
        "birth_month",  # turns_18_between in the subgroup reads it
        "month",
        "municipality",
        "person_id",
        "problematic_debt",
    ]
    assert columns_needed(protocol, "case_events") is None
    narrow = dataclasses.replace(protocol.data_sources[0], columns=("debt_amount",))
    protocol = dataclasses.replace(protocol, data_sources=(narrow,))
    assert columns_needed(protocol, "outcome_panel") == ["debt_amount"]


def test_the_full_schema_refuses_the_narrow_export_but_the_needs_accept_it(
    project, tmp_path: Path
) -> None:
    path = project / "data" / "raw" / "schulden.csv"
    with pytest.raises(IngestError, match="required column missing: sex"):
        ingest_files("outcome_panel", [path], store_path=tmp_path / "a.duckdb")
    needs = ["problematic_debt", "municipality", "age"]
    [report] = ingest_files("outcome_panel", [path], store_path=tmp_path / "b.duckdb", needs=needs)
    assert report.rows_read == report.accepted + report.rejected and report.accepted > 1000
    assert any("not in the file and not needed: " in n and "neet" in n for n in report.notes)
    args = ["ingest", "outcome_panel", str(path), "--store", str(tmp_path / "c.duckdb")]
    assert main([*args, "--columns", "problematic_debt,enrolled"]) == 1  # enrolled is absent
    assert main([*args, "--columns", "problematic_debt"]) == 0


def test_a_debt_only_export_ingests_and_analyses_under_a_debt_protocol(project) -> None:
    paths = paths_for(project / "protocols" / "debt_only.yaml", build=project / "build")
    [report] = ingest_protocol(paths)
    assert report["rows_read"] == report["accepted"] + report["rejected"]
    assert report["accepted"] > 0.95 * report["rows_read"]
    bundle = json.loads(analyze_protocol(paths).read_text(encoding="utf-8"))
    assert bundle["data"]["columns_used"]["outcome_panel"] == [
        "age",
        "birth_month",
        "month",
        "municipality",
        "person_id",
        "problematic_debt",
    ]
    text = json.dumps(bundle)
    assert "problematic_debt" in text and '"neet"' not in json.dumps(bundle["data"])
    assert bundle["sample"]["flow"][-1]["n_person_months"] > 0.95 * report["accepted"]
    [effect] = bundle["confirmatory"]["effects"]
    assert effect["outcome"] == "problematic_debt"
    assert effect["result"]["n_obs"] == bundle["sample"]["flow"][-1]["n_person_months"]
    assert effect["result"]["estimate"] < 0  # the demo pilot lowers debts

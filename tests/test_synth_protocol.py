"""Designs from protocols, and the ``evalkit demo`` command."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from evalkit.cli import main
from evalkit.errors import ProtocolError
from evalkit.synth import PilotDesign

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def demo_protocol() -> dict:
    return yaml.safe_load((ROOT / "protocols" / "demo.yaml").read_text(encoding="utf-8"))


def _staggered(demo_protocol: dict) -> dict:
    p = copy.deepcopy(demo_protocol)
    p["units"]["treated"] = [
        {"unit": "GM9101", "start": "2024-10"},
        {"unit": "GM9102", "start": "2025-01"},
        {"unit": "GM9103", "start": "2025-04"},
    ]
    p["units"]["comparison"] = ["GM9104", "GM9105", "GM9106"]
    p["demo"] = {
        "generator": "staggered",
        "seed": 4,
        "out": "x",
        "n_persons": 800,
        "effects": {"neet": -0.03, "days_to_start": -30, "zrm_total": 0.5},
    }
    p["outcomes"].append(
        {
            "id": "days_to_start",
            "source": "case_events",
            "type": "duration",
            "definition": "days_between('registration', 'start')",
        }
    )
    p["outcomes"].append(
        {
            "id": "zrm_total",
            "source": "questionnaire",
            "type": "continuous",
            "definition": "mean(zrm)",
        }
    )
    return p


def test_design_from_the_demo_protocol(demo_protocol):
    design = PilotDesign.from_protocol(demo_protocol)
    assert design.generator == "pilot"
    assert design.municipalities[0] == "GM9001" and len(design.municipalities) == 12
    assert dict(design.treated_starts) == {"GM9001": "2025-10"}
    assert (design.first_month, design.last_month) == ("2024-01", "2026-06")
    assert design.post_window == ("2026-01", "2026-06")


def test_design_from_a_staggered_protocol(demo_protocol):
    design = PilotDesign.from_protocol(_staggered(demo_protocol))
    assert design.generator == "staggered"
    assert design.municipalities == ("GM9101", "GM9102", "GM9103", "GM9104", "GM9105", "GM9106")
    assert len(set(design.treated_starts.values())) == 3
    assert dict(design.effects) == {"neet": -0.03}
    assert design.throughput_effect_days == -30
    assert design.throughput_to == "start"
    assert design.zrm_effect == 0.5
    assert design.n_persons == 800


def test_protocol_problems_are_all_named(demo_protocol):
    p = copy.deepcopy(demo_protocol)
    p["demo"] = {"generator": "lottery", "effects": {"happiness": 0.1, "neet": "a lot"}}
    del p["periods"]["post"]
    p["units"]["treated"] = [{"unit": "GM9001"}]
    with pytest.raises(ProtocolError) as info:
        PilotDesign.from_protocol(p)
    text = "\n".join(info.value.problems)
    assert "demo.generator: 'lottery' is not one of pilot, staggered, debt_programme" in text
    assert "demo.effects.happiness: not a simulated column" in text
    assert "demo.effects.neet: expected a number" in text
    assert "periods.post.end: missing" in text
    assert "units.treated[0]: needs both 'unit' and 'start'" in text


def test_protocol_effect_on_an_outcome_that_is_not_one_column(demo_protocol):
    p = copy.deepcopy(demo_protocol)
    p["outcomes"].append(
        {"id": "debt_or_neet", "source": "outcome_panel", "definition": "problematic_debt or neet"}
    )
    p["demo"]["effects"] = {"debt_or_neet": -0.02}
    with pytest.raises(ProtocolError) as info:
        PilotDesign.from_protocol(p)
    assert "not defined as one simulated column" in info.value.problems[0]


def test_cli_demo_writes_files(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "generator pilot, seed 5" in out and "outcome_panel.csv" in out
    names = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert names == ["case_events.xlsx", "outcome_panel.csv", "questionnaire.sav", "truth.json"]


def test_cli_demo_from_protocol(tmp_path, capsys, demo_protocol):
    path = tmp_path / "stag.yaml"
    path.write_text(yaml.safe_dump(_staggered(demo_protocol)), encoding="utf-8")
    assert main(["demo", "--protocol", str(path), "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "generator staggered, seed 4, 6 municipalities (3 treated)" in out
    truth = (tmp_path / "s" / "truth.json").read_text(encoding="utf-8")
    assert '"2025-01": [\n      "GM9102"' in truth


def test_cli_demo_user_errors(tmp_path, capsys, demo_protocol):
    assert main(["demo", "--protocol", str(tmp_path / "missing.yaml")]) == 1
    assert "missing.yaml: no such protocol file" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    p = copy.deepcopy(demo_protocol)
    p["units"]["treated"] = [{"unit": "GM9001", "start": "2023-01"}]
    bad.write_text(yaml.safe_dump(p), encoding="utf-8")
    assert main(["demo", "--protocol", str(bad), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "start 2023-01 of GM9001 is not after 2024-01" in err
    with pytest.raises(SystemExit) as info:
        main(["demo", "--generator", "nope"])
    assert info.value.code == 2


def test_duration_effect_is_stated_for_its_step(demo_protocol):
    p = copy.deepcopy(demo_protocol)
    p["outcomes"].append(
        {
            "id": "days_to_talk",
            "source": "case_events",
            "type": "duration",
            "definition": "days_between('registration', 'first_conversation')",
        }
    )
    p["demo"]["effects"] = {"days_to_talk": -5}
    design = PilotDesign.from_protocol(p)
    assert (design.throughput_effect_days, design.throughput_to) == (-5, "first_conversation")
    from evalkit.synth import generate

    truth = generate(design.replace(n_persons=600, n_cases=600), 1).truth["throughput"]
    assert truth["att_days_registration_to_first_conversation"] == pytest.approx(-5)
    # later lags are unchanged, so later steps move by the same days (debt cases too)
    assert truth["att_days_registration_to_start"] == pytest.approx(-5, abs=1)
    assert "note" not in truth
    capped = generate(design.replace(n_persons=600, n_cases=600, throughput_effect_days=-90), 1)
    assert "cannot be reached" in capped.truth["throughput"]["note"]


def test_duration_effect_needs_days_between_registration(demo_protocol):
    p = copy.deepcopy(demo_protocol)
    p["outcomes"].append(
        {
            "id": "days_plan_to_start",
            "source": "case_events",
            "type": "duration",
            "definition": "days_between('plan', 'start')",
        }
    )
    p["demo"]["effects"] = {"days_plan_to_start": -5}
    with pytest.raises(ProtocolError) as info:
        PilotDesign.from_protocol(p)
    assert "days_between('registration', STEP)" in info.value.problems[0]

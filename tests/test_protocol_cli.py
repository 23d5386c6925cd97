"""`evalkit protocol check|register|status|power`: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from protocol_helpers import protocol_dict, write_protocol

from evalkit.cli import main


def test_check_ok_and_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = protocol_dict()
    data["analysis"]["few_treated_threshold"] = 5
    path = write_protocol(tmp_path, data)
    assert main(["protocol", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: warning: analysis.inference: 'analytic' is cluster-robust inference" in out
    assert out.rstrip().endswith(f"{path}: ok, 1 warning(s)")


def test_check_errors_exit_1_and_list_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = protocol_dict()
    data["analysis"]["estimatr"] = "twfe"
    data["hypotheses"][0]["outcome"] = "debts"
    path = write_protocol(tmp_path, data)
    assert main(["protocol", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: error: analysis.estimatr: unknown field (did you mean 'estimator'?)" in out
    assert f"{path}: error: hypotheses[H1].outcome: unknown outcome 'debts'" in out
    assert f"{path}: 2 error(s)" in out


def test_check_json_and_several_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    good = write_protocol(tmp_path, protocol_dict(), "good.yaml")
    bad = tmp_path / "missing.yaml"
    assert main(["protocol", "check", "--json", str(good), str(bad)]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result[0]["errors"] == []
    assert "no such protocol file" in result[1]["errors"][0]


def test_register_status_and_second_registration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = write_protocol(tmp_path, protocol_dict())
    assert main(["protocol", "status", str(path)]) == 0
    assert "not registered" in capsys.readouterr().out
    assert main(["protocol", "register", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: registered at " in out and "sha256" in out
    assert (tmp_path / "small.yaml.lock.json").is_file()
    other = write_protocol(tmp_path, protocol_dict(), "other.yaml")
    assert main(["protocol", "register", str(path), str(other)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: not registered: already registered at " in out
    assert f"{other}: registered at " in out  # the next file is still registered
    assert main(["protocol", "status", str(path)]) == 0
    assert "no field differs from the registered version" in capsys.readouterr().out

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["analysis"]["alpha"] = 0.1
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert main(["protocol", "status", str(path)]) == 1
    out = capsys.readouterr().out
    assert "analysis.alpha: registered 0.05, now 0.1  [NOT COVERED by a deviation]" in out
    assert "evalkit analyze will refuse this protocol" in out

    data["deviations"] = [
        {"date": "2999-01-01", "field": "analysis.alpha", "old": 0.05, "new": 0.1, "reason": "r"}
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert main(["protocol", "status", "--json", str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "registered_with_deviations"
    assert result["differences"] == [{"field": "analysis.alpha", "old": 0.05, "new": 0.1}]
    assert result["uncovered"] == []


def test_register_refuses_invalid_protocol(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = protocol_dict()
    data["periods"]["post"]["end"] = "2025-01"
    path = write_protocol(tmp_path, data)
    assert main(["protocol", "register", str(path)]) == 1
    out = capsys.readouterr().out
    assert "error: periods.post: start 2026-01 is after end 2025-01" in out
    assert "not registered: fix the 1 error(s) first" in out
    assert not (tmp_path / "small.yaml.lock.json").exists()


def test_usage_errors_exit_2(tmp_path: Path):
    with pytest.raises(SystemExit) as info:
        main(["protocol", "publish", str(tmp_path / "x.yaml")])
    assert info.value.code == 2


def test_power_command_with_the_did_estimators(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = protocol_dict()
    data["units"]["treated"] = [{"unit": f"GM90{i:02d}", "start": "2025-10"} for i in range(1, 6)]
    data["units"]["comparison"] = [f"GM90{i:02d}" for i in range(6, 11)]
    data["power"] = {"persons_per_unit": 30, "seed": 3}
    path = write_protocol(tmp_path, data)
    build = tmp_path / "build"
    csv = tmp_path / "power.csv"
    code = main(
        [
            "protocol",
            "power",
            str(path),
            "--n-sims",
            "4",
            "--effects",
            "0,0.05",
            "--build",
            str(build),
            "--csv",
            str(csv),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "power by simulation (twfe, inference analytic, alpha 0.05, 4 simulations" in out
    assert "minimal detectable effect (80% power), neet:" in out
    stored = json.loads((build / "small" / "power.json").read_text(encoding="utf-8"))
    assert [r["nominal_effect"] for r in stored["rows"]] == [0.0, -0.05]
    realised = [r["effect"] for r in stored["rows"]]  # the realised effect on the treated
    assert realised[0] == 0.0 and -0.08 < realised[1] < 0
    assert {"outcome", "effect", "power", "mde", "n_sims"} <= set(stored["rows"][0])
    assert csv.is_file()
    with pytest.raises(SystemExit) as info:  # a usage error, like every bad number typed
        main(["protocol", "power", str(path), "--effects", "a,b"])
    assert info.value.code == 2
    assert "argument --effects: must be finite numbers separated by commas" in (
        capsys.readouterr().err
    )

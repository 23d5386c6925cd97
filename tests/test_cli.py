"""The command line's contract: exit codes and one clear line for a user error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import evalkit
from evalkit.cli import COMMANDS, build_parser, main


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err.lower()


def test_unknown_option_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["analyze", "--no-such-option"])
    assert exit_info.value.code == 2


def test_every_command_is_registered() -> None:
    parser = build_parser()
    help_text = parser.format_help()
    for name in COMMANDS:
        assert name in help_text


def test_missing_protocol_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["analyze", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("evalkit analyze:") and "nope.yaml" in err
    assert "Traceback" not in err


def test_protocol_without_id_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("evalkit_protocol: 1\n", encoding="utf-8")
    assert main(["report", str(bad)]) == 1
    assert "id: required" in capsys.readouterr().err


def test_public_surface_is_pinned() -> None:
    assert sorted(evalkit.__all__) == sorted(
        [
            "DataValidationError",
            "EstimationError",
            "EvalkitError",
            "EvalkitWarning",
            "IngestError",
            "ProtocolError",
            "ReportError",
            "__version__",
        ]
    )


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """``evalkit protocol check … | head`` with head gone: no traceback, the SIGPIPE code."""
    protocol = Path(evalkit.__file__).resolve().parents[1] / "protocols" / "demo.yaml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalkit.cli", "protocol", "check", str(protocol)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the command has written anything
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err.decode() and "BrokenPipeError" not in err.decode()
    assert proc.returncode == 141


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "999999990"],
        ["report", "999999990"],
        ["protocol", "check", "999999990"],
        ["did", "--data", "999999990", "--outcome", "y", "--cohort", "g"],
    ],
)
def test_a_bsn_typed_as_a_path_is_not_echoed(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    out = capsys.readouterr()
    assert "999999990" not in out.err + out.out
    assert "[BSN]" in out.err + out.out


def test_an_unwritable_output_folder_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``evalkit demo --out`` on a file, where a folder is expected: exit 1, no traceback."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x", encoding="utf-8")
    assert main(["demo", "--out", str(a_file)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("evalkit demo:") and str(a_file) in err


def test_run_checks_every_protocol_before_it_makes_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed ``demo:`` stops ``evalkit run`` with its file and field, before any data."""
    from protocol_helpers import protocol_dict, write_protocol

    monkeypatch.chdir(tmp_path)
    good = write_protocol(
        tmp_path,
        protocol_dict(demo={"generator": "pilot", "seed": 1, "out": "data/raw/small"}),
        name="good.yaml",
    )
    bad = write_protocol(tmp_path, protocol_dict(demo=[1]), name="bad.yaml")
    assert main(["run", str(bad), "--build", str(tmp_path / "build")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("evalkit run:") and "bad.yaml" in err
    assert "demo: expected a mapping of fields, got a list" in err
    # a protocol that is wrong elsewhere stops the run before the good one's data are made
    wrong = write_protocol(
        tmp_path, protocol_dict(analysis={"estimator": "nope"}), name="wrong.yaml"
    )
    assert main(["run", str(good), str(wrong), str(bad), "--build", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "2 of 3 protocols have problems; nothing was run" in err
    assert "wrong.yaml: analysis.estimator: 'nope' is not allowed" in err
    assert "bad.yaml: demo:" in err and "Traceback" not in err
    assert not (tmp_path / "data").exists() and not (tmp_path / "build").exists()
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("action", ["check", "status", "register"])
def test_a_protocol_file_named_after_a_bsn_is_masked_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    """``protocol ... --json`` printed the FILE argument in full; now every string is masked."""
    import json

    from protocol_helpers import protocol_dict, write_protocol

    path = write_protocol(tmp_path, protocol_dict(), name="999999990.yaml")
    main(["protocol", action, "--json", str(path)])
    out = capsys.readouterr()
    assert "999999990" not in out.out + out.err
    assert json.loads(out.out)["file"].endswith("[BSN].yaml")


def test_every_command_line_output_goes_through_the_mask() -> None:
    """No sub-command prints by itself: each line passes ``_output.echo`` (BSNs masked)."""
    folder = Path(evalkit.__file__).resolve().parent / "_cli"
    printing = [
        path.name
        for path in sorted(folder.glob("*.py"))
        if path.name != "_output.py" and "print(" in path.read_text(encoding="utf-8")
    ]
    assert printing == []


def test_a_folder_named_after_a_bsn_is_masked_in_what_demo_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path / "deelnemer_999999990")]) == 0
    out = capsys.readouterr()
    assert "999999990" not in out.out + out.err and "deelnemer_[BSN]" in out.out


def test_a_commit_hash_in_json_is_not_cut_by_the_mask() -> None:
    from evalkit._cli._output import masked

    commit = "ab999999990cdef0123456789abcdef012345678"  # 40 hex holding a valid BSN run
    assert masked({"git_commit": commit, "file": "999999990.yaml"}) == {
        "git_commit": commit,
        "file": "[BSN].yaml",
    }


def test_the_run_s_progress_lines_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    """``evalkit run`` prints protocol ids, file names and messages through rich: masked."""
    from evalkit.pipeline.progress import RichProgress

    with RichProgress() as progress:
        progress.step("p999999990", "ingest")
        progress.done("data/raw/deelnemer_999999990.csv read")
        progress.finished("p999999990", "analyze", 1.0, "build/p999999990/results.json")
        progress.failed("p999999990", "deelnemer_999999990.csv: no such file")
        progress.summarise([Path("build/p999999990/results.json")])
    out = capsys.readouterr()
    assert "999999990" not in out.out + out.err
    assert out.err.count("[BSN]") >= 4 and "[BSN]" in out.out

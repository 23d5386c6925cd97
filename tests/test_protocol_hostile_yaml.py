"""Hostile protocol files: each is a clear check error naming its field, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from protocol_helpers import protocol_dict, write_protocol

from evalkit.cli import main
from evalkit.errors import ProtocolError
from evalkit.pipeline import paths_for
from evalkit.protocol import check_protocol


def _base_text() -> str:
    return yaml.safe_dump(protocol_dict(), allow_unicode=True, sort_keys=False)


RAW: list[tuple[str, Callable[[str], str], str]] = [
    (
        "duplicate top-level key",
        lambda t: t.replace("id: small", "id: small\nid: other"),
        "the key 'id' is given twice (first on line 2)",
    ),
    (
        "duplicate nested key",
        lambda t: t.replace("  estimator: twfe", "  estimator: twfe\n  estimator: 2x2"),
        "the key 'estimator' is given twice",
    ),
    (
        "a 2 MB file",
        lambda t: t + "context: '" + "x" * 2_000_000 + "'\n",
        "too large for a protocol",
    ),
    ("1,000 nested lists", lambda t: t + "extra: " + "[" * 1000 + "]" * 1000 + "\n", "nested too"),
    (
        "a seed of 5,001 digits",
        lambda t: t.replace("  seed: 1\n", "  seed: 1" + "0" * 5000 + "\n", 1),
        "a value cannot be read: Exceeds the limit (4300 digits)",
    ),
    (
        "30 February",
        lambda t: t.replace("planned_report_date: '2026-04-30'", "planned_report_date: 2026-02-30"),
        "a value cannot be read: day is out of range for month",
    ),
]


@pytest.mark.parametrize(("what", "edit", "message"), RAW, ids=[r[0] for r in RAW])
def test_hostile_yaml_text(tmp_path: Path, what: str, edit, message: str):
    path = tmp_path / "p.yaml"
    path.write_text(edit(_base_text()), encoding="utf-8")
    report = check_protocol(path)
    assert any(message in e for e in report.errors), report.errors


def test_merge_keys_are_not_duplicates(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text(
        _base_text().replace("analysis:\n", "analysis:\n  <<: {estimator: twfe}\n"),
        encoding="utf-8",
    )
    assert check_protocol(path).ok


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        parts = path.split(".")
        node: Any = data
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(parts[-1]) if parts[-1].isdigit() else parts[-1]] = value

    return edit


VALUES: list[tuple[str, str, Any, str]] = [
    ("alpha NaN", "analysis.alpha", float("nan"), "analysis.alpha: expected a finite number"),
    ("alpha inf", "analysis.alpha", float("inf"), "analysis.alpha: expected a finite number"),
    ("alpha 10**400", "analysis.alpha", 10**400, "analysis.alpha: 1000"),
    (
        "analysis seed beyond 2**32 - 1",
        "analysis.seed",
        2**32,
        "analysis.seed: 4294967296 is above the maximum 4294967295",
    ),
    ("power seed 10**400", "power", {"seed": 10**400}, "power.seed: 1000"),
    ("power n_sims 10**6", "power", {"n_sims": 10**6}, "above the maximum 100000"),
    (
        "smallest effect NaN",
        "outcomes.0.smallest_effect",
        float("nan"),
        "outcomes[neet].smallest_effect: expected a finite number",
    ),
    (
        "NUL in a data file name",
        "data_sources.0.files",
        ["data/raw/a\x00.csv"],
        "a NUL character cannot be part of a file name",
    ),
    (
        "20,000 chained additions",
        "outcomes.0.definition",
        " + ".join(["neet"] * 20_000),
        "nested too deeply",
    ),
]


@pytest.mark.parametrize(("what", "field", "value", "message"), VALUES, ids=[v[0] for v in VALUES])
def test_hostile_values(tmp_path: Path, what: str, field: str, value: Any, message: str):
    data = protocol_dict()
    _set(field, value)(data)
    report = check_protocol(write_protocol(tmp_path, data))
    assert any(message in e for e in report.errors), report.errors


@pytest.mark.parametrize("languages", [[1], ["de"]])
def test_a_refused_language_is_not_named_none(tmp_path: Path, languages: list[Any]):
    data = protocol_dict()
    data["metadata"]["languages"] = languages
    report = check_protocol(write_protocol(tmp_path, data))
    assert report.errors and all("None" not in e for e in report.errors), report.errors


def test_cli_exits_1_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = protocol_dict()
    data["data_sources"][0]["files"] = ["data/raw/a\x00.csv"]
    path = write_protocol(tmp_path, data)
    for args in (["protocol", "check", str(path)], ["protocol", "check", "--json", str(path)]):
        assert main(args) == 1
        captured = capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize(
    ("what", "content", "message"),
    [
        ("UTF-16 with BOM", "id: small\n".encode("utf-16"), "not UTF-8 text"),
        ("1,000 nested lists", b"id: " + b"[" * 1000 + b"]" * 1000 + b"\n", "nested too deeply"),
        ("a 2 MB file", b"id: small\ncontext: '" + b"x" * 2_000_000 + b"'\n", "too large"),
    ],
)
def test_run_reads_the_id_with_the_same_safe_reader(
    tmp_path: Path, what: str, content: bytes, message: str
):
    """`evalkit run` reads the id first; it had its own reader that hung or raised."""
    path = tmp_path / "p.yaml"
    path.write_bytes(content)
    with pytest.raises(ProtocolError, match=message):
        paths_for(path)


def test_fast_reader_reads_every_shipped_yaml_as_pyyaml_does():
    """libyaml's parser (used when PyYAML has it) gives the documents the pure one gives."""
    import yaml

    from evalkit._yaml import load_unique
    from evalkit.protocol._yaml import read_yaml, safe_load

    root = Path(__file__).resolve().parents[1]
    files = sorted(root.glob("protocols/**/*.yaml")) + sorted(root.glob("data_schemas/*.yaml"))
    assert len(files) >= 8
    for file in files:
        text = file.read_text(encoding="utf-8")
        expected = yaml.load(text, Loader=yaml.SafeLoader)
        assert safe_load(text) == expected, file
        assert load_unique(text) == expected, file  # no shipped file repeats a key
        if file.parts[-2] != "data_schemas":
            assert read_yaml(file) == expected, file


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("  seed: 1\n", "  seed: 1\n  seed: 2\n", 1),
            "the key 'seed' is given twice",
        ),
        (lambda t: t + "demo: [1]\n", "demo: expected a mapping of fields, got a list"),
        (
            lambda t: t + "demo: {generator: pilot, seed: one, out: x}\n",
            "demo.seed: expected a whole number, got str 'one'",
        ),
    ],
    ids=["repeated key", "demo is a list", "seed in words"],
)
def test_demo_reads_its_protocol_with_the_safe_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, message: str
):
    """`evalkit demo --protocol` had its own reader: the last of two keys won silently."""
    path = tmp_path / "p.yaml"
    path.write_text(edit(_base_text()), encoding="utf-8")
    assert main(["demo", "--protocol", str(path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("evalkit demo:") and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


#: Modules that may parse YAML themselves, and why none of them reads a protocol.
OWN_YAML_READERS = {
    "_yaml.py": "the loaders themselves (repeated keys refused)",
    "protocol/_yaml.py": "the safe reader itself",
    "protocol/_schemas.py": "data_schemas/*.yaml, the project's column schemas",
    "ingest/_schema.py": "data_schemas/*.yaml, the project's column schemas",
    "pipeline/assemble.py": "the questionnaire schema's instruments (data_schemas)",
    "report/qmd.py": "front matter and cell options of the report documents",
    "report/i18n.py": "the report's own phrase book, shipped in the package",
}


def test_every_protocol_is_read_by_the_safe_reader():
    """No module but the allowed ones parses YAML; protocols go through read_yaml."""
    package = Path(__file__).resolve().parents[1] / "evalkit"
    found = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "yaml.safe_load(" in (text := path.read_text(encoding="utf-8")) or "yaml.load(" in text
    }
    assert found <= set(OWN_YAML_READERS), sorted(found - set(OWN_YAML_READERS))


LANGUAGE_CASES: list[tuple[str, str, Any, str]] = [
    (
        "plain title",
        "metadata.title",
        "Kleine test",
        "metadata.title: one text for every language; metadata.languages asks for nl, en, "
        "so write {nl: ..., en: ...}",
    ),
    ("plain intervention", "intervention", "Een coach.", "intervention: one text for every"),
    ("plain outcome label", "outcomes.0.label", "NEET", "outcomes[neet].label: one text for"),
    ("plain hypothesis", "hypotheses.0.text", "Minder NEET.", "hypotheses[H1].text: one text"),
    (
        "plain subgroup label",
        "population.subgroups.0.label",
        "Wordt 18",
        "population.subgroups[turning_18].label: one text for every language",
    ),
    ("label without en", "outcomes.0.label", {"nl": "NEET"}, "outcomes[neet].label: no text in en"),
]


@pytest.mark.parametrize(
    ("what", "field", "value", "message"), LANGUAGE_CASES, ids=[c[0] for c in LANGUAGE_CASES]
)
def test_a_text_the_reports_show_needs_every_language(
    tmp_path: Path, what: str, field: str, value: Any, message: str
):
    data = protocol_dict()
    _set(field, value)(data)
    report = check_protocol(write_protocol(tmp_path, data))
    assert any(message in e for e in report.errors), report.errors


def test_one_language_takes_plain_texts_and_others_stay_plain(tmp_path: Path):
    data = protocol_dict(missing_data="Missing months stay missing.", exclusions=["None."])
    assert check_protocol(write_protocol(tmp_path, data)).ok  # not shown per language
    data["metadata"]["languages"] = ["nl"]
    data["metadata"]["title"] = "Kleine test"
    data["hypotheses"][0]["text"] = "Minder NEET."
    assert check_protocol(write_protocol(tmp_path, data)).ok


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "reporting.disclosure_threshold",
            10**6,
            "reporting.disclosure_threshold: 1000000 is above the maximum 100",
        ),
        ("analysis.seed", -1, "analysis.seed: -1 is below the minimum 0"),
        ("analysis.alpha", 1.0, "analysis.alpha: 1.0 is above the maximum 0.5"),
        ("analysis.alpha", 0, "analysis.alpha: 0 is below the minimum 0.001"),
        ("power", {"target_power": 1.0}, "power.target_power: 1.0 is above the maximum 0.99"),
        ("power", {"seed": 2**32}, "power.seed: 4294967296 is above the maximum 4294967295"),
        (
            "demo",
            {"generator": "pilot", "seed": 2**32, "out": "x", "n_persons": 10**7},
            "demo.n_persons: 10000000 is above the maximum 100000",
        ),
    ],
)
def test_numbers_are_bounded(tmp_path: Path, field: str, value: Any, message: str):
    data = protocol_dict()
    _set(field, value)(data)
    report = check_protocol(write_protocol(tmp_path, data))
    assert any(message in e for e in report.errors), report.errors

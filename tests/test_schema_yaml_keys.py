"""A data schema that writes a key twice is refused, naming the file and the key.

``yaml.safe_load`` keeps the last of two equal keys, so a column (or its alias list)
written twice in ``data_schemas/KIND.yaml`` silently replaced the first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evalkit.cli import main

SHIPPED = Path(__file__).resolve().parents[1] / "data_schemas"


def _schemas(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "data_schemas"
    shutil.copytree(SHIPPED, folder)
    path = folder / "outcome_panel.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


AGE = "  age:         {type: integer, required: true, min: 16, max: 27, aliases: [leeftijd]}\n"
CASES = [
    (AGE, AGE.replace("max: 27", "max: 99") + AGE, "the key 'age' is given twice"),
    (
        "aliases: [leeftijd]}",
        "aliases: [leeftijd], aliases: [jaren]}",
        "the key 'aliases' is given twice",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), CASES, ids=["column", "alias list"])
def test_ingest_refuses_a_schema_with_a_repeated_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    message: str,
) -> None:
    folder = _schemas(tmp_path, old, new)
    monkeypatch.setenv("EVALKIT_SCHEMA_DIR", str(folder))
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", "benchmark-key-not-secret-4b7e1a9d2c5f8036")
    data = tmp_path / "panel.csv"
    data.write_text("bsn,maand\n", encoding="utf-8")
    code = main(["ingest", "outcome_panel", str(data), "--store", str(tmp_path / "s.duckdb")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{folder / 'outcome_panel.yaml'}: not valid YAML (line 1" in err, err
    assert message in err and "Traceback" not in err


def test_protocol_schema_reader_refuses_a_repeated_key(tmp_path: Path) -> None:
    from evalkit.errors import ProtocolError
    from evalkit.protocol._schemas import load_schemas

    folder = _schemas(tmp_path, AGE, AGE + AGE)
    with pytest.raises(ProtocolError, match="the key 'age' is given twice"):
        load_schemas(folder)

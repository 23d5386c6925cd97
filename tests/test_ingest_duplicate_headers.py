"""Two headers for one column are an error in every format, for every kind."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import hostile_corpus as hc

from evalkit.cli import main

KEY = "dup-header-test-key-4b8e1f0a7c2d9356e1a4"
FORMATS = ("csv", "xlsx", "sav", "dta", "parquet")
Q_HEADER = ["respondent", "gemeentecode", "meting", "afnamedatum", "mhi5_1", "nps"]
Q_ROWS = [
    [hc.BSN[0], "GM0363", "T0", "05-02-2025", "4", "8"],
    [hc.BSN[1], "GM0599", "T0", "06-02-2025", "5", "6"],
]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)


def _write(fmt: str, header: list[str], body: list[list[str]], path: Path) -> None:
    """Write a table with exactly these headers (duplicates kept where the format allows)."""
    if fmt == "parquet":  # pandas refuses duplicate names; Arrow writes them
        columns = [pa.array([r[i] for r in body]) for i in range(len(header))]
        pq.write_table(pa.Table.from_arrays(columns, names=header), path)
        return
    hc._writer(fmt, pd.DataFrame(body, columns=header).astype(object))(path)


def _refused(kind: str, path: Path, capsys) -> str:
    code = main(["ingest", kind, str(path), "--store", str(path.with_suffix(".duckdb"))])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err and str(path) in err and "duplicate header" in err
    return err


# (extra header, column it repeats): an alias beside the name, the canonical name beside
# an alias, the same name in other case; CSV, XLSX and Parquet also hold one name twice.
PANEL_CASES = [("burgerservicenummer", 0), ("person_id", 0), ("BSN", 0), ("GEMEENTECODE", 2)]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("extra", "col"), PANEL_CASES)
def test_panel_with_two_headers_for_one_column(
    fmt: str, extra: str, col: int, tmp_path: Path, capsys
) -> None:
    path = tmp_path / f"panel.{fmt}"
    _write(fmt, [*hc.HEADER, extra], [[*r, r[col]] for r in hc.rows()], path)
    err = _refused("outcome_panel", path, capsys)
    assert extra in err and hc.HEADER[col] in err


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_panel_with_one_name_twice(fmt: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / f"panel.{fmt}"
    _write(fmt, [*hc.HEADER, "bsn"], [[*r, r[0]] for r in hc.rows()], path)
    assert "'bsn'" in _refused("outcome_panel", path, capsys)


@pytest.mark.parametrize("fmt", FORMATS)
def test_questionnaire_with_two_headers_for_one_item(fmt: str, tmp_path: Path, capsys) -> None:
    # mhi51 matches item mhi5_1 (case, spaces, hyphens, underscores ignored) and is a
    # valid SPSS and Stata variable name.
    path = tmp_path / f"vragenlijst.{fmt}"
    _write(fmt, [*Q_HEADER, "mhi51"], [[*r, r[4]] for r in Q_ROWS], path)
    err = _refused("questionnaire", path, capsys)
    assert "'mhi5_1'" in err and "'mhi51'" in err


@pytest.mark.parametrize("fmt", FORMATS)
def test_questionnaire_with_one_item_header_accepted(fmt: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / f"vragenlijst.{fmt}"
    _write(fmt, Q_HEADER, Q_ROWS, path)
    assert main(["ingest", "questionnaire", str(path), "--store", str(tmp_path / "s")]) == 0
    assert "2 accepted" in capsys.readouterr().out

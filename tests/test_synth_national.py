"""The national generator: every municipality in its region, staggered starts, Parquet by block."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from evalkit.synth import _national as national
from evalkit.synth import load_regions, plan_national, write_national


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("national")
    return out, write_national(plan_national(3, 0.002), out)


def _sql(out: Path, query: str) -> list[tuple]:
    glob = (out / "outcome_panel" / "*" / "*.parquet").as_posix()
    return duckdb.sql(query.replace("PANEL", f"read_parquet('{glob}')")).fetchall()


def test_regions_hold_342_municipalities_in_35_regions() -> None:
    regions = load_regions()
    munis = [m for r in regions for m in r.municipalities]
    assert len(regions) == 35 and len(munis) == 342 == len(set(munis))


def test_panel_has_every_municipality_in_its_region_folder(written: tuple[Path, dict]) -> None:
    out, done = written
    ((rows, munis, regions, months, persons),) = _sql(
        out,
        "SELECT count(*), count(DISTINCT municipality), count(DISTINCT region), "
        "count(DISTINCT month), count(DISTINCT rinpersoon) FROM PANEL",
    )
    assert rows == done["rows"] and (munis, regions, months) == (342, 35, 36)
    assert persons > 0.9 * done["persons"]
    folders = {p.name for p in (out / "outcome_panel").iterdir()}
    assert folders == {r.code for r in load_regions()}
    for folder in (out / "outcome_panel").iterdir():
        glob = (folder / "*.parquet").as_posix()
        regions_in = duckdb.sql(f"SELECT DISTINCT region FROM read_parquet('{glob}')").fetchall()
        assert regions_in == [(folder.name,)]
    ((dups,),) = _sql(
        out,
        "SELECT count(*) FROM (SELECT rinpersoon, month FROM PANEL GROUP BY ALL "
        "HAVING count(*) > 1)",
    )
    assert dups == 0


def test_rin_numbers_have_the_cbs_shape(written: tuple[Path, dict]) -> None:
    out, _ = written
    ((bad,),) = _sql(
        out,
        "SELECT count(*) FROM PANEL WHERE NOT regexp_full_match(rinpersoon, '[0-9]{9}') "
        "OR rinpersoons <> 'R'",
    )
    assert bad == 0


def test_starts_are_staggered_by_region_and_the_effect_shows(written: tuple[Path, dict]) -> None:
    out, _ = written
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    starts = {s for s in truth["region_starts"].values() if s}
    assert len(starts) >= 3
    assert 0.02 < _sql(out, "SELECT avg(neet::int) FROM PANEL")[0][0] < 0.09


def test_same_seed_same_rows_and_blocks_bound_memory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(national, "BLOCK_PERSONS", 40)
    a = write_national(plan_national(5, 0.001), tmp_path / "a")
    b = write_national(plan_national(5, 0.001), tmp_path / "b")
    assert a["rows"] == b["rows"] and a["files"] > 35
    q = "SELECT sum(neet::int), sum(hash(rinpersoon, month, early_school_leaving)) FROM PANEL"
    assert _sql(tmp_path / "a", q) == _sql(tmp_path / "b", q)


def test_scale_outside_zero_one_is_refused() -> None:
    from evalkit.errors import EvalkitError

    with pytest.raises(EvalkitError, match="scale"):
        plan_national(1, 0)

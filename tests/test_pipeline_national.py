"""National pipeline: validate in DuckDB, reference the valid rows, estimate in the engine."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

pytest.importorskip("ibis")

from evalkit.cli import main
from evalkit.did import estimate
from evalkit.pipeline.national import (
    estimate_national,
    national_files,
    national_table,
    starts_from_protocol,
    validate_national,
)
from evalkit.synth import plan_national, write_national

PROTOCOL = Path(__file__).parents[1] / "protocols" / "national" / "law_2026.yaml"
OUTCOMES = ("neet", "early_school_leaving")


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("national")
    write_national(plan_national(1, 0.002), out)
    return out


@pytest.fixture(scope="module")
def starts() -> dict[str, str]:
    return starts_from_protocol(yaml.safe_load(PROTOCOL.read_text(encoding="utf-8")))


def _region_months(files: list[Path], starts: dict[str, str]) -> pd.DataFrame:
    """The region-month panel built in pandas: what the engine must reproduce."""
    rows = pd.concat([pq.read_table(f).to_pandas() for f in files])
    month = pd.to_datetime(rows["month"])
    rows["period"] = month.dt.year * 12 + month.dt.month - 1
    index = {r: int(s[:4]) * 12 + int(s[5:7]) - 1 for r, s in starts.items()}
    rows["cohort"] = rows["region"].map(index).fillna(0).astype("int64")
    keys = ["region", "period", "cohort"]
    return rows.groupby(keys, as_index=False)[list(OUTCOMES)].mean()


def test_validation_counts_every_rule_and_keeps_identifiers_out(
    panel: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    write_national(plan_national(1, 0.002), data)
    victim = national_files(data)[0]
    table = pq.read_table(victim).to_pandas()
    table.loc[0, "rinpersoon"] = "12345"
    table.loc[1, "municipality"] = "GM0000"
    table.loc[2, "age"] = 30
    table = pd.concat([table, table.iloc[[10]]], ignore_index=True)  # one person-month twice
    table["neet"] = table["neet"].astype("boolean")
    table.loc[3, "neet"] = pd.NA
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), victim)
    store = tmp_path / "store.duckdb"
    counts = validate_national(data, store, OUTCOMES)
    assert counts["rejected"] == 4
    assert counts["accepted"] + counts["rejected"] == counts["rows_read"]
    failures = {k: v for k, v in counts["failures"].items() if v}
    assert failures == {"rinpersoon": 1, "municipality_region": 1, "age": 1, "neet_present": 1}
    assert counts["duplicate_person_months"] == 1
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT count(*) FROM national_panel").fetchone()[0] == counts["accepted"]
    columns = {r[0] for r in con.execute("DESCRIBE national_panel").fetchall()}
    assert not columns & {"rinpersoon", "rinpersoons"}
    quarantined = con.execute(
        "SELECT file_row, rule FROM national_quarantine ORDER BY 1"
    ).fetchall()
    assert quarantined == [
        (0, "rinpersoon"),
        (1, "municipality_region"),
        (2, "age"),
        (3, "neet_present"),
    ]
    logged = con.execute(
        "SELECT sum(rows_read), sum(accepted), sum(rejected) FROM national_ingest_log"
    )
    assert logged.fetchone() == (counts["rows_read"], counts["accepted"], counts["rejected"])


def test_engine_estimates_equal_in_memory_on_the_region_month_panel(
    panel: Path, starts: dict[str, str]
) -> None:
    results = estimate_national(national_table(panel, starts), OUTCOMES)
    frame = _region_months(national_files(panel), starts)
    for outcome in OUTCOMES:
        for estimator in ("callaway_santanna", "twfe", "event_study"):
            options = {"control": "notyet"} if estimator == "callaway_santanna" else {}
            mem = estimate(
                frame,
                outcome=outcome,
                unit="region",
                time="period",
                cohort="cohort",
                cluster="region",
                estimator=estimator,
                inference="analytic",
                **options,
            ).to_dict()
            eng = results[outcome][estimator]
            assert eng["path"] == "engine:duckdb"
            assert eng["estimate"] == pytest.approx(mem["att"], abs=1e-10)
            assert eng["std_error"] == pytest.approx(mem["se"], abs=1e-10)


def test_unbalanced_panel_falls_back_to_streaming_and_says_so(
    panel: Path, starts: dict[str, str], tmp_path: Path
) -> None:
    data = tmp_path / "gap"
    write_national(plan_national(1, 0.002), data)
    victim = national_files(data)[0]
    table = pq.read_table(victim).to_pandas()
    first = table["month"].min()
    pq.write_table(
        pa.Table.from_pandas(table[table["month"] != first], preserve_index=False),
        victim,
    )
    results = estimate_national(national_table(data, starts), ("neet",), estimators=("twfe",))
    twfe = results["neet"]["twfe"]
    assert twfe["path"] == "in_memory:streamed"
    assert "unbalanced" in twfe["why_not_in_engine"]
    frame = _region_months(national_files(data), starts)
    mem = estimate(
        frame,
        outcome="neet",
        unit="region",
        time="period",
        cohort="cohort",
        cluster="region",
        estimator="twfe",
        inference="analytic",
    )
    assert twfe["estimate"] == pytest.approx(mem.att, abs=1e-12)
    assert np.isfinite(twfe["std_error"])


def test_cli_validate_and_estimate(panel: Path, tmp_path: Path, capsys) -> None:
    store = tmp_path / "store.duckdb"
    assert main(["national", "validate", str(panel), "--store", str(store)]) == 0
    out = tmp_path / "est.json"
    code = main(
        ["national", "estimate", str(store), "--protocol", str(PROTOCOL), "--out", str(out)]
    )
    assert code == 0 and out.is_file()
    text = capsys.readouterr().out
    assert "callaway_santanna" in text and "path: engine:duckdb;" in text
    assert "grouped sums in the engine" in text and "streamed" not in text
    # the registered hypotheses and their Holm family, as in every other protocol
    assert "H1 (neet, callaway_santanna)" in text and "adjusted (holm)" in text
    import json

    from statsmodels.stats.multitest import multipletests

    rows = json.loads(out.read_text(encoding="utf-8"))["hypotheses"]
    assert [r["id"] for r in rows] == ["H1", "H2"]
    raw = [r["p_value"] for r in rows]
    expected = multipletests(raw, method="holm")[1]
    assert [r["p_adjusted"] for r in rows] == pytest.approx(list(expected), abs=1e-15)


def test_cli_reports_a_missing_panel_without_a_traceback(tmp_path: Path, capsys) -> None:
    assert main(["national", "validate", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert "no Parquet files" in err and "Traceback" not in err


def test_registered_choices_reach_the_national_estimates(
    panel: Path, starts: dict[str, str]
) -> None:
    from evalkit.analysis.plan import registered_spec
    from evalkit.protocol import load_protocol

    spec = registered_spec(load_protocol(PROTOCOL))
    assert spec.control == "notyet" and spec.event_window == (-12, 12)
    table = national_table(panel, starts)
    registered = estimate_national(table, ("neet",), spec=spec)["neet"]
    others = estimate_national(
        table, ("neet",), spec=spec.with_(control="never", event_window=(-3, 3), alpha=0.2)
    )["neet"]
    times = [r["event_time"] for r in registered["event_study"]["event_study"]]
    short = [r["event_time"] for r in others["event_study"]["event_study"]]
    assert min(times) == -12 and max(times) == 12 and (min(short), max(short)) == (-3, 3)
    cs, cs_never = registered["callaway_santanna"], others["callaway_santanna"]
    assert cs["estimate"] != pytest.approx(
        cs_never["estimate"], abs=1e-9
    )  # the control group counts
    width = registered["twfe"]["conf_high"] - registered["twfe"]["conf_low"]
    assert others["twfe"]["conf_high"] - others["twfe"]["conf_low"] < width  # alpha 0.2

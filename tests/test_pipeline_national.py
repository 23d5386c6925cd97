"""National pipeline: validate in DuckDB, reference the valid rows, estimate in the engine."""

from __future__ import annotations

import json
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


def _region_months(
    files: list[Path], starts: dict[str, str], columns: tuple[str, ...] = OUTCOMES
) -> pd.DataFrame:
    """The region-month panel (means of ``columns``) built in pandas: what the engine must
    reproduce."""
    rows = pd.concat([pq.read_table(f).to_pandas() for f in files])
    month = pd.to_datetime(rows["month"])
    rows["period"] = month.dt.year * 12 + month.dt.month - 1
    index = {r: int(s[:4]) * 12 + int(s[5:7]) - 1 for r, s in starts.items()}
    rows["cohort"] = rows["region"].map(index).fillna(0).astype("int64")
    keys = ["region", "period", "cohort"]
    return rows.groupby(keys, as_index=False)[list(columns)].mean()


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
    estimators = ("twfe", "callaway_santanna")
    results = estimate_national(national_table(data, starts), ("neet",), estimators=estimators)
    frame = _region_months(national_files(data), starts)
    for estimator in estimators:
        streamed = results["neet"][estimator]
        assert streamed["path"] == "in_memory:streamed"
        assert "unbalanced" in streamed["why_not_in_engine"]
        options = (
            {"control": "notyet", "allow_unbalanced_panel": True}
            if estimator == "callaway_santanna"
            else {}
        )
        mem = estimate(
            frame,
            outcome="neet",
            unit="region",
            time="period",
            cohort="cohort",
            cluster="region",
            estimator=estimator,
            inference="analytic",
            **options,
        )
        _equal_to_in_memory(streamed, mem)


def _equal_to_in_memory(streamed: dict, mem: object) -> None:
    """The streamed result's numbers are the in-memory estimator's, to 1e-10."""
    from evalkit.did.results import event_time_rows

    expected = mem.tidy()  # type: ignore[attr-defined]
    head = expected.iloc[0]
    for key in ("estimate", "std_error", "p_value", "conf_low", "conf_high"):
        assert streamed[key] == pytest.approx(head[key], abs=1e-10), key
    rows = event_time_rows(expected)
    assert [r["event_time"] for r in streamed["event_time_rows"]] == [r["event_time"] for r in rows]
    for mine, theirs in zip(streamed["event_time_rows"], rows, strict=True):
        assert mine["estimate"] == pytest.approx(theirs["estimate"], abs=1e-10)
        assert mine["std_error"] == pytest.approx(theirs["std_error"], abs=1e-10)


def test_person_level_covariates_stream_region_month_means_and_say_so(
    panel: Path, starts: dict[str, str]
) -> None:
    from evalkit.spec import Spec

    spec = Spec("callaway_santanna", control="notyet", method="reg", covariates=("age",), alpha=0.1)
    estimators = ("callaway_santanna", "twfe")
    # Up to the last start (April 2027): that cohort then compares as not yet treated;
    # after it only one region is, too few for a regression on age in each comparison.
    end = 2027 * 12 + 3
    table = national_table(panel, starts)
    table = table.filter(table.period < end)
    results = estimate_national(table, ("neet",), estimators=estimators, spec=spec)
    # Region-month means of the outcome and of the persons' age, estimated in memory.
    frame = _region_months(national_files(panel), starts, ("neet", "age"))
    frame = frame[frame["period"] < end]
    for estimator in estimators:
        streamed = results["neet"][estimator]
        assert streamed["path"] == "in_memory:streamed"
        assert "covariates (age)" in streamed["why_not_in_engine"]
        assert streamed["inference_detail"]["covariate_aggregation"] == "unit-period mean"
        cs = {"control": "notyet", "method": "reg", "allow_unbalanced_panel": True}
        mem = estimate(
            frame,
            outcome="neet",
            unit="region",
            time="period",
            cohort="cohort",
            cluster="region",
            estimator=estimator,
            inference="analytic",
            covariates=["age"],
            alpha=0.1,
            **(cs if estimator == "callaway_santanna" else {}),
        )
        _equal_to_in_memory(streamed, mem)
    assert results["neet"]["callaway_santanna"]["inference_detail"]["covariates"] == ["age"]


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
    # the joint pre-trend test of each Callaway–Sant'Anna record, as in the estimates file
    saved = json.loads(out.read_text(encoding="utf-8"))["neet"]["callaway_santanna"]
    test = saved["pretrend_event_time"]
    assert f"p {test['p_value']:.3f}" in text and "pre-trend test (event times -" in text
    # the registered hypotheses and their Holm family, as in every other protocol
    assert "H1 (neet, callaway_santanna)" in text and "adjusted (holm)" in text
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


def _cells(html: str, table: str) -> dict[str, list[str]]:
    """Body rows of a rendered table, by their first cell's text."""
    import html as html_lib
    import re

    found = re.search(rf'<table id="table-{table}"[^>]*>(.*?)</table>', html, re.S)
    assert found, f"table {table} not in the report"
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", found.group(1).split("<tbody>")[1], re.S):
        cells = [
            html_lib.unescape(re.sub(r"<[^>]+>", "", c))
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        rows[cells[0]] = cells[1:]
    return rows


def _nl(value: float, digits: int, sign: str = "") -> str:
    """A number as the Dutch report shows it: decimal comma, typographic minus, no "-0,0",
    and no sign on a number that rounds to zero ("0,0", not "+0,0")."""
    if round(value, digits) == 0:
        value, sign = 0.0, ""
    return f"{value:{sign}.{digits}f}".replace("-", "\u2212").replace(".", ",")


def test_national_report_shows_every_registered_hypothesis_with_the_engine_estimates(
    panel: Path, starts: dict[str, str], tmp_path: Path, capsys
) -> None:
    import json

    from evalkit.protocol import load_protocol
    from evalkit.report.bundle import read_bundle
    from evalkit.report.formatting import fmt_p
    from evalkit.report.plan import bundle_sources, plan_for

    store, estimates_file = tmp_path / "store.duckdb", tmp_path / "est.json"
    assert main(["national", "validate", str(panel), "--store", str(store)]) == 0
    est = ["national", "estimate", str(store), "--protocol", str(PROTOCOL)]
    assert main([*est, "--out", str(estimates_file)]) == 0
    build = tmp_path / "build"
    report = ["national", "report", str(estimates_file), "--store", str(store)]
    report += ["--protocol", str(PROTOCOL), "--lang", "nl", "en", "--build", str(build)]
    assert main([*report, "--documents", "evaluation", "summary"]) == 0
    assert "reports rendered" in capsys.readouterr().out

    protocol = load_protocol(PROTOCOL)
    estimates = json.loads(estimates_file.read_text(encoding="utf-8"))
    bundle = read_bundle(build / protocol.id / "results.json")
    registered = [h.id for h in protocol.hypotheses]
    assert registered == ["H1", "H2"]
    confirmatory = bundle["confirmatory"]
    assert [h["id"] for h in confirmatory["hypotheses"]] == registered
    family = confirmatory["family"]
    assert (family["members"], family["size"], family["method"]) == (registered, 2, "holm")
    by_id = {h["id"]: h for h in estimates["hypotheses"]}
    for h in confirmatory["hypotheses"]:
        engine = estimates[h["outcome"]]["callaway_santanna"]
        assert h["status"] == "estimated" and h["estimate"] == engine["estimate"]
        assert h["p_adjusted"] == pytest.approx(by_id[h["id"]]["p_adjusted"], abs=1e-15)
    window = set(range(-12, 13))
    for outcome in OUTCOMES:  # the registered event study: CS's dynamic aggregation
        rows = [r for r in confirmatory["event_study"] if r["outcome"] == outcome]
        assert {r["event_time"] for r in rows} == window
        assert {"estimate", "std_error", "conf_low", "conf_high"} <= set(rows[0])
    # the monthly means per group come from the engine's sums: pandas on the rows agrees
    rows = pd.concat([pq.read_table(f).to_pandas() for f in national_files(panel)])
    rows["group"] = np.where(rows["region"].isin(list(starts)), "pilot", "comparison")
    rows["month"] = pd.to_datetime(rows["month"]).dt.strftime("%Y-%m")
    for outcome in OUTCOMES:
        means = rows.groupby(["group", "month"])[outcome].agg(["mean", "size"]).reset_index()
        shown = [r for r in bundle["trends"] if r["outcome"] == outcome]
        assert [(r["group"], r["month"], r["n"]) for r in shown] == list(
            zip(means["group"], means["month"], means["size"], strict=True)
        )
        assert [r["mean"] for r in shown] == pytest.approx(list(means["mean"]), abs=1e-12)
    # its counts are where the release's suppression plan reads them
    assert {"sample.flow", "trends"} <= set(bundle_sources(bundle))
    assert plan_for(bundle, 10**9).n_suppressed > 0
    assert not {"throughput", "questionnaire", "monitoring"} & set(bundle)
    # the one robustness check: the joint test of CS's pre-period event-time estimates
    assert list(bundle["robustness"]) == ["pretrend"]
    pretrend = {r["outcome"]: r for r in bundle["robustness"]["pretrend"]}
    assert set(pretrend) == {o.id for o in protocol.primary_outcomes}
    for outcome, row in pretrend.items():
        test = estimates[outcome]["callaway_santanna"]["pretrend_event_time"]
        assert row == {"outcome": outcome, **test}
        assert row["valid"] and row["event_times"] == list(range(-12, 0))

    html = (build / "reports" / f"{protocol.id}.html").read_text(encoding="utf-8")
    assert "Traceback" not in html and "Error" not in html
    assert "Niet berekend voor het landelijke panel" in html  # parts it does not compute
    assert "Niet beschikbaar" not in html
    effects = _cells(html, "effects_primary")
    labels = {o.id: o.label["nl"] for o in protocol.outcomes}
    assert set(effects) == set(labels.values())
    for h in protocol.hypotheses:
        engine = estimates[h.outcome]["callaway_santanna"]
        shown = effects[labels[h.outcome]]
        low, high = _nl(engine["conf_low"], 3), _nl(engine["conf_high"], 3)
        assert shown[:4] == [
            "aandeel",  # the table keeps shares, the text gives percentage points
            _nl(engine["estimate"], 3),
            _nl(engine["std_error"], 3),
            f"[{low}; {high}]",
        ]
        points = _nl(100 * engine["estimate"], 1, "+")  # the hypothesis, in percentage points
        assert f"<strong>{h.id}</strong> ({labels[h.outcome]}): effect {points} procentpunt" in html
    shown_tests = _cells(html, "pretrend")
    for outcome, row in pretrend.items():
        test_name, _, p_value, reason = shown_tests[labels[outcome]]
        assert test_name.startswith("F-toets (Hotelling)") and reason == "\u2013"
        assert p_value == fmt_p(row["p_value"], "nl")
    # the summary promises what the evaluation report has: a pre-trend test, no more
    reports = build / "reports"
    summary_nl = (reports / f"{protocol.id}.summary.html").read_text(encoding="utf-8")
    summary_en = (reports / f"{protocol.id}.summary.en.html").read_text(encoding="utf-8")
    assert "de methoden, een toets op trends vóór de start en alle tabellen" in summary_nl
    assert "the methods, a pre-trend test and all tables" in summary_en
    assert "robuustheidsanalyses" not in summary_nl and "robustness" not in summary_en


def test_national_report_refuses_stale_estimates_and_a_missing_store_without_traceback(
    tmp_path: Path, capsys
) -> None:
    import json

    from evalkit.protocol import verify_for_analysis

    stale = tmp_path / "est.json"
    stale.write_text(json.dumps({"protocol": {"sha256": "0" * 64}}), encoding="utf-8")
    store = tmp_path / "store.duckdb"
    args = ["national", "report", "--protocol", str(PROTOCOL), "--store", str(store)]
    assert main([*args, "--build", str(tmp_path), str(stale)]) == 1
    err = capsys.readouterr().err
    assert "another version of the protocol" in err and "Traceback" not in err
    fresh = tmp_path / "fresh.json"
    sha = verify_for_analysis(PROTOCOL).sha256
    fresh.write_text(json.dumps({"protocol": {"sha256": sha}}), encoding="utf-8")
    assert main([*args, "--build", str(tmp_path), str(fresh)]) == 1
    err = capsys.readouterr().err
    assert "no national store" in err and "Traceback" not in err
    assert not store.exists() and not (tmp_path / "national_law_2026").exists()

"""The generated pilot's known throughput and ZRM effects are recovered, via real files.

generate → write_demo (XLSX, SAV) → ingest into DuckDB → Store → the analysis entry points.
The demo design, with more cases and respondents so that the tolerances can be tight.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml

synth = pytest.importorskip("evalkit.synth")
ingest = pytest.importorskip("evalkit.ingest")

from evalkit.analysis.questionnaire import questionnaire_tables  # noqa: E402
from evalkit.analysis.throughput import throughput_tables  # noqa: E402

INSTRUMENTS = yaml.safe_load(
    (Path(__file__).parent.parent / "data_schemas" / "questionnaire.yaml").read_text("utf-8")
)["instruments"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("recovery")
    mp = pytest.MonkeyPatch()
    mp.setenv("EVALKIT_PSEUDONYM_KEY", "analysis-recovery-test-key-7e3a91c5d2b8f0461a9c")
    try:
        design = synth.PilotDesign(n_cases=6000, questionnaire_n=600)
        pilot = synth.generate(design, 1)
        paths = synth.write_demo(pilot, tmp / "raw")
        store_path = tmp / "store.duckdb"
        for kind in ("case_events", "questionnaire"):
            ingest.ingest_files(kind, [paths[kind]], store_path=store_path)
        store = ingest.Store(store_path, read_only=True)
        yield design, pilot.truth, store.table("case_events"), store.table("questionnaire")
    finally:
        mp.undo()


def test_throughput_effect_recovered(stored):
    design, truth, events, _ = stored
    starts = {u: date.fromisoformat(f"{m}-01") for u, m in design.treated_starts.items()}
    tabs = throughput_tables(
        events,
        reference_date=date(2026, 6, 30),
        pilot_starts=starts,
        comparison_units=[m for m in design.municipalities if m not in starts],
    )
    km = tabs["km_summary"]
    sel = km.loc[
        (km["interval"] == "registration_to_start")
        & (km["org_type"] == "all")
        & (km["group"] != "all")
    ].set_index(["group", "period"])
    # the generator multiplies every lag up to the start of support by `factor` in the
    # pilot from its start, so every quantile scales by it: the ratio of KM quantiles
    # (during/before, pilot over comparison), geometric mean of median and 80th percentile
    ratios = [
        (sel.loc[("pilot", "during"), q] / sel.loc[("pilot", "before"), q])
        / (sel.loc[("comparison", "during"), q] / sel.loc[("comparison", "before"), q])
        for q in ("median", "p80")
    ]
    ratio = float(np.sqrt(ratios[0] * ratios[1]))
    factor = truth["throughput"]["factor"]
    assert factor < 0.85  # the design is a real speed-up
    # across seeds 1-5 this estimate has a standard deviation of about 0.035: 2 SD
    assert ratio == pytest.approx(factor, abs=0.07)
    assert ratio < 0.9
    # nothing silently dropped: every registration is in the KM sample
    n_reg = events.loc[events["event_type"] == "registration", "case_id"].nunique()
    assert (
        km.loc[
            (km["interval"] == "registration_to_start")
            & (km["org_type"] == "all")
            & (km["group"] == "all")
            & (km["period"] == "all"),
            "n",
        ].item()
        == n_reg
    )


def test_zrm_effect_recovered(stored):
    _, truth, _, responses = stored
    tabs = questionnaire_tables(responses, instruments=INSTRUMENTS)
    did = tabs["change_did"]
    row = did.loc[(did["scale"] == "zrm_mean") & (did["method"] == "welch_change")].iloc[0]
    att = truth["zrm"]["att_last_wave"]
    assert row["wave"] == truth["zrm"]["last_wave"]
    # one pilot municipality: the person-level row is descriptive only (no interval)
    assert row["status"] == "descriptive_only" and row["conf_low"] != row["conf_low"]
    assert abs(row["estimate"] - att) < 3 * row["std_error"]
    assert row["estimate"] == pytest.approx(att, abs=0.06)
    # the estimator-suite row is there too (few treated municipalities: honest interval)
    suite = did.loc[(did["scale"] == "zrm_mean") & (did["method"] == "did_2x2")].iloc[0]
    assert suite["estimate"] == pytest.approx(row["estimate"], abs=1e-9) or suite[
        "status"
    ].startswith("not_estimable")
    resp = tabs["response"].set_index(["group", "wave"])
    n_t0 = responses.loc[
        (responses["group"] == "pilot") & (responses["wave"] == "T0"), "person_id"
    ].nunique()
    assert resp.loc[("pilot", "T0"), "n_responded"] == n_t0 > 100
    assert 0 < resp.loc[("pilot", "T3m"), "retention"] < 1

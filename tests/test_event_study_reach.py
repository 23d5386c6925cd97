"""The registered event study reaches the bundle and the report, or its error does.

``population_breakthrough_18`` registers an event window of −12…5 months with one
pilot municipality of 25; its event study (permutation inference on about 160,000
person-months) was refused as "too large" and then vanished without a word: no
figure, "not available" in the report, "could not be estimated" in the pre-trend
table. The permutation's block columns are sparse, so the size that matters is
their nonzeros, not rows × clusters; and an event study that does fail carries its
error to the pre-trend row and the primary section.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import evalkit.did.inference as inference
import evalkit.synth as synth
from evalkit.analysis.effects import confirmatory_analysis
from evalkit.analysis.measures import build_analysis_frame
from evalkit.did import estimate
from evalkit.protocol import load_protocol
from evalkit.report import sections_results
from evalkit.report.context import ReportContext

ROOT = Path(__file__).resolve().parents[1]


def _panel(clusters: int, units: int, periods: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    unit = np.repeat(np.arange(clusters * units), periods)
    cluster = unit // units
    t = np.tile(np.arange(1, periods + 1), clusters * units)
    cohort = np.where(cluster == 0, 20, 0)
    y = rng.normal(size=unit.size) + 0.1 * (cohort > 0) * (t >= 20)
    return pd.DataFrame({"id": unit, "muni": cluster, "t": t, "cohort": cohort, "y": y})


def test_a_permutation_event_study_over_many_rows_is_estimated() -> None:
    # 25 municipalities × 250 persons × 26 months = 162,500 rows and 17 event-time
    # effects: rows × clusters × effects = 69 million, above the old limit of 60 million
    df = _panel(25, 250, 26)
    res = estimate(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        cluster="muni",
        estimator="event_study",
        inference="permutation",
        event_window=(-12, 5),
    )
    rows = res.to_dict()["event_study"]
    assert len(rows) == 17  # −12…5 without the reference month −1
    assert all(r["ci_low"] is not None and r["ci_high"] is not None for r in rows)
    assert res.inference_detail["assignments"] == 25


@pytest.fixture(scope="module")
def demo() -> tuple[Any, Any]:
    protocol = load_protocol(ROOT / "protocols" / "demo.yaml")
    panel = synth.generate(synth.PilotDesign.from_protocol(protocol.to_dict()), 1).panel
    return protocol, build_analysis_frame(panel, protocol)


def test_an_estimate_that_fails_says_why_in_the_bundle_and_the_report(
    demo, monkeypatch, tmp_path: Path
) -> None:
    protocol, af = demo
    # the resource limit is the one way this estimator fails on good data: set it low
    monkeypatch.setattr(inference, "_MAX_BLOCK_NONZEROS", 10)
    parts = confirmatory_analysis(af, protocol)
    assert parts["confirmatory"]["event_study"] == []
    rows = parts["robustness"]["pretrend"]
    assert {r["reason"] for r in rows} == {"event_study_failed"}
    assert all("too large to compute here" in r["reason_values"]["error"] for r in rows)
    # the inference compared beside the main one fails with it (Conley–Taber does not:
    # its own limit is another), and its row keeps the method and the error, in its notes
    failed = [r for r in parts["robustness"]["inference_comparison"] if r["estimate"] is None]
    assert {r["inference"] for r in failed} == {"permutation"}
    for r in failed:
        assert "too large to compute here" in r["error"]
        assert r["warnings"] == [r["error"]]
    bundle = {
        "protocol": protocol.to_dict(),
        "confirmatory": parts["confirmatory"],
        "robustness": parts["robustness"],
    }
    for lang, said in (
        ("nl", "De geregistreerde event-study kon niet worden geschat"),
        ("en", "The registered event study could not be estimated"),
    ):
        ctx = ReportContext(bundle, lang, figure_dir=tmp_path, collect_only=True)
        text = sections_results.primary(ctx)
        assert said in text and "too large to compute here" in text
        assert ctx.t("s.not_available") not in text
        sections_results.robustness(ctx)
        (table,) = [t for t in ctx.tables if t.name == "pretrend"]
        assert all("too large to compute here" in r for r in table.protected.values["reason"])


def test_the_registered_window_of_the_one_municipality_example_reaches_the_bundle() -> None:
    protocol = load_protocol(ROOT / "protocols" / "examples" / "population_breakthrough_18.yaml")
    protocol = dataclasses.replace(protocol, outcomes=protocol.outcomes[:1])
    panel = synth.generate(synth.PilotDesign.from_protocol(protocol.to_dict()), 1).panel
    parts = confirmatory_analysis(build_analysis_frame(panel, protocol), protocol)
    times = sorted({r["event_time"] for r in parts["confirmatory"]["event_study"]})
    assert times == [e for e in range(-12, 6) if e != -1]

"""The one translation: each registered analysis field reaches the spec, bundle and estimate.

The demo protocol's own synthetic pilot (generated in memory, one treated
municipality of twelve) is analysed with each allowed value of each field of
``analysis:`` (and ``units.anticipation_months``) in turn.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

import evalkit.synth as synth
from evalkit.analysis.effects import Design, confirmatory_analysis
from evalkit.analysis.family import adjust, hypothesis_rows
from evalkit.analysis.measures import UNIT, AnalysisFrame, build_analysis_frame
from evalkit.analysis.plan import registered_spec
from evalkit.protocol import Protocol, load_protocol
from evalkit.spec import MULTIPLE_TESTING, REGISTRABLE_ESTIMATORS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    protocol = load_protocol(ROOT / "protocols" / "demo.yaml")
    return synth.generate(synth.PilotDesign.from_protocol(protocol.to_dict()), 1).panel


@pytest.fixture(scope="module")
def demo(panel: pd.DataFrame) -> tuple[Protocol, AnalysisFrame]:
    protocol = load_protocol(ROOT / "protocols" / "demo.yaml")
    return protocol, build_analysis_frame(panel, protocol)


def _with(protocol: Protocol, anticipation: int | None = None, **analysis: Any) -> Protocol:
    changed = dataclasses.replace(protocol.analysis, **analysis)
    units = protocol.units
    if anticipation is not None:
        units = dataclasses.replace(units, anticipation_months=anticipation)
    return dataclasses.replace(protocol, analysis=changed, units=units)


def _main(protocol: Protocol, af: AnalysisFrame, outcome: str = "problematic_debt") -> dict:
    design = Design.of(af, protocol)
    res, errors = design.run(af.data, outcome, registered_spec(protocol))
    assert res is not None, errors
    return res


@pytest.mark.parametrize("estimator", REGISTRABLE_ESTIMATORS)
def test_estimator_reaches_the_estimate(demo, estimator: str) -> None:
    protocol, af = demo
    synthetic = estimator in ("synthetic_control", "synthetic_did", "triple_differences")
    p = _with(protocol, estimator=estimator, inference="placebo" if synthetic else "analytic")
    assert registered_spec(p).estimator == estimator
    if estimator == "triple_differences":
        # the demo declares no subgroup: the estimator itself is reached and says what it needs
        design = Design.of(af, p)
        res, errors = design.run(af.data, "problematic_debt", registered_spec(p))
        assert res is None and "triple_differences" in errors[0] and "subgroup" in errors[0]
        return
    assert _main(p, af)["estimator"] == estimator


@pytest.mark.parametrize("anticipation", [0, 1, 2])
def test_anticipation_reaches_the_estimate_and_the_event_study(
    demo, panel, anticipation: int
) -> None:
    protocol, _ = demo
    p = _with(protocol, anticipation, inference="analytic")
    assert registered_spec(p).anticipation == anticipation
    es = _main(_with(p, estimator="event_study"), build_analysis_frame(panel, p))
    assert es["reference_period"] == -1 - anticipation
    assert -1 - anticipation not in {r["event_time"] for r in es["event_study"]}


def test_anticipation_values_give_different_estimates(demo, panel) -> None:
    protocol, _ = demo
    for estimator in ("2x2", "twfe", "event_study"):
        atts = {}
        for a in (0, 1, 2):
            p = _with(protocol, a, estimator=estimator, inference="analytic")
            atts[a] = _main(p, build_analysis_frame(panel, p))["estimate"]
        assert len({round(v, 10) for v in atts.values()}) == 3, (estimator, atts)


def test_event_window_limits_the_event_study(demo) -> None:
    protocol, af = demo
    p = _with(protocol, estimator="event_study", inference="analytic", event_window=(-6, 3))
    assert registered_spec(p).event_window == (-6, 3)
    times = [r["event_time"] for r in _main(p, af)["event_study"]]
    assert min(times) == -6 and max(times) == 3
    whole = _with(protocol, estimator="event_study", inference="analytic", event_window=None)
    assert min(r["event_time"] for r in _main(whole, af)["event_study"]) < -6


def test_cluster_changes_the_clustering(demo) -> None:
    protocol, af = demo
    by_unit = _main(_with(protocol, inference="analytic"), af)
    assert by_unit["n_clusters"] == 12
    af.data["_region"] = af.data[UNIT].str[-1].astype(int) % 4  # four regions
    by_region = _main(_with(protocol, inference="analytic", cluster="_region"), af)
    assert registered_spec(_with(protocol, cluster="_region")).cluster == "_region"
    assert by_region["n_clusters"] == 4
    assert by_region["estimate"] == pytest.approx(by_unit["estimate"], abs=1e-12)
    assert by_region["std_error"] != pytest.approx(by_unit["std_error"], rel=1e-6)


@pytest.mark.parametrize("inference", ["auto", "analytic", "wild", "permutation", "conley_taber"])
def test_inference_reaches_the_estimate(demo, inference: str) -> None:
    protocol, af = demo
    p = _with(protocol, inference=inference)
    spec = registered_spec(p)
    assert spec.inference == (None if inference == "auto" else inference)
    spec_options = {"n_boot": 99, "n_sim": 99, "n_perm": 99}
    design = Design.of(af, p)
    res, _ = design.run(af.data, "problematic_debt", spec.with_(options=spec_options))
    assert res is not None
    assert res["inference"] == ("permutation" if inference == "auto" else inference)


def test_few_treated_threshold_and_alpha_and_seed_reach_the_estimate(demo) -> None:
    protocol, af = demo
    # the demo has fewer than 10 treated clusters: randomization inference whatever the
    # threshold (10 per side is the floor for cluster-robust); a higher one reaches the note
    low = _main(_with(protocol, few_treated_threshold=1), af)
    high = _main(_with(protocol, few_treated_threshold=12), af)
    assert low["inference"] == high["inference"] == "permutation"
    values = [
        c["values"] for c in high["warning_codes"] if c and c["code"] == "few_treated_permutation"
    ]
    assert values and values[0]["threshold"] == 12
    narrow = _main(_with(protocol, inference="analytic", alpha=0.2), af)
    wide = _main(_with(protocol, inference="analytic", alpha=0.01), af)
    assert narrow["conf_high"] - narrow["conf_low"] < wide["conf_high"] - wide["conf_low"]
    design = Design.of(af, protocol)
    spec = registered_spec(_with(protocol, inference="wild"))
    draws = {
        seed: design.run(
            af.data, "problematic_debt", spec.with_(seed=seed, options={"n_boot": 99})
        )[0]
        for seed in (1, 2)
    }
    assert draws[1]["inference_detail"]["seed"] == 1
    assert (
        draws[1]["p_value"] != draws[2]["p_value"] or draws[1]["conf_low"] != draws[2]["conf_low"]
    )


def test_covariates_and_cs_options_reach_the_estimate(demo) -> None:
    protocol, af = demo
    plain = _main(_with(protocol, inference="analytic"), af)
    adjusted = _main(_with(protocol, inference="analytic", covariates=("age",)), af)
    assert plain["estimate"] != pytest.approx(adjusted["estimate"], abs=1e-9)
    cs = _with(protocol, estimator="callaway_santanna", inference="analytic")
    for method in ("dr", "ipw", "reg"):
        assert registered_spec(_with(cs, method=method)).method == method
    varying = _main(_with(cs, base_period="varying"), af)
    universal = _main(_with(cs, base_period="universal"), af)
    pre = {r["event_time"]: r["att"] for r in varying["aggregations"]["dynamic"]["rows"]}
    pre_u = {r["event_time"]: r["att"] for r in universal["aggregations"]["dynamic"]["rows"]}
    assert any(abs(pre[e] - pre_u[e]) > 1e-9 for e in pre if e < -1)
    for control in ("never", "notyet"):
        assert registered_spec(_with(cs, control_group=control)).control == control


@pytest.mark.parametrize("method", MULTIPLE_TESTING)
def test_multiple_testing_matches_statsmodels(method: str) -> None:
    p = [0.01, 0.02, 0.04]
    name = {"holm": "holm", "bonferroni": "bonferroni", "bh": "fdr_bh"}.get(method)
    expected = p if name is None else list(multipletests(p, method=name)[1])
    assert adjust(p, method) == pytest.approx(expected, abs=1e-15)  # type: ignore[arg-type]
    if method == "bonferroni":
        assert adjust(p, method) == pytest.approx([0.03, 0.06, 0.12])  # not Holm's [.03 .04 .04]


def test_a_hypothesis_without_estimate_keeps_the_family_size() -> None:
    out = adjust([0.01, None, 0.04], "bonferroni")
    assert out == pytest.approx([0.03, None, 0.12])


@pytest.fixture(scope="module")
def bundle_part(demo) -> dict:
    protocol, af = demo
    return confirmatory_analysis(af, _with(protocol, inference="analytic"))


@pytest.mark.parametrize("method", MULTIPLE_TESTING)
def test_bundle_p_values_are_corrected_as_registered(demo, bundle_part, method: str) -> None:
    protocol, _ = demo
    part = copy.deepcopy(bundle_part["confirmatory"])
    p = _with(protocol, multiple_testing=method)
    part.update(hypothesis_rows(p, part["effects"], bundle_part["subgroups"]))
    rows = part["hypotheses"]
    assert [r["id"] for r in rows] == [h.id for h in protocol.hypotheses]
    assert part["family"]["size"] == len(protocol.hypotheses)
    assert part["family"]["method"] == method
    raw = [r["p_value"] for r in rows]
    assert np.isfinite(raw).all()
    name = {"holm": "holm", "bonferroni": "bonferroni", "bh": "fdr_bh"}.get(method)
    expected = raw if name is None else list(multipletests(raw, method=name)[1])
    assert [r["p_adjusted"] for r in rows] == pytest.approx(expected, abs=1e-15)
    effects = {e["outcome"]: e for e in part["effects"]}
    for r in rows:
        assert effects[r["outcome"]]["p_adjusted"] == r["p_adjusted"]
        assert r["estimate"] == effects[r["outcome"]]["result"]["estimate"]


def test_the_bundle_carries_the_registered_spec(bundle_part) -> None:
    part = bundle_part["confirmatory"]
    assert part["spec"]["inference"] == "analytic"
    assert part["spec"]["estimator"] == part["estimator"] == "twfe"
    assert part["event_study_spec"]["estimator"] == "event_study"
    assert all(e["spec"] == part["spec"] for e in part["effects"])
    assert part["multiple_testing"] == "holm"


def test_a_hypothesis_whose_estimate_failed_keeps_a_coded_reason(demo, bundle_part) -> None:
    protocol, _ = demo
    part = copy.deepcopy(bundle_part["confirmatory"])
    failed = part["effects"][0]
    failed["result"], failed["error"] = None, "EstimationError: no comparison units"
    rows = hypothesis_rows(protocol, part["effects"], bundle_part["subgroups"])["hypotheses"]
    row = next(r for r in rows if r["outcome"] == failed["outcome"] and not r["subgroup"])
    assert row["status"] == "not_estimated" and row["estimate"] is None
    assert row["reason_code"] == "estimate_failed"
    assert row["reason_values"]["detail"] == "EstimationError: no comparison units"
    assert "could not run on these data" in row["reason"]
    assert row["p_adjusted"] == 1.0 or row["p_adjusted"] is None


def test_cs_estimation_method_changes_the_estimate_with_covariates(demo) -> None:
    # without covariates dr, ipw and reg coincide; with one they must each reach the estimator
    protocol, af = demo
    cs = _with(protocol, estimator="callaway_santanna", inference="analytic", covariates=("age",))
    atts = {m: _main(_with(cs, method=m), af)["estimate"] for m in ("dr", "ipw", "reg")}
    assert len({round(v, 10) for v in atts.values()}) == 3, atts


def test_cs_bootstrap_inference_reaches_the_estimate(demo) -> None:
    protocol, af = demo
    cs = _with(protocol, estimator="callaway_santanna")
    boot = _main(_with(cs, inference="bootstrap"), af)
    plain = _main(_with(cs, inference="analytic"), af)
    assert registered_spec(_with(cs, inference="bootstrap")).inference == "bootstrap"
    assert boot["inference"] == "bootstrap" and plain["inference"] == "analytic"
    assert boot["estimate"] == pytest.approx(plain["estimate"], abs=1e-12)
    assert boot["std_error"] != pytest.approx(plain["std_error"], rel=1e-6)


def test_cs_registered_permutation_reaches_the_estimate(demo) -> None:
    protocol, af = demo
    p = _with(protocol, estimator="callaway_santanna", inference="permutation")
    res = _main(p, af)
    assert (
        res["inference"] == "permutation" and res["std_error"] is None and res["p_value"] >= 1 / 13
    )

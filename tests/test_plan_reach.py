"""The registered fields test_plan.py leaves out, each followed from the protocol to the estimate.

Every value goes through the one translation (:func:`evalkit.analysis.plan.registered_spec`)
and the rows :mod:`evalkit.analysis.effects` chooses, or through
:func:`evalkit.analysis.effects.confirmatory_analysis` itself: the comparison group
and the bundle's registered spec on a staggered pilot (``school_to_work_region``,
four start months), the seed, the synthetic estimators' inferences, the subgroups,
the registered robustness checks (HonestDiD restriction, bounds and target; the
extra event studies) and the multiple-testing family. Each test fails if its
field were dropped on the way (``analysis.subgroup`` too, the triple-differences
subgroup). The pilots are generated in memory and kept small.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

import evalkit.synth as synth
from evalkit.analysis.effects import Design, confirmatory_analysis
from evalkit.analysis.measures import AnalysisFrame, build_analysis_frame
from evalkit.analysis.plan import registered_spec
from evalkit.analysis.sensitivity import robustness_checks
from evalkit.protocol import Protocol, load_protocol
from evalkit.protocol.expressions import evaluate
from evalkit.protocol.model import Hypothesis, Robustness, SensitivityCheck, Subgroup
from evalkit.spec import CORRECTIONS, MULTIPLE_TESTING, RESTRICTIONS, SENSITIVITY_TARGETS

ROOT = Path(__file__).resolve().parents[1]


def _with(protocol: Protocol, **analysis: Any) -> Protocol:
    return dataclasses.replace(
        protocol, analysis=dataclasses.replace(protocol.analysis, **analysis)
    )


def _run(protocol: Protocol, af: AnalysisFrame, outcome: str) -> dict[str, Any]:
    res, errors = Design.of(af, protocol).run(af.data, outcome, registered_spec(protocol))
    assert res is not None, errors
    return res


@pytest.fixture(scope="module")
def demo() -> tuple[Protocol, AnalysisFrame, Any]:
    protocol = load_protocol(ROOT / "protocols" / "demo.yaml")
    panel = synth.generate(synth.PilotDesign.from_protocol(protocol.to_dict()), 1).panel
    return protocol, build_analysis_frame(panel, protocol), panel


@pytest.fixture(scope="module")
def two_treated(demo) -> tuple[Protocol, AnalysisFrame]:
    """The demo with a second pilot municipality (the jackknife leaves one treated unit out)."""
    protocol, _, panel = demo
    second = dataclasses.replace(protocol.units.treated[0], unit="GM9002")
    units = dataclasses.replace(
        protocol.units,
        treated=(*protocol.units.treated, second),
        comparison=tuple(u for u in protocol.units.comparison if u != "GM9002"),
    )
    both = dataclasses.replace(protocol, units=units)
    return both, build_analysis_frame(panel, both)


@pytest.fixture(scope="module")
def staggered() -> tuple[Protocol, AnalysisFrame]:
    """school_to_work_region (8 pilot municipalities, 4 start months), 600 persons, CS analytic."""
    protocol = load_protocol(ROOT / "protocols" / "examples" / "school_to_work_region.yaml")
    design = synth.PilotDesign.from_protocol(protocol.to_dict())
    pilot = synth.generate(dataclasses.replace(design, n_persons=600), 1)
    af = build_analysis_frame(pilot.panel, protocol)
    # a short event window keeps the HonestDiD bounds quick (the conditional test is exact)
    return _with(protocol, inference="analytic", event_window=(-4, 4)), af


#: Values unlike school_to_work_region's registered ones (notyet, dr, 0.05, 2024, RM/mean).
_NON_DEFAULT = {
    "control_group": "never",
    "method": "ipw",
    "alpha": 0.1,
    "seed": 7,
    "robustness": Robustness(
        SensitivityCheck("smoothness", (0.0, 0.02), "first"), ("sun_abraham",)
    ),
}


@pytest.fixture(scope="module")
def staggered_bundle(staggered) -> tuple[Protocol, dict[str, Any]]:
    protocol, af = staggered
    changed = _with(protocol, **_NON_DEFAULT)
    return changed, confirmatory_analysis(af, changed)


def test_control_group_reaches_the_estimate(staggered) -> None:
    protocol, af = staggered
    att = {}
    for control in ("never", "notyet"):
        p = _with(protocol, control_group=control)
        assert registered_spec(p).control == control
        assert registered_spec(p, "alternative_control").control != control
        att[control] = _run(p, af, "neet")["estimate"]
    assert att["never"] != pytest.approx(att["notyet"], abs=1e-6)


def test_the_bundle_carries_a_registered_non_default_spec(staggered, staggered_bundle) -> None:
    protocol, af = staggered
    changed, bundle = staggered_bundle
    part = bundle["confirmatory"]
    expected = {"estimator": "callaway_santanna", "control": "never", "method": "ipw"}
    expected |= {"alpha": 0.1, "seed": 7, "event_window": [-4, 4], "inference": "analytic"}
    for spec in (part["spec"], part["event_study_spec"], *(e["spec"] for e in part["effects"])):
        assert {k: spec[k] for k in expected} == expected
    assert part["alpha"] == 0.1
    main = next(e for e in part["effects"] if e["outcome"] == "neet")["result"]
    # the registered comparison group and alpha reach the estimate the bundle shows
    assert main["estimate"] == pytest.approx(_run(changed, af, "neet")["estimate"], abs=1e-12)
    assert main["estimate"] != pytest.approx(_run(protocol, af, "neet")["estimate"], abs=1e-6)
    half = norm.ppf(0.95) * main["std_error"]
    assert main["conf_high"] - main["conf_low"] == pytest.approx(2 * half, rel=1e-6)
    (other,) = bundle["robustness"]["alternative_control"]
    assert other["control"] == "notyet_treated"


def test_seed_registered_in_the_protocol_reaches_the_bootstrap(demo) -> None:
    protocol, af, _ = demo
    cs = _with(protocol, estimator="callaway_santanna", inference="bootstrap")
    draws = {seed: _run(_with(cs, seed=seed), af, "problematic_debt") for seed in (1, 2)}
    assert [draws[s]["inference_detail"]["seed"] for s in (1, 2)] == [1, 2]
    assert draws[1]["std_error"] != pytest.approx(draws[2]["std_error"], rel=1e-9)
    again = _run(_with(cs, seed=1), af, "problematic_debt")
    assert again["std_error"] == draws[1]["std_error"]  # the same registered seed, the same draws


@pytest.mark.parametrize("estimator", ["synthetic_control", "synthetic_did"])
def test_synthetic_inferences_reach_the_estimate(two_treated, estimator: str) -> None:
    protocol, af = two_treated
    out = {}
    for inference in ("placebo", "conformal", "jackknife"):
        p = _with(protocol, estimator=estimator, inference=inference)
        assert registered_spec(p).inference == inference
        out[inference] = _run(p, af, "problematic_debt")
        assert out[inference]["inference"] == inference
    assert len({round(r["estimate"], 12) for r in out.values()}) == 1  # one fit, three inferences
    intervals = {(r["conf_low"], r["conf_high"], r["p_value"]) for r in out.values()}
    assert len(intervals) == 3


def test_conformal_inference_reaches_a_registered_twfe(demo) -> None:
    protocol, af, _ = demo
    conformal = _run(_with(protocol, inference="conformal"), af, "problematic_debt")
    analytic = _run(_with(protocol, inference="analytic"), af, "problematic_debt")
    assert conformal["inference"] == "conformal" and analytic["inference"] == "analytic"
    assert conformal["conf_low"] != pytest.approx(analytic["conf_low"], rel=1e-6)


@pytest.mark.parametrize("registered", ["conformal", "analytic"])
def test_the_inference_comparison_beside_a_registered_twfe(demo, registered: str) -> None:
    """The four methods beside the registered one, inferred on one fit.

    A conformal main estimate refits inside its estimate, so the four share a fit of
    their own; an analytic one lends its fit. Either way every method has a row.
    """
    from evalkit.analysis.effects import _main_estimate, _side_by_side

    protocol, af, _ = demo
    p = _with(protocol, estimator="twfe", inference=registered)
    design, spec = Design.of(af, p), registered_spec(p)
    outcome = next(o for o in p.outcomes if o.id == "problematic_debt")
    main = _main_estimate(design, outcome, spec)
    assert (main.fitted is None) is (registered == "conformal")
    rows = _side_by_side(design, outcome.id, main, spec)
    assert [r["inference"] for r in rows] == ["analytic", "wild", "permutation", "conley_taber"]
    assert all(r["estimate"] is not None and r["p_value"] is not None for r in rows), rows
    shown = {r["inference"]: r for r in rows}
    if registered == "conformal":  # the same cells as the conformal estimate
        assert main.result[0] is not None
        assert [r["estimate"] for r in rows] == pytest.approx([main.result[0]["estimate"]] * 4)
    else:
        alone = _run(_with(protocol, estimator="twfe", inference="wild"), af, "problematic_debt")
        assert shown["wild"]["conf_low"] == alone["conf_low"]


@pytest.fixture(scope="module")
def family(demo) -> Protocol:
    """The demo (CS, analytic) with four hypotheses: two primary, a secondary, a subgroup's."""
    protocol, _, _ = demo
    more = (
        Hypothesis("H3", "homeless", "decrease", protocol.hypotheses[0].text),
        Hypothesis(
            "H4", "early_school_leaving", "decrease", protocol.hypotheses[0].text, "turning_18"
        ),
    )
    cs = _with(protocol, estimator="callaway_santanna", inference="analytic")
    return dataclasses.replace(cs, hypotheses=(*protocol.hypotheses, *more))


@pytest.fixture(scope="module")
def family_bundles(demo, family) -> dict[str, dict[str, Any]]:
    _, af, _ = demo
    return {
        m: confirmatory_analysis(af, _with(family, multiple_testing=m)) for m in MULTIPLE_TESTING
    }


@pytest.mark.parametrize("method", MULTIPLE_TESTING)
def test_confirmatory_analysis_corrects_as_registered(family_bundles, method: str) -> None:
    part = family_bundles[method]["confirmatory"]
    rows = part["hypotheses"]
    assert [r["id"] for r in rows] == ["H1", "H2", "H3", "H4"]
    assert part["multiple_testing"] == part["family"]["method"] == method
    assert part["family"]["size"] == 4
    raw = [r["p_value"] for r in rows]
    assert np.isfinite(raw).all()
    name = CORRECTIONS[method]
    expected = raw if name is None else list(multipletests(raw, method=name)[1])
    assert [r["p_adjusted"] for r in rows] == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_the_four_corrections_give_four_families(family_bundles) -> None:
    adjusted = {
        m: tuple(r["p_adjusted"] for r in b["confirmatory"]["hypotheses"])
        for m, b in family_bundles.items()
    }
    assert len(set(adjusted.values())) == len(MULTIPLE_TESTING), adjusted


def test_subgroups_are_estimated_on_the_subgroup_only(demo, family_bundles) -> None:
    protocol, af, _ = demo
    bundle = family_bundles["holm"]
    effects = {e["outcome"]: e["result"] for e in bundle["confirmatory"]["effects"]}
    rows = bundle["subgroups"]
    assert {(r["subgroup"], r["outcome"]) for r in rows} == {
        ("turning_18", "problematic_debt"),
        ("turning_18", "neet"),
        ("turning_18", "early_school_leaving"),  # a secondary outcome, for H4
    }
    (sub,) = protocol.population.subgroups
    inside = evaluate(sub.definition, af.data).fillna(False).astype(bool).to_numpy()
    assert 0 < af.data.loc[inside, "person_id"].nunique() < af.data["person_id"].nunique()
    for row in rows:
        assert row["n_persons"] == af.data.loc[inside, "person_id"].nunique()
        assert row["estimate"] != pytest.approx(effects[row["outcome"]]["estimate"], abs=1e-6)
    h4 = next(h for h in bundle["confirmatory"]["hypotheses"] if h["id"] == "H4")
    leaving = next(r for r in rows if r["outcome"] == "early_school_leaving")
    assert h4["subgroup"] == "turning_18" and h4["estimate"] == leaving["estimate"]


def test_the_registered_subgroup_reaches_triple_differences(demo) -> None:
    protocol, af, _ = demo
    (sub,) = protocol.population.subgroups
    older = Subgroup("over_21", sub.label, "age >= 22")
    population = dataclasses.replace(protocol.population, subgroups=(sub, older))
    p = dataclasses.replace(protocol, population=population)
    att = {}
    for name in ("turning_18", "over_21"):
        registered = _with(p, estimator="triple_differences", inference="placebo", subgroup=name)
        res = _run(registered, af, "problematic_debt")
        assert res["estimator"] == "triple_differences" and res["inference"] == "placebo"
        att[name] = res["estimate"]
    assert att["turning_18"] != pytest.approx(att["over_21"], abs=1e-6)


def _checks(protocol: Protocol, af: AnalysisFrame, robustness: Robustness) -> tuple[list, list]:
    """Run ``analysis.robustness`` for neet as confirmatory_analysis does (the same runner)."""
    p = _with(protocol, robustness=robustness)
    run = functools.partial(Design.of(af, p).run, af.data, "neet")
    return robustness_checks(run, p, "neet", [{"estimator": "callaway_santanna"}])


def test_sensitivity_restriction_bounds_and_target_reach_the_rows(staggered) -> None:
    protocol, af = staggered
    bounds = {"relative_magnitudes": (0.5, 1.0), "smoothness": (0.0, 0.01, 0.02)}
    records = {}
    for restriction in RESTRICTIONS:
        for target in SENSITIVITY_TARGETS:
            check = SensitivityCheck(restriction, bounds[restriction], target)  # type: ignore[arg-type]
            (record,), _ = _checks(protocol, af, Robustness(check, ()))
            assert record["error"] is None
            assert (record["restriction"], record["target"]) == (restriction, target)
            assert [r["bound"] for r in record["rows"]] == list(bounds[restriction])
            records[restriction, target] = record
    # the restriction picks the method; the target the effect the bounds are about
    assert {r["method"] for (k, _), r in records.items() if k == "smoothness"} == {"FLCI"}
    assert not {r["method"] for (k, _), r in records.items() if k != "smoothness"} & {"FLCI"}
    for restriction in RESTRICTIONS:
        mean, first = records[restriction, "mean"], records[restriction, "first"]
        assert mean["estimate"] != pytest.approx(first["estimate"], abs=1e-9)
    rm, sd = records["relative_magnitudes", "mean"], records["smoothness", "mean"]
    assert rm["rows"][0]["lb"] != pytest.approx(sd["rows"][0]["lb"], abs=1e-9)


@pytest.mark.parametrize(
    "registered", [(), ("imputation",), ("sun_abraham",), ("imputation", "sun_abraham")]
)
def test_registered_event_studies_reach_the_rows(staggered, registered) -> None:
    protocol, af = staggered
    _, rows = _checks(protocol, af, Robustness(None, registered))
    shown = {r["estimator"] for r in rows}
    assert shown == (set(registered) | {"callaway_santanna"} if registered else set())
    for est in registered:
        times = [r["event_time"] for r in rows if r["estimator"] == est]
        assert times and all(np.isfinite(r["estimate"]) for r in rows if r["estimator"] == est)


def test_registered_robustness_reaches_the_bundle(staggered_bundle) -> None:
    _, bundle = staggered_bundle
    (record,) = bundle["robustness"]["sensitivity"]
    assert (record["restriction"], record["target"], record["method"]) == (
        "smoothness",
        "first",
        "FLCI",
    )
    assert [r["bound"] for r in record["rows"]] == [0.0, 0.02]
    shown = {r["estimator"] for r in bundle["robustness"]["event_studies"]}
    assert shown == {"callaway_santanna", "sun_abraham"}


def test_an_empty_subgroup_and_its_hypothesis_say_why(demo) -> None:
    # not "no rows left after dropping missing values": the subgroup holds no one
    from evalkit.analysis.family import hypothesis_rows
    from evalkit.analysis.subgroup_rows import subgroup_rows

    protocol, af, _ = demo
    (sub,) = protocol.population.subgroups
    nobody = dataclasses.replace(sub, id="nobody", definition="age > 99")
    population = dataclasses.replace(protocol.population, subgroups=(nobody,))
    h = Hypothesis("H3", "neet", "decrease", protocol.hypotheses[0].text, "nobody")
    empty = dataclasses.replace(protocol, population=population, hypotheses=(h,))
    (row,) = subgroup_rows(Design.of(af, empty), ["neet"])
    assert row["estimate"] is None and row["n_persons"] == 0
    assert row["error"] == "no one in the analysed data belongs to the subgroup (age > 99)"
    # with its code, so that a Dutch report says it in Dutch
    assert row["warning_codes"] == [
        {"code": "subgroup_empty", "values": {"definition": "age > 99"}}
    ]
    effects = [{"outcome": "neet", "role": "primary", "result": {"estimate": 0.0}}]
    (listed,) = hypothesis_rows(empty, effects, [row])["hypotheses"]
    assert listed["reason_code"] == "subgroup_not_estimated"
    assert listed["reason_values"]["detail"] == row["error"]
    assert listed["reason"].endswith(
        "(no one in the analysed data belongs to the subgroup (age > 99))"
    )


def test_a_subgroup_on_one_side_only_says_so_with_a_code(demo) -> None:
    """A subgroup of comparison municipalities only has no pilot member to estimate on.

    The estimator's own error said "the treatment indicator has no variation" in
    English, which the Dutch report could only copy.
    """
    from evalkit.analysis.quiet import summary_row
    from evalkit.analysis.subgroup_rows import subgroup_rows

    protocol, af, _ = demo
    (sub,) = protocol.population.subgroups
    outside = dataclasses.replace(sub, id="outside", definition="municipality != 'GM9001'")
    population = dataclasses.replace(protocol.population, subgroups=(outside,))
    design = Design.of(af, dataclasses.replace(protocol, population=population))
    (row,) = subgroup_rows(design, ["neet"])
    assert row["estimate"] is None and row["n_persons"] > 0
    assert [c["code"] for c in row["warning_codes"]] == ["subgroup_no_pilot"]
    assert row["error"].startswith("no one in the pilot group belongs to the subgroup")
    # any other failure keeps the estimator's text and gets the estimate_failed code
    failed = summary_row("neet", None, ["EstimationError: singular"])
    assert failed["warning_codes"] == [
        {"code": "estimate_failed", "values": {"reason": "EstimationError: singular"}}
    ]
    assert failed["warnings"] == ["EstimationError: singular"]

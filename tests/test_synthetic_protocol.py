"""Synthetic estimators in protocols, the design comparison and the report section."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from protocol_helpers import protocol_dict, write_protocol

from evalkit.analysis.design_power import (
    Design,
    applicable_designs,
    compare_designs,
    design_table,
    mde_from_intervals,
    mde_from_sets,
    recommend,
)
from evalkit.cli import main
from evalkit.protocol import check_protocol, load_protocol

ROOT = Path(__file__).resolve().parents[1]


def _check(tmp_path: Path, **analysis: Any) -> Any:
    data = protocol_dict()
    data["analysis"].update(analysis)
    return check_protocol(write_protocol(tmp_path, data))


def test_check_accepts_synthetic_did_with_conformal_and_says_when_it_cannot_reject(tmp_path):
    report = _check(tmp_path, estimator="synthetic_did", inference="conformal")
    assert not report.errors
    # 15 months: conformal p-values in steps of 1/15 > 0.05
    assert any("impossible at alpha = 0.05 with this design" in w for w in report.warnings)


def test_check_explains_each_synthetic_choice(tmp_path):
    cases = [
        ({"estimator": "twfe", "inference": "placebo"}, "'placebo' applies to synthetic_control"),
        ({"estimator": "synthetic_did", "inference": "jackknife"}, "only with more than one"),
        ({"estimator": "synthetic_control", "inference": "wild"}, "uses placebo (comparison"),
        ({"estimator": "synthetic_did", "covariates": ["age"]}, "takes no covariates"),
        ({"estimator": "triple_differences", "inference": "placebo"}, "name one of population"),
    ]
    for analysis, text in cases:
        report = _check(tmp_path, **analysis)
        assert any(text in e for e in report.errors), (analysis, report.errors)
    report = _check(tmp_path, estimator="synthetic_did", inference="placebo", cluster="region")
    assert any("analysis.cluster: synthetic_did compares whole" in w for w in report.warnings)
    # the estimator refuses anticipation: accepted here, every estimate would be missing
    data = protocol_dict()
    data["analysis"].update(estimator="synthetic_control", inference="placebo")
    data["units"]["anticipation_months"] = 1
    errors = check_protocol(write_protocol(tmp_path, data)).errors
    assert any(
        "units.anticipation_months: synthetic_control takes no anticipation" in e for e in errors
    )
    ok = _check(
        tmp_path, estimator="triple_differences", subgroup="turning_18", inference="placebo"
    )
    assert not ok.errors
    assert any("placebo p-values with 4 comparison" in w for w in ok.warnings)


def test_mde_from_intervals_is_the_target_quantile_of_the_interval_ends():
    high = np.arange(1, 11) / 100.0  # intervals [-1, h]: a decrease of m is found when m > h
    low = -np.ones(10)
    mde = mde_from_intervals(low, high, sign=-1.0, target=0.8)
    assert mde == pytest.approx(0.08)
    assert math.isinf(mde_from_intervals(np.full(10, -np.inf), np.full(10, np.inf), -1.0, 0.8))
    assert mde_from_intervals(-high, -low, sign=1.0, target=0.8) == pytest.approx(0.08)


def test_recommend_picks_the_smallest_mde_among_calibrated_designs():
    # calibrated: size at most 5.5 % and coverage within 93-97 %; the fourth design's
    # interval covers 99 % of the time, wider than its 95 % says, and is not offered
    table = pd.DataFrame(
        {
            "outcome": ["y"] * 4,
            "size": [0.04, 0.09, 0.05, 0.01],
            "coverage": [0.96, 0.91, 0.95, 0.99],
            "mde": [0.05, 0.01, 0.03, 0.02],
        }
    )
    out = recommend(table)
    assert out["eligible"].tolist() == [True, False, True, False]
    assert out["recommended"].tolist() == [False, False, True, False]


def test_compare_designs_on_a_small_pilot(tmp_path):
    data = protocol_dict()
    data["units"]["comparison"] = [f"GM90{i:02d}" for i in range(2, 12)]
    data["periods"]["pre"]["start"] = "2023-10"
    data["power"] = {"persons_per_unit": 30, "seed": 3}
    protocol = load_protocol(write_protocol(tmp_path, data))
    names = [d.name for d in applicable_designs(protocol)]
    assert names[0] == "twfe/analytic" and "synthetic_did/conformal" in names
    seen: list[str] = []

    def interval(design: Design, frame: pd.DataFrame) -> tuple[float, float, float, float]:
        seen.append(design.name)
        est = float(frame.loc[frame["treated"] == 1, "y"].mean() - frame["y"].mean())
        if design.inference == "conley_taber":  # 11 units: 1/11 > alpha
            return est, 1 / 11, -math.inf, math.inf
        return est, 0.5, est - 0.1, est + 0.1

    table = compare_designs(
        protocol,
        interval,
        designs=[Design("twfe", "conley_taber"), Design("twfe", "conformal")],
        n_sims=3,
        outcomes=["neet"],
    )
    assert seen.count("twfe/conformal") == 3
    first, second = table.to_dict("records")
    assert first["impossible"] and math.isinf(first["mde"]) and not first["eligible"]
    assert second["size"] == 0.0 and math.isfinite(second["mde"])


def test_power_command_compares_designs_and_says_impossible(tmp_path, capsys):
    data = protocol_dict()
    data["units"]["comparison"] = [f"GM90{i:02d}" for i in range(2, 8)]
    data["periods"]["pre"]["start"] = "2023-07"
    data["analysis"]["inference"] = "permutation"  # 1 of 7 units: p never below 1/7
    data["power"] = {"persons_per_unit": 20, "seed": 3}
    path = write_protocol(tmp_path, data)
    code = main(
        [
            "protocol",
            "power",
            str(path),
            "--n-sims",
            "2",
            "--effects",
            "0,0.05",
            "--build",
            str(tmp_path / "build"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "designs compared under no effect (2 simulated pilots)" in out
    assert "minimal detectable effect (80% power), neet: impossible at alpha = 0.05" in out
    stored = json.loads((tmp_path / "build" / "small" / "power.json").read_text("utf-8"))
    assert {r["design"] for r in stored["designs"]} >= {"twfe/conformal", "synthetic_did/placebo"}


def test_the_shipped_one_municipality_example_registers_a_synthetic_design():
    p = load_protocol(ROOT / "protocols" / "examples" / "one_municipality_conformal.yaml")
    assert (p.analysis.estimator, p.analysis.inference) == ("twfe", "conformal")
    assert len(p.units.treated) == 1
    assert not check_protocol(
        ROOT / "protocols" / "examples" / "one_municipality_conformal.yaml"
    ).errors


def test_report_section_builds_the_weights_table_and_trajectories_from_the_bundle(tmp_path):
    from evalkit.report.context import ReportContext
    from evalkit.report.sections_synthetic import _trajectories, synthetic, weights_frame

    bundle = json.loads((ROOT / "tests" / "data" / "bundle_fixture.json").read_text("utf-8"))
    result = {
        "att": -0.02,
        "inference": "conformal",
        "unit_weights": [
            {"unit": "GM9002", "weight": 0.7},
            {"unit": "GM9003", "weight": 0.3},
            {"unit": "GM9004", "weight": 0.0},
        ],
        "trajectory": [
            {"cohort": 3, "time": t, "treated": 0.1, "synthetic": 0.11, "post": t >= 3}
            for t in range(1, 6)
        ],
    }
    effect = next(e for e in bundle["confirmatory"]["effects"] if e["role"] == "primary")
    effect["result"] = {**(effect.get("result") or {}), **result}
    ctx = ReportContext(bundle, "en", figure_dir=tmp_path)
    frame = weights_frame(ctx, [effect])
    assert frame["unit"].tolist() == ["GM9002", "GM9003"]
    assert frame.iloc[:, 1].tolist() == [0.7, 0.3]
    paths = _trajectories(ctx, [effect])
    # months since the start, as in the event-study figure: the first post month is 0
    assert paths["start"].unique().tolist() == [-0.5]
    assert paths["time"].tolist() == [-2, -1, 0, 1, 2]
    text = synthetic(ctx)
    assert "The synthetic comparison" in text and "figure-synthetic" in text


def test_registered_auto_is_compared_as_the_inference_estimate_will_pick(tmp_path):
    # one pilot of 11 municipalities: estimate() picks permutation, so must the comparison
    # (it simulated Conley–Taber under the name of the registered design)
    data = protocol_dict()
    data["units"]["comparison"] = [f"GM90{i:02d}" for i in range(2, 12)]
    data["analysis"]["inference"] = "auto"
    names = [d.name for d in applicable_designs(load_protocol(write_protocol(tmp_path, data)))]
    assert names[0] == "twfe/permutation"


def test_design_table_counts_coverage_and_power_from_the_pieces_of_a_set():
    # three pilots: a set with zero in its second piece, one with zero in its gap, and
    # an interval; padded with NaN as simulate_designs pads shorter sets
    nan = math.nan
    results = np.array(
        [
            [0.0, 0.5, -0.3, -0.2, -0.1, 0.1],
            [0.0, 0.03, -0.1, -0.01, 0.02, 0.1],
            [0.0, 0.5, -0.05, 0.05, nan, nan],
        ]
    )
    protocol = load_protocol(ROOT / "protocols" / "demo.yaml")
    row = design_table(protocol, [Design("twfe", "conformal")], {"neet": results[None]})
    assert row["coverage"].iloc[0] == pytest.approx(2 / 3)  # the hull would give 3/3
    assert row["size"].iloc[0] == pytest.approx(1 / 3)
    pieces = results[:, 2:].reshape(3, -1, 2)
    # a decrease δ = −m is rejected where m (= −δ) lies outside the null set: just past
    # 0.01 it lies in pilot 2's gap; an increase +m needs −m outside, first past 0.05
    assert mde_from_sets(pieces, -1.0, 1 / 3) == pytest.approx(0.01)
    assert mde_from_sets(pieces, 1.0, 1 / 3) == pytest.approx(0.05)
    assert mde_from_sets(pieces, 1.0, 2 / 3) == pytest.approx(0.1)


def test_conformal_coverage_from_sets_is_one_minus_size_on_simulated_pilots():
    # the demo design (12 municipalities); its first pilot's conformal set has zero in a
    # gap, inside the hull, so coverage from the hull would be 10/10 with size 1/10
    from evalkit.did.designs import design_interval

    protocol = load_protocol(ROOT / "protocols" / "demo.yaml")
    a = protocol.analysis

    def interval(design: Design, frame: pd.DataFrame) -> tuple[float, ...]:
        return design_interval(
            frame, design.estimator, design.inference, alpha=a.alpha, seed=a.seed
        )

    table = compare_designs(
        protocol,
        interval,
        designs=[Design("twfe", "conformal")],
        n_sims=10,
        outcomes=["problematic_debt"],
    )
    row = table.iloc[0]
    assert row["size"] > 0
    assert row["coverage"] == pytest.approx(1 - row["size"])


@pytest.mark.parametrize(
    ("lang", "union"),
    [
        ("nl", "[\u22120,075; \u22120,061] \u222a [0,018; 0,061]"),
        ("en", "[\u22120.075, \u22120.061] \u222a [0.018, 0.061]"),
    ],
)
def test_evaluation_tables_print_a_conformal_set_with_a_gap_as_a_union(tmp_path, lang, union):
    # the shipped one_municipality_conformal's first subgroup (debt, p = 1/30)
    from evalkit.report.context import ReportContext
    from evalkit.report.sections_results import effects_table, subgroups

    bundle = json.loads((ROOT / "tests" / "data" / "bundle_fixture.json").read_text("utf-8"))
    pieces = [[-0.0753, -0.0612], [0.0181, 0.0610]]
    numbers = {"conf_low": -0.0753, "conf_high": 0.0610, "p_value": 1 / 30, "conf_set": pieces}
    bundle["subgroups"][0].update(numbers)
    effect = bundle["confirmatory"]["effects"][0]
    effect["result"].update(numbers)
    ctx = ReportContext(bundle, lang, figure_dir=tmp_path)
    assert union in subgroups(ctx)
    assert effect["role"] == "primary"
    assert union in effects_table(ctx, "primary", "effects_primary", "c.effects_primary")
    # the exports keep the hull's two columns, and no list
    table = ctx.tables[0].export()
    assert "conf_set" not in table.columns and "conf_low" in table.columns


def test_check_says_conformal_with_a_level_needs_a_pre_period_longer_than_the_post_period(
    tmp_path,
):
    data = protocol_dict()
    data["analysis"].update(estimator="synthetic_did", inference="conformal")
    data["periods"]["pre"] = {"start": "2024-01", "end": "2025-09"}  # 21 months against 6
    assert not [
        w for w in check_protocol(write_protocol(tmp_path, data)).warnings if "pre-period" in w
    ]
    data["periods"]["pre"] = {"start": "2025-06", "end": "2025-09"}  # 4 months against 6
    warned = [
        w for w in check_protocol(write_protocol(tmp_path, data)).warnings if "pre-period" in w
    ]
    assert warned and "pre-period of 4 months, not longer than the post-period (6)" in warned[0]
    data["analysis"]["estimator"] = "synthetic_control"
    assert not [
        w for w in check_protocol(write_protocol(tmp_path, data)).warnings if "pre-period" in w
    ]

"""Triple differences in the design comparison: subgroups, subgroup cells, the DDD interval."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from protocol_helpers import protocol_dict, write_protocol

from evalkit.analysis.design_power import (
    SUBGROUP,
    Design,
    applicable_designs,
    compare_designs,
    subgroup_cells,
    withheld_designs,
)
from evalkit.analysis.power import _cell_means, _design, power_targets
from evalkit.cli import main
from evalkit.did.designs import design_interval
from evalkit.protocol import load_protocol
from evalkit.protocol.expressions import evaluate
from evalkit.synth import simulate_outcome_panel
from evalkit.synth._population import make_population

DDD = "triple_differences(turning_18)"


def _protocol(tmp_path, **analysis):
    data = protocol_dict()
    data["population"]["subgroups"].append(
        {
            "id": "practical_school",
            "label": {"nl": "Praktijkonderwijs", "en": "Practical education"},
            "definition": "school_type in ['pro']",
        }
    )
    data["analysis"].update(analysis)
    data["power"] = {"persons_per_unit": 40, "seed": 3}
    return load_protocol(write_protocol(tmp_path, data))


def test_triple_differences_is_compared_for_each_subgroup_the_simulation_can_form(tmp_path):
    protocol = _protocol(tmp_path)
    names = [d.name for d in applicable_designs(protocol)]
    assert f"{DDD}/placebo" in names
    # the generator's panel has no school type: that subgroup cannot be simulated
    assert not any("practical_school" in n for n in names)


def test_conformal_triple_differences_is_withheld_for_a_birth_cohort_with_the_reason(tmp_path):
    protocol = _protocol(tmp_path)
    assert f"{DDD}/conformal" not in [d.name for d in applicable_designs(protocol)]
    [(design, reason)] = withheld_designs(protocol)
    assert design == Design("triple_differences", "conformal", "turning_18")
    assert "birth cohort" in reason and "permutation of months" in reason
    # an age band is a rolling group, not a cohort: its conformal design is offered
    data = protocol_dict()
    data["population"]["subgroups"] = [
        {
            "id": "young_adults",
            "label": {"nl": "18 tot 21", "en": "18 to 21"},
            "definition": "age >= 18 and age <= 20",
        }
    ]
    band = load_protocol(write_protocol(tmp_path, data, "band.yaml"))
    assert "triple_differences(young_adults)/conformal" in [
        d.name for d in applicable_designs(band)
    ]
    assert withheld_designs(band) == []


def test_a_registered_triple_differences_design_is_compared_on_its_own_subgroup(tmp_path):
    protocol = _protocol(
        tmp_path, estimator="triple_differences", subgroup="turning_18", inference="placebo"
    )
    designs = applicable_designs(protocol)
    assert designs[0] == Design("triple_differences", "placebo", "turning_18")
    assert designs[0].estimand == "subgroup turning_18"
    assert [d.name for d in designs].count(f"{DDD}/placebo") == 1


def test_the_fast_panel_forms_the_generators_turning_18_group(tmp_path):
    protocol = _protocol(tmp_path)
    targets, _ = power_targets(protocol)
    design = _design(protocol, targets).replace(effects={})
    panel = simulate_outcome_panel(design, 5, outcomes=["neet"])
    mask = evaluate(protocol.subgroup("turning_18").definition, panel).to_numpy(dtype=bool)
    truth = make_population(design, 5).turning_18[panel["person"].to_numpy()]
    assert mask.any()
    np.testing.assert_array_equal(mask, truth)


def test_subgroup_cells_split_each_municipality_month_and_average_back(tmp_path):
    protocol = _protocol(tmp_path)
    targets, _ = power_targets(protocol)
    design = _design(protocol, targets).replace(effects={})
    panel = simulate_outcome_panel(design, 7, outcomes=["neet"])
    cells = subgroup_cells(panel, "neet", protocol.subgroup("turning_18").definition)
    whole = _cell_means(panel, "neet").set_index(["unit", "time"])
    assert set(cells[SUBGROUP]) == {0, 1}
    assert not cells.duplicated(["unit", "time", SUBGROUP]).any()
    pooled = cells.assign(s=cells["y"] * cells["n"]).groupby(["unit", "time"])[["s", "n"]].sum()
    np.testing.assert_allclose(pooled["s"] / pooled["n"], whole.loc[pooled.index, "y"])
    np.testing.assert_array_equal(pooled["n"], whole.loc[pooled.index, "n"])
    treated = cells[cells["treated"] == 1]
    assert set(treated["unit"]) == {"GM9001"} and set(treated[SUBGROUP]) == {0, 1}


def test_compare_designs_hands_triple_differences_the_subgroup_cells(tmp_path):
    protocol = _protocol(tmp_path)
    seen: dict[str, list[str]] = {}

    def interval(design: Design, frame: pd.DataFrame) -> tuple[float, float, float, float]:
        seen[design.name] = list(frame.columns)
        return 0.0, 0.5, -1.0, 1.0

    table = compare_designs(
        protocol,
        interval,
        designs=[
            Design("twfe", "conformal"),
            Design("triple_differences", "placebo", "turning_18"),
        ],
        n_sims=1,
    )
    assert SUBGROUP not in seen["twfe/conformal"]
    assert SUBGROUP in seen[f"{DDD}/placebo"]
    assert table["estimand"].tolist() == ["population", "subgroup turning_18"]
    assert table["failed"].tolist() == [0.0, 0.0]


def test_design_interval_runs_triple_differences_as_did_of_subgroup_differences():
    rng = np.random.default_rng(4)
    units, times = [f"u{i}" for i in range(6)], range(1, 9)
    rows = [
        {"unit": u, "time": t, SUBGROUP: g, "treated": int(u == "u0" and t >= 6)}
        for u in units
        for t in times
        for g in (0, 1)
    ]
    frame = pd.DataFrame(rows).assign(y=rng.normal(size=len(rows)))
    est, p, low, high = design_interval(frame, "triple_differences", "placebo", alpha=0.05, seed=1)
    diff = frame.pivot_table(index=["unit", "time"], columns=SUBGROUP, values="y")
    gap = (diff[1] - diff[0]).unstack("time")
    change = gap.loc[:, 6:].mean(axis=1) - gap.loc[:, :5].mean(axis=1)
    assert est == pytest.approx(change["u0"] - change.drop("u0").mean(), abs=1e-10)
    # five comparison units: placebo p-values in steps of 1/6 cannot reach 0.05
    assert 0 < p <= 1 and math.isinf(low) and math.isinf(high)


def test_power_command_shows_triple_differences_and_why_its_conformal_design_is_not_offered(
    tmp_path, capsys
):
    data = protocol_dict()
    data["units"]["comparison"] = [f"GM90{i:02d}" for i in range(2, 8)]
    data["power"] = {"persons_per_unit": 20, "seed": 3}
    path = write_protocol(tmp_path, data)
    argv = ["protocol", "power", str(path), "--n-sims", "2", "--effects", "0,0.05"]
    code = main([*argv, "--build", str(tmp_path / "build")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{DDD}/placebo" in out and "effect in subgroup turning_18" in out
    assert f"{DDD}/conformal: not offered: subgroup 'turning_18' is a birth cohort" in out
    assert "Monte Carlo error of a size near 5% with 2 pilots: ±30.2% (95 %)" in out


def test_power_table_says_which_condition_keeps_a_design_from_being_offered():
    from types import SimpleNamespace

    from evalkit._cli.protocol import _design_note

    row = dict(impossible=False, recommended=False, estimand="population", failed=0.0)
    over = SimpleNamespace(**row, size=0.062, coverage=0.95)
    assert _design_note(over, 0.05) == "not offered: size 6.2% > 5.5% under no effect"
    narrow = SimpleNamespace(**row, size=0.05, coverage=0.91)
    assert _design_note(narrow, 0.05) == "not offered: coverage 91.0% < 93%"
    ddd = SimpleNamespace(**{**row, "estimand": "subgroup turning_18", "failed": 0.25})
    text = _design_note(SimpleNamespace(**vars(ddd), size=0.01, coverage=0.99), 0.05)
    assert text == (
        "not offered: coverage 99.0% > 97% (interval too wide) "
        "(MDE of the effect in subgroup turning_18, relative to the others); "
        "could not be estimated in 25% of pilots"
    )
    calibrated = _design_note(SimpleNamespace(**vars(ddd), size=0.04, coverage=0.96), 0.05)
    assert calibrated.startswith("(MDE of the effect in subgroup turning_18")

"""Power by simulating the declared design: near 1 for a large effect, near alpha for none."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from protocol_helpers import protocol_dict, write_protocol
from scipy import stats

from evalkit.analysis.power import _mde, power_targets, simulate_power
from evalkit.errors import ProtocolError
from evalkit.protocol import load_protocol


def unit_level_test(frame: pd.DataFrame) -> tuple[float, float, float]:
    """DiD of unit means, post minus pre, compared across groups with a Welch t-test."""
    post = frame["time"] >= frame.loc[frame["group"] == 1, "cohort"].min()
    means = frame.assign(post=post).groupby(["unit", "group", "post"])["y"].mean().unstack()
    change = (means[True] - means[False]).reset_index()
    treated = change.loc[change["group"] == 1, 0]
    control = change.loc[change["group"] == 0, 0]
    t, p = stats.ttest_ind(treated, control, equal_var=False)
    att = float(treated.mean() - control.mean())
    return att, float(att / t) if t else math.nan, float(p)


@pytest.fixture
def design(tmp_path: Path) -> Path:
    data = protocol_dict()
    data["units"]["treated"] = [{"unit": f"GM90{i:02d}", "start": "2025-10"} for i in range(1, 7)]
    data["units"]["comparison"] = [f"GM90{i:02d}" for i in range(7, 13)]
    data["outcomes"][0]["expected_direction"] = "increase"
    data["hypotheses"][0]["direction"] = "increase"
    data["analysis"]["few_treated_threshold"] = 5
    data["power"] = {
        "n_sims": 100,
        "icc": 0.01,
        "serial_correlation": 0.5,
        "persons_per_unit": 60,
        "base_rates": {"neet": 0.2},
        "seed": 7,
    }
    return write_protocol(tmp_path, data)


def test_power_near_one_for_large_effect_and_near_alpha_for_none(design: Path):
    protocol = load_protocol(design)
    table = simulate_power(protocol, unit_level_test, effects=[0.0, 0.15])
    assert list(table.columns[:5]) == ["outcome", "effect", "power", "mde", "n_sims"]
    assert table["outcome"].tolist() == ["neet", "neet"]
    assert table["effect"].tolist() == [0.0, 0.15]
    null, large = table["power"].tolist()
    assert abs(null - 0.05) <= 0.07, null
    assert large >= 0.95, large
    assert table["n_sims"].eq(100).all()
    mean_large = table["mean_estimate"].iloc[1]
    assert mean_large == pytest.approx(0.15, abs=0.03)
    assert 0 < table["mde"].iloc[0] < 0.15


def test_power_is_reproducible_and_depends_on_the_seed(design: Path):
    protocol = load_protocol(design)
    one = simulate_power(protocol, unit_level_test, effects=[0.05], n_sims=15)
    two = simulate_power(protocol, unit_level_test, effects=[0.05], n_sims=15)
    other = simulate_power(protocol, unit_level_test, effects=[0.05], n_sims=15, seed=8)
    pd.testing.assert_frame_equal(one, two)
    assert one["mean_estimate"].iloc[0] != other["mean_estimate"].iloc[0]


def test_default_effect_grid_follows_smallest_effect_and_direction(tmp_path: Path):
    data = protocol_dict()
    data["power"] = {"persons_per_unit": 20, "n_sims": 2}
    protocol = load_protocol(write_protocol(tmp_path, data))
    table = simulate_power(protocol, unit_level_test)
    # neet: decrease, smallest effect 0.01 -> 0, -0.005, -0.01, -0.015, -0.02, -0.03
    assert np.allclose(table["effect"], [0.0, -0.005, -0.01, -0.015, -0.02, -0.03])


def test_unsimulable_outcomes_are_skipped_with_a_note(tmp_path: Path):
    data = protocol_dict()
    data["outcomes"][0]["definition"] = "neet and not employed"
    protocol = load_protocol(write_protocol(tmp_path, data))
    targets, skipped = power_targets(protocol)
    assert targets == []
    assert skipped[0].startswith("outcomes[neet]: the generator simulates only the panel columns")
    with pytest.raises(ProtocolError, match="no outcome can be simulated for power"):
        simulate_power(protocol, unit_level_test, n_sims=1)


def test_mde_interpolates_the_power_curve():
    assert _mde([0.0, -0.01, -0.02], [0.05, 0.5, 0.9], 0.8) == pytest.approx(0.0175)
    assert math.isnan(_mde([0.0, 0.01], [0.05, 0.3], 0.8))

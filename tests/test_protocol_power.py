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
    assert list(table.columns[:6]) == [
        "outcome",
        "effect",
        "nominal_effect",
        "power",
        "mde",
        "n_sims",
    ]
    assert table["outcome"].tolist() == ["neet", "neet"]
    assert table["nominal_effect"].tolist() == [0.0, 0.15]
    # the effect is the realised effect on the treated (mean of Y(1) - Y(0) where the
    # pilot acts), near but not equal to the generator's parameter
    realised = table["effect"].tolist()
    assert realised[0] == 0.0 and 0.10 < realised[1] < 0.18, realised
    assert realised[1] != 0.15
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
    assert np.allclose(table["nominal_effect"], [0.0, -0.005, -0.01, -0.015, -0.02, -0.03])


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


def test_power_counts_a_p_value_equal_to_alpha_as_a_rejection(design: Path):
    # one treated of twenty: the smallest randomization p-value is 1/21 (Conley–Taber: 1/(20+1));
    # a p-value exactly at alpha rejects, as the interval does (one rule: p <= alpha)
    protocol = load_protocol(design)
    alpha = protocol.analysis.alpha

    def at_alpha(frame: pd.DataFrame) -> tuple[float, float, float]:
        return 0.0, math.nan, alpha

    table = simulate_power(protocol, at_alpha, effects=[0.0], n_sims=2)
    assert table["power"].tolist() == [1.0]


@pytest.mark.parametrize("command", ["check", "power"])
def test_persons_per_unit_has_a_maximum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """10**9 persons per unit passed the check and made `protocol power` allocate 114 GiB."""
    from evalkit.cli import main
    from evalkit.protocol._fields import MAX_PERSONS_PER_UNIT

    data = protocol_dict()
    data["power"] = {"persons_per_unit": 10**9, "n_sims": 1}
    path = write_protocol(tmp_path, data)
    assert main(["protocol", command, str(path)]) == 1
    said = capsys.readouterr()
    text = said.out + said.err  # `check` lists its findings on stdout
    assert f"power.persons_per_unit: 1000000000 is above the maximum {MAX_PERSONS_PER_UNIT}" in text
    assert "Traceback" not in text and "Error:" not in text
    data["power"]["persons_per_unit"] = MAX_PERSONS_PER_UNIT
    assert main(["protocol", "check", str(write_protocol(tmp_path, data))]) == 0
    capsys.readouterr()


def test_a_declared_population_too_large_to_simulate_is_refused(tmp_path: Path):
    """Without ``power.persons_per_unit`` the simulation takes ``sample_size.persons``.

    10**9 declared young people took 21 GB before the system killed the process; here
    60,000 over five municipalities, more than 10,000 each.
    """
    data = protocol_dict()
    data.pop("power", None)
    data["sample_size"] = {"persons": 60_000}
    protocol = load_protocol(write_protocol(tmp_path, data))
    message = r"sample_size.persons: 60,000 young people over 5 municipalities"
    with pytest.raises(ProtocolError, match=message):
        simulate_power(protocol, unit_level_test, n_sims=1)
    data["power"] = {"persons_per_unit": 20, "n_sims": 1}
    protocol = load_protocol(write_protocol(tmp_path, data))
    assert len(simulate_power(protocol, unit_level_test, effects=[0.0])) == 1

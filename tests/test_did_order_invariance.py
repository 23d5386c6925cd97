"""The same data in another row order, or under other unit labels, give the same numbers.

Every random draw (placebos, permutations, Conley–Taber, the wild bootstrap) follows
the sorted unit (cluster) labels and the seed. Shuffling rows and a monotone
relabelling therefore change nothing; a relabelling that changes the labels' order
changes which placebos or permutations are sampled (by design, documented in
README), and only the solver's rounding when every assignment is enumerated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_did_synthetic import _panel

from evalkit.did import estimate

KEYS = ("att", "se", "p_value", "ci_low", "ci_high")


def _numbers(result) -> tuple[float, ...]:
    return tuple(getattr(result, k) for k in KEYS)


def _relabel(data: pd.DataFrame, monotone: bool) -> pd.DataFrame:
    names = sorted(data["unit"].unique())
    new = [f"k{i:03d}" for i in range(len(names))]
    mapping = dict(zip(names, new if monotone else new[::-1], strict=True))
    return data.assign(unit=data["unit"].map(mapping))


def _shuffled(data: pd.DataFrame, seed: int) -> pd.DataFrame:
    return data.sample(frac=1, random_state=seed).reset_index(drop=True)


def _same(a, b) -> None:
    assert np.allclose(_numbers(a), _numbers(b), rtol=0, atol=0, equal_nan=True)


SYNTH = {"outcome": "y", "unit": "unit", "time": "time", "treated": "d"}


@pytest.mark.parametrize("estimator", ["synthetic_control", "synthetic_did"])
@pytest.mark.parametrize("n_placebo", [5, 199])  # sampled (5 of 13) and enumerated
def test_synthetic_placebo_is_exactly_invariant_to_row_order_and_monotone_labels(
    estimator, n_placebo
) -> None:
    data = _panel(n_units=14, effect=2.0)
    kw = {**SYNTH, "estimator": estimator, "inference": "placebo", "n_placebo": n_placebo}
    ref = estimate(data, **kw)
    assert ref.inference_detail["sampled"] is (n_placebo == 5)
    if n_placebo == 5:  # what an evaluator needs to reproduce the draw
        assert ref.inference_detail["seed"] == 0
        assert ref.inference_detail["draw_order"] == "sorted unit labels"
    for seed in (1, 2):
        _same(estimate(_shuffled(data, seed), **kw), ref)
    _same(estimate(_relabel(_shuffled(data, 3), monotone=True), **kw), ref)


@pytest.mark.parametrize("estimator", ["synthetic_control", "synthetic_did"])
def test_synthetic_placebo_under_a_non_monotone_relabelling(estimator) -> None:
    data = _panel(n_units=14, effect=2.0)
    kw = {**SYNTH, "estimator": estimator, "inference": "placebo"}
    # every placebo enumerated: the same numbers up to the solver's rounding
    ref, got = estimate(data, **kw), estimate(_relabel(data, monotone=False), **kw)
    assert got.p_value == ref.p_value
    assert np.allclose(_numbers(got), _numbers(ref), rtol=1e-6)
    # sampled: the draw follows the sorted labels, so other labels draw other placebos,
    # and the same labels the same ones whatever the row order
    few = {**kw, "n_placebo": 5}
    relabelled = _relabel(data, monotone=False)
    a = estimate(relabelled, **few)
    _same(estimate(_shuffled(relabelled, 4), **few), a)
    assert a.att == pytest.approx(ref.att, rel=1e-9)


def _cells() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for m in range(16):
        for t in range(1, 21):
            for p in range(6):
                g, d = p % 2, int(m == 0 and t >= 15)
                rows.append((f"m{m:02d}", t, g, d, 0.1 * m + rng.normal() + 0.5 * d * g))
    return pd.DataFrame(rows, columns=["unit", "time", "sub", "d", "y"])


@pytest.mark.parametrize("base", ["did", "synthetic_did"])
def test_triple_differences_is_exactly_invariant_to_row_order(base) -> None:
    # the cell means were summed in the export's row order: shuffled rows moved the
    # estimate in its last bits
    data = _cells()
    kw = {**SYNTH, "estimator": "triple_differences", "subgroup": "sub", "base": base}
    kw["n_placebo"] = 5
    ref = estimate(data, **kw)
    for seed in (1, 2, 3):
        _same(estimate(_shuffled(data, seed), **kw), ref)
    _same(estimate(_relabel(_shuffled(data, 4), monotone=True), **kw), ref)


def _staggered() -> pd.DataFrame:
    data = _panel(n_units=24, effect=2.0, treated=(0, 1, 2))
    data["g"] = np.where(data["unit"].isin(["u00", "u01", "u02"]), 21, 0)
    return data


REGRESSION = [
    ("twfe", {"inference": "permutation", "n_perm": 49, "max_enumerate": 10}),
    ("twfe", {"inference": "permutation"}),  # every assignment enumerated
    ("twfe", {"inference": "conley_taber", "n_sim": 49, "max_enumerate": 10}),
    ("twfe", {"inference": "wild", "n_boot": 49}),
    ("event_study", {"inference": "permutation", "n_perm": 49, "max_enumerate": 10}),
]


@pytest.mark.parametrize(("estimator", "options"), REGRESSION)
def test_regression_inference_draws_follow_sorted_clusters_not_row_order(
    estimator, options
) -> None:
    # clusters were coded in order of first appearance: the same data in another row
    # order drew other permutations and other bootstrap weights
    data = _staggered()
    kw = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "g", "estimator": estimator}
    kw |= options
    ref = estimate(data, **kw)
    for seed in (1, 2):
        got = estimate(_shuffled(data, seed), **kw)
        assert got.p_value == ref.p_value
        assert np.allclose(_numbers(got), _numbers(ref), rtol=1e-9, equal_nan=True)
    got = estimate(_relabel(_shuffled(data, 3), monotone=True), **kw)
    assert np.allclose(_numbers(got), _numbers(ref), rtol=1e-9, equal_nan=True)

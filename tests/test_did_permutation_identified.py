"""Permutation inference when some assignments do not identify the effect (issue #12, item 3).

A municipality observed only after the start: moving the treatment there makes it
collinear with that municipality's fixed effects. That assignment defines no effect,
so the test runs over the others; before, one such assignment stopped the whole
analysis with ``LinAlgError: Singular matrix`` (``debt_free_future`` under ``make
report``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.did import estimate
from evalkit.errors import EstimationError

COLUMNS = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort", "cluster": "muni"}


def _panel() -> pd.DataFrame:
    """8 municipalities × 5 people × 6 periods; m0 treated from 4; m5 observed from 4 only."""
    rng = np.random.default_rng(0)
    rows = []
    for g in range(8):
        for p in range(5):
            for t in range(4 if g == 5 else 1, 7):
                effect = 1.0 if g == 0 and t >= 4 else 0.0
                rows.append((f"m{g}-{p}", f"m{g}", t, 4 if g == 0 else 0, rng.normal() + effect))
    return pd.DataFrame(rows, columns=["unit", "muni", "time", "cohort", "y"])


def test_permutation_leaves_out_assignments_that_identify_nothing() -> None:
    df = _panel()
    res = estimate(df, estimator="twfe", inference="permutation", **COLUMNS)
    # by hand: move the pilot to each municipality, refit, keep the estimable ones
    estimates = {}
    for g in sorted(df["muni"].unique()):
        moved = df.assign(cohort=np.where(df["muni"] == g, 4, 0))
        try:
            fit = estimate(moved, estimator="twfe", inference="analytic", **COLUMNS)
        except EstimationError:
            continue
        estimates[g] = fit.att
    assert "m5" not in estimates and len(estimates) == 7
    observed = abs(estimates["m0"])
    p_by_hand = np.mean([abs(v) >= observed - 1e-12 for v in estimates.values()])
    assert res.p_value == pytest.approx(p_by_hand)
    assert res.inference_detail["assignments"] == 7
    codes = [n.code for n in res.notes]
    assert "permutation_not_identified" in codes


def test_a_pilot_observed_only_after_its_start_is_refused_with_the_reason() -> None:
    df = _panel()
    df = df.assign(cohort=np.where(df["muni"] == "m5", 4, 0))
    with pytest.raises(EstimationError, match=r"collinear|not identified|fixed effects"):
        estimate(df, estimator="twfe", inference="permutation", **COLUMNS)


#: Periods observed per municipality (m0 the pilot, from period 8): m3's only period after
#: the start, 9, is observed nowhere else, so the period effect absorbs a treatment moved
#: there; rounding leaves a Gram of about 1e-23 instead of 0 (the shape of a demo
#: protocol's quarterly norm table).
_PERIODS = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
    [2, 4, 5, 6, 8],
    [0, 1, 2, 3, 5, 6, 7],
    [2, 4, 9],
    [4, 6, 7],
    [2, 3, 4, 5, 6],
    [0, 1, 2, 3, 5, 6],
    [4, 5, 8],
    [0, 1, 3, 4, 5, 6, 7],
    [0, 2, 3, 4, 6],
    [2, 5, 6],
    [0, 2, 3, 5, 6],
]


def _sparse_cells() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = [
        (f"m{g}", f"m{g}", t, 8 if g == 0 else 0, rng.normal())
        for g, periods in enumerate(_PERIODS)
        for t in periods
    ]
    return pd.DataFrame(rows, columns=["unit", "muni", "time", "cohort", "y"])


def test_rounding_residue_of_a_collinear_assignment_is_not_an_estimate() -> None:
    df = _sparse_cells()
    res = estimate(df, estimator="twfe", inference="permutation", **COLUMNS)
    estimable = []
    for g in range(len(_PERIODS)):
        moved = df.assign(cohort=np.where(df["muni"] == f"m{g}", 8, 0))
        treated = ((moved["cohort"] > 0) & (moved["time"] >= 8)).to_numpy(float)
        dummies = pd.get_dummies(moved[["unit", "time"]].astype(str)).to_numpy(float)
        # identified when the treatment is not in the span of the unit and period dummies
        full = np.linalg.matrix_rank(np.column_stack([dummies, treated]))
        estimable.append(full > np.linalg.matrix_rank(dummies))
    assert [g for g, ok in enumerate(estimable) if ok] == [0, 1, 7]  # m3 is not
    assert res.inference_detail["assignments"] == 3
    left_out = [n for n in res.notes if n.code == "permutation_not_identified"]
    assert left_out and left_out[0].values["left_out"] == 9

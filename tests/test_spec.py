"""The analysis specification: one declaration, and every field reaches the estimate."""

from __future__ import annotations

import argparse
from typing import get_args

import numpy as np
import pandas as pd
import pytest

import evalkit.spec as spec_module
from evalkit.did import estimate
from evalkit.errors import EstimationError
from evalkit.protocol._fields import PROTOCOL_SPEC
from evalkit.spec import (
    ESTIMATORS,
    FEW_TREATED_THRESHOLD,
    REGISTRABLE_ESTIMATORS,
    Spec,
    as_spec,
)


def _staggered(seed: int = 0) -> pd.DataFrame:
    """Balanced panel, cohorts 4, 6 (+ never), effects growing with event time."""
    rng = np.random.default_rng(seed)
    cohorts = [4] * 6 + [6] * 6 + [0] * 8
    rows = []
    for i, g in enumerate(cohorts):
        a = rng.normal()
        for t in range(1, 11):
            eff = (1.0 + 0.5 * (t - g)) if g and t >= g - 1 else 0.0
            rows.append((f"u{i}", f"c{i % 10}", t, g, a + 0.1 * t + eff + 0.3 * rng.normal()))
    return pd.DataFrame(rows, columns=["id", "region", "t", "cohort", "y"])


COLUMNS = {"outcome": "y", "unit": "id", "time": "t", "cohort": "cohort"}


def test_allowed_values_are_declared_once_and_derived() -> None:
    assert ESTIMATORS == get_args(spec_module.Estimator)
    analysis = PROTOCOL_SPEC.fields["analysis"].fields
    assert analysis["estimator"].allowed == REGISTRABLE_ESTIMATORS
    assert analysis["control_group"].allowed == spec_module.CONTROLS
    assert analysis["method"].allowed == spec_module.METHODS
    assert analysis["base_period"].allowed == spec_module.BASE_PERIODS
    assert analysis["inference"].allowed == ("auto", *spec_module.INFERENCES)
    assert analysis["multiple_testing"].allowed == spec_module.MULTIPLE_TESTING
    assert analysis["few_treated_threshold"].default == FEW_TREATED_THRESHOLD
    assert set(spec_module.CORRECTIONS) == set(spec_module.MULTIPLE_TESTING)


def test_cli_choices_are_the_spec_declaration() -> None:
    from evalkit._cli import did as did_cli

    parser = argparse.ArgumentParser()
    did_cli.add_parser(parser.add_subparsers())
    sub = parser._subparsers._group_actions[0].choices["did"]  # type: ignore[union-attr]
    choices = {a.dest: a.choices for a in sub._actions if a.choices}
    assert tuple(choices["estimator"]) == ESTIMATORS
    assert tuple(choices["control"]) == spec_module.CONTROLS
    assert tuple(choices["method"]) == spec_module.METHODS
    assert tuple(choices["base_period"]) == spec_module.BASE_PERIODS
    assert tuple(choices["vcov"]) == spec_module.VCOVS
    assert tuple(choices["inference"]) == spec_module.INFERENCES


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("estimator", "ols", "estimator must be one of '2x2', 'twfe'"),
        ("control", "later", "control must be one of 'never', 'notyet'"),
        ("method", "ml", "method must be one of 'dr', 'ipw', 'reg'"),
        ("base_period", "fixed", "base_period must be one of 'varying', 'universal'"),
        ("inference", "bayesian", "inference must be one of 'analytic'"),
        ("vcov", "hac", "vcov must be one of 'iid', 'hetero', 'cluster'"),
        ("anticipation", -1, "anticipation must be a whole number ≥ 0"),
        ("few_treated_threshold", 0, "few_treated_threshold must be a whole number ≥ 1"),
        ("alpha", 1.5, "alpha must be between 0 and 1"),
        ("event_window", (1, 3), "event_window must run from an event time ≤ -1"),
        ("seed", -2, "seed must be a whole number from 0 to 4294967295"),
        ("seed", 2**32, "seed must be a whole number from 0 to 4294967295"),
    ],
)
def test_a_value_that_is_not_allowed_is_refused_with_the_allowed_ones(
    field: str, value: object, message: str
) -> None:
    choices = {"estimator": "twfe", field: value}
    with pytest.raises(EstimationError, match=message):
        Spec(**choices)  # type: ignore[arg-type]


def test_keywords_and_spec_are_the_same_estimate() -> None:
    df = _staggered()
    spec = Spec("twfe", inference="analytic", cluster="region")
    by_spec = estimate(df, spec, **COLUMNS).to_dict()
    by_keywords = estimate(df, estimator="twfe", inference="analytic", cluster="region", **COLUMNS)
    assert by_spec == by_keywords.to_dict()
    with pytest.raises(EstimationError, match="given both in spec= and as keyword"):
        estimate(df, spec, estimator="twfe", **COLUMNS)
    with pytest.raises(EstimationError, match="estimator= is required"):
        as_spec(None, {"control": "never"})
    assert repr(spec) == "Spec('twfe', cluster='region', inference='analytic')"


def _moved(df: pd.DataFrame, k: int) -> pd.DataFrame:
    out = df.copy()
    out["cohort"] = np.where(out["cohort"] > 0, out["cohort"] - k, 0)
    return out


@pytest.mark.parametrize("k", [0, 1, 2])
def test_anticipation_treats_the_months_before_the_start_as_treated(k: int) -> None:
    """TWFE with anticipation k equals TWFE on cohorts moved k periods earlier."""
    df = _staggered()
    res = estimate(df, Spec("twfe", anticipation=k, inference="analytic"), **COLUMNS)
    moved = estimate(_moved(df, k), Spec("twfe", inference="analytic"), **COLUMNS)
    assert res.att == pytest.approx(moved.att, abs=1e-10)
    assert res.se == pytest.approx(moved.se, rel=1e-10)


def test_anticipation_gives_different_estimates() -> None:
    df = _staggered()
    atts = {
        k: estimate(df, Spec("twfe", anticipation=k, inference="analytic"), **COLUMNS).att
        for k in (0, 1, 2)
    }
    assert len({round(v, 8) for v in atts.values()}) == 3


@pytest.mark.parametrize("k", [0, 1, 2])
def test_anticipation_moves_the_event_study_reference_period(k: int) -> None:
    df = _staggered()
    res = estimate(df, Spec("event_study", anticipation=k, inference="analytic"), **COLUMNS)
    assert res.to_dict()["reference_period"] == -1 - k
    events = res.tidy().dropna(subset=["event_time"])
    assert -1 - k not in set(events["event_time"])
    moved = estimate(_moved(df, k), Spec("event_study", inference="analytic"), **COLUMNS)
    expected = moved.tidy().dropna(subset=["event_time"])
    assert list(events["event_time"]) == [int(e) - k for e in expected["event_time"]]
    np.testing.assert_allclose(events["estimate"], expected["estimate"], atol=1e-10)
    # The headline averages event times from the registered start on (e ≥ 0).
    post = events.loc[events["event_time"] >= 0, "estimate"].mean()
    assert res.att == pytest.approx(post, abs=1e-10)


def test_anticipation_reaches_callaway_santanna() -> None:
    from evalkit.did.cs import callaway_santanna

    df = _staggered()
    res = estimate(df, Spec("callaway_santanna", anticipation=1), **COLUMNS)
    direct = callaway_santanna(df, anticipation=1, **COLUMNS)
    assert res.att == pytest.approx(direct.att, abs=1e-12)
    assert res.att != pytest.approx(estimate(df, Spec("callaway_santanna"), **COLUMNS).att)


def test_anticipation_needs_cohorts() -> None:
    df = _staggered()
    df["d"] = ((df["cohort"] > 0) & (df["t"].isin([5, 6]))).astype(int)  # switches off again
    with pytest.raises(EstimationError, match="anticipation=1 needs cohort="):
        estimate(df, Spec("twfe", anticipation=1), outcome="y", unit="id", time="t", treated="d")


def test_event_window_limits_the_event_study() -> None:
    df = _staggered()
    res = estimate(df, Spec("event_study", event_window=(-2, 2), inference="analytic"), **COLUMNS)
    events = list(res.tidy().dropna(subset=["event_time"])["event_time"])
    assert events == [-2, 0, 1, 2]
    cs = estimate(df, Spec("callaway_santanna", event_window=(-2, 2)), **COLUMNS)
    dynamic = [r["event_time"] for r in cs.to_dict()["aggregations"]["dynamic"]["rows"]]
    assert dynamic == [-2, -1, 0, 1, 2]
    with pytest.raises(EstimationError, match="min_e must be ≤ -2"):
        estimate(df, Spec("event_study", anticipation=1, event_window=(-1, 2)), **COLUMNS)


def test_cluster_changes_the_clustering() -> None:
    df = _staggered()
    by_unit = estimate(df, Spec("twfe", inference="analytic"), **COLUMNS)
    by_region = estimate(df, Spec("twfe", inference="analytic", cluster="region"), **COLUMNS)
    assert by_unit.n_clusters == 20 and by_region.n_clusters == 10
    assert by_unit.att == pytest.approx(by_region.att, abs=1e-12)
    assert by_unit.se != pytest.approx(by_region.se, rel=1e-6)


def test_seed_reaches_the_bootstrap() -> None:
    df = _staggered()

    def p(seed: int) -> float:
        s = Spec("twfe", inference="wild", seed=seed, options={"n_boot": 199})
        return float(estimate(df, s, **COLUMNS).ci_low)

    assert p(1) == p(1)
    assert p(1) != p(2)


def test_few_treated_threshold_switches_the_default_inference() -> None:
    df = _staggered()
    unit = df["id"].str[1:].astype(int)
    df["cohort"] = np.where(unit < 10, 4, 0)  # 10 of 20 units treated, one start
    low = estimate(df, Spec("twfe", few_treated_threshold=2), **COLUMNS)
    high = estimate(df, Spec("twfe", few_treated_threshold=11, options={"n_perm": 199}), **COLUMNS)
    assert low.inference == "analytic"  # 10 treated and 10 comparison clusters
    assert high.inference == "permutation"
    assert not low.notes
    assert high.notes[0].code == "few_treated_permutation"
    assert high.notes[0].values["threshold"] == 11


def test_spec_to_dict_is_json_friendly() -> None:
    s = Spec("event_study", covariates=("x",), event_window=(-3, 4), seed=7)
    d = s.to_dict()
    assert d["covariates"] == ["x"] and d["event_window"] == [-3, 4] and d["seed"] == 7
    assert Spec(**{**d, "covariates": tuple(d["covariates"])}) == s

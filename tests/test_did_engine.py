"""In-engine estimators (sufficient statistics in DuckDB via Ibis) equal the in-memory ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.did import estimate
from evalkit.errors import EstimationError

ibis = pytest.importorskip("ibis")
from evalkit.did.engine import estimate_in_engine  # noqa: E402

TOL = 1e-10


def _panel(n_units: int, n_periods: int, seed: int, cohorts=(0, 4, 5, 7)) -> pd.DataFrame:
    r = np.random.default_rng(seed)
    units = pd.DataFrame(
        {
            "u": [f"u{i:03d}" for i in range(n_units)],
            "cl": [f"c{i // 3}" for i in range(n_units)],
            "g": r.choice(list(cohorts), n_units),
        }
    )
    df = units.merge(pd.DataFrame({"t": np.arange(1, n_periods + 1)}), how="cross")
    effect = 0.3 * ((df.g > 0) & (df.t >= df.g))
    level = r.normal(size=n_units).repeat(n_periods)
    df["y"] = r.normal(size=len(df)) + effect + 0.1 * df.t + level
    return df


def _in_memory(df: pd.DataFrame, **kw) -> object:
    return estimate(df, outcome="y", unit="u", time="t", cohort="g", inference="analytic", **kw)


def _engine(df: pd.DataFrame, **kw) -> object:
    table = ibis.memtable(df)
    return estimate_in_engine(
        table, outcome="y", unit="u", time="t", cohort="g", inference="analytic", **kw
    )


def _close(a: object, b: object, path: str = "") -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for key in a:
            _close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, abs=TOL, rel=TOL), path
    else:
        assert a == b, path


@pytest.mark.parametrize("control", ["never", "notyet"])
@pytest.mark.parametrize("cluster", ["cl", None])
def test_callaway_santanna_equals_in_memory(control: str, cluster: str | None) -> None:
    df = _panel(45, 9, seed=1)
    kw = {"estimator": "callaway_santanna", "control": control, "cluster": cluster}
    mem, eng = _in_memory(df, **kw).to_dict(), _engine(df, **kw).to_dict()
    for key in ("att", "se", "ci_low", "ci_high", "p_value", "pretest_p", "group_time"):
        _close(mem[key], eng[key], key)
    _close(mem["aggregations"], eng["aggregations"], "aggregations")
    assert (mem["n_units"], mem["n_clusters"], mem["n_treated_clusters"]) == (
        eng["n_units"],
        eng["n_clusters"],
        eng["n_treated_clusters"],
    )


@pytest.mark.parametrize("shape", [(40, 8), (6, 12)])
@pytest.mark.parametrize("estimator", ["twfe", "event_study"])
def test_twfe_and_event_study_equal_in_memory(estimator: str, shape: tuple[int, int]) -> None:
    # (6 units, 12 periods) makes pyfixest absorb the periods instead of the units,
    # which changes its small-sample factor: the engine must follow.
    df = _panel(*shape, seed=2, cohorts=(0, 5, 8))
    cluster = "cl" if shape[0] > 10 else "u"
    mem, eng = (
        _in_memory(df, estimator=estimator, cluster=cluster),
        _engine(df, estimator=estimator, cluster=cluster),
    )
    cols = ["estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
    np.testing.assert_allclose(eng.tidy()[cols], mem.tidy()[cols], rtol=TOL, atol=TOL)
    assert list(eng.tidy()["term"]) == list(mem.tidy()["term"])
    if estimator == "event_study":
        _close(mem.to_dict()["pretrend"], eng.to_dict()["pretrend"], "pretrend")
    assert eng.inference_detail["path"] == "engine:duckdb"


def test_two_by_two_equals_in_memory() -> None:
    df = _panel(30, 6, seed=3, cohorts=(0, 4))
    mem = _in_memory(df, estimator="2x2", cluster="cl")
    eng = _engine(df, estimator="2x2", cluster="cl")
    for key in ("att", "se", "p_value", "ci_low", "ci_high"):
        assert getattr(eng, key) == pytest.approx(getattr(mem, key), abs=TOL)


def test_person_rows_are_averaged_to_the_unit_panel() -> None:
    r = np.random.default_rng(4)
    unit = _panel(24, 7, seed=4, cohorts=(0, 4, 6)).drop(columns="y")
    persons = unit.loc[unit.index.repeat(r.integers(3, 9, len(unit)))].reset_index(drop=True)
    persons["y"] = r.random(len(persons)) < 0.2 + 0.1 * ((persons.g > 0) & (persons.t >= persons.g))
    means = persons.groupby(["u", "t", "cl", "g"], as_index=False)["y"].mean()
    kw = {"estimator": "callaway_santanna", "control": "notyet", "cluster": "cl"}
    mem = _in_memory(means, **kw).to_dict()
    eng = _engine(persons, **kw).to_dict()
    _close(mem["aggregations"], eng["aggregations"], "aggregations")
    assert eng["n_obs"] == len(means)


def test_unbalanced_panel_is_refused_with_the_reason() -> None:
    df = _panel(20, 6, seed=5).iloc[1:]
    with pytest.raises(EstimationError, match="unbalanced"):
        _engine(df, estimator="twfe", cluster="cl")


def _persons_with_covariate(seed: int) -> pd.DataFrame:
    """Person rows (3 to 8 per unit and period) with a person-level covariate, some missing."""
    r = np.random.default_rng(seed)
    unit = _panel(60, 7, seed=seed, cohorts=(0, 4, 6)).drop(columns="y")
    persons = unit.loc[unit.index.repeat(r.integers(3, 9, len(unit)))].reset_index(drop=True)
    persons["x"] = r.normal(size=len(persons)) + 0.05 * persons["t"]
    persons.loc[r.random(len(persons)) < 0.05, "x"] = np.nan
    treated = (persons.g > 0) & (persons.t >= persons.g)
    persons["y"] = (r.random(len(persons)) < 0.2 + 0.1 * treated + 0.05 * persons["x"]).astype(
        "float64"
    )
    return persons


@pytest.mark.parametrize(
    "choices",
    [
        {"estimator": "callaway_santanna", "control": "notyet", "method": "reg"},
        {"estimator": "callaway_santanna", "control": "never", "method": "dr"},
        {"estimator": "twfe"},
    ],
)
def test_covariates_stream_unit_period_means_and_equal_in_memory(choices: dict) -> None:
    persons = _persons_with_covariate(11)
    # What the fallback must reproduce: the unit-period means of outcome and covariate
    # (the covariate over the persons where it is present), estimated in memory.
    means = persons.groupby(["u", "t", "cl", "g"], as_index=False)[["y", "x"]].mean()
    kw = {**choices, "covariates": ["x"], "cluster": "cl"}
    mem = _in_memory(means, **kw).to_dict()
    res = _engine(persons, **kw)
    eng = res.to_dict()
    detail = eng.pop("inference_detail")
    assert detail["path"] == "in_memory:streamed"
    assert "covariates (x)" in detail["why_not_in_engine"]
    assert detail["covariate_aggregation"] == "unit-period mean"
    mem_detail = mem.pop("inference_detail")
    _close(mem_detail, {k: detail[k] for k in mem_detail}, "inference_detail")
    _close(mem, eng)
    assert eng["n_obs"] == len(means)


def test_cohort_changing_within_a_unit_is_refused() -> None:
    df = _panel(20, 6, seed=6)
    df.loc[0, "g"] = 3 if df.loc[0, "g"] != 3 else 4
    with pytest.raises(EstimationError, match="cohort changes"):
        _engine(df, estimator="callaway_santanna", cluster="cl")


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({"estimator": "twfe", "inference": "wild"}, "inference='wild'"),
        ({"estimator": "bacon"}, "estimator 'bacon'"),
    ],
)
def test_choices_outside_the_engine_path_are_refused(choices: dict, message: str) -> None:
    df = _panel(20, 6, seed=7)
    with pytest.raises(EstimationError, match=message):
        estimate_in_engine(
            ibis.memtable(df), outcome="y", unit="u", time="t", cohort="g", **choices
        )


@pytest.mark.parametrize("n_treated", [2, 7])
def test_few_treated_default_inference_is_left_to_the_in_memory_path(n_treated: int) -> None:
    # 7 treated of 30 is not few by the threshold (5), but fewer than 10 a side: in memory
    # the default is randomization inference, so the engine must not answer analytically.
    df = _panel(30, 6, seed=8, cohorts=(0, 4))
    df["g"] = np.where(df["u"].isin([f"u{i:03d}" for i in range(n_treated)]), 4, 0)
    df["m"] = df["u"]  # one unit per municipality
    for estimator in ("twfe", "callaway_santanna"):
        kw = {"outcome": "y", "unit": "u", "time": "t", "cohort": "g", "cluster": "m"}
        with pytest.raises(EstimationError, match="randomization inference"):
            estimate_in_engine(ibis.memtable(df), estimator=estimator, **kw)
        assert estimate(df, estimator=estimator, n_perm=49, **kw).inference == "permutation"


def test_multiplier_bootstrap_over_clusters_equals_in_memory() -> None:
    df = _panel(45, 9, seed=1)
    kw = {"estimator": "callaway_santanna", "control": "notyet", "cluster": "cl"}
    boot = {"inference": "bootstrap", "n_boot": 199, "seed": 3}
    mem = estimate(df, outcome="y", unit="u", time="t", cohort="g", **kw, **boot).to_dict()
    eng = estimate_in_engine(
        ibis.memtable(df), outcome="y", unit="u", time="t", cohort="g", **kw, **boot
    ).to_dict()
    _close(mem["aggregations"], eng["aggregations"], "aggregations")

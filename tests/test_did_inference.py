"""Few-treated inference: each resampling method equals a by-hand computation on a tiny design.

There is no published number for these methods on a public data set that we could
cite, so each is checked against a direct, slow recomputation of its definition
(refit the full dummy regression for every assignment, sign vector or placebo),
and the honesty rules (smallest attainable p-value, unbounded intervals) are checked
on a 1-treated-of-12 design.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from evalkit.did import estimate
from evalkit.did.notes import Notes
from evalkit.errors import EstimationError


def _panel(
    n_clusters: int,
    treated: dict[int, int],
    *,
    units: int = 2,
    periods: int = 4,
    seed: int = 0,
    effect: float = 0.5,
    sizes: list[int] | None = None,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    shocks = rng.normal(size=(n_clusters, periods))
    for g in range(n_clusters):
        for i in range((sizes or [units] * n_clusters)[g]):
            alpha = rng.normal()
            for t in range(1, periods + 1):
                c = treated.get(g, 0)
                d = float(c > 0 and t >= c)
                y = alpha + 0.3 * t + shocks[g, t - 1] + effect * d + rng.normal()
                rows.append((f"c{g}u{i}", f"m{g}", t, c, d, y))
    return pd.DataFrame(rows, columns=["id", "muni", "t", "cohort", "d", "y"])


def _dummies(df: pd.DataFrame, d: np.ndarray) -> np.ndarray:
    unit = pd.get_dummies(df["id"], dtype=float).to_numpy()
    time = pd.get_dummies(df["t"], dtype=float).to_numpy()[:, 1:]
    return np.column_stack([d, unit, time])


def _coef(df: pd.DataFrame, y: np.ndarray, d: np.ndarray) -> float:
    x = _dummies(df, d)
    return float(np.linalg.lstsq(x, y, rcond=None)[0][0])


def _quiet(**kwargs):
    return estimate(**kwargs)


def test_randomization_p_value_equals_exact_enumeration_by_hand() -> None:
    df = _panel(6, {0: 3, 1: 3})
    res = _quiet(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="twfe",
        cluster="muni",
        inference="permutation",
    )
    y = df["y"].to_numpy()
    obs = _coef(df, y, df["d"].to_numpy())
    munis = sorted(df["muni"].unique())
    stats = []
    for chosen in itertools.combinations(munis, 2):
        d = (df["muni"].isin(chosen) & (df["t"] >= 3)).to_numpy(float)
        stats.append(_coef(df, y, d))
    p_hand = np.mean(np.abs(stats) >= abs(obs) - 1e-10)
    assert res.att == pytest.approx(obs, abs=1e-10)
    assert res.p_value == pytest.approx(p_hand, abs=1e-12)
    assert res.inference_detail["assignments"] == 15
    assert res.inference_detail["enumerated"] is True
    # 15 assignments: p-values are multiples of 1/15 and the 95 % interval cannot be bounded.
    assert res.p_value * 15 == pytest.approx(round(res.p_value * 15))
    assert math.isinf(res.ci_low) and math.isinf(res.ci_high)
    assert res.to_dict()["ci_low"] is None


def test_randomization_interval_is_the_test_inversion_by_hand() -> None:
    df = _panel(8, {0: 3, 1: 3}, seed=3)
    alpha = 0.25
    res = _quiet(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="twfe",
        cluster="muni",
        inference="permutation",
        alpha=alpha,
    )
    munis = sorted(df["muni"].unique())
    d_obs = df["d"].to_numpy()

    def p_at(tau: float) -> float:
        y0 = df["y"].to_numpy() - tau * d_obs  # the sharp null Y(0) = Y - tau * D
        ref = abs(_coef(df, y0, d_obs))
        hits = 0
        for chosen in itertools.combinations(munis, 2):
            d = (df["muni"].isin(chosen) & (df["t"] >= 3)).to_numpy(float)
            hits += abs(_coef(df, y0, d)) >= ref - 1e-10
        return hits / 28

    eps = 1e-4 * (res.ci_high - res.ci_low)
    assert p_at(res.ci_low + eps) > alpha >= p_at(res.ci_low - eps)
    assert p_at(res.ci_high - eps) > alpha >= p_at(res.ci_high + eps)


def test_wild_bootstrap_equals_brute_force_enumeration() -> None:
    df = _panel(6, {0: 3, 1: 3, 2: 3}, seed=1)
    res = _quiet(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="twfe",
        cluster="muni",
        inference="wild",
    )
    y, d = df["y"].to_numpy(), df["d"].to_numpy()
    cl = pd.factorize(df["muni"])[0]
    full = _dummies(df, d)
    restricted = full[:, 1:]

    def cr_t(yy: np.ndarray, b0: float) -> float:
        coef, *_ = np.linalg.lstsq(full, yy, rcond=None)
        e = yy - full @ coef
        bread = np.linalg.pinv(full.T @ full)
        meat = sum(
            np.outer(full[cl == g].T @ e[cl == g], full[cl == g].T @ e[cl == g]) for g in range(6)
        )
        v = bread @ meat @ bread
        return (coef[0] - b0) / math.sqrt(v[0, 0])

    t_obs = cr_t(y, 0.0)
    gamma, *_ = np.linalg.lstsq(restricted, y, rcond=None)
    fitted, resid = restricted @ gamma, y - restricted @ gamma
    t_star = [
        cr_t(fitted + resid * np.array(v)[cl], 0.0)
        for v in itertools.product((-1.0, 1.0), repeat=6)
    ]
    p_hand = np.mean(np.abs(t_star) >= abs(t_obs) - 1e-9)
    assert res.inference_detail["enumerated"] is True
    assert res.inference_detail["draws"] == 64
    assert res.p_value == pytest.approx(p_hand, abs=1e-12)
    assert res.se == pytest.approx(res.inference_detail["analytic_se"])


def test_webb_weights_are_seeded() -> None:
    df = _panel(10, {0: 3, 1: 3, 2: 3}, seed=2)
    kw = dict(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="twfe",
        cluster="muni",
        inference="wild",
        weights="webb",
        n_boot=999,
    )
    a, b = _quiet(**kw, seed=7), _quiet(**kw, seed=7)
    c = _quiet(**kw, seed=8)
    assert (a.p_value, a.ci_low, a.ci_high) == (b.p_value, b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert a.inference_detail["weights"] == "webb"


def test_conley_taber_equals_placebos_by_hand() -> None:
    df = _panel(8, {0: 3}, seed=4)
    res = _quiet(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="twfe",
        cluster="muni",
        inference="conley_taber",
        ferman_pinto=False,
        alpha=0.25,
    )
    y, d = df["y"].to_numpy(), df["d"].to_numpy()
    full = _dummies(df, d)
    coef, *_ = np.linalg.lstsq(full, y, rcond=None)
    resid = y - full @ coef
    placebos = []
    for g in range(1, 8):
        dj = ((df["muni"] == f"m{g}") & (df["t"] >= 3)).to_numpy(float)
        placebos.append(_coef(df, resid, dj))
    beta = coef[0]
    p_hand = (1 + sum(abs(p) >= abs(beta) for p in placebos)) / 8
    assert res.p_value == pytest.approx(p_hand)
    # alpha (n + 1) = 0.25 * 8 = 2 → the interval is beta ± the 2nd largest |placebo|
    crit = sorted(np.abs(placebos))[-2]
    assert res.ci_low == pytest.approx(beta - crit)
    assert res.ci_high == pytest.approx(beta + crit)


def test_one_treated_of_twelve_never_shows_unsupported_p_values() -> None:
    df = _panel(12, {0: 3}, seed=5, effect=5.0)
    res = estimate(
        df, outcome="y", unit="id", time="t", cohort="cohort", estimator="twfe", cluster="muni"
    )
    assert res.inference == "permutation"
    assert res.n_treated_clusters == 1 and res.n_clusters == 12
    assert [n.code for n in res.notes] == ["few_treated_permutation", "permutation_unbounded"]
    text = " ".join(res.warnings)
    assert "only 1 treated and 11 comparison clusters (fewer than 10" in text
    assert "1/12 = 0.083" in text
    assert res.p_value >= 1 / 12 - 1e-12
    out = res.to_dict()
    assert out["ci_low"] is None and out["ci_high"] is None
    assert out["se"] is None
    assert any("1/12" in w for w in out["warnings"])
    perm = _quiet(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="twfe",
        cluster="muni",
        inference="permutation",
    )
    assert perm.p_value >= 1 / 12 - 1e-12
    assert perm.inference_detail["smallest_p_value"] == pytest.approx(1 / 12)


def test_explicit_cluster_robust_with_few_treated_warns() -> None:
    df = _panel(12, {0: 3, 1: 3}, seed=5)
    res = estimate(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="twfe",
        cluster="muni",
        inference="analytic",
    )
    assert res.inference == "analytic"
    assert [n.code for n in res.notes] == ["few_treated_cr1"]
    assert "over-reject" in res.warnings[0]


def test_ferman_pinto_widens_when_the_treated_cluster_is_small() -> None:
    sizes = [2, 2, 2, 2, 4, 4, 8, 8, 16, 16, 32, 32, 32, 32, 32]
    rng = np.random.default_rng(11)
    rows = []
    for g, m in enumerate(sizes):
        for i in range(m):
            a = rng.normal()
            for t in range(1, 5):
                rows.append((f"c{g}u{i}", g, t, 3 if g == 0 else 0, a + rng.normal() * 2))
    df = pd.DataFrame(rows, columns=["id", "muni", "t", "cohort", "y"])
    kw = dict(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="twfe",
        cluster="muni",
        inference="conley_taber",
        alpha=0.2,
    )
    fp, plain = _quiet(**kw), _quiet(**kw, ferman_pinto=False)
    assert fp.inference_detail["ferman_pinto"] is True
    assert plain.inference_detail["ferman_pinto"] is False
    assert fp.ci_high - fp.ci_low > plain.ci_high - plain.ci_low


def test_resampling_coefficient_equals_pyfixest_with_covariates() -> None:
    df = _panel(10, {0: 3, 1: 4}, seed=6)
    df["x"] = np.random.default_rng(0).normal(size=len(df))
    df["y"] = df["y"] + 0.7 * df["x"]
    res = _quiet(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="twfe",
        cluster="muni",
        covariates=["x"],
        inference="permutation",
    )
    x = np.column_stack([_dummies(df, df["d"].to_numpy()), df["x"].to_numpy()])
    assert res.att == pytest.approx(float(np.linalg.lstsq(x, df["y"], rcond=None)[0][0]))


def test_two_by_two_permutation_over_groups() -> None:
    df = _panel(8, {0: 3, 1: 3}, seed=9)
    df["grp"] = (df["cohort"] > 0).astype(int)
    df["post"] = (df["t"] >= 3).astype(int)
    res = _quiet(
        data=df,
        outcome="y",
        treated="grp",
        post="post",
        unit="id",
        time="t",
        estimator="2x2",
        cluster="muni",
        inference="permutation",
    )
    y = df["y"].to_numpy()

    def coef(chosen: tuple[str, ...]) -> float:
        g = df["muni"].isin(chosen).to_numpy(float)
        p = df["post"].to_numpy(float)
        x = np.column_stack([np.ones(len(df)), g, p, g * p])
        return float(np.linalg.lstsq(x, y, rcond=None)[0][3])

    obs = coef(("m0", "m1"))
    stats = [coef(c) for c in itertools.combinations(sorted(df["muni"].unique()), 2)]
    assert res.att == pytest.approx(obs)
    assert res.p_value == pytest.approx(np.mean(np.abs(stats) >= abs(obs) - 1e-10))


def test_permutation_needs_cluster_level_timing() -> None:
    df = _panel(6, {0: 3, 1: 3})
    df.loc[df["id"] == "c0u0", "cohort"] = 4  # two timings inside cluster m0
    df["d"] = ((df["cohort"] > 0) & (df["t"] >= df["cohort"])).astype(float)
    noted = Notes()
    with pytest.raises(EstimationError, match="same period for every row of a cluster"):
        _quiet(
            data=df,
            outcome="y",
            unit="id",
            time="t",
            cohort="cohort",
            estimator="twfe",
            cluster="muni",
            inference="permutation",
            notes=noted,
        )
    # what was noted before the failure is kept
    assert [n.text for n in noted] == [
        "cohort(s) 4 have a single unit; their effects rest on one unit and cannot be told "
        "apart from that unit's own shocks",
    ]


def test_event_study_conley_taber_equals_placebo_event_studies_by_hand() -> None:
    df = _panel(9, {0: 3}, periods=5, seed=12)
    res = _quiet(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="event_study",
        cluster="muni",
        inference="conley_taber",
        ferman_pinto=False,
        alpha=0.25,
    )
    assert res.inference == "conley_taber"
    rel = df["t"] - 3
    times = [-2, 0, 1, 2]

    def dummies(mask: pd.Series) -> np.ndarray:
        return np.column_stack([(mask & (rel == e)).to_numpy(float) for e in times])

    unit = pd.get_dummies(df["id"], dtype=float).to_numpy()
    period = pd.get_dummies(df["t"], dtype=float).to_numpy()[:, 1:]
    full = np.column_stack([dummies(df["muni"] == "m0"), unit, period])
    coef, *_ = np.linalg.lstsq(full, df["y"].to_numpy(), rcond=None)
    resid = df["y"].to_numpy() - full @ coef
    placebos = np.array(
        [
            np.linalg.lstsq(
                np.column_stack([dummies(df["muni"] == f"m{g}"), unit, period]), resid, rcond=None
            )[0][:4]
            for g in range(1, 9)
        ]
    )
    events = res.tidy().dropna(subset=["event_time"])
    assert list(events["event_time"]) == times
    for j, row in enumerate(events.itertuples()):
        assert row.estimate == pytest.approx(coef[j])
        p_hand = (1 + int((np.abs(placebos[:, j]) >= abs(coef[j]) - 1e-12).sum())) / 9
        assert row.p_value == pytest.approx(p_hand)
        crit = np.sort(np.abs(placebos[:, j]))[-2]  # alpha (n + 1) = 0.25 * 9 → 2nd largest
        assert row.conf_low == pytest.approx(coef[j] - crit)
        assert math.isnan(row.std_error)
    head = np.abs(placebos[:, 1:].mean(axis=1))
    assert res.p_value == pytest.approx(
        (1 + int((head >= abs(coef[1:4].mean()) - 1e-12).sum())) / 9
    )
    pre = res.to_dict()["pretrend"]
    s2 = np.mean(placebos[:, 0] ** 2)
    p_pre = (1 + int((placebos[:, 0] ** 2 / s2 >= coef[0] ** 2 / s2 - 1e-12).sum())) / 9
    assert pre["p_value"] == pytest.approx(p_pre)
    assert "Conley–Taber" in pre["test"]


def test_default_falls_back_to_wild_when_timing_varies_within_clusters() -> None:
    df = _panel(8, {0: 3, 1: 3})
    df.loc[df["id"] == "c0u0", "cohort"] = 4
    res = estimate(
        df, outcome="y", unit="id", time="t", cohort="cohort", estimator="twfe", cluster="muni"
    )
    assert res.inference == "wild"
    assert res.notes[0].code == "single_unit_cohorts"
    text = " ".join(res.warnings)
    assert "same period in every row of a cluster" in text
    assert "wild cluster bootstrap is unreliable with 2 treated" in text


def test_conley_taber_closed_form_equals_general_residualisation() -> None:
    from dataclasses import replace

    from evalkit.did._data import prepare
    from evalkit.did._fwl import Residualizer
    from evalkit.did.conley_taber import conley_taber_combinations
    from evalkit.did.regression import event_design

    df = _panel(10, {0: 3, 1: 4}, periods=6, seed=21).sample(frac=0.9, random_state=2)
    prep = prepare(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        treated=None,
        post=None,
        covariates=(),
        cluster="muni",
    )
    design = event_design(prep, [-3, -2, 0, 1, 2], None, None)
    general = replace(
        design,
        _cache={},
        residualizer=Residualizer(design.residualizer.factors, np.zeros((len(prep.frame), 1))),
    )
    weights = [np.eye(5)[i] for i in range(5)]
    fast, _ = conley_taber_combinations(design, weights, alpha=0.2, max_enumerate=100)
    slow, _ = conley_taber_combinations(general, weights, alpha=0.2, max_enumerate=100)
    for a, b in zip(fast, slow, strict=True):
        assert a.p_value == pytest.approx(b.p_value)
        assert a.ci_low == pytest.approx(b.ci_low, rel=1e-7)
        assert a.ci_high == pytest.approx(b.ci_high, rel=1e-7)


def test_block_products_equal_the_residualised_event_study_blocks() -> None:
    from evalkit.did._data import prepare
    from evalkit.did.regression import event_design

    df = _panel(9, {0: 3, 1: 4}, units=3, periods=7, seed=5).sample(frac=0.85, random_state=4)
    df["x"] = np.random.default_rng(6).normal(size=len(df))
    prep = prepare(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        treated=None,
        post=None,
        covariates=("x",),
        cluster="muni",
    )
    design = event_design(prep, [-3, -2, 0, 1, 2, 3], -4, 3)
    got = design.block_products()
    # the definition: residualise every cluster's block columns, then take inner products
    roles = range(1, got.n_roles + 1)
    cols = np.column_stack([design.block(g, r) for g in range(design.n_clusters) for r in roles])
    q = design.residualizer(cols)
    y, _ = design.partialled()
    np.testing.assert_allclose(got.gram, q.T @ q, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got.raw, cols.T @ cols, rtol=0, atol=0)
    want = q.T @ np.column_stack([y, design.regressors])
    np.testing.assert_allclose(got.vecs, want, rtol=0, atol=1e-9)


def test_a_copy_with_another_outcome_shares_only_what_the_outcome_does_not_change() -> None:
    from dataclasses import replace

    from evalkit.did._data import prepare
    from evalkit.did.inference import randomization
    from evalkit.did.regression import twfe

    df = _panel(8, {0: 3, 1: 3}, units=3, periods=6, seed=14)
    columns = dict(unit="id", time="t", cohort="cohort", treated=None, post=None)
    prep = prepare(df, outcome="y", covariates=(), cluster="muni", **columns)
    design = twfe(prep, "cluster").design
    assert design is not None
    first = randomization(design, alpha=0.2)
    other = df["y"].to_numpy() + np.random.default_rng(15).normal(size=len(df))
    # the Monte Carlo harness (benchmarks/size_coverage.py) swaps y this way
    shared = {k: v for k, v in design._cache.items() if k != "yz"}
    copy = randomization(replace(design, y=other, _cache=shared), alpha=0.2)
    fresh = randomization(replace(design, y=other, _cache={}), alpha=0.2)
    assert (copy.p_value, copy.ci_low, copy.ci_high) == (fresh.p_value, fresh.ci_low, fresh.ci_high)
    assert (copy.ci_low, copy.ci_high) != (first.ci_low, first.ci_high)

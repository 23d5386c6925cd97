"""Event-study inference by wild cluster bootstrap and randomization: by hand, by design, by theory.

As for the static coefficient (tests/test_did_inference.py) no published number
exists for these methods on a public event study, so each is checked against a
slow recomputation of its definition (refit the full dummy regression for every
assignment or sign vector), against the static TWFE result where the two designs
coincide (one event-time coefficient), and on seeded designs with a known effect.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.did import estimate
from evalkit.did.notes import Notes
from evalkit.errors import EstimationError


def _panel(
    n_clusters: int,
    treated: dict[int, int],
    *,
    units: int = 2,
    periods: int = 5,
    seed: int = 0,
    effect: float = 0.5,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shocks = rng.normal(size=(n_clusters, periods))
    rows = []
    for g in range(n_clusters):
        for i in range(units):
            a = rng.normal()
            for t in range(1, periods + 1):
                c = treated.get(g, 0)
                d = float(c > 0 and t >= c)
                y = a + 0.3 * t + shocks[g, t - 1] + effect * d + rng.normal()
                rows.append((f"c{g}u{i}", f"m{g}", t, c, y))
    return pd.DataFrame(rows, columns=["id", "muni", "t", "cohort", "y"])


def _quiet(**kwargs):
    return estimate(**kwargs)


def _event(df: pd.DataFrame, **kwargs):
    return _quiet(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        cluster="muni",
        estimator="event_study",
        **kwargs,
    )


def _fixed_effects(df: pd.DataFrame) -> np.ndarray:
    unit = pd.get_dummies(df["id"], dtype=float).to_numpy()
    period = pd.get_dummies(df["t"], dtype=float).to_numpy()[:, 1:]
    return np.column_stack([unit, period])


def _event_dummies(df: pd.DataFrame, treated: pd.Series, start: int, times: list[int]):
    rel = df["t"] - start
    return np.column_stack([(treated & (rel == e)).to_numpy(float) for e in times])


def _cr1(x: np.ndarray, y: np.ndarray, cl: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Estimate and CR1 standard error (scale factor omitted: it cancels in the t ratio)."""
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    e = y - x @ coef
    bread = np.linalg.pinv(x.T @ x)
    meat = sum(np.outer(x[cl == g].T @ e[cl == g], x[cl == g].T @ e[cl == g]) for g in set(cl))
    full_w = np.zeros(x.shape[1])
    full_w[: len(w)] = w
    return float(full_w @ coef), math.sqrt(float(full_w @ bread @ meat @ bread @ full_w))


def test_permutation_p_values_equal_refits_over_every_assignment() -> None:
    df = _panel(6, {0: 3, 1: 3}, seed=5)
    res = _event(df, inference="permutation")
    times = [-2, 0, 1, 2]
    fe, y = _fixed_effects(df), df["y"].to_numpy()
    munis = sorted(df["muni"].unique())

    def coefs(chosen: tuple[str, ...]) -> np.ndarray:
        x = np.column_stack([_event_dummies(df, df["muni"].isin(chosen), 3, times), fe])
        return np.linalg.lstsq(x, y, rcond=None)[0][:4]

    obs = coefs(("m0", "m1"))
    stats = np.array([coefs(c) for c in itertools.combinations(munis, 2)])  # 15 assignments
    events = res.tidy().dropna(subset=["event_time"])
    assert list(events["event_time"]) == times
    for j, row in enumerate(events.itertuples()):
        assert row.estimate == pytest.approx(obs[j])
        p_hand = np.mean(np.abs(stats[:, j]) >= abs(obs[j]) - 1e-10)
        assert row.p_value == pytest.approx(p_hand, abs=1e-12)
        assert row.p_value * 15 == pytest.approx(round(row.p_value * 15))
        assert math.isnan(row.std_error)
    head = np.abs(stats[:, 1:].mean(axis=1))
    assert res.p_value == pytest.approx(np.mean(head >= abs(obs[1:].mean()) - 1e-10))
    pre = res.to_dict()["pretrend"]
    s2 = np.mean(stats[:, 0] ** 2)
    assert pre["p_value"] == pytest.approx(np.mean(stats[:, 0] ** 2 / s2 >= obs[0] ** 2 / s2))
    # 15 assignments: no p-value below 1/15, so no bounded 95 % interval, and a warning says so.
    assert res.inference_detail["assignments"] == 15
    assert res.inference_detail["smallest_p_value"] == pytest.approx(1 / 15)
    assert res.to_dict()["ci_low"] is None
    assert all(r["ci_low"] is None for r in res.to_dict()["event_study"])
    assert any("1/15" in w for w in res.warnings)


def test_permutation_intervals_invert_the_sharp_nulls_by_hand() -> None:
    df = _panel(8, {0: 3, 1: 3}, seed=9, periods=4)
    alpha = 0.25
    res = _event(df, inference="permutation", alpha=alpha)
    times = [-2, 0, 1]
    fe, y = _fixed_effects(df), df["y"].to_numpy()
    munis = sorted(df["muni"].unique())
    observed = df["muni"].isin(["m0", "m1"])
    d_obs = _event_dummies(df, observed, 3, times)

    def p_at(tau: float, w: np.ndarray, shift: np.ndarray) -> float:
        y0 = y - tau * d_obs @ shift  # the sharp null Y(0) = Y - tau * X s
        ref = abs(float(w @ np.linalg.lstsq(np.column_stack([d_obs, fe]), y0, rcond=None)[0][:3]))
        stats = []
        for chosen in itertools.combinations(munis, 2):
            x = np.column_stack([_event_dummies(df, df["muni"].isin(chosen), 3, times), fe])
            stats.append(abs(float(w @ np.linalg.lstsq(x, y0, rcond=None)[0][:3])))
        return float(np.mean(np.array(stats) >= ref - 1e-10))

    # Event time 1: effect tau at that event time only.
    row = res.tidy().set_index("term").loc["event_time::1"]
    w1 = np.array([0.0, 0.0, 1.0])
    eps = 1e-4 * (row.conf_high - row.conf_low)
    assert p_at(row.conf_low + eps, w1, w1) > alpha >= p_at(row.conf_low - eps, w1, w1)
    assert p_at(row.conf_high - eps, w1, w1) > alpha >= p_at(row.conf_high + eps, w1, w1)
    # Headline (mean of e ≥ 0): the same effect tau in every period after the start.
    w_head, s_head = np.array([0.0, 0.5, 0.5]), np.array([0.0, 1.0, 1.0])
    eps = 1e-4 * (res.ci_high - res.ci_low)
    assert p_at(res.ci_low + eps, w_head, s_head) > alpha >= p_at(res.ci_low - eps, w_head, s_head)
    assert (
        p_at(res.ci_high - eps, w_head, s_head) > alpha >= p_at(res.ci_high + eps, w_head, s_head)
    )


def test_wild_p_values_equal_brute_force_enumeration() -> None:
    df = _panel(6, {0: 3, 1: 3, 2: 3}, seed=1, periods=4)
    res = _event(df, inference="wild")
    assert res.inference == "wild"
    assert res.inference_detail["enumerated"] is True
    assert res.inference_detail["draws"] == 64
    times = [-2, 0, 1]
    fe, y = _fixed_effects(df), df["y"].to_numpy()
    cl = pd.factorize(df["muni"])[0]
    d = _event_dummies(df, df["cohort"] > 0, 3, times)
    full = np.column_stack([d, fe])
    signs = [np.array(v)[cl] for v in itertools.product((-1.0, 1.0), repeat=6)]

    def p_hand(w: np.ndarray, restricted: np.ndarray) -> float:
        est, se = _cr1(full, y, cl, w)
        gamma, *_ = np.linalg.lstsq(restricted, y, rcond=None)
        fit, resid = restricted @ gamma, y - restricted @ gamma
        t_star = []
        for s in signs:
            b, se_b = _cr1(full, fit + resid * s, cl, w)
            t_star.append(b / se_b)
        return float(np.mean(np.abs(t_star) >= abs(est / se) - 1e-9))

    events = res.tidy().dropna(subset=["event_time"]).reset_index(drop=True)
    for j in range(3):
        w = np.eye(3)[j]
        restricted = np.column_stack([np.delete(d, j, axis=1), fe])  # theta_j = 0
        assert events.loc[j, "p_value"] == pytest.approx(p_hand(w, restricted), abs=1e-12)
        assert events.loc[j, "std_error"] > 0  # the bootstrap keeps the CR1 standard error
    # Headline: (theta_0 + theta_1) / 2 = 0, i.e. theta_0 = -theta_1.
    restricted = np.column_stack([d[:, 0], d[:, 2] - d[:, 1], fe])
    assert res.p_value == pytest.approx(p_hand(np.array([0.0, 0.5, 0.5]), restricted), abs=1e-12)
    # One pre-period: the joint pre-test (sum of squared t) is that coefficient's test.
    assert res.to_dict()["pretrend"]["p_value"] == pytest.approx(events.loc[0, "p_value"])
    assert "wild" in res.to_dict()["pretrend"]["test"]


@pytest.mark.parametrize(
    ("inference", "options"),
    [
        ("wild", {}),
        ("wild", {"weights": "webb", "n_boot": 499}),
        ("permutation", {}),
        ("permutation", {"max_enumerate": 10, "n_perm": 199}),
        ("conley_taber", {}),
    ],
)
def test_one_event_time_coefficient_equals_static_twfe(inference: str, options: dict) -> None:
    # Binning every e ≤ -1 into the reference and every e ≥ 0 into one indicator leaves
    # one regressor, the static treatment dummy: both estimators must give the same numbers.
    df = _panel(10, {0: 3, 1: 4, 2: 3}, seed=3)
    es = _event(df, inference=inference, min_e=-1, max_e=0, seed=4, **options)
    tw = _quiet(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        cluster="muni",
        estimator="twfe",
        inference=inference,
        seed=4,
        **options,
    )
    assert es.inference == tw.inference == inference
    assert list(es.tidy()["term"]) == ["ATT (mean of e ≥ 0)", "event_time::0"]
    for row in es.tidy().itertuples():
        assert row.estimate == pytest.approx(tw.att, rel=1e-9)
        assert row.p_value == pytest.approx(tw.p_value, rel=1e-9)
        assert row.conf_low == pytest.approx(tw.ci_low, rel=1e-7)
        assert row.conf_high == pytest.approx(tw.ci_high, rel=1e-7)


def test_null_effect_is_rarely_rejected_and_a_large_effect_always() -> None:
    # 10 municipalities, 3 start in period 3, municipality-by-period shocks.
    null_p: dict[str, list[float]] = {"wild": [], "permutation": []}
    for seed in range(12):
        df = _panel(10, {0: 3, 1: 3, 2: 3}, seed=100 + seed, effect=0.0)
        for method in null_p:
            res = _event(df, inference=method)
            null_p[method] += [float(p) for p in res.tidy()["p_value"]]
    for method, ps in null_p.items():
        ps_arr = np.array(ps)
        assert 0 < ps_arr.min() and ps_arr.max() <= 1
        # Level-0.2 tests over 12 panels × 5 quantities: about 20 % rejections, not many more.
        assert np.mean(ps_arr <= 0.2) < 0.35, method
        assert 0.35 < np.mean(ps_arr) < 0.65, method
    df = _panel(10, {0: 3, 1: 3, 2: 3}, seed=7, effect=8.0)
    perm = _event(df, inference="permutation")
    post = perm.tidy().query("event_time >= 0")
    # 120 assignments: the largest effect can reach 1/120 and no less.
    assert np.allclose(post["p_value"], 1 / 120)
    assert perm.p_value == pytest.approx(1 / 120)
    wild = _event(df, inference="wild")
    assert (wild.tidy().query("event_time >= 0")["p_value"] <= 0.01).all()
    assert wild.p_value >= 2 / 1024  # the observed sign vector and its mirror image


def test_p_values_never_fall_below_what_the_draws_allow() -> None:
    df = _panel(12, {0: 3, 1: 3, 2: 3, 3: 3}, seed=2, effect=50.0)
    perm = _event(df, inference="permutation", max_enumerate=10, n_perm=99)
    assert perm.inference_detail["enumerated"] is False
    assert perm.inference_detail["assignments"] == 100  # observed + 99 random
    post = perm.tidy().query("event_time >= 0")["p_value"]
    assert np.allclose(post, 1 / 100)
    assert (perm.tidy()["p_value"] >= 1 / 100).all()
    webb = _event(df, inference="wild", weights="webb", n_boot=199)
    assert webb.inference_detail["smallest_p_value"] == pytest.approx(1 / 200)
    assert webb.p_value == pytest.approx(1 / 200)  # not 0: the observed draw counts
    assert (webb.tidy()["p_value"] >= 1 / 200).all()


def test_default_event_study_falls_back_to_wild_when_timing_varies_within_clusters() -> None:
    df = _panel(8, {0: 3, 1: 3})
    df.loc[df["id"] == "c0u0", "cohort"] = 4
    res = estimate(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="event_study",
        cluster="muni",
    )
    assert res.inference == "wild"
    codes = [n.code for n in res.notes]
    assert codes[0] == "single_unit_cohorts"  # c0u0 alone in cohort 4
    assert {"few_treated_permutation", "event_wild_unreliable"} <= set(codes)
    text = " ".join(res.warnings)
    assert "only 2 treated and 6 comparison clusters" in text
    assert "wild cluster bootstrap is unreliable with 2 treated" in text
    noted = Notes()
    with pytest.raises(EstimationError, match="same period for every row of a cluster"):
        _event(df, inference="permutation", notes=noted)
    assert [n.code for n in noted] == ["single_unit_cohorts"]  # kept though the estimate failed


@pytest.mark.parametrize("inference", ["wild", "permutation", "bootstrap"])
def test_cli_event_study_resampling_json_equals_to_dict(
    inference: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = _panel(8, {0: 3, 1: 3}, seed=4)
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    code = main(
        [
            "did",
            "--data",
            str(path),
            "--outcome",
            "y",
            "--unit",
            "id",
            "--time",
            "t",
            "--cohort",
            "cohort",
            "--cluster",
            "muni",
            "--estimator",
            "event_study",
            "--inference",
            inference,
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    expected = _event(df, inference=inference).to_dict()
    assert out == json.loads(json.dumps(expected))
    assert out["inference"] == ("wild" if inference == "bootstrap" else inference)
    assert all(r["p_value"] is not None for r in out["event_study"])


def _wild_by_hand(x: np.ndarray, y: np.ndarray, cl: np.ndarray, j: int, b0: float = 0.0) -> float:
    """Restricted wild bootstrap p-value of coefficient j = b0, all 2**G sign vectors."""
    w = np.eye(x.shape[1])[j]
    est, se = _cr1(x, y, cl, w)
    shifted = y - b0 * x[:, j]
    others = np.delete(x, j, axis=1)
    gamma, *_ = np.linalg.lstsq(others, shifted, rcond=None)
    fit, resid = others @ gamma + b0 * x[:, j], shifted - others @ gamma
    t_star = []
    for signs in itertools.product((-1.0, 1.0), repeat=int(cl.max()) + 1):
        b, se_b = _cr1(x, fit + resid * np.array(signs)[cl], cl, w)
        t_star.append((b - b0) / se_b)
    return float(np.mean(np.abs(t_star) >= abs((est - b0) / se) - 1e-9))


def test_wild_interval_inverts_the_bootstrap_test_by_hand() -> None:
    df = _panel(6, {0: 3, 1: 4, 2: 3}, seed=8, periods=4)
    alpha = 0.25
    res = _event(df, inference="wild", alpha=alpha)
    times = [int(e) for e in res.tidy()["event_time"].dropna()]
    assert times == [-3, -2, 0, 1]  # cohorts 3 and 4 over periods 1..4
    fe, y = _fixed_effects(df), df["y"].to_numpy()
    cl = pd.factorize(df["muni"])[0]
    rel = df["t"] - df["cohort"]
    d = np.column_stack([((df["cohort"] > 0) & (rel == e)).to_numpy(float) for e in times])
    x = np.column_stack([d, fe])
    row = res.tidy().set_index("term").loc["event_time::0"]
    j = times.index(0)
    eps = 1e-4 * (row.conf_high - row.conf_low)
    assert _wild_by_hand(x, y, cl, j, row.conf_low + eps) > alpha
    assert _wild_by_hand(x, y, cl, j, row.conf_low - eps) <= alpha
    assert _wild_by_hand(x, y, cl, j, row.conf_high - eps) > alpha
    assert _wild_by_hand(x, y, cl, j, row.conf_high + eps) <= alpha


def test_wild_two_by_two_with_a_covariate_equals_brute_force() -> None:
    # The intercept, post dummy and covariate are not nested in the clusters: each draw's
    # refit spreads a cluster's residuals over all clusters, and the bootstrap must follow.
    rng = np.random.default_rng(11)
    rows = []
    for g in range(7):
        for _person in range(6):
            for post in (0, 1):
                treated = int(g < 3)
                x = rng.normal()
                y = 0.4 * treated * post + 0.5 * x + 0.3 * post + rng.normal()
                rows.append((f"m{g}", treated, post, x, y))
    df = pd.DataFrame(rows, columns=["muni", "grp", "post", "x", "y"])
    res = _quiet(
        data=df,
        outcome="y",
        treated="grp",
        post="post",
        covariates=["x"],
        cluster="muni",
        estimator="2x2",
        inference="wild",
    )
    g, p = df["grp"].to_numpy(float), df["post"].to_numpy(float)
    x = np.column_stack([g * p, np.ones(len(df)), g, p, df["x"].to_numpy()])
    cl = pd.factorize(df["muni"])[0]
    assert res.inference_detail["draws"] == 128
    assert res.p_value == pytest.approx(_wild_by_hand(x, df["y"].to_numpy(), cl, 0), abs=1e-12)


def test_wild_when_units_cross_clusters_equals_brute_force() -> None:
    # A person who moves municipality: no fixed effect is nested in the clusters, so the
    # bootstrap takes the per-cluster path; it must still equal the refits.
    df = _panel(6, {0: 3, 1: 3, 2: 3}, seed=6, periods=4)
    moved = (df["id"] == "c3u0") & (df["t"] >= 3)
    df.loc[moved, "muni"] = "m4"
    res = _quiet(
        data=df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        cluster="muni",
        estimator="twfe",
        inference="wild",
    )
    d = ((df["cohort"] > 0) & (df["t"] >= df["cohort"])).to_numpy(float)
    x = np.column_stack([d, _fixed_effects(df)])
    cl = pd.factorize(df["muni"])[0]
    assert res.p_value == pytest.approx(_wild_by_hand(x, df["y"].to_numpy(), cl, 0), abs=1e-12)


def test_wild_fast_path_equals_per_cluster_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import evalkit.did._spread as spread

    df = _panel(7, {0: 3, 1: 4}, seed=13)
    df["x"] = np.random.default_rng(1).normal(size=len(df))
    fast = _event(df, inference="wild", covariates=["x"])
    monkeypatch.setattr(spread, "_MAX_WIDTH", -1)
    slow = _event(df, inference="wild", covariates=["x"])
    a, b = fast.tidy(), slow.tidy()
    assert np.allclose(a["p_value"], b["p_value"], rtol=0, atol=1e-12)
    assert np.allclose(a[["conf_low", "conf_high"]], b[["conf_low", "conf_high"]], rtol=1e-9)
    assert fast.to_dict()["pretrend"]["p_value"] == slow.to_dict()["pretrend"]["p_value"]

"""Callaway–Sant'Anna with few treated clusters: randomization over the assignment of cohorts.

On ``mpdta`` (R ``did``'s county panel, tests/reference/mpdta) the minimum-wage
increases are state laws, so the state (the first digits of the county FIPS
code) is the natural coarse cluster and every county of a state shares its
cohort. Subsets of states give designs with 1 or 2 treated clusters whose
assignments can be listed; the p-values are checked against re-running the
public estimator under every assignment, and against what the design allows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.did import estimate
from evalkit.did.cs import callaway_santanna
from evalkit.errors import EstimationError

MPDTA = Path(__file__).parent / "reference" / "mpdta" / "mpdta.csv"
KW = dict(outcome="lemp", unit="countyreal", time="year", cohort="first.treat")


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    df = pd.read_csv(MPDTA)
    df["state"] = df["countyreal"] // 1000
    return df


def _states(df: pd.DataFrame, treated: list[int], n_never: int | None = None) -> pd.DataFrame:
    never = sorted(df.loc[df["first.treat"] == 0, "state"].unique())[:n_never]
    return df[df["state"].isin(treated + never)].copy()


def _quiet(df: pd.DataFrame, **kwargs):
    return estimate(df, estimator="callaway_santanna", cluster="state", **KW, **kwargs)


def _assign(df: pd.DataFrame, cohort_of: dict[int, float]) -> pd.DataFrame:
    out = df.copy()
    out["first.treat"] = out["state"].map(cohort_of)
    return out


def _simple_att(df: pd.DataFrame, outcome: str = "lemp") -> float:
    return float(callaway_santanna(df, **{**KW, "outcome": outcome}).att)


def test_one_treated_state_defaults_to_permutation_and_says_why(mpdta: pd.DataFrame) -> None:
    df = _states(mpdta, [17])  # Illinois (2004) and the 16 states that never raised it
    res = estimate(df, estimator="callaway_santanna", cluster="state", **KW)
    assert res.inference == "permutation"
    codes = [n.code for n in res.notes]
    assert codes[0] == "cs_few_treated_permutation" and "cs_permutation_unbounded" in codes
    text = " ".join(res.warnings)
    assert "only 1 treated and 16 comparison clusters" in text
    assert "randomization inference" in text
    assert "1/17" in text  # why no 95 % interval can be bounded
    # The estimator's own note that cluster-robust intervals are unreliable is replaced.
    assert not any("read the estimates as descriptive" in w for w in res.warnings)
    out = res.to_dict()
    assert out["inference_detail"]["permutation"]["assignments"] == 17
    assert out["inference_detail"]["permutation"]["enumerated"] is True
    assert out["se"] is None and out["ci_low"] is None and out["ci_high"] is None
    for kind in ("simple", "group", "calendar", "dynamic"):
        p = out["aggregations"][kind]["overall"]["p_value"]
        assert p >= 1 / 17
        assert p * 17 == pytest.approx(round(p * 17))
    head = res.tidy().set_index("term").loc["att"]
    assert head["p_value"] == pytest.approx(res.p_value)
    assert pd.isna(head["std_error"])


def test_p_value_equals_re_estimating_every_assignment_by_hand(mpdta: pd.DataFrame) -> None:
    df = _states(mpdta, [17])
    res = _quiet(df)
    states = sorted(df["state"].unique())
    stats = [
        abs(_simple_att(_assign(df, {s: 2004.0 if s == t else 0.0 for s in states})))
        for t in states
    ]
    obs = abs(_simple_att(df))
    assert res.att == pytest.approx(_simple_att(df), abs=1e-12)
    assert res.p_value == pytest.approx(np.mean(np.array(stats) >= obs - 1e-10), abs=1e-12)


def test_interval_inverts_the_constant_effect_null_by_hand(mpdta: pd.DataFrame) -> None:
    df = _states(mpdta, [17])
    alpha = 0.25
    res = _quiet(df, alpha=alpha)
    states = sorted(df["state"].unique())
    d_obs = ((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).to_numpy(float)

    def p_at(tau: float) -> float:
        shifted = df.assign(y0=df["lemp"] - tau * d_obs)  # the sharp null Y(0) = Y - tau * D
        ref = abs(_simple_att(shifted, "y0"))
        stats = [
            abs(_simple_att(_assign(shifted, {s: 2004.0 if s == t else 0.0 for s in states}), "y0"))
            for t in states
        ]
        return float(np.mean(np.array(stats) >= ref - 1e-10))

    eps = 1e-4 * (res.ci_high - res.ci_low)
    assert p_at(res.ci_low + eps) > alpha >= p_at(res.ci_low - eps)
    assert p_at(res.ci_high - eps) > alpha >= p_at(res.ci_high + eps)


def test_two_cohorts_p_values_are_multiples_of_one_over_the_assignments(
    mpdta: pd.DataFrame,
) -> None:
    df = _states(mpdta, [17, 12], n_never=8)  # 2004 and 2006 among 10 states: 10 · 9 ways
    res = _quiet(df, inference="permutation")
    detail = res.to_dict()["inference_detail"]["permutation"]
    assert detail["assignments"] == 90 and detail["enumerated"] is True
    assert detail["smallest_p_value"] == pytest.approx(1 / 90)
    for kind, agg in res.to_dict()["aggregations"].items():
        p = agg["overall"]["p_value"]
        assert p * 90 == pytest.approx(round(p * 90)), kind
        assert agg["overall"]["conf_low"] is not None  # 1/90 < 0.05: bounded
    # The same design with an effect far beyond any placebo reaches 1/90 and no less.
    strong = df.copy()
    treated = (strong["first.treat"] > 0) & (strong["year"] >= strong["first.treat"])
    strong.loc[treated, "lemp"] += 5.0
    res_strong = _quiet(strong, inference="permutation")
    assert res_strong.p_value == pytest.approx(1 / 90)
    overall = res_strong.to_dict()["aggregations"]
    assert all(a["overall"]["p_value"] == pytest.approx(1 / 90) for a in overall.values())


def test_random_assignments_are_seeded_and_never_below_one_over_draws(
    mpdta: pd.DataFrame,
) -> None:
    kw = dict(inference="permutation", n_perm=199, max_enumerate=10)
    a, b = _quiet(mpdta, seed=3, **kw), _quiet(mpdta, seed=3, **kw)
    c = _quiet(mpdta, seed=4, **kw)
    assert a.to_dict() == b.to_dict()
    assert (a.p_value, a.ci_low, a.ci_high) != (c.p_value, c.ci_low, c.ci_high)
    detail = a.to_dict()["inference_detail"]["permutation"]
    assert detail["assignments"] == 200 and detail["enumerated"] is False
    for agg in a.to_dict()["aggregations"].values():
        p = agg["overall"]["p_value"]
        assert p >= 1 / 200 and p * 200 == pytest.approx(round(p * 200))


def test_covariates_and_not_yet_treated_controls(mpdta: pd.DataFrame) -> None:
    df = _states(mpdta, [17, 12], n_never=8)
    res = _quiet(df, inference="permutation", covariates=["lpop"], control="notyet")
    plain = _quiet(df, inference="analytic", covariates=["lpop"], control="notyet")
    assert res.att == pytest.approx(plain.att, abs=1e-12)
    assert res.to_dict()["aggregations"]["dynamic"]["overall"]["att"] == pytest.approx(
        plain.to_dict()["aggregations"]["dynamic"]["overall"]["att"]
    )
    assert res.p_value * 90 == pytest.approx(round(res.p_value * 90))


def test_cohorts_that_differ_within_a_cluster(mpdta: pd.DataFrame) -> None:
    df = _states(mpdta, [17])
    first = df["countyreal"] == df.loc[df["state"] == 13, "countyreal"].iloc[0]
    df.loc[first, "first.treat"] = 2006  # one county of a never-treated state is treated
    with pytest.raises(EstimationError, match="same cohort"):
        _quiet(df, inference="permutation")
    res = estimate(df, estimator="callaway_santanna", cluster="state", **KW)
    assert res.inference == "analytic"
    failed = [n for n in res.notes if n.code == "cs_permutation_failed"]
    assert len(failed) == 1 and "permutation inference could not run" in failed[0].text


def test_many_treated_clusters_keep_analytic_inference(mpdta: pd.DataFrame) -> None:
    res = estimate(mpdta, estimator="callaway_santanna", cluster="state", **KW)
    assert res.inference == "analytic"  # 13 treated states: not few
    assert "p_value" not in res.to_dict()["aggregations"]["simple"]["overall"]


def test_cli_permutation_json_equals_to_dict(
    mpdta: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = _states(mpdta, [17, 12], n_never=8)
    path = tmp_path / "mpdta.csv"
    df.to_csv(path, index=False)
    code = main(
        [
            "did",
            "--data",
            str(path),
            "--outcome",
            "lemp",
            "--unit",
            "countyreal",
            "--time",
            "year",
            "--cohort",
            "first.treat",
            "--cluster",
            "state",
            "--estimator",
            "callaway_santanna",
            "--inference",
            "permutation",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    expected = _quiet(df, inference="permutation").to_dict()
    assert out == json.loads(json.dumps(expected))
    assert out["inference"] == "permutation"


@pytest.mark.parametrize(
    "options",
    [
        {"control": "notyet"},
        {"allow_unbalanced_panel": True, "drop": 0.1},
        {"panel": False, "method": "reg"},
        {"base_period": "universal", "anticipation": 1},
    ],
)
def test_means_path_equals_re_estimating_every_assignment(
    mpdta: pd.DataFrame, options: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evalkit.did.cs._randomization as rnd

    options = dict(options)
    df = _states(mpdta, [17, 12, 8], n_never=6)  # 9 states, 3 cohorts: 9 · 8 · 7 = 504 ways
    if options.pop("drop", None):
        df = df.sample(frac=0.9, random_state=1)  # an unbalanced panel
    fast = _quiet(df, inference="permutation", **options)
    monkeypatch.setattr(rnd, "_MeansPath", lambda *args: None)
    slow = _quiet(df, inference="permutation", **options)
    a, b = fast.to_dict()["aggregations"], slow.to_dict()["aggregations"]
    assert fast.to_dict()["inference_detail"]["permutation"]["assignments"] == 504
    for kind in a:
        for key in ("att", "p_value", "conf_low", "conf_high"):
            assert a[kind]["overall"][key] == pytest.approx(b[kind]["overall"][key], rel=1e-9)


def test_without_a_cluster_each_unit_is_a_cluster_of_its_own(mpdta: pd.DataFrame) -> None:
    # no cluster named and few treated counties: permutation over counties, as TWFE does;
    # before, permutation refused ("name the cluster column") and intervals stayed analytic
    counties = mpdta["countyreal"].drop_duplicates()
    never = mpdta.loc[mpdta["first.treat"] == 0, "countyreal"].drop_duplicates().head(12)
    treated = mpdta.loc[mpdta["first.treat"] == 2006, "countyreal"].drop_duplicates().head(3)
    df = mpdta.loc[mpdta["countyreal"].isin(pd.concat([never, treated]))]
    assert len(counties) > len(df["countyreal"].unique())
    plain = estimate(df, estimator="callaway_santanna", **KW)
    assert plain.inference == "permutation"
    assert "cs_permutation_failed" not in [n.code for n in plain.notes]
    by_county = estimate(df, estimator="callaway_santanna", cluster="countyreal", **KW)
    a, b = plain.to_dict()["aggregations"], by_county.to_dict()["aggregations"]
    for kind in a:  # the permutation values are the same; row SEs agree to rounding
        for key, value in b[kind]["overall"].items():
            got = a[kind]["overall"][key]
            assert got == value if value is None else got == pytest.approx(value, rel=1e-12)


def test_a_coarse_permutation_test_says_how_often_it_can_reject(mpdta: pd.DataFrame) -> None:
    """One treated county of 35: the smallest p-value 1/35 is the test's whole size.

    TWFE, imputation and Sun–Abraham said so (exact size 2.9 %, below 0.6 × alpha);
    Callaway–Sant'Anna gave the same coarse test without a word.
    """
    treated = mpdta.loc[mpdta["first.treat"] == 2004, "countyreal"].unique()[:1]
    never = mpdta.loc[mpdta["first.treat"] == 0, "countyreal"].unique()[:34]
    df = mpdta[mpdta["countyreal"].isin([*treated, *never])]
    res = estimate(df, estimator="callaway_santanna", inference="permutation", **KW)
    detail = res.to_dict()["inference_detail"]["permutation"]
    assert detail["assignments"] == 35 and detail["enumerated"] is True
    assert detail["exact_size"] == pytest.approx(1 / 35)
    assert "permutation_conservative" in [n.code for n in res.notes]
    assert any("35 distinct assignments" in w for w in res.warnings)

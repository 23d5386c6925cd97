"""Callaway–Sant'Anna: equivalences, bootstrap, unbalanced panels, rcs, bad input, results."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evalkit.did.cs import CsResult, callaway_santanna
from evalkit.did.results import TIDY_COLUMNS
from evalkit.errors import EstimationError

MPDTA = Path(__file__).parent / "reference" / "mpdta" / "mpdta.csv"
KW = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(MPDTA)


def _cell(res: CsResult, g: float, t: float) -> pd.Series:
    gt = res.group_time
    return gt[(gt["group"] == g) & (gt["time"] == t)].iloc[0]


# --- equivalences -------------------------------------------------------------------------


def test_cell_equals_two_by_two_regression(mpdta: pd.DataFrame) -> None:
    """ATT(2006, 2007) with never-treated controls is the 2×2 DiD of 2005 vs 2007."""
    res = callaway_santanna(mpdta, **KW)
    sub = mpdta[mpdta["first.treat"].isin([0, 2006]) & mpdta["year"].isin([2005, 2007])]
    d = (sub["first.treat"] == 2006).astype(float)
    post = (sub["year"] == 2007).astype(float)
    x = sm.add_constant(np.column_stack([d, post, d * post]))
    fit = sm.OLS(sub["lemp"].to_numpy(), x).fit(
        cov_type="cluster", cov_kwds={"groups": sub["countyreal"]}
    )
    assert _cell(res, 2006, 2007)["att"] == pytest.approx(fit.params[3], abs=1e-12)


def test_cell_equals_evalkit_two_by_two(mpdta: pd.DataFrame) -> None:
    """The same cell through DID-CORE's 2×2 estimator (two routes, one number)."""
    did = pytest.importorskip("evalkit.did")
    if not hasattr(did, "estimate"):
        pytest.skip("evalkit.did.estimate not available yet")
    sub = mpdta[mpdta["first.treat"].isin([0, 2006]) & mpdta["year"].isin([2005, 2007])].copy()
    sub["g"] = (sub["first.treat"] == 2006).astype(int)
    sub["p"] = (sub["year"] == 2007).astype(int)
    two = did.estimate(
        sub,
        outcome="lemp",
        unit="countyreal",
        time="year",
        treated="g",
        post="p",
        estimator="2x2",
        inference="analytic",
    )
    res = callaway_santanna(mpdta, **KW)
    assert two.att == pytest.approx(_cell(res, 2006, 2007)["att"], abs=1e-10)


def test_methods_agree_without_covariates(mpdta: pd.DataFrame) -> None:
    fits = [callaway_santanna(mpdta, **KW, method=m) for m in ("dr", "ipw", "reg")]
    for other in fits[1:]:
        np.testing.assert_allclose(other.group_time["att"], fits[0].group_time["att"], atol=1e-12)
        np.testing.assert_allclose(other.group_time["se"], fits[0].group_time["se"], rtol=1e-10)


def test_rcs_point_estimates_equal_panel_without_covariates(mpdta: pd.DataFrame) -> None:
    """Theory: without covariates the rcs estimator is the same difference of four means."""
    panel = callaway_santanna(mpdta, **KW)
    rcs = callaway_santanna(
        mpdta, outcome="lemp", unit=None, time="year", cohort="first.treat", panel=False
    )
    np.testing.assert_allclose(rcs.group_time["att"], panel.group_time["att"], atol=1e-12)
    assert rcs.n_units == len(mpdta)
    # Ignoring the panel link inflates the standard errors here (strong unit effects).
    assert (rcs.group_time["se"] > panel.group_time["se"]).all()


def test_unbalanced_path_matches_panel_where_the_same_units_are_compared(
    mpdta: pd.DataFrame,
) -> None:
    """Drop 2003 for five never-treated units: cells not touching 2003 equal the panel ones."""
    never = mpdta.loc[mpdta["first.treat"] == 0, "countyreal"].unique()[:5]
    holes = mpdta[~(mpdta["countyreal"].isin(never) & (mpdta["year"] == 2003))]
    unb = callaway_santanna(holes, **KW, allow_unbalanced_panel=True)
    later = mpdta[mpdta["year"] >= 2004]
    pan = callaway_santanna(later, **KW)
    early = [n.text for n in pan.notes if n.code == "cs_dropped_early_treated"]
    assert len(early) == 1 and "already treated in the first period" in early[0]
    a = unb.group_time[unb.group_time["base_period"] >= 2004]
    merged = a.merge(pan.group_time, on=["group", "time", "base_period"], suffixes=("", "_p"))
    assert len(merged) == 6  # cohorts 2006 and 2007 at 2005, 2006, 2007
    np.testing.assert_allclose(merged["att"], merged["att_p"], atol=1e-12)
    np.testing.assert_allclose(merged["se"], merged["se_p"], rtol=1e-10)
    assert unb.n_units == 500


def test_unbalanced_panel_dropped_by_default(mpdta: pd.DataFrame) -> None:
    holes = mpdta.drop(index=mpdta.index[:2])
    res = callaway_santanna(holes, **KW)
    unbalanced = [n for n in res.notes if n.code == "cs_dropped_unbalanced"]
    assert len(unbalanced) == 1 and "not observed in all 5 periods" in unbalanced[0].text
    assert res.n_units == 499


def test_dynamic_equals_saturated_event_study_of_cohort_means() -> None:
    """Universal base, never-treated controls, no covariates: each event-time estimate is
    the cohort-size-weighted mean of the cohort-by-period DiD coefficients of a saturated
    regression (interactions of cohort × period dummies), as theory says."""
    rng = np.random.default_rng(3)
    n, periods = 300, np.arange(1, 7)
    g = rng.choice([0, 3, 5], size=n)
    rows = [
        (i, t, g[i], rng.normal() + 0.2 * t + (g[i] > 0) * (t >= g[i]) * (t - g[i] + 1))
        for i in range(n)
        for t in periods
    ]
    df = pd.DataFrame(rows, columns=["id", "t", "g", "y"])
    res = callaway_santanna(
        df, outcome="y", unit="id", time="t", cohort="g", base_period="universal"
    )
    # Saturated TWFE: y ~ unit FE + period FE + sum_{g,t != g-1} 1{G=g, T=t}
    coefs = {}
    for cohort in (3, 5):
        sub = df[df["g"].isin([0, cohort])]
        dm = sub.copy()
        for t in periods:
            if t != cohort - 1:
                dm[f"d{t}"] = ((dm["g"] == cohort) & (dm["t"] == t)).astype(float)
        x = pd.get_dummies(dm[["id", "t"]].astype(str), drop_first=True).astype(float)
        x = pd.concat([x, dm[[c for c in dm.columns if c.startswith("d")]]], axis=1)
        fit = sm.OLS(dm["y"].to_numpy(), sm.add_constant(x.to_numpy())).fit()
        names = ["const", *x.columns]
        for t in periods:
            if t != cohort - 1:
                coefs[(cohort, t)] = fit.params[names.index(f"d{t}")]
    size = {c: (g == c).sum() for c in (3, 5)}
    dyn = res.aggregations["dynamic"]["rows"].set_index("event_time")
    for e in (-3, 0, 1):
        pairs = [(c, c + e) for c in (3, 5) if (c + e) in periods and c + e != c - 1]
        want = sum(size[c] * coefs[(c, t)] for c, t in pairs) / sum(size[c] for c, _ in pairs)
        assert dyn.loc[e, "att"] == pytest.approx(want, abs=1e-10)


# --- bootstrap ----------------------------------------------------------------------------


def test_bootstrap_is_deterministic_under_a_seed(mpdta: pd.DataFrame) -> None:
    a = callaway_santanna(mpdta, **KW, bootstrap=True, n_boot=499, seed=11)
    b = callaway_santanna(mpdta, **KW, bootstrap=True, n_boot=499, seed=11)
    c = callaway_santanna(mpdta, **KW, bootstrap=True, n_boot=499, seed=12)
    assert a.to_dict() == b.to_dict()
    assert a.se != c.se
    assert a.inference == "bootstrap"
    assert a.to_dict()["inference_detail"]["seed"] == 11


def test_bootstrap_close_to_analytic_and_bands_are_uniform(mpdta: pd.DataFrame) -> None:
    ana = callaway_santanna(mpdta, **KW)
    boot = callaway_santanna(mpdta, **KW, bootstrap=True, n_boot=999, seed=1)
    ratio = boot.group_time["se"] / ana.group_time["se"]
    assert ratio.between(0.8, 1.25).all()
    crit = boot.options["crit_group_time"]
    assert 1.96 < crit < 4.0  # a simultaneous band over 12 cells is wider than pointwise
    gt = boot.group_time
    np.testing.assert_allclose(gt["conf_high"] - gt["att"], crit * gt["se"])
    assert boot.options["crit_dynamic"] > 1.96
    rad = callaway_santanna(
        mpdta, **KW, bootstrap=True, n_boot=999, seed=1, boot_weights="rademacher"
    )
    assert (rad.group_time["se"] / ana.group_time["se"]).between(0.8, 1.25).all()


def test_cluster_standard_errors(mpdta: pd.DataFrame) -> None:
    df = mpdta.assign(state=mpdta["countyreal"] // 1000)
    res = callaway_santanna(df, **KW, cluster="state")
    assert res.n_clusters == df["state"].nunique()
    # Clustering by unit reproduces the default standard errors.
    same = callaway_santanna(df, **KW, cluster="countyreal")
    np.testing.assert_allclose(
        same.group_time["se"], callaway_santanna(df, **KW).group_time["se"], rtol=1e-12
    )
    assert not np.allclose(res.group_time["se"], same.group_time["se"])


# --- input handling -----------------------------------------------------------------------


def test_string_unit_ids_work(mpdta: pd.DataFrame) -> None:
    df = mpdta.assign(countyreal="c" + mpdta["countyreal"].astype(str))
    assert callaway_santanna(df, **KW).att == pytest.approx(
        callaway_santanna(mpdta, **KW).att, abs=1e-14
    )


def test_empty_cohort_means_never_treated(mpdta: pd.DataFrame) -> None:
    df = mpdta.assign(**{"first.treat": mpdta["first.treat"].replace(0, np.nan)})
    assert callaway_santanna(df, **KW).att == pytest.approx(
        callaway_santanna(mpdta, **KW).att, abs=1e-14
    )


def test_missing_outcomes_dropped_with_count(mpdta: pd.DataFrame) -> None:
    df = mpdta.copy()
    df.loc[[3, 7, 11], "lemp"] = np.nan
    res = callaway_santanna(df, **KW)
    texts = [n.text for n in res.notes if n.code == "cs_dropped_missing"]
    assert any("dropped 3 of 2500 rows" in t for t in texts)
    assert res.warnings[0].startswith("dropped 3 of 2500 rows")


def test_timing_that_changes_within_a_unit_names_it(mpdta: pd.DataFrame) -> None:
    df = mpdta.copy()
    df.loc[(df["countyreal"] == 8001) & (df["year"] == 2005), "first.treat"] = 2006
    with pytest.raises(EstimationError, match=r"changes within unit 8001.*0 or empty means"):
        callaway_santanna(df, **KW)


def test_duplicate_rows_named(mpdta: pd.DataFrame) -> None:
    df = pd.concat([mpdta, mpdta.iloc[[0]]])
    with pytest.raises(EstimationError, match=r"duplicate \(unit, period\).*\(8001, 2003\)"):
        callaway_santanna(df, **KW)


def _awkward(mpdta: pd.DataFrame) -> pd.DataFrame:
    """String ids, empty cohorts, missing outcomes, a unit with a gap, one treated too early."""
    df = mpdta.assign(
        countyreal="c" + mpdta["countyreal"].astype(str),
        **{"first.treat": mpdta["first.treat"].replace(0, np.nan)},
    )
    df.loc[[3, 700, 2401], "lemp"] = np.nan
    df.loc[df["countyreal"] == "c13011", "first.treat"] = 2003
    return df.drop(index=df.index[(df["countyreal"] == "c8019") & (df["year"] == 2005)])


@pytest.mark.parametrize(
    ("case", "options"),
    [
        ("plain", {"bootstrap": True, "n_boot": 199, "seed": 4}),
        ("plain", {"covariates": ["lpop"], "control": "notyet"}),
        ("awkward", {}),
        ("awkward", {"allow_unbalanced_panel": True}),
    ],
)
def test_results_do_not_depend_on_the_slice_sizes(
    mpdta: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, case: str, options: dict
) -> None:
    """Data reshaped and outcomes centred in small slices give the numbers of one slice."""
    from evalkit.did.cs import _arrays, _fast

    df = mpdta if case == "plain" else _awkward(mpdta)
    assert len(df) < _arrays.ROW_CHUNK and df["countyreal"].nunique() < _fast.UNIT_CHUNK
    whole = callaway_santanna(df, **KW, **options)
    monkeypatch.setattr(_arrays, "ROW_CHUNK", 97)
    monkeypatch.setattr(_fast, "UNIT_CHUNK", 13)
    sliced = callaway_santanna(df, **KW, **options)
    assert sliced.warnings == whole.warnings
    assert (sliced.n_obs, sliced.n_units) == (whole.n_obs, whole.n_units)
    pd.testing.assert_frame_equal(sliced.tidy(), whole.tidy(), rtol=1e-9)


def test_bad_rows_found_in_any_slice(mpdta: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.did.cs import _arrays

    monkeypatch.setattr(_arrays, "ROW_CHUNK", 97)
    df = mpdta.copy()
    df.loc[(df["countyreal"].isin([8001, 55137])) & (df["year"] == 2007), "first.treat"] = 2004
    with pytest.raises(EstimationError, match=r"changes within unit 8001 \(2 unit\(s\) in all\)"):
        callaway_santanna(df, **KW)
    df = pd.concat([mpdta, mpdta.iloc[[2499, 1500]]])
    with pytest.raises(EstimationError, match=r"2 duplicate \(unit, period\) pair\(s\)"):
        callaway_santanna(df, **KW)


def test_single_unit_cohort_warns(mpdta: pd.DataFrame) -> None:
    df = mpdta.copy()
    df.loc[df["countyreal"] == 13011, "first.treat"] = 2005
    res = callaway_santanna(df, **KW)
    small = [n for n in res.notes if n.code == "cs_single_unit_cohorts"]
    assert [n.values["cohorts"] for n in small] == [[2005]] and "2005" in small[0].text
    assert any("single unit" in w for w in res.warnings)


def test_bad_cohort_values_explain_the_convention(mpdta: pd.DataFrame) -> None:
    df = mpdta.astype({"first.treat": object})
    df.loc[0:4, "first.treat"] = "soon"
    with pytest.raises(EstimationError, match=r"not a period.*0 or empty means never treated"):
        callaway_santanna(df, **KW)
    with pytest.raises(EstimationError, match=r"no treated unit.*0 or empty means never"):
        callaway_santanna(mpdta.assign(**{"first.treat": 0}), **KW)


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("control", "nevertreated", "'never', 'notyet'"),
        ("method", "ols", "'dr', 'ipw', 'reg'"),
        ("base_period", "fixed", "'varying', 'universal'"),
    ],
)
def test_bad_options_list_allowed_values(
    mpdta: pd.DataFrame, option: str, value: str, allowed: str
) -> None:
    with pytest.raises(EstimationError, match=allowed):
        callaway_santanna(mpdta, **KW, **{option: value})


def test_missing_column_and_non_numeric_covariate(mpdta: pd.DataFrame) -> None:
    with pytest.raises(EstimationError, match="'nope' not found"):
        callaway_santanna(mpdta, **KW, covariates=["nope"])
    with pytest.raises(EstimationError, match="not numeric"):
        callaway_santanna(mpdta.assign(region="x"), **KW, covariates=["region"])


def test_no_comparison_units_reported(mpdta: pd.DataFrame) -> None:
    df = mpdta[mpdta["first.treat"] > 0]
    res = callaway_santanna(df, **KW, control="notyet")
    gt = res.group_time
    # The last cohort has no not-yet-treated units left once it is treated.
    assert not ((gt["group"] == 2007) & (gt["time"] == 2007)).any()
    assert ((gt["group"] == 2007) & (gt["time"] == 2005)).any()
    assert any("no comparison units" in w for w in res.warnings)
    with pytest.raises(EstimationError, match="no ATT"):
        callaway_santanna(df, **KW, control="never")


def test_covariates_use_the_base_period() -> None:
    """A covariate that is constant within units gives the same answer as its base value."""
    df = pd.read_csv(MPDTA)
    shifted = df.assign(lpop=df["lpop"] + 0.0)
    a = callaway_santanna(df, **KW, covariates=["lpop"])
    b = callaway_santanna(shifted, **KW, covariates=("lpop",))
    assert a.att == b.att


# --- result contract ----------------------------------------------------------------------


def test_result_contract(mpdta: pd.DataFrame) -> None:
    res = callaway_santanna(mpdta, **KW)
    out = res.to_dict()
    for key in (
        "estimator",
        "att",
        "se",
        "ci_low",
        "ci_high",
        "p_value",
        "n_obs",
        "n_units",
        "n_clusters",
        "n_treated_clusters",
        "inference",
        "warnings",
        "group_time",
        "aggregations",
        "pretest_p",
    ):
        assert key in out
    assert out["estimator"] == "callaway_santanna"
    assert set(out["aggregations"]) == {"simple", "group", "calendar", "dynamic"}
    for kind, key in (("group", "group"), ("calendar", "time"), ("dynamic", "event_time")):
        agg = out["aggregations"][kind]
        assert set(agg["overall"]) >= {"att", "se"}
        assert all(key in r and "att" in r and "se" in r for r in agg["rows"])
    assert {"group", "time", "att", "se"} <= set(out["group_time"][0])
    assert out["att"] == out["aggregations"]["simple"]["overall"]["att"]
    json.dumps(out, allow_nan=False)
    tidy = res.tidy()
    assert list(tidy.columns[:7]) == list(TIDY_COLUMNS)
    assert tidy["term"].iloc[0] == "att"
    assert tidy.loc[tidy["term"] == "event_time::-1", "event_time"].iloc[0] == -1
    assert tidy["term"].str.startswith("att_gt::").sum() == 12
    assert "\n" not in repr(res) and repr(res).startswith("CsResult(")
    assert "<table>" in res._repr_html_() and "event_time::3" in res.summary()
    with pytest.raises(AttributeError):
        res.att = 0.0  # type: ignore[misc]
    assert math.isclose(out["p_value"], res.p_value)


def test_universal_reference_cells_have_no_standard_error(mpdta: pd.DataFrame) -> None:
    res = callaway_santanna(mpdta, **KW, base_period="universal")
    ref = res.group_time[res.group_time["reference"]]
    assert len(ref) == 3 and (ref["att"] == 0).all() and ref["se"].isna().all()
    out = res.to_dict()
    json.dumps(out, allow_nan=False)
    # The pre-test leaves the reference cells out and still runs.
    assert 0 < res.pretest_p < 1


def test_no_warnings_on_clean_data(mpdta: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = callaway_santanna(mpdta, **KW, covariates=["lpop"], control="notyet")
    assert res.warnings == ()


def test_fast_cohort_path_equals_general_influence_functions(mpdta: pd.DataFrame) -> None:
    """Balanced panel without covariates: per-cohort influence functions = per-cell ones."""
    from evalkit.did.cs._attgt import _panel_cell, group_time
    from evalkit.did.cs._data import prepare

    for control in ("never", "notyet"):
        data, _ = prepare(
            mpdta,
            outcome="lemp",
            unit="countyreal",
            time="year",
            cohort="first.treat",
            covariates=(),
            cluster=None,
            panel=True,
            allow_unbalanced_panel=False,
            anticipation=0,
        )
        gt = group_time(data, control=control, method="dr", base_period="varying", anticipation=0)
        assert gt.inf is None and gt.cohort_if is not None
        fast = gt.cohort_if.materialise()
        periods = list(data.periods)
        ug = data.unit_cohort
        for j in range(gt.att.size):
            g, c, b = gt.group[j], periods.index(gt.time[j]), periods.index(gt.base[j])
            ctrl = (
                (ug == 0)
                if control == "never"
                else ((ug == 0) | ((ug > periods[max(c, b)]) & (ug != g)))
            )
            att, col = _panel_cell(data, ug == g, ctrl, c, b, "dr", fast=False)
            assert gt.att[j] == pytest.approx(att, abs=1e-13)
            np.testing.assert_allclose(fast[:, j], col, atol=1e-10)


def test_bootstrap_general_path_agrees_with_fast_path(mpdta: pd.DataFrame) -> None:
    fast = callaway_santanna(mpdta, **KW, bootstrap=True, n_boot=999, seed=5)
    general = callaway_santanna(
        mpdta, **KW, bootstrap=True, n_boot=999, seed=5, cluster="countyreal"
    )
    assert general.options["crit_group_time"] == pytest.approx(
        fast.options["crit_group_time"], rel=0.1
    )
    assert (general.group_time["se"] / fast.group_time["se"]).between(0.85, 1.15).all()


def test_few_treated_clusters_warn(mpdta: pd.DataFrame) -> None:
    df = mpdta.assign(state=mpdta["countyreal"] // 1000)
    treated_states = df.loc[df["first.treat"] > 0, "state"].unique()
    keep = df["state"].isin(treated_states[:2]) | (df["first.treat"] == 0)
    res = callaway_santanna(df[keep], **KW, cluster="state")
    few = [n for n in res.notes if n.code == "cs_few_treated_clusters"]
    assert len(few) == 1 and "only 2 treated cluster" in few[0].text
    assert res.n_treated_clusters == 2
    assert any("treated cluster" in w for w in res.warnings)


def test_bootstrap_with_universal_base_and_covariates(mpdta: pd.DataFrame) -> None:
    res = callaway_santanna(
        mpdta,
        **KW,
        base_period="universal",
        covariates=["lpop"],
        control="notyet",
        bootstrap=True,
        n_boot=199,
        seed=3,
    )
    assert res.group_time.loc[res.group_time["reference"], "se"].isna().all()
    assert np.isfinite(res.group_time.loc[~res.group_time["reference"], "se"]).all()
    json.dumps(res.to_dict(), allow_nan=False)

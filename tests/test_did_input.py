"""Bad input gives clear errors (naming column, unit, rows, allowed values) or counted warnings."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.did import estimate
from evalkit.errors import EstimationError


def _panel(units: int = 12, periods: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(units):
        cohort = 3 if i < 4 else (4 if i < 8 else 0)
        for t in range(1, periods + 1):
            d = float(cohort > 0 and t >= cohort)
            rows.append((f"person-{i:02d}", t, cohort, d, rng.normal() + d))
    return pd.DataFrame(rows, columns=["id", "t", "cohort", "d", "y"])


KW = dict(outcome="y", unit="id", time="t", cohort="cohort", estimator="twfe", inference="analytic")


def test_string_unit_ids_work_and_match_integer_ids() -> None:
    df = _panel()
    a = estimate(df, **KW)
    b = estimate(df.assign(id=pd.factorize(df["id"])[0]), **KW)
    assert a.att == pytest.approx(b.att)
    assert a.n_units == 12


def test_timing_that_changes_within_a_unit_names_the_unit() -> None:
    df = _panel()
    df.loc[(df["id"] == "person-01") & (df["t"] == 5), "cohort"] = 4
    with pytest.raises(EstimationError, match=r"changes within unit 'person-01'.*0 or empty"):
        estimate(df, **KW)


def test_duplicate_unit_time_rows_are_named() -> None:
    df = pd.concat([_panel(), _panel().iloc[[7]]])
    with pytest.raises(EstimationError, match=r"duplicate unit-time rows.*\('person-01', 3\)"):
        estimate(df, **KW)


def test_a_cohort_with_one_unit_warns() -> None:
    df = _panel()
    df.loc[df["id"] == "person-11", "cohort"] = 5
    df["d"] = ((df["cohort"] > 0) & (df["t"] >= df["cohort"])).astype(float)
    res = estimate(df, **KW)
    small = [n for n in res.notes if n.code == "single_unit_cohorts"]
    assert [n.values for n in small] == [{"cohorts": [5]}]
    assert "cohort(s) 5 have a single unit" in small[0].text


def test_missing_outcomes_are_dropped_and_counted() -> None:
    df = _panel()
    df.loc[[0, 5, 9], "y"] = np.nan
    res = estimate(df, **KW)
    dropped = [n for n in res.notes if n.code == "dropped_missing_outcome"]
    assert [n.values for n in dropped] == [{"n": 3, "outcome": "y", "kept": 57, "total": 60}]
    assert re.search(r"3 row.s. with a missing outcome 'y'.*57 of 60", dropped[0].text)
    assert res.n_obs == 57


def test_empty_cohort_means_never_treated() -> None:
    df = _panel()
    blank = df.assign(cohort=df["cohort"].astype(object).where(df["cohort"] > 0, None))
    assert estimate(blank, **KW).att == pytest.approx(estimate(df, **KW).att)


def test_cohort_that_is_not_a_period_mentions_the_convention() -> None:
    df = _panel().assign(t=lambda d: d["t"].map(lambda t: f"2025-{t:02d}"))
    df["cohort"] = df["cohort"].map({0: "", 3: "2025-03", 4: "2025-13"})
    with pytest.raises(EstimationError, match=r"'2025-13'.*first treated period.*0 or empty"):
        estimate(df, **KW)


def test_text_periods_are_ordered_and_cohorts_match_them() -> None:
    df = _panel()
    text = df.assign(
        t=df["t"].map(lambda t: f"2025-{t:02d}"),
        cohort=df["cohort"].map({0: "0", 3: "2025-03", 4: "2025-04"}),
    )
    assert estimate(text, **KW).att == pytest.approx(estimate(df, **KW).att)


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("estimator", "ols", "'2x2', 'twfe'"),
        ("vcov", "robust", "'iid', 'hetero', 'cluster'"),
        ("inference", "bayesian", "'analytic', 'bootstrap', 'wild'"),
        ("control", "all", "'never', 'notyet'"),
        ("method", "ml", "'dr', 'ipw', 'reg'"),
    ],
)
def test_options_list_allowed_values(option: str, value: str, allowed: str) -> None:
    kw = {**KW, option: value}
    with pytest.raises(EstimationError, match=f"{option} must be one of {allowed}"):
        estimate(_panel(), **kw)


def test_wild_weights_are_validated() -> None:
    with pytest.raises(EstimationError, match="weights must be one of 'rademacher', 'webb'"):
        estimate(_panel(), **{**KW, "inference": "wild"}, weights="mammen")


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(EstimationError, match=r"unknown option.*n_bootstraps"):
        estimate(_panel(), **KW, n_bootstraps=5)


def test_missing_column_lists_the_available_ones() -> None:
    with pytest.raises(EstimationError, match=r"'outcome_x' not in the data; available"):
        estimate(_panel(), **{**KW, "outcome": "outcome_x"})


def test_cohort_and_treated_are_exclusive() -> None:
    with pytest.raises(EstimationError, match="exactly one of cohort="):
        estimate(_panel(), **KW, treated="d")


def test_non_indicator_treatment_names_the_row() -> None:
    df = _panel().assign(d=lambda d: d["d"] * 2)
    kw = {k: v for k, v in KW.items() if k != "cohort"}
    with pytest.raises(EstimationError, match="'d' must be a 0/1 indicator"):
        estimate(df, treated="d", **kw)


def test_non_numeric_outcome_names_the_value() -> None:
    df = _panel().astype({"y": object})
    df.loc[3, "y"] = "n.v.t."
    with pytest.raises(EstimationError, match=r"'y' must be numeric.*'n.v.t.'"):
        estimate(df, **KW)


def test_treated_indicator_gives_the_same_twfe_as_cohort() -> None:
    df = _panel()
    kw = {k: v for k, v in KW.items() if k != "cohort"}
    assert estimate(df, treated="d", **kw).att == pytest.approx(estimate(df, **KW).att)


def test_two_by_two_needs_one_cohort() -> None:
    with pytest.raises(EstimationError, match="one treated cohort; found 2"):
        estimate(_panel(), **{**KW, "estimator": "2x2"})


def test_two_by_two_on_repeated_cross_sections_without_unit_and_time() -> None:
    rng = np.random.default_rng(1)
    n = 400
    df = pd.DataFrame({"g": rng.integers(0, 2, n), "p": rng.integers(0, 2, n)})
    df["y"] = 1 + df["g"] + df["p"] + 2 * df["g"] * df["p"] + rng.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = estimate(df, outcome="y", treated="g", post="p", estimator="2x2")
    assert res.n_units == n and res.n_clusters == n
    assert res.inference_detail["vcov"] == "hetero"
    assert abs(res.att - 2) < 4 * res.se
    x = np.column_stack([np.ones(n), df["g"], df["p"], df["g"] * df["p"]])
    assert res.att == pytest.approx(np.linalg.lstsq(x, df["y"], rcond=None)[0][3])


def test_group_indicator_changing_within_unit_names_the_unit() -> None:
    df = _panel()
    df["grp"] = (df["cohort"] > 0).astype(int)
    df["post"] = (df["t"] >= 3).astype(int)
    df.loc[(df["id"] == "person-05") & (df["t"] == 1), "grp"] = 0
    with pytest.raises(EstimationError, match="group 'grp' changes within unit 'person-05'"):
        estimate(
            df,
            outcome="y",
            unit="id",
            time="t",
            treated="grp",
            post="post",
            estimator="2x2",
            inference="analytic",
        )


def test_result_repr_is_one_line_and_html_has_the_table() -> None:
    res = estimate(_panel(), **KW)
    assert "\n" not in repr(res)
    assert "<table>" in res._repr_html_() and "conf_high" in res._repr_html_()
    assert "ATT" in res.summary()
    assert list(res.tidy().columns) == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    with pytest.raises(AttributeError):
        res.att = 0  # frozen


def test_constant_outcome_is_a_clear_error_not_a_numpy_warning() -> None:
    df = _panel().assign(y=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for estimator in ("twfe", "event_study"):
            with pytest.raises(EstimationError, match="no variation left"):
                estimate(df, **{**KW, "estimator": estimator})


def test_a_constant_covariate_is_refused_not_dropped() -> None:
    # the regression dropped it without a word: the estimate was the one without it
    # (Callaway–Sant'Anna already refused it: its propensity-score model is singular)
    df = _panel().assign(c=1.0, x=lambda f: np.arange(len(f)) % 3)
    for estimator in ("twfe", "event_study"):
        with pytest.raises(EstimationError, match="covariate 'c' takes one value in every row"):
            estimate(df, **{**KW, "estimator": estimator, "covariates": ["x", "c"]})
    assert estimate(df, **{**KW, "covariates": ["x"]}).att is not None


def test_periods_with_gaps_give_the_same_twfe_and_resampling_coefficient() -> None:
    df = _panel()
    gaps = df.assign(t=df["t"] ** 2 + 100, cohort=df["cohort"].map({0: 0, 3: 109, 4: 116}))
    a = estimate(df, **{**KW, "inference": "permutation"}, max_enumerate=10)
    b = estimate(gaps, **{**KW, "inference": "permutation"}, max_enumerate=10)
    assert a.att == pytest.approx(b.att) and a.p_value == pytest.approx(b.p_value)


def test_treatment_collinear_with_the_fixed_effects_says_why() -> None:
    # two municipalities x four quarters, treatment constant within each: the eight rows
    # that made analytic_row fail with KeyError '_d'
    df = pd.DataFrame(
        {
            "m": ["A"] * 4 + ["B"] * 4,
            "q": [1, 2, 3, 4] * 2,
            "d": [1] * 4 + [0] * 4,
            "y": [1.0, 2.0, 3.0, 5.0, 1.0, 2.0, 2.0, 3.0],
        }
    )
    for estimator in ("twfe", "event_study"):
        with pytest.raises(EstimationError, match="collinear with the fixed effects"):
            estimate(df, outcome="y", unit="m", time="q", treated="d", estimator=estimator)


@pytest.mark.parametrize(
    ("estimator", "inference"),
    [
        ("twfe", "analytic"),
        ("2x2", "analytic"),
        ("imputation", "analytic"),
        ("callaway_santanna", "analytic"),
        ("synthetic_did", "placebo"),
    ],
)
def test_an_infinite_outcome_is_refused_with_its_row(estimator, inference) -> None:
    # it was dropped without a note (TWFE), gave NaN with p = 0.08 (synthetic DiD) or a
    # traceback (Callaway–Sant'Anna: SVD did not converge; imputation: division by zero)
    data = _panel()
    if estimator == "2x2":
        data["cohort"] = np.where(data["cohort"] > 0, 3, 0)
    data.loc[7, "y"] = -np.inf
    kw = {**KW, "estimator": estimator, "inference": inference}
    with pytest.raises(EstimationError, match=r"'y' is infinite in 1 row\(s\) \(first: row 7\)"):
        estimate(data, **kw)


def test_date_periods_are_positions_like_text_periods() -> None:
    # datetime periods used to be read as nanoseconds: event times of ±10**15 and a
    # reference period one nanosecond before the start
    data = _panel(periods=6)
    day = pd.Timestamp("2025-01-01")
    dated = data.assign(
        t=day + pd.to_timedelta((data["t"] - 1) * 31, unit="D"),
        cohort=data["cohort"].map(lambda g: day + pd.Timedelta(days=31 * (g - 1)) if g else pd.NaT),
    )
    kw = {**KW, "estimator": "event_study"}
    want, got = estimate(data, **kw), estimate(dated, **kw)
    assert got.att == pytest.approx(want.att)
    assert got.to_dict()["event_study"] == want.to_dict()["event_study"]


def test_callaway_santanna_refuses_date_periods_in_words() -> None:
    # dates were read as nanoseconds; a never-treated NaT cohort read as "negative cohort"
    data = _panel(periods=6)
    day = pd.Timestamp("2025-01-01")
    dated = data.assign(
        t=day + pd.to_timedelta((data["t"] - 1) * 31, unit="D"),
        cohort=data["cohort"].map(lambda g: day + pd.Timedelta(days=31 * (g - 1)) if g else pd.NaT),
    )
    with pytest.raises(EstimationError, match="'t' holds dates; callaway_santanna counts"):
        estimate(dated, **{**KW, "estimator": "callaway_santanna"})

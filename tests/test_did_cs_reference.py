"""Callaway–Sant'Anna against R ``did`` on ``mpdta`` (numbers in tests/reference/mpdta)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.did.cs import callaway_santanna

REF = Path(__file__).parent / "reference" / "mpdta"
ATT_TOL = 1e-8  # absolute, estimates (R prints 17 significant digits)
SE_RTOL = 1e-6  # relative, analytic standard errors

# R did scenario -> options (see tests/reference/mpdta/README.md)
PANEL = {
    "S1": {},
    "S2": {"covariates": ["lpop"]},
    "S3": {"covariates": ["lpop"], "control": "notyet"},
    "S4": {"covariates": ["lpop"], "method": "ipw"},
    "S5": {"covariates": ["lpop"], "method": "reg"},
    "S6": {"base_period": "universal"},
    "S7": {"covariates": ["lpop"], "control": "notyet", "anticipation": 1},
    "S9": {
        "covariates": ["lpop"],
        "control": "notyet",
        "method": "reg",
        "base_period": "universal",
    },
}
RCS = {
    "R1": {},
    "R2": {"covariates": ["lpop"], "control": "notyet"},
    "R3": {"covariates": ["lpop"], "method": "reg", "base_period": "universal"},
    "R4": {"covariates": ["lpop"], "method": "ipw"},
}
AGG_EXTRA = {"dynamic_bal1": {"balance_e": 1}, "dynamic_win": {"min_e": -2, "max_e": 2}}
ROW_KEY = {"group": "group", "calendar": "time", "dynamic": "event_time"}


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    path = REF / "mpdta.csv"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == "2283bea1221a152420f98dfa20f633c5d054ea51d881115c8cd702a97bcd3167"
    return pd.read_csv(path)


def _fit(data: pd.DataFrame, **kw: object):
    return callaway_santanna(
        data, outcome="lemp", unit="countyreal", time="year", cohort="first.treat", **kw
    )


def _compare(mine: pd.Series, theirs: pd.Series, what: str, rtol: float | None = None) -> None:
    mine_a, theirs_a = mine.to_numpy(float), theirs.to_numpy(float)
    both_na = np.isnan(mine_a) & np.isnan(theirs_a)
    assert not (np.isnan(mine_a) ^ np.isnan(theirs_a)).any(), what
    if rtol is None:
        np.testing.assert_allclose(
            mine_a[~both_na], theirs_a[~both_na], rtol=0, atol=ATT_TOL, err_msg=what
        )
    else:
        np.testing.assert_allclose(
            mine_a[~both_na], theirs_a[~both_na], rtol=rtol, atol=0, err_msg=what
        )


def test_mpdta_is_the_r_panel(mpdta: pd.DataFrame) -> None:
    assert mpdta.shape == (2500, 6)
    assert mpdta["countyreal"].nunique() == 500
    sizes = mpdta.drop_duplicates("countyreal")["first.treat"].value_counts().to_dict()
    assert sizes == {0: 309, 2004: 20, 2006: 40, 2007: 131}


@pytest.mark.parametrize("scenario", sorted(PANEL))
def test_group_time_matches_r_did(mpdta: pd.DataFrame, scenario: str) -> None:
    ref = pd.read_csv(REF / "r_att_gt.csv")
    ref = ref[ref["scenario"] == scenario]
    res = _fit(mpdta, **PANEL[scenario])
    got = res.group_time.rename(columns={"time": "t"})
    merged = ref.merge(got, on=["group", "t"], how="outer", suffixes=("_r", ""), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    _compare(merged["att"], merged["att_r"], f"{scenario} att")
    _compare(merged["se"], merged["se_r"], f"{scenario} se", SE_RTOL)


# Scenarios whose stored aggregation blocks hold every row R printed (S5, S9: a subset).
COMPLETE = {"S1", "S2", "S3", "S6", "S7"}


@pytest.mark.parametrize("scenario", ["S1", "S2", "S3", "S5", "S6", "S7", "S9"])
def test_aggregations_match_r_did(mpdta: pd.DataFrame, scenario: str) -> None:
    ref = pd.read_csv(REF / "r_aggte.csv")
    ref = ref[ref["scenario"] == scenario]
    assert not ref.empty
    for agg, block in ref.groupby("agg"):
        kind = str(agg).split("_")[0]
        res = _fit(mpdta, **PANEL[scenario], **AGG_EXTRA.get(str(agg), {}))
        table = res.aggregations[kind]
        for row in block.itertuples():
            if row.label == "overall":
                att, se = table["overall"]["att"], table["overall"]["se"]
            else:
                rows = table["rows"]
                hit = rows[rows[ROW_KEY[kind]] == float(row.label)]
                assert len(hit) == 1, (scenario, agg, row.label)
                att, se = hit["att"].iloc[0], hit["se"].iloc[0]
            what = f"{scenario} {agg} {row.label}"
            assert att == pytest.approx(row.att, abs=ATT_TOL), what
            if np.isnan(row.se):
                assert np.isnan(se), what
            else:
                assert se == pytest.approx(row.se, rel=SE_RTOL), what
        # The dynamic rows cover exactly R's event times.
        if kind != "simple" and scenario in COMPLETE:
            labels = sorted(float(x) for x in block["label"] if x != "overall")
            assert sorted(table["rows"][ROW_KEY[kind]].astype(float)) == labels


def test_headline_is_simple_aggregation(mpdta: pd.DataFrame) -> None:
    res = _fit(mpdta)
    assert res.att == pytest.approx(-0.039951275155177005, abs=ATT_TOL)
    assert res.se == pytest.approx(0.012034012770185416, rel=SE_RTOL)


@pytest.mark.parametrize(
    ("scenario", "options"), [("S1", {}), ("S5", {"covariates": ["lpop"], "method": "reg"})]
)
def test_wald_pretest_matches_r_did(mpdta: pd.DataFrame, scenario: str, options: dict) -> None:
    ref = pd.read_csv(REF / "r_pretest.csv").set_index("scenario")
    res = _fit(mpdta, **options)
    assert res.options["pretest_stat"] == pytest.approx(ref.loc[scenario, "W"], rel=1e-9)
    assert res.options["pretest_df"] == 5
    # R rounds the p-value to 5 decimals.
    assert round(res.pretest_p, 5) == pytest.approx(ref.loc[scenario, "Wpval"], abs=1e-12)


@pytest.mark.parametrize("scenario", sorted(RCS))
def test_repeated_cross_sections_match_r_did(mpdta: pd.DataFrame, scenario: str) -> None:
    ref = pd.read_csv(REF / "r_att_gt_rc.csv")
    ref = ref[ref["scenario"] == scenario]
    res = callaway_santanna(
        mpdta,
        outcome="lemp",
        unit=None,
        time="year",
        cohort="first.treat",
        panel=False,
        **RCS[scenario],
    )
    assert res.n_units == 2500
    got = res.group_time.rename(columns={"time": "t"})
    merged = ref.merge(got, on=["group", "t"], how="outer", suffixes=("_r", ""), indicator=True)
    assert (merged["_merge"] == "both").all()
    _compare(merged["att"], merged["att_r"], f"{scenario} att")
    _compare(merged["se"], merged["se_r"], f"{scenario} se", SE_RTOL)

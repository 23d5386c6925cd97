"""Questionnaire scoring, reliability, response and change against hand-scored examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evalkit.analysis.change import change_did_table, paired_change_table
from evalkit.analysis.questionnaire import QUESTIONNAIRE_TABLES, questionnaire_tables
from evalkit.analysis.reliability import cronbach_alpha
from evalkit.analysis.scoring import score_responses
from evalkit.errors import DataValidationError, EvalkitError

HERE = Path(__file__).parent
INSTRUMENTS = yaml.safe_load(
    (HERE.parent / "data_schemas" / "questionnaire.yaml").read_text(encoding="utf-8")
)["instruments"]


def long(person, wave, instrument, values, *, group="pilot", mun="GM0001", reasons=None):
    items = INSTRUMENTS[instrument]["items"]
    rows = []
    for i, (item, v) in enumerate(zip(items, values, strict=True)):
        reason = (reasons or {}).get(i)
        if v is None and reason is None:
            reason = "not_asked"
        rows.append(
            {
                "person_id": person,
                "municipality": mun,
                "group": group,
                "wave": wave,
                "admin_date": pd.Timestamp("2025-01-01"),
                "mode": "web",
                "instrument": instrument,
                "instrument_version": "1",
                "item": item,
                "value": np.nan if v is None else float(v),
                "missing_reason": reason,
            }
        )
    return rows


def score_of(scores, person, scale, wave="T0"):
    s = scores.loc[
        (scores["person_id"] == person) & (scores["scale"] == scale) & (scores["wave"] == wave),
        "value",
    ]
    return s.item()


def test_mhi5_scoring_reverses_calm_and_happy_and_needs_all_items():
    rows = (
        long("a", "T0", "mhi5", [2, 3, 4, 2, 5])
        + long("b", "T0", "mhi5", [6, 6, 1, 6, 1])
        + long("c", "T0", "mhi5", [6, 6, 1, None, 1])
    )
    s = score_responses(pd.DataFrame(rows), INSTRUMENTS)
    # a: 2, 3, 7-4=3, 2, 7-5=2 -> sum 12 -> (12-5)*4 = 28, below 60
    assert score_of(s, "a", "mhi5") == 28 and score_of(s, "a", "mhi5_unhealthy") == 1
    assert score_of(s, "b", "mhi5") == 100 and score_of(s, "b", "mhi5_unhealthy") == 0
    assert np.isnan(score_of(s, "c", "mhi5")) and np.isnan(score_of(s, "c", "mhi5_unhealthy"))
    no_cut = score_responses(pd.DataFrame(rows), INSTRUMENTS, mhi5_cutoff=None)
    assert "mhi5_unhealthy" not in set(no_cut["scale"])


def test_zrm_domains_low_count_and_incomplete_flag():
    rows = long("a", "T0", "zrm", [1, 2, 3, 4, 5, 3, 3, 3, 3, 3, 3, 3, 3]) + long(
        "b", "T0", "zrm", [2] * 12 + [None]
    )
    s = score_responses(pd.DataFrame(rows), INSTRUMENTS)
    assert score_of(s, "a", "zrm_mean") == pytest.approx(39 / 13)
    assert score_of(s, "a", "zrm_n_low") == 2 and score_of(s, "a", "zrm_incomplete") == 0
    assert score_of(s, "b", "zrm_mean") == 2 and score_of(s, "b", "zrm_n_low") == 12
    assert score_of(s, "b", "zrm_n_scored") == 12 and score_of(s, "b", "zrm_incomplete") == 1
    tabs = questionnaire_tables(pd.DataFrame(rows), instruments=INSTRUMENTS)
    summ = tabs["zrm_summary"].set_index("group").loc["pilot"]
    assert summ["n"] == 2 and summ["n_incomplete"] == 1 and summ["mean_n_low"] == 7
    dom = tabs["zrm_domains"].set_index(["group", "domain"])
    assert dom.loc[("pilot", "zrm_justitie"), "n"] == 1  # b's missing domain is not counted
    assert dom.loc[("pilot", "zrm_financien"), "n_low"] == 2


def test_nps_and_satisfaction_exclude_not_applicable():
    rows = []
    for i, v in enumerate([10, 9, 8, 7, 6, 0]):
        rows += long(f"n{i}", "exit", "nps", [v])
    rows += long("n9", "exit", "nps", [None], reasons={0: "refused"})
    # satisfaction item 1: 5, 4, 2 answered; code 8 (n.v.t.) and a typed n.v.t. excluded
    rows += long("s1", "exit", "satisfaction", [5, 5, 5, 5, 5])
    rows += long("s2", "exit", "satisfaction", [4, 4, 4, 4, 4])
    rows += long("s3", "exit", "satisfaction", [2, 2, 2, 2, 2])
    rows += long("s4", "exit", "satisfaction", [8, 3, 3, 3, 3])
    rows += long("s5", "exit", "satisfaction", [None, 3, 3, 3, 3], reasons={0: "not_applicable"})
    tabs = questionnaire_tables(pd.DataFrame(rows), instruments=INSTRUMENTS)
    nps = tabs["nps"].set_index("group").loc["pilot"]
    assert (nps["n"], nps["n_promoters"], nps["n_passives"], nps["n_detractors"]) == (6, 2, 2, 2)
    assert nps["nps"] == 0
    sat = tabs["satisfaction"].set_index(["group", "item"]).loc[("pilot", "tevr_1")]
    assert (sat["n"], sat["n_agree"], sat["n_not_applicable"]) == (3, 2, 2)
    assert sat["share_agree"] == pytest.approx(2 / 3)
    sat2 = tabs["satisfaction"].set_index(["group", "item"]).loc[("pilot", "tevr_2")]
    assert (sat2["n"], sat2["n_agree"]) == (5, 2)


def test_nps_range_extremes():
    rows = []
    for i, v in enumerate([10, 10, 10, 0]):
        rows += long(f"p{i}", "exit", "nps", [v])
    assert (
        questionnaire_tables(pd.DataFrame(rows), instruments=INSTRUMENTS)["nps"]["nps"].iloc[0]
        == 50
    )


def test_cronbach_alpha_matches_published_example():
    df = pd.read_csv(HERE / "reference" / "analysis_cronbach" / "statology_restaurant.csv")
    res = cronbach_alpha(df)
    assert res["alpha"] == pytest.approx(0.7734375, abs=1e-9)
    assert res["conf_low"] == pytest.approx(0.336, abs=5e-4)
    assert res["conf_high"] == pytest.approx(0.939, abs=5e-4)
    assert (res["n"], res["k"]) == (10, 3)
    # listwise: a respondent with a missing item is left out
    with_gap = pd.concat([df, pd.DataFrame({"Q1": [1.0], "Q2": [np.nan], "Q3": [3.0]})])
    assert cronbach_alpha(with_gap)["alpha"] == pytest.approx(0.7734375, abs=1e-9)
    assert np.isnan(cronbach_alpha(df.iloc[:2])["alpha"])


def test_out_of_range_values_name_the_row():
    rows = long("a", "T0", "mhi5", [2, 3, 7, 2, 5])
    with pytest.raises(DataValidationError, match=r"row 2: mhi5\.mhi5_3 = 7 outside 1\.\.6"):
        score_responses(pd.DataFrame(rows), INSTRUMENTS)
    with pytest.raises(EvalkitError, match="instruments"):
        questionnaire_tables(pd.DataFrame(rows), instruments={})


def panel(effect: float, seed: int = 3) -> pd.DataFrame:
    """Pilot (60) and comparison (60) persons with MHI-5 at T0 and T12m; some drop out."""
    rng = np.random.default_rng(seed)
    rows = []
    for grp, mun in (("pilot", "GM0001"), ("comparison", "GM0002")):
        for i in range(60):
            base = rng.integers(2, 6, size=5)
            rows += long(f"{grp}{i}", "T0", "mhi5", list(base), group=grp, mun=mun)
            if i % 6 == 5:
                rows += long(f"{grp}{i}", "T12m", "mhi5", [None] * 5, group=grp, mun=mun)
                continue
            shift = effect if grp == "pilot" else 0
            later = np.clip(
                base + np.array([1, 1, -1, 1, -1]) * shift + rng.integers(-1, 2, size=5), 1, 6
            )
            rows += long(f"{grp}{i}", "T12m", "mhi5", list(later), group=grp, mun=mun)
    return pd.DataFrame(rows)


def test_response_change_and_did():
    tabs = questionnaire_tables(panel(1), instruments=INSTRUMENTS)
    assert set(tabs) == set(QUESTIONNAIRE_TABLES)
    resp = tabs["response"].set_index(["group", "wave"])
    assert resp.loc[("pilot", "T0"), "n_responded"] == 60
    assert resp.loc[("pilot", "T12m"), "n_invited"] == 60
    assert resp.loc[("pilot", "T12m"), "n_responded"] == 50
    assert resp.loc[("all", "T12m"), "retention"] == pytest.approx(100 / 120)
    nr = tabs["nonresponse"]
    row = nr.loc[(nr["group"] == "all") & (nr["scale"] == "mhi5")].iloc[0]
    assert (row["n_responders"], row["n_nonresponders"]) == (100, 20)
    web = nr.loc[(nr["group"] == "all") & (nr["scale"] == "mode_web")].iloc[0]
    assert web["mean_responders"] == 1 and web["n_nonresponders"] == 20
    # a yes/no scale carries the persons with each answer (for the suppression plan)
    assert (web["n_responders_yes"], web["n_responders_no"]) == (100, 0)
    assert web["n_nonresponders_yes"] + web["n_nonresponders_no"] == 20
    assert web["n_nonresponders_yes"] == round(web["mean_nonresponders"] * 20)
    assert np.isnan(row["n_responders_yes"]) and np.isnan(row["n_nonresponders_no"])
    # the suppression plan and the document know these counts by these names
    from evalkit.report.plan_rules import NONRESPONSE_YES_NO

    assert set(NONRESPONSE_YES_NO) <= set(nr.columns)
    ch = tabs["change"].set_index(["group", "scale", "wave"]).loc[("pilot", "mhi5", "T12m")]
    assert ch["n"] == 50 and ch["mean_change"] > 10 and ch["conf_low"] > 0
    assert ch["wilcoxon_p"] < 0.01
    comp = tabs["change"].set_index(["group", "scale", "wave"]).loc[("comparison", "mhi5", "T12m")]
    assert comp["conf_low"] < 0 < comp["conf_high"] or abs(comp["mean_change"]) < 5
    did = tabs["change_did"].set_index("method").loc["welch_change"]
    assert did["scale"] == "mhi5" and did["n_pilot"] == 50 and did["estimate"] > 10
    # one pilot municipality: no person-level interval or p-value
    assert did["status"] == "descriptive_only" and np.isnan(did["p_value"])
    assert "only 1 pilot municipality" in did["warnings"]
    # with its code, so the Dutch report words it in Dutch
    assert did["warning_codes"] == [
        {"code": "person_level_few_clusters", "values": {"n": 1, "units": "municipality"}}
    ]
    two_by_two = tabs["change_did"].set_index("method").loc["did_2x2"]
    assert [c["code"] for c in two_by_two["warning_codes"]].count("few_treated_permutation") == 1
    many = panel(1).assign(municipality=lambda f: f["person_id"].str[-1].radd("GM000"))
    did5 = questionnaire_tables(many, instruments=INSTRUMENTS)["change_did"]
    welch = did5.set_index("method").loc["welch_change"]
    assert welch["status"] == "ok" and welch["conf_low"] > 0 and welch["p_value"] < 0.01
    rel = tabs["reliability"]
    assert set(rel["wave"]) == {"T0", "T12m"} and rel["n"].iloc[0] == 120


def test_paired_change_matches_manual_computation():
    tabs_scores = score_responses(panel(0, seed=5), INSTRUMENTS)
    ch = paired_change_table(tabs_scores)
    row = ch.set_index(["group", "scale", "wave"]).loc[("all", "mhi5", "T12m")]
    t0 = tabs_scores.loc[(tabs_scores["scale"] == "mhi5") & (tabs_scores["wave"] == "T0")]
    t1 = tabs_scores.loc[(tabs_scores["scale"] == "mhi5") & (tabs_scores["wave"] == "T12m")]
    m = t0.merge(t1, on="person_id").dropna(subset=["value_x", "value_y"])
    d = m["value_y"] - m["value_x"]
    assert row["n"] == len(d) and row["mean_change"] == pytest.approx(d.mean())
    from scipy import stats

    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    assert row["conf_high"] == pytest.approx(d.mean() + half)
    assert change_did_table(tabs_scores.assign(group="pilot")).empty


def test_mhi5_incomplete_counts_only_person_waves_that_exist():
    # two municipalities, two groups, two waves: a pivot over every combination would
    # invent person-waves; by hand there are 3 complete and 1 incomplete in wave T0
    rows = (
        long("a", "T0", "mhi5", [2, 3, 4, 2, 5])
        + long("b", "T0", "mhi5", [6, 6, 1, 6, 1], group="comparison", mun="GM0002")
        + long("c", "T0", "mhi5", [6, 6, 1, None, 1])
        + long("d", "T0", "mhi5", [3, 3, 3, 3, 3], group="comparison", mun="GM0002")
        + long("a", "T12m", "mhi5", [2, 3, 4, 2, 5])
    )
    tab = questionnaire_tables(pd.DataFrame(rows), instruments=INSTRUMENTS)["mhi5"]
    by = tab.set_index(["group", "wave"])
    assert by.loc[("all", "T0"), "n"] == 3 and by.loc[("all", "T0"), "n_incomplete"] == 1
    assert by.loc[("pilot", "T0"), "n"] == 1 and by.loc[("pilot", "T0"), "n_incomplete"] == 1
    assert by.loc[("comparison", "T0"), "n_incomplete"] == 0
    assert by.loc[("all", "T12m"), "n"] == 1 and by.loc[("all", "T12m"), "n_incomplete"] == 0


def test_response_counts_the_baseline_cohort_as_invited_later():
    from evalkit.analysis.response import response_table
    from evalkit.analysis.scoring import prepare_responses

    full = [2, 3, 4, 2, 5]
    rows = (
        long("a", "T0", "mhi5", full)
        + long("b", "T0", "mhi5", full)
        + long("c", "T0", "mhi5", full)
        + long("a", "T3m", "mhi5", full)
        + long("b", "T3m", "mhi5", [None] * 5)  # a row, nothing answered
    )  # c has no T3m row at all: invited all the same, as part of the baseline cohort
    tab = response_table(prepare_responses(pd.DataFrame(rows), INSTRUMENTS))
    by = tab.loc[tab["group"] == "pilot"].set_index("wave")
    assert by.loc["T3m", "n_invited"] == 3 and by.loc["T3m", "n_responded"] == 1
    assert by.loc["T3m", "response_rate"] == pytest.approx(1 / 3)
    # an export of respondents only cannot tell how many were invited at baseline
    assert np.isnan(by.loc["T0", "n_invited"]) and np.isnan(by.loc["T0", "response_rate"])
    with_nonresponse = rows + long("d", "T0", "mhi5", [None] * 5)
    tab = response_table(prepare_responses(pd.DataFrame(with_nonresponse), INSTRUMENTS))
    t0 = tab.loc[(tab["group"] == "pilot") & (tab["wave"] == "T0")].iloc[0]
    assert t0["n_invited"] == 4 and t0["response_rate"] == pytest.approx(3 / 4)

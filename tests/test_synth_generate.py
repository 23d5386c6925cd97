"""The synthetic pilot in memory: BSNs, base rates, ages, panel shape, truth, fast path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import EvalkitError
from evalkit.synth import (
    PANEL_OUTCOMES,
    PilotDesign,
    elfproef,
    generate,
    simulate_outcome_panel,
)


@pytest.fixture(scope="module")
def pilot():
    return generate(PilotDesign.preset("pilot"), seed=1)


@pytest.fixture(scope="module")
def staggered():
    return generate(PilotDesign.preset("staggered"), seed=2)


@pytest.fixture(scope="module")
def debt():
    return generate(PilotDesign.preset("debt_programme"), seed=3)


def _elfproef_by_hand(bsn: str) -> bool:
    digits = [int(c) for c in bsn]
    total = sum(w * d for w, d in zip([9, 8, 7, 6, 5, 4, 3, 2, -1], digits, strict=True))
    return len(bsn) == 9 and total % 11 == 0


def test_elfproef_known_numbers():
    # 111222333 and 123456782 are the textbook valid BSNs; 123456789 is not.
    assert elfproef(np.array([111222333, 123456782])).tolist() == [True, True]
    assert elfproef(np.array([123456789, 111222334])).tolist() == [False, False]


def test_every_bsn_passes_the_elfproef_and_is_synthetic(pilot):
    bsns = pd.concat([pilot.panel["bsn"], pilot.questionnaire["bsn"], pilot.case_events["bsn"]])
    unique = bsns.unique()
    assert all(len(b) == 9 and b.startswith("999") for b in unique)
    assert all(_elfproef_by_hand(b) for b in unique[:500])
    assert elfproef(unique.astype(np.int64)).all()
    # one BSN per person
    per_person = pilot.panel.groupby("person_id")["bsn"].nunique()
    assert (per_person == 1).all()
    assert pilot.panel["bsn"].nunique() == pilot.panel["person_id"].nunique()


def test_panel_has_the_canonical_columns(pilot):
    from pathlib import Path

    import yaml

    schema = yaml.safe_load(
        (Path(__file__).parents[1] / "data_schemas" / "outcome_panel.yaml").read_text()
    )
    # `region` (labour-market region) is optional; only the national generator writes it.
    assert list(pilot.panel.columns) == [*(c for c in schema["columns"] if c != "region"), "bsn"]


def test_ages_16_to_27_and_unbalanced_panel(pilot):
    panel = pilot.panel
    assert panel["age"].between(16, 27).all()
    assert panel["age"].min() == 16 and panel["age"].max() == 27
    months = panel.groupby("person_id")["month"].agg(["min", "max", "count"])
    first, last = panel["month"].min(), panel["month"].max()
    assert months["count"].nunique() > 10
    assert (months["min"] > first).sum() > 100  # 16-year-olds entering
    assert (months["max"] < last).sum() > 100  # leaving at 28 (or moving away)
    alive = panel.groupby("month").size()
    assert alive.between(2500, 3500).all()
    assert not panel.duplicated(["person_id", "month"]).any()


def test_outcomes_are_consistent(pilot):
    p = pilot.panel
    assert (p["neet"] == (~p["enrolled"] & ~p["employed"])).all()
    assert not (p["social_assistance"] & (p["age"] < 18)).any()
    assert not (p["early_school_leaving"] & p["startkwalificatie"]).any()
    assert not (p["early_school_leaving"] & p["enrolled"]).any()
    assert not (p["homeless"] & p["independent_living"]).any()
    assert ((p["n_creditors"] > 0) == p["problematic_debt"]).all()
    assert ((p["debt_amount"] > 0) == p["problematic_debt"]).all()
    # startkwalificatie never goes away
    sk = p.sort_values(["person_id", "month"]).groupby("person_id")["startkwalificatie"]
    ordered = p.sort_values(["person_id", "month"])["startkwalificatie"]
    assert (sk.cummax() == ordered).all()


@pytest.mark.parametrize(
    ("outcome", "low", "high"),
    [
        ("neet", 0.025, 0.06),
        ("social_assistance", 0.01, 0.035),
        ("problematic_debt", 0.05, 0.08),
        ("homeless", 0.0005, 0.005),
    ],
)
def test_base_rates_general_and_vulnerable(pilot, outcome, low, high):
    p = pilot.panel
    pre = p["month"] < pd.Timestamp("2025-10-01")
    vulnerable = p["school_type"].isin(["pro", "vso", "mbo1"])
    general_rate = p.loc[pre & ~vulnerable, outcome].mean()
    vulnerable_rate = p.loc[pre & vulnerable, outcome].mean()
    assert low <= general_rate <= high
    assert vulnerable_rate >= 2.5 * general_rate


def test_age_gradients(pilot):
    by_age = pilot.panel.groupby("age")[
        ["enrolled", "employed", "problematic_debt", "social_assistance"]
    ].mean()
    assert by_age.loc[16, "enrolled"] > 0.85 > 0.3 > by_age.loc[27, "enrolled"]
    assert by_age.loc[27, "employed"] > by_age.loc[16, "employed"]
    assert (
        by_age.loc[25:27, "problematic_debt"].mean()
        > 3 * by_age.loc[16:17, "problematic_debt"].mean()
    )
    assert by_age.loc[16:17, "social_assistance"].sum() == 0


def test_truth_sign_matches_design(pilot, staggered, debt):
    for sp in (pilot, staggered, debt):
        for outcome, effect in sp.design.effects.items():
            entry = sp.truth["outcomes"][outcome]
            att = entry["att"]
            # rare outcome x tiny effect x one municipality: only a few cells can flip
            expected_flips = entry["n_treated_cells"] * abs(effect)
            if expected_flips >= 20:
                assert np.sign(att) == np.sign(effect), (sp.design.generator, outcome, att)
            else:
                assert np.sign(att) in (0.0, np.sign(effect))
            assert abs(att) <= 1.5 * abs(effect) + 0.005
        for outcome in ("homeless", "social_assistance", "startkwalificatie"):
            if outcome not in sp.design.effects:
                assert sp.truth["outcomes"][outcome]["att"] == 0.0
        assert sp.truth["throughput"]["att_days_registration_to_start"] == pytest.approx(
            sp.design.throughput_effect_days
        )
        assert np.sign(sp.truth["zrm"]["att_last_wave"]) == np.sign(sp.design.zrm_effect)


def test_simple_did_recovers_a_large_effect():
    design = PilotDesign.preset("pilot").replace(
        effects={"neet": -0.04}, n_persons=6000, icc=0.0, shock_sd=0.0
    )
    panel = simulate_outcome_panel(design, 11, ["neet"])
    truth = generate(design, 11).truth["outcomes"]["neet"]["att"]
    post = panel["month"] >= pd.Timestamp("2025-10-01")
    means = panel.groupby([panel["treated"], post])["neet"].mean()
    did = (means[True, True] - means[True, False]) - (means[False, True] - means[False, False])
    assert truth == pytest.approx(-0.04, abs=0.01)
    assert did == pytest.approx(truth, abs=0.015)


def test_staggered_has_several_start_months(staggered):
    cohorts = staggered.truth["cohorts"]
    assert len(cohorts) >= 3
    fast = simulate_outcome_panel(staggered.design, staggered.seed, ["neet"])
    assert fast.loc[fast["treated"], "cohort"].nunique() >= 3
    assert (fast.loc[~fast["treated"], "cohort"] == 0).all()
    assert (fast["treated_post"] == (fast["treated"] & (fast["period"] >= fast["cohort"]))).all()
    share = staggered.panel["school_type"].isin(["pro", "vso", "mbo1"]).mean()
    assert share > 0.35


def test_fast_path_matches_full_generator(pilot):
    fast = simulate_outcome_panel(pilot.design, pilot.seed)
    full = pilot.panel
    assert len(fast) == len(full)
    assert (fast["person"].to_numpy() == full["person_id"].to_numpy()).all()
    assert (fast["month"].to_numpy() == full["month"].to_numpy()).all()
    assert (fast["municipality"].astype(str).to_numpy() == full["municipality"].to_numpy()).all()
    for outcome in PANEL_OUTCOMES:
        assert (fast[outcome].to_numpy() == full[outcome].to_numpy()).all(), outcome
    subset = simulate_outcome_panel(pilot.design, pilot.seed, ["employed", "homeless"])
    assert list(subset.columns[-2:]) == ["employed", "homeless"]
    assert (subset["employed"] == fast["employed"]).all()


def test_fast_path_rejects_unknown_outcomes():
    with pytest.raises(EvalkitError, match=r"unknown outcome.*neet"):
        simulate_outcome_panel(PilotDesign.preset("pilot"), 1, ["debts"])


def test_same_seed_same_data_other_seed_other_data(pilot):
    again = generate(pilot.design, 1)
    pd.testing.assert_frame_equal(again.panel, pilot.panel)
    pd.testing.assert_frame_equal(again.questionnaire, pilot.questionnaire)
    pd.testing.assert_frame_equal(again.case_events, pilot.case_events)
    assert again.truth == pilot.truth
    other = generate(pilot.design, 2)
    assert not other.panel["bsn"].head(100).equals(pilot.panel["bsn"].head(100))
    assert other.truth["outcomes"]["neet"]["att"] != pilot.truth["outcomes"]["neet"]["att"]


def test_questionnaire_waves_missing_codes_and_nonresponse(debt):
    q = debt.questionnaire
    assert set(q["wave"]) == {"T0", "T3m", "T6m"}
    assert set(q["group"]) == {"pilot", "comparison"}
    zrm = q.filter(like="zrm_")
    assert set(np.unique(zrm.to_numpy())) <= {1, 2, 3, 4, 5, 7, 8, 9}
    assert (zrm.isin([7, 9]).to_numpy()).mean() > 0.01
    assert (q.filter(like="tevr_") == 8).to_numpy().mean() > 0.04
    assert q["nps"].isna().any() and q["nps"].dropna().between(0, 10).all()
    t0 = q[q["wave"] == "T0"].set_index("person_id")
    base = t0.filter(like="zrm_").where(lambda d: d <= 5).mean(axis=1)
    answered = set(q.loc[q["wave"] == "T3m", "person_id"])
    responded = base.index.isin(list(answered))
    assert 0.5 < responded.mean() < 0.95
    assert base[responded].mean() > base[~responded].mean()  # low self-sufficiency drops out
    assert (q.groupby("person_id")["admin_date"].apply(lambda s: s.is_monotonic_increasing)).all()


def test_case_events_shape(pilot):
    ev = pilot.case_events
    first = ev.groupby("case_id").first()
    assert (first["event_type"] == "registration").all()
    assert (ev.groupby("case_id")["event_date"].apply(lambda s: s.is_monotonic_increasing)).all()
    assert ev.groupby("case_id")["person_id"].nunique().max() == 1
    ends = ev[ev["event_type"].isin(["exit", "dropout"])]["case_id"].unique()
    assert 0 < len(ends) < ev["case_id"].nunique()  # some cases still open (censored)
    assert ev["event_date"].max() <= pd.Timestamp("2026-06-30")
    hand = ev[ev["event_type"] == "warm_handover"]
    assert hand["receiving_org"].notna().all() and len(hand) > 20
    intake = ev[ev["event_type"] == "intake"]
    assert set(intake["case_id"]) <= set(hand["case_id"])
    merged = intake.drop(columns="receiving_org").merge(
        hand[["case_id", "receiving_org"]], on="case_id"
    )
    assert (merged["organisation"] == merged["receiving_org"]).all()
    assert ev["crisis"].any() and ev.loc[ev["crisis"], "crisis_type"].notna().all()
    dec = ev[ev["event_type"] == "decision"]
    assert set(dec["domain"]) == {"debts", "income"}
    # caseloads: open cases per coach in the second half of the panel around 30
    reg = ev[ev["event_type"] == "registration"].set_index("case_id")["event_date"]
    end = ev[ev["event_type"].isin(["exit", "dropout"])].groupby("case_id")["event_date"].max()
    coach = ev[ev["event_type"] == "registration"].set_index("case_id")["coach_id"]
    mid = pd.Timestamp("2025-12-15")
    open_ = (reg <= mid) & (end.reindex(reg.index).fillna(pd.Timestamp("2100-01-01")) > mid)
    load = coach[open_].value_counts()
    assert 18 <= load.mean() <= 40


def test_throughput_shortens_in_pilot_after_start(staggered):
    ev = staggered.case_events
    reg = ev[ev["event_type"] == "registration"].set_index("case_id")
    start = ev[ev["event_type"] == "start"].set_index("case_id")["event_date"]
    days = (start - reg["event_date"]).dt.days.dropna()
    starts = {m: pd.Timestamp(s + "-01") for m, s in staggered.design.treated_starts.items()}
    after = reg.apply(
        lambda r: r["municipality"] in starts and r["event_date"] >= starts[r["municipality"]],
        axis=1,
    )
    after = after.reindex(days.index)
    assert days[after].median() < days[~after].median() - 10


def test_design_validation_messages():
    with pytest.raises(EvalkitError, match="generator 'x' is not one of"):
        PilotDesign(generator="x")  # type: ignore[arg-type]
    with pytest.raises(EvalkitError, match="treated unit GM0999 is not among"):
        PilotDesign(treated_starts={"GM0999": "2025-10"})
    with pytest.raises(EvalkitError, match=r"effect debts=-0\.1: outcome must be one of"):
        PilotDesign(effects={"debts": -0.1})
    with pytest.raises(EvalkitError, match="'2025-13' is not a month"):
        PilotDesign(treated_starts={"GM9001": "2025-13"})
    with pytest.raises(EvalkitError, match="unknown generator 'nope'; allowed: pilot"):
        PilotDesign.preset("nope")


def test_overall_rates_are_met():
    design = PilotDesign.preset("staggered").with_overall_rates({"neet": 0.08})
    assert design.overall_rate("neet") == pytest.approx(0.08)
    panel = simulate_outcome_panel(design.replace(effects={}), 5, ["neet"])
    assert panel["neet"].mean() == pytest.approx(0.08, rel=0.2)
    with pytest.raises(EvalkitError, match="'debts' is not one of"):
        design.with_overall_rates({"debts": 0.1})


def test_turning_18_effect_multiplier():
    from evalkit.synth._outcomes import potential_outcomes
    from evalkit.synth._population import make_population

    design = PilotDesign.preset("pilot").replace(
        n_persons=60_000, effects={"neet": -0.01}, turning_18_multiplier=3.0
    )
    pop = make_population(design, 2)
    y0, y1 = potential_outcomes(design, 2, pop, ["neet"])["neet"]
    treated = pop.alive & pop.treated_now
    diff = y1.astype(int) - y0.astype(int)
    turning = pop.turning_18[:, None]
    assert (treated & turning).sum() > 500
    att_18 = diff[treated & turning].mean()
    att_rest = diff[treated & ~turning].mean()
    assert att_18 < 1.5 * att_rest < 0


def test_known_test_bsn_passes():
    assert elfproef(np.array([999993653])).tolist() == [True]


def test_edge_designs_generate_and_write(tmp_path):
    from evalkit.synth import write_demo

    all_treated = PilotDesign.preset("staggered").replace(
        municipalities=("GM9001", "GM9002", "GM9003"),
        treated_starts={"GM9001": "2024-10", "GM9002": "2025-01", "GM9003": "2025-04"},
        n_persons=300,
        n_cases=200,
    )
    sp = generate(all_treated, 1)
    assert set(sp.questionnaire["group"]) == {"pilot"}  # no comparison group to ask
    short = PilotDesign.preset("pilot").replace(
        first_month="2025-08", last_month="2025-11", n_persons=200, n_cases=50
    )
    sp = generate(short, 1)
    assert set(sp.questionnaire["wave"]) == {"T0"}  # follow-up after the reference date
    paths = write_demo(sp, tmp_path)
    assert all(p.stat().st_size > 0 for p in paths.values())


def test_public_surface_and_reprs(pilot):
    import evalkit.synth as synth

    assert synth.__all__ == [
        "GENERATORS",
        "LATENT_OUTCOMES",
        "PANEL_OUTCOMES",
        "NationalPlan",
        "PilotDesign",
        "SyntheticPilot",
        "elfproef",
        "generate",
        "load_regions",
        "plan_national",
        "simulate_outcome_panel",
        "synthetic_bsns",
        "write_demo",
        "write_national",
    ]
    assert repr(pilot.design) == (
        "PilotDesign('pilot', 12 municipalities, 1 treated from 2025-10, "
        "2024-01..2026-06, n_persons=3000)"
    )
    assert repr(pilot).startswith("SyntheticPilot(generator='pilot', seed=1, panel=")

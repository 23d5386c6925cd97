"""Handovers, out of sight, switches and caseload on constructed journeys."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from evalkit.analysis.caseload import caseload_summary, weekly_caseload
from evalkit.analysis.handovers import (
    handover_summary,
    handover_times,
    out_of_sight,
    out_of_sight_summary,
    switches,
    switches_summary,
)
from evalkit.analysis.throughput import throughput_tables
from evalkit.errors import EvalkitError

REF = date(2025, 7, 31)
ORGS = {"School X": "school", "Doorstroompunt D": "doorstroompunt", "Gemeente G": "municipality"}


def ev(case, person, etype, day, org, *, receiving=None, coach=None, mun="GM0001"):
    return {
        "event_id": f"{case}-{etype}-{day}",
        "case_id": case,
        "person_id": person,
        "municipality": mun,
        "domain": "education",
        "org_type": ORGS[org],
        "organisation": org,
        "coach_id": coach,
        "event_type": etype,
        "event_date": pd.Timestamp(day),
        "crisis": False,
        "crisis_type": None,
        "outcome": None,
        "receiving_org": receiving,
    }


def journey() -> pd.DataFrame:
    """P1: school -> Doorstroompunt (arrives after 7 days) -> municipality (after 17 days),
    then ends on 1 April and is never seen again. P2: handed over on 1 June, never arrives."""
    return pd.DataFrame(
        [
            ev("A", "P1", "registration", "2025-01-06", "School X"),
            ev("A", "P1", "warm_handover", "2025-02-03", "School X", receiving="Doorstroompunt D"),
            ev("A", "P1", "exit", "2025-02-03", "School X"),
            ev("B", "P1", "registration", "2025-02-10", "Doorstroompunt D"),
            ev(
                "B", "P1", "warm_handover", "2025-03-03", "Doorstroompunt D", receiving="Gemeente G"
            ),
            ev("B", "P1", "exit", "2025-03-03", "Doorstroompunt D"),
            ev("C", "P1", "intake", "2025-03-20", "Gemeente G"),
            ev("C", "P1", "exit", "2025-04-01", "Gemeente G"),
            ev("D", "P2", "registration", "2025-05-01", "School X"),
            ev("D", "P2", "warm_handover", "2025-06-01", "School X", receiving="Doorstroompunt D"),
            ev("D", "P2", "dropout", "2025-06-01", "School X"),
        ]
    )


def test_handover_times_across_three_organisations():
    ho = handover_times(journey(), reference_date=REF).set_index("event_id")
    first = ho.loc["A-warm_handover-2025-02-03"]
    assert first["arrived"] and first["days"] == 7 and first["to_org_type"] == "doorstroompunt"
    second = ho.loc["B-warm_handover-2025-03-03"]
    assert second["arrived"] and second["days"] == 17 and second["to_org_type"] == "municipality"
    open_ = ho.loc["D-warm_handover-2025-06-01"]
    assert not open_["arrived"] and open_["days"] == 60  # censored at the reference date
    summ = handover_summary(ho, by=((),)).iloc[0]
    assert (summ["n"], summ["n_arrived"], summ["n_open"]) == (3, 2, 1)
    assert summ["median"] == 17  # S(7)=2/3, S(17)=1/3 -> median 17


def test_out_of_sight_followed_up_lost_and_not_yet_known():
    ended = out_of_sight(journey(), reference_date=REF, days=90).set_index("case_id")
    assert ended.loc["A", "status"] == "followed_up"  # case B starts 7 days later
    assert ended.loc["B", "status"] == "followed_up"
    assert ended.loc["C", "status"] == "out_of_sight"  # 1 April + 90 days < 31 July
    assert ended.loc["D", "status"] == "not_yet_known"  # 1 June + 90 days > 31 July
    # a shorter window turns the 17-day gap into out of sight
    short = out_of_sight(journey(), reference_date=REF, days=10).set_index("case_id")
    assert short.loc["B", "status"] == "out_of_sight"
    summ = out_of_sight_summary(ended.reset_index(), by=((), ("end_event",)))
    row = summ.iloc[0]
    assert (row["n"], row["n_followed_up"], row["n_out_of_sight"], row["n_not_yet_known"]) == (
        4,
        2,
        1,
        1,
    )
    assert row["share_out_of_sight"] == pytest.approx(1 / 3)
    assert set(summ["end_event"]) == {"all", "exit", "dropout"}
    with pytest.raises(EvalkitError, match="whole number >= 1"):
        out_of_sight(journey(), reference_date=REF, days=0)


def test_switches_per_young_person():
    p = switches(journey(), reference_date=REF).set_index("person_id")
    assert p.loc["P1", "n_organisations"] == 3 and p.loc["P1", "n_switches"] == 2
    assert p.loc["P1", "n_warm_handovers"] == 2 and p.loc["P1", "n_cases"] == 3
    assert p.loc["P2", "n_organisations"] == 1 and p.loc["P2", "n_switches"] == 0
    dist, summ = switches_summary(p.reset_index())
    overall = summ.loc[(summ["group"] == "all") & (summ["period"] == "all")].iloc[0]
    assert overall["n"] == 2 and overall["mean_organisations"] == 2
    assert overall["share_3plus_organisations"] == 0.5
    d = dist.loc[dist["group"] == "all"].set_index("n_organisations")["n_persons"]
    assert d.to_dict() == {1: 1, 3: 1}


def caseload_events() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ev("K1", "Q1", "registration", "2025-01-06", "Gemeente G", coach="k1"),
            ev("K1", "Q1", "exit", "2025-01-20", "Gemeente G", coach="k1"),
            ev("K2", "Q2", "registration", "2025-01-15", "Gemeente G", coach="k1"),
            ev("K2", "Q2", "plan", "2025-01-22", "Gemeente G", coach="k2"),
        ]
    )


def test_weekly_caseload_follows_the_coach_and_the_benchmark():
    wk = weekly_caseload(caseload_events(), reference_date=date(2025, 1, 31))
    got = {
        (str(w.date()), h): n
        for w, h, n in zip(wk["week"], wk["holder"], wk["n_active"], strict=True)
    }
    assert got == {
        ("2025-01-06", "k1"): 1,
        ("2025-01-13", "k1"): 2,
        ("2025-01-20", "k1"): 1,
        ("2025-01-20", "k2"): 1,
        ("2025-01-27", "k2"): 1,
    }
    summ = caseload_summary(wk, benchmark=(1, 1))
    allrows = summ.loc[summ["organisation"] == "all"].set_index("week")
    assert allrows.loc["2025-01-13", "n_above"] == 1
    assert allrows.loc["2025-01-20", "n_holders"] == 2
    assert allrows.loc["2025-01-20", "n_within"] == 2
    with pytest.raises(EvalkitError, match="low <= high"):
        caseload_summary(wk, benchmark=(35, 30))


def test_caseload_per_organisation_without_coach_ids():
    events = caseload_events().assign(coach_id=None)
    wk = weekly_caseload(events, reference_date=date(2025, 1, 31))
    assert set(wk["holder_type"]) == {"organisation"}
    assert wk.loc[wk["week"] == pd.Timestamp("2025-01-13"), "n_active"].item() == 2


def test_throughput_tables_on_the_journey():
    tabs = throughput_tables(
        journey(),
        reference_date=REF,
        pilot_starts={"GM0001": date(2025, 3, 1)},
        comparison_units=[],
        out_of_sight_days=90,
    )
    assert tabs["out_of_sight"]["days"].eq(90).all()
    oos = tabs["out_of_sight"]  # the count identities disclosure control relies on
    assert (oos["n"] == oos["n_followed_up"] + oos["n_out_of_sight"] + oos["n_not_yet_known"]).all()
    for name in ("norms", "norms_monthly", "norms_quarterly"):
        t = tabs[name]
        assert (t["n"] == t["n_within"] + t["n_breach"] + t["n_unknown"]).all(), name
        assert (t["n_breach_open"] <= t["n_breach"]).all()
    h = tabs["handovers"]
    assert h.loc[(h["from_org_type"] == "all"), "n"].item() == 3
    assert tabs["did"].empty  # no comparison group: no DiD rows
    sw = tabs["switches"]
    assert set(sw["period"]) >= {"before", "during", "all"}

"""The monthly person-level outcome panel, fast (for power simulation) and full."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from evalkit.synth._design import PANEL_OUTCOMES, PilotDesign
from evalkit.synth._outcomes import observed, potential_outcomes
from evalkit.synth._population import (
    SCHOOL_TYPES,
    STREAM_EXTRAS,
    Population,
    make_population,
    rng,
)

SEXES = np.array(["M", "V", "X"])


def _month_values(index: np.ndarray) -> np.ndarray:
    return (
        (np.asarray(index, dtype=np.int64) - 1970 * 12)
        .astype("datetime64[M]")
        .astype("datetime64[s]")
    )


def _skeleton(design: PilotDesign, pop: Population) -> tuple[np.ndarray, np.ndarray, dict]:
    person, col = np.nonzero(pop.alive)  # row order: person, then month
    month = pop.months[col]
    muni = pop.muni[person]
    start = pop.muni_start[muni]
    first = pop.months[0]
    cohort = np.where(start >= 0, start - first + 1, 0)
    columns = {
        "person": person.astype(np.int64),
        "municipality": pd.Categorical.from_codes(muni, categories=list(design.municipalities)),
        "month": _month_values(month),
        "period": (month - first + 1).astype(np.int64),
        "birth_month": _month_values(pop.birth[person]),
        "age": (pop.age_months[person, col] // 12).astype(np.int64),
        "vulnerable": pop.vulnerable[person],
        "treated": pop.muni_treated[muni],
        "cohort": cohort.astype(np.int64),
        "treated_post": pop.treated_now[person, col],
    }
    return person, col, columns


def simulate_outcome_panel(
    design: PilotDesign, seed: int, outcomes: Iterable[str] | None = None
) -> pd.DataFrame:
    """Return only the panel columns an analysis needs (the fast path for power simulation).

    Same seed, same draws as :func:`evalkit.synth.generate`: the outcome columns equal the
    full panel's, row for row (rows ordered by person, then month). No BSNs, no strings.

    Parameters
    ----------
    design : PilotDesign
        The design.
    seed : int
        The seed.
    outcomes : iterable of str, optional
        Outcome columns to make (default: all of ``PANEL_OUTCOMES``).

    Returns
    -------
    pandas.DataFrame
        Columns ``person`` (int), ``municipality`` (categorical code), ``month``
        (first day), ``period`` (1 = first panel month), ``birth_month`` (first day;
        subgroups such as ``turns_18_between`` are defined on it), ``age``, ``vulnerable``,
        ``treated`` (municipality ever treated), ``cohort`` (period of the start, 0 =
        never treated), ``treated_post`` (the effect acts), then one boolean column per
        outcome. ``attrs["realised_att"]`` holds, per outcome, the realised effect on the
        treated: the mean of ``Y(1) − Y(0)`` over the rows where the effect acts.
    """
    wanted = list(PANEL_OUTCOMES if outcomes is None else outcomes)
    pop = make_population(design, seed)
    pairs = potential_outcomes(design, seed, pop, wanted)
    person, col, columns = _skeleton(design, pop)
    acting = np.asarray(columns["treated_post"], dtype=bool)
    realised: dict[str, float] = {}
    for name in wanted:
        columns[name] = observed(pop, pairs[name])[person, col]
        y0, y1 = (np.asarray(p, dtype=float)[person, col] for p in pairs[name])
        realised[name] = float((y1 - y0)[acting].mean()) if acting.any() else float("nan")
    frame = pd.DataFrame(columns)
    frame.attrs["realised_att"] = realised
    return frame


def full_panel(
    design: PilotDesign,
    seed: int,
    pop: Population,
    pairs: dict[str, tuple[np.ndarray, np.ndarray]],
    bsn: np.ndarray,
) -> pd.DataFrame:
    """Return the panel with every canonical column of ``outcome_panel.yaml`` plus ``bsn``.

    Parameters
    ----------
    design : PilotDesign
        The design.
    seed : int
        The seed.
    pop : Population
        The population.
    pairs : dict
        Potential outcomes of every panel outcome.
    bsn : numpy.ndarray
        Raw BSN per person.

    Returns
    -------
    pandas.DataFrame
        One row per person-month; ``person_id`` is the person's index (the file writer
        puts the BSN in its place).
    """
    r = rng(seed, STREAM_EXTRAS)
    person, col, skel = _skeleton(design, pop)
    obs = {name: observed(pop, pairs[name])[person, col] for name in PANEL_OUTCOMES}
    # The three draws below take turns on one random stream: their order is the panel.
    debts = _debt_columns(r, pop, pairs, person, col, obs["problematic_debt"])
    school = np.array(SCHOOL_TYPES)[pop.school[person]]
    highest = _qualification(r, pop, person, skel["age"], school, obs["startkwalificatie"])
    housing = _housing_columns(r, pop, person, obs["homeless"], obs["independent_living"])
    benefits = (skel["age"] >= 18) & (
        r.random(pop.n_persons) < np.where(pop.vulnerable, 0.12, 0.02)
    )[person]
    return pd.DataFrame(
        {
            "person_id": skel["person"],
            "month": skel["month"],
            "municipality": np.asarray(design.municipalities)[pop.muni[person]],
            "birth_month": _month_values(pop.birth[person]),
            "sex": SEXES[pop.sex[person]],
            "age": skel["age"],
            "school_type": school,
            **debts,
            "enrolled": obs["enrolled"],
            "highest_qualification": highest,
            "startkwalificatie": obs["startkwalificatie"],
            "early_school_leaving": obs["early_school_leaving"],
            "household_position": housing["household_position"],
            "ethos_category": housing["ethos_category"],
            "homeless": obs["homeless"],
            "independent_living": obs["independent_living"],
            "housing_urgency": housing["housing_urgency"],
            "employed": obs["employed"],
            "social_assistance": obs["social_assistance"],
            "other_benefits": benefits,
            "neet": obs["neet"],
            "bsn": bsn[person],
        }
    )


#: Creditors as a debt export lists them, one combination per person.
_DEBT_SOURCES = np.array(
    [
        "BKR",
        "BKR, CJIB",
        "zorgverzekeraar, CJIB",
        "DUO, Belastingdienst",
        "woningcorporatie, energieleverancier",
        "BKR, zorgverzekeraar, CJIB",
    ]
)


def _debt_columns(
    r: np.random.Generator,
    pop: Population,
    pairs: dict[str, tuple[np.ndarray, np.ndarray]],
    person: np.ndarray,
    col: np.ndarray,
    debt: np.ndarray,
) -> dict[str, Any]:
    """Draw the debt columns: creditors and amount are a person's own, present while in debt."""
    n = pop.n_persons
    creditors = 1 + r.poisson(np.where(pop.vulnerable, 5.0, 3.5), n)
    amount = r.lognormal(np.log(8000.0), 0.8, n)
    drift = 1.0 + 0.01 * (col - col.min())
    person_source = r.integers(0, _DEBT_SOURCES.shape[0], n)
    status_draw = r.choice(
        np.array(["none", "applied", "stabilisation", "arrangement", "dropped_out"]),
        n,
        p=[0.45, 0.15, 0.2, 0.15, 0.05],
    )
    had_debt = np.maximum.accumulate(
        pairs["problematic_debt"][0] | pairs["problematic_debt"][1], axis=1
    )[person, col]
    return {
        "problematic_debt": debt,
        "debt_sources": pd.array(
            np.where(debt, _DEBT_SOURCES[person_source[person]], None), dtype="string"
        ),
        "debt_help_status": np.where(
            debt, status_draw[person], np.where(had_debt, "completed", "none")
        ),
        "n_creditors": np.where(debt, creditors[person], 0).astype(np.int64),
        "debt_amount": np.where(debt, np.round(amount[person] * drift, 2), 0.0),
    }


def _qualification(
    r: np.random.Generator,
    pop: Population,
    person: np.ndarray,
    age: np.ndarray,
    school: np.ndarray,
    startkwalificatie: np.ndarray,
) -> np.ndarray:
    """Draw the highest qualification: a vulnerable pupil's is the school's, or mbo2."""
    quals = np.array(["mbo2", "mbo3", "mbo4", "havo", "vwo", "hbo"])
    final_q = r.choice(quals, pop.n_persons, p=[0.15, 0.25, 0.25, 0.12, 0.08, 0.15])
    q_general = np.where(startkwalificatie, final_q[person], "none")
    q_general = np.where((q_general == "hbo") & (age < 21), "havo", q_general)
    q_vul = np.where(startkwalificatie, "mbo2", np.where(school == "other", "none", school))
    return np.where(pop.vulnerable[person], q_vul, q_general)


def _housing_columns(
    r: np.random.Generator,
    pop: Population,
    person: np.ndarray,
    homeless: np.ndarray,
    independent: np.ndarray,
) -> dict[str, np.ndarray]:
    """Draw household position, ETHOS category and housing urgency from the housing outcomes."""
    n, rows = pop.n_persons, person.shape[0]
    position_draw = r.choice(
        np.array(["single", "couple", "single_parent"]), n, p=[0.6, 0.32, 0.08]
    )
    institution = pop.vulnerable & (r.random(n) < 0.03)
    household = np.where(
        independent,
        position_draw[person],
        np.where(homeless, "other", np.where(institution[person], "institution", "with_parents")),
    )
    homeless_kind = np.where(r.random(n) < 0.2, "roofless", "houseless")
    cell = r.random(rows)
    ethos = np.where(
        homeless,
        homeless_kind[person],
        np.where(cell < 0.015, "insecure", np.where(cell < 0.025, "inadequate", "none")),
    )
    urgency = np.where(homeless, r.random(n)[person] < 0.3, r.random(rows) < 0.003)
    return {"household_position": household, "ethos_category": ethos, "housing_urgency": urgency}

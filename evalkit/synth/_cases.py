"""Case events for throughput times: registration to exit, handovers, crises, censoring."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.synth._design import THROUGHPUT_STEPS, PilotDesign
from evalkit.synth._months import month_end, month_start
from evalkit.synth._population import STREAM_CASES, Population, rng

DOMAINS = np.array(["debts", "education", "work", "housing", "income", "care"])
DOMAIN_MIX = {
    "pilot": [0.30, 0.20, 0.20, 0.15, 0.10, 0.05],
    "staggered": [0.05, 0.35, 0.45, 0.0, 0.10, 0.05],
    "debt_programme": [0.70, 0.0, 0.0, 0.10, 0.15, 0.05],
}
# organisation type that registers a case of each domain, and where it is handed over to
ORG_OF_DOMAIN = {
    "debts": "debt_help",
    "education": "school",
    "work": "doorstroompunt",
    "housing": "municipality",
    "income": "municipality",
    "care": "youth_coach",
}
HANDOVER_TO = {
    "debts": "municipality",
    "education": "doorstroompunt",
    "work": "uwv",
    "housing": "housing_corporation",
    "income": "debt_help",
    "care": "care",
}
ORG_NAMES = {
    "debt_help": "Schuldhulpverlening",
    "school": "Praktijkschool",
    "doorstroompunt": "Doorstroompunt",
    "municipality": "Gemeente",
    "youth_coach": "Jongerenwerk",
    "uwv": "UWV Werkbedrijf",
    "housing_corporation": "Woonstichting",
    "care": "GGZ-team",
    "employer": "Leerwerkbedrijf",
}
COACH_PREFIX = {
    "debt_help": "SH",
    "school": "PS",
    "doorstroompunt": "DP",
    "municipality": "GM",
    "youth_coach": "JW",
}
CRISIS_TYPES = np.array(
    [
        "eviction",
        "energy_disconnection",
        "water_disconnection",
        "health_insurance_cancelled",
        "other",
    ]
)
EPOCH = np.datetime64("1970-01-01", "D")
_NONE = np.array(None, dtype=object)


def _day(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days


def _org(kind: str, code: str) -> str:
    return f"{ORG_NAMES[kind]} {code}"


def make_case_events(
    design: PilotDesign, seed: int, pop: Population, bsn: np.ndarray
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Draw cases and their events, and the true throughput effect.

    Durations are log-normal; in treated municipalities, for cases registered from the
    start month on, every lag up to the step ``design.throughput_to`` is multiplied by one factor
    chosen so that the mean change in days from registration to
    ``design.throughput_to`` equals ``design.throughput_effect_days`` (factor at least 0.1);
    later lags are unchanged
    (both durations come from the same draws). Events after the reference date (the
    last day of the panel) are not in the file: those cases are still open.

    Parameters
    ----------
    design : PilotDesign
        The design.
    seed : int
        The seed.
    pop : Population
        The population (cases belong to persons alive at registration).
    bsn : numpy.ndarray
        Raw BSN per person.

    Returns
    -------
    tuple of (pandas.DataFrame, dict)
        Events (columns of ``case_events.yaml``) and the throughput truth.
    """
    r = rng(seed, STREAM_CASES)
    cases = _draw_cases(design, r, pop)
    applies, lags, lag_exit = _draw_lags(r, cases)
    potential = _paths(applies, lags)  # untreated days from registration to each step

    start_of_muni = pop.muni_start[cases.muni]
    treated_case = (start_of_muni >= 0) & (cases.month >= start_of_muni)
    target = potential[design.throughput_to][treated_case]
    mean0 = float(np.nanmean(target)) if np.isfinite(target).any() else 1.0
    factor = float(np.clip(1.0 + design.throughput_effect_days / mean0, 0.1, 3.0))
    # the pilot shortens (or lengthens) the lags up to the step the effect is stated for
    upto = THROUGHPUT_STEPS.index(design.throughput_to)
    scaled = [lag * np.where(treated_case & (k <= upto), factor, 1.0) for k, lag in enumerate(lags)]
    realised = _paths(applies, scaled)

    times, outcomes = _event_times(r, realised, lag_exit, treated_case)
    closed = np.fmin(times["exit"], times["dropout"])  # NaN only while the case is open
    reg = cases.reg
    coaches = _coaches(design, r, cases.muni, reg, reg + np.nan_to_num(closed, nan=1e6))
    table = _event_table(design, r, cases, times, outcomes, coaches, bsn)
    truth = _truth(design, potential, realised, treated_case, factor, mean0)
    return table.reset_index(drop=True), truth


@dataclass(frozen=True)
class _Cases:
    """The drawn cases: person, registration month and day, municipality, domain, crisis."""

    person: np.ndarray
    month: np.ndarray
    muni: np.ndarray
    reg: np.ndarray
    domain: np.ndarray
    crisis: np.ndarray

    @property
    def n(self) -> int:
        return int(self.person.shape[0])


def _draw_cases(design: PilotDesign, r: np.random.Generator, pop: Population) -> _Cases:
    """Draw who registers a case and when (vulnerable people and pilot organisations more)."""
    cells = np.flatnonzero(pop.alive.ravel())
    person_of_cell, col_of_cell = np.divmod(cells, pop.alive.shape[1])
    # the pilot's own organisations register more cases: weight treated municipalities 3x
    weight = np.where(pop.vulnerable[person_of_cell], 4.0, 1.0) * np.where(
        pop.muni_treated[pop.muni[person_of_cell]], 3.0, 1.0
    )
    pick = r.choice(cells.shape[0], size=design.n_cases, p=weight / weight.sum())
    person, col = person_of_cell[pick], col_of_cell[pick]
    month = pop.months[col]
    order = np.lexsort((r.random(design.n_cases), month))
    person, col, month = person[order], col[order], month[order]
    n = person.shape[0]
    reg = np.array([_day(month_start(int(m))) for m in month]) + r.integers(0, 28, n)
    domain = DOMAINS[r.choice(6, n, p=DOMAIN_MIX[design.generator])]
    crisis: np.ndarray = np.isin(domain, ["debts", "housing", "income"]) & (r.random(n) < 0.08)
    return _Cases(person, month, pop.muni[person], reg, domain, crisis)


def _draw_lags(
    r: np.random.Generator, cases: _Cases
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Draw the untreated lags: who applies, the five lags between steps, days to exit."""
    n, domain, crisis = cases.n, cases.domain, cases.crisis
    speed = np.where(crisis, 0.3, 1.0)
    is_debt = domain == "debts"
    # debt help (Wgs) and social assistance (Participatiewet) go through an application
    # and a decision; the others go from the first conversation straight to a plan
    applies = np.isin(domain, ["debts", "income"])
    # first conversation: debt help within 4 weeks (Wgs) and 3 working days in a crisis
    lag_first = np.where(
        crisis,
        r.lognormal(np.log(2.5), 0.5, n),
        r.lognormal(np.where(is_debt, np.log(24), np.log(10)), 0.6, n),
    )
    lag_app = r.lognormal(np.log(7), 0.5, n) * speed
    # decision: Participatiewet within 8 weeks (about one in eight is late)
    lag_decision = r.lognormal(np.where(is_debt, np.log(28), np.log(35)), 0.4, n) * speed
    lag_plan = (
        np.where(applies, r.lognormal(np.log(7), 0.5, n), r.lognormal(np.log(21), 0.6, n)) * speed
    )
    lag_start = r.lognormal(np.log(14), 0.6, n)
    lag_exit = r.lognormal(np.log(180), 0.5, n)
    lags = [np.asarray(x) for x in (lag_first, lag_app, lag_decision, lag_plan, lag_start)]
    return applies, lags, lag_exit


def _event_times(
    r: np.random.Generator,
    realised: dict[str, np.ndarray],
    lag_exit: np.ndarray,
    treated_case: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Days from registration to each event (NaN = no such event), and the drawn outcomes."""
    n = treated_case.shape[0]
    drop_at = r.choice(3, n, p=[0.85, 0.08, 0.07])  # 0 none, 1 after first talk, 2 after plan
    handover = (r.random(n) < 0.2) & (drop_at == 0)
    lag_handover = r.lognormal(np.log(5), 0.5, n)
    lag_receiving = r.lognormal(np.log(9), 0.6, n) * np.where(treated_case, 0.7, 1.0)
    rereg = r.random(n) < 0.05
    lag_rereg = r.integers(60, 240, n)
    granted = r.random(size=(n,)) < 0.8
    exit_outcome = r.choice(
        np.array(["doel bereikt", "werk", "opleiding", "verhuisd"]), n, p=[0.5, 0.25, 0.15, 0.1]
    )
    t_first, t_plan = realised["first_conversation"], realised["plan"]
    t_exit = realised["start"] + lag_exit
    t_drop = np.where(drop_at == 1, t_first + 30, np.where(drop_at == 2, t_plan + 45, np.nan))
    gone_1, gone = drop_at == 1, drop_at > 0
    t_plan = np.where(gone_1, np.nan, t_plan)
    t_exit = np.where(gone, np.nan, t_exit)
    t_hand = np.where(handover, t_plan + lag_handover, np.nan)
    times = {
        "registration": np.zeros(n),
        "first_conversation": t_first,
        "application": np.where(gone_1, np.nan, realised["application"]),
        "decision": np.where(gone_1, np.nan, realised["decision"]),
        "plan": t_plan,
        "warm_handover": t_hand,
        "intake": np.where(handover, t_hand + lag_receiving, np.nan),
        "start": np.where(gone, np.nan, realised["start"]),
        "dropout": t_drop,
        "exit": t_exit,
        "reregistration": np.where(rereg & (drop_at == 0), t_exit + lag_rereg, np.nan),
    }
    return times, {"granted": granted, "exit_outcome": exit_outcome}


def _event_table(
    design: PilotDesign,
    r: np.random.Generator,
    cases: _Cases,
    times: dict[str, np.ndarray],
    outcomes: dict[str, np.ndarray],
    coaches: np.ndarray,
    bsn: np.ndarray,
) -> pd.DataFrame:
    """One row per event up to the reference date, with organisations, coach and outcome."""
    reference = _day(month_end(design.month_range[1]))
    codes = np.asarray(design.municipalities)
    parts = []
    for rank, (etype, offset) in enumerate(times.items()):
        case = np.flatnonzero(~np.isnan(offset))
        day = cases.reg[case] + np.rint(offset[case]).astype(np.int64)
        parts.append(pd.DataFrame({"case": case, "rank": rank, "event_type": etype, "day": day}))
    ev = pd.concat(parts, ignore_index=True)
    ev = ev[ev["day"] <= reference].sort_values(["case", "day", "rank"], kind="stable")
    case = ev["case"].to_numpy()
    etype = ev["event_type"].to_numpy()
    dom = cases.domain[case]
    home_org = np.array([ORG_OF_DOMAIN[d] for d in dom])
    recv_org = np.array([HANDOVER_TO[d] for d in dom])
    at_receiver = etype == "intake"
    org_type = np.where(at_receiver, recv_org, home_org)
    code = codes[cases.muni[case]]
    organisation = np.array([_org(k, c) for k, c in zip(org_type, code, strict=True)])
    receiving = np.where(
        etype == "warm_handover",
        np.array([_org(k, c) for k, c in zip(recv_org, code, strict=True)]),
        _NONE,
    )
    outcome = np.where(
        etype == "decision",
        np.where(outcomes["granted"][case], "toegekend", "afgewezen"),
        np.where(
            etype == "exit",
            outcomes["exit_outcome"][case],
            np.where(etype == "dropout", "geen contact meer", _NONE),
        ),
    )
    case_ids = np.array([f"D{c[2:]}-{i + 1:05d}" for i, c in enumerate(codes[cases.muni])])
    crisis = cases.crisis[case]
    crisis_type = CRISIS_TYPES[r.choice(5, cases.n, p=[0.35, 0.3, 0.05, 0.2, 0.1])][case]
    person = cases.person[case]
    return pd.DataFrame(
        {
            "event_id": [f"E{i + 1:07d}" for i in range(case.shape[0])],
            "case_id": case_ids[case],
            "person_id": person,
            "bsn": bsn[person],
            "municipality": code,
            "domain": dom,
            "org_type": org_type,
            "organisation": organisation,
            "coach_id": np.where(at_receiver, _NONE, coaches[case]),
            "event_type": etype,
            "event_date": (EPOCH + ev["day"].to_numpy().astype("timedelta64[D]")).astype(
                "datetime64[s]"
            ),
            "crisis": crisis,
            "crisis_type": np.where(crisis, crisis_type, _NONE),
            "outcome": outcome,
            "receiving_org": receiving,
        }
    )


def _truth(
    design: PilotDesign,
    potential: dict[str, np.ndarray],
    realised: dict[str, np.ndarray],
    treated_case: np.ndarray,
    factor: float,
    mean0: float,
) -> dict[str, Any]:
    """Return the true throughput effect per step, on the cases registered under the pilot."""
    truth: dict[str, Any] = {
        "effect_design_days": float(design.throughput_effect_days),
        "effect_to": design.throughput_to,
        "factor": factor,
        "n_treated_cases": int(treated_case.sum()),
        "scale": "days from registration to each step, cases registered in a treated "
        "municipality from its start month; both potential durations on the same draws "
        "(every lag up to `effect_to` is multiplied by `factor`)",
    }
    for step, days0 in potential.items():
        days1 = realised[step][treated_case]
        days0 = days0[treated_case]
        ok = np.isfinite(days0)
        truth[f"att_days_registration_to_{step}"] = (
            float((days1[ok] - days0[ok]).mean()) if ok.any() else 0.0
        )
        truth[f"mean_days_registration_to_{step}_untreated"] = (
            float(days0[ok].mean()) if ok.any() else 0.0
        )
    if factor in (0.1, 3.0):
        truth["note"] = (
            f"the designed effect of {design.throughput_effect_days:g} days cannot be reached "
            f"from a mean of {mean0:.1f} days; the factor was capped at {factor:g}"
        )
    return truth


def _paths(applies: np.ndarray, lags: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Days from registration to each step (NaN where a case has no such step)."""
    first, app, decision, plan, start = lags
    out = {"first_conversation": first}
    out["application"] = np.where(applies, first + app, np.nan)
    out["decision"] = out["application"] + decision
    out["plan"] = np.where(applies, out["decision"], first) + plan
    out["start"] = out["plan"] + start
    return out


def _coaches(
    design: PilotDesign,
    r: np.random.Generator,
    muni: np.ndarray,
    begin: np.ndarray,
    end: np.ndarray,
) -> np.ndarray:
    """Assign each case a coach of its municipality's youth-coach team (~30 open cases each).

    A team's size is its mean number of open cases over the second half of the panel
    (when the caseload has built up) divided by 30. Coaches work across domains.
    """
    first, last = design.month_range
    stop = _day(month_end(last))
    mid = (_day(month_start(first)) + stop) // 2
    out = np.empty(muni.shape[0], dtype=object)
    for m, code in enumerate(design.municipalities):
        idx = np.flatnonzero(muni == m)
        if idx.size == 0:
            continue
        overlap = np.minimum(end[idx], stop) - np.maximum(begin[idx], mid)
        k = max(1, round(overlap.clip(0).sum() / (stop - mid) / 30))
        names = np.array([f"JC{code[2:]}-{j + 1:02d}" for j in range(k)])
        out[idx] = names[r.integers(0, k, idx.size)]
    return out

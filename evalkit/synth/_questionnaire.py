"""Questionnaire waves (ZRM, MHI-5, NPS, satisfaction) for a pilot and a comparison group."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.synth._design import PilotDesign
from evalkit.synth._months import month_end, month_start
from evalkit.synth._population import STREAM_QUESTIONNAIRE, Population, rng

ZRM_ITEMS: tuple[str, ...] = (
    "zrm_financien",
    "zrm_werk_opleiding",
    "zrm_tijdsbesteding",
    "zrm_huisvesting",
    "zrm_huiselijke_relaties",
    "zrm_geestelijke_gezondheid",
    "zrm_lichamelijke_gezondheid",
    "zrm_middelengebruik",
    "zrm_basale_adl",
    "zrm_instrumentele_adl",
    "zrm_sociaal_netwerk",
    "zrm_maatschappelijke_participatie",
    "zrm_justitie",
)
MHI5_ITEMS: tuple[str, ...] = ("mhi5_1", "mhi5_2", "mhi5_3", "mhi5_4", "mhi5_5")
MHI5_POSITIVE: tuple[str, ...] = ("mhi5_3", "mhi5_5")
SAT_ITEMS: tuple[str, ...] = ("tevr_1", "tevr_2", "tevr_3", "tevr_4", "tevr_5")
ITEMS: tuple[str, ...] = (*ZRM_ITEMS, *MHI5_ITEMS, "nps", *SAT_ITEMS)
WAVE_DAYS = {"T0": 0, "T3m": 91, "T6m": 182, "T12m": 365}
EPOCH = np.datetime64("1970-01-01", "D")


def _day(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days


def _codes(
    r: np.random.Generator, values: np.ndarray, p7: float, p8: float, p9: float
) -> np.ndarray:
    u = r.random(values.shape)
    out = values.astype(float)
    out[u < p7 + p8 + p9] = 9
    out[u < p7 + p8] = 8
    out[u < p7] = 7
    return out


def make_questionnaire(
    design: PilotDesign,
    seed: int,
    pop: Population,
    debt: np.ndarray,
    bsn: np.ndarray,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Draw respondents, their answers per wave, and the true ZRM effect.

    Parameters
    ----------
    design : PilotDesign
        The design (group sizes, waves, ZRM effect).
    seed : int
        The seed.
    pop : Population
        The population.
    debt : numpy.ndarray
        Observed problematic debt on the grid (lowers the ZRM finance score).
    bsn : numpy.ndarray
        Raw BSN per person.

    Returns
    -------
    tuple of (pandas.DataFrame, dict)
        The wide questionnaire (one row per person and wave) and the ZRM truth.
    """
    r = rng(seed, STREAM_QUESTIONNAIRE)
    person, grp, day0 = _draw_respondents(design, r, pop)
    n = person.shape[0]
    theta = r.normal(0.0, 1.0, n) - 0.5 * pop.vulnerable[person]
    month_of_t0 = day0.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    month0 = np.clip(month_of_t0 - design.month_range[0], 0, pop.months.shape[0] - 1)
    resp = _Respondents(person, grp, day0, theta, debt[person, month0])
    item_shift = r.normal(0.0, 0.3, len(ZRM_ITEMS))
    waves = design.waves
    last_wave = len(waves) - 1
    rows: list[pd.DataFrame] = []
    truth_diff: list[float] = []
    baseline_mean = np.zeros(n)
    for w, wave in enumerate(waves):
        fraction = w / last_wave if last_wave else 0.0
        zrm0, zrm1 = _zrm(r, design, resp, item_shift, w, fraction)
        zrm = np.where(resp.pilot[:, None], zrm1, zrm0)
        if w == 0:
            baseline_mean = zrm.mean(axis=1)
        if w == last_wave and w > 0:
            truth_diff = list((zrm1 - zrm0)[resp.pilot].mean(axis=1))
        answers = _other_answers(r, design, resp, w, fraction)
        rows.append(_wave_rows(r, design, pop, resp, bsn, wave, zrm, answers, baseline_mean))
    table = pd.concat(rows, ignore_index=True)
    order = {w: i for i, w in enumerate(waves)}
    table = table.sort_values(
        ["person_id", "wave"], key=lambda s: s.map(order) if s.name == "wave" else s, kind="stable"
    ).reset_index(drop=True)
    truth = {
        "effect_design": float(design.zrm_effect),
        "att_last_wave": float(np.mean(truth_diff)) if truth_diff else 0.0,
        "last_wave": waves[-1],
        "scale": "mean ZRM item score (1-5), pilot group, potential outcomes on the same draws",
        "n_pilot": int(resp.pilot.sum()),
        "n_comparison": int((~resp.pilot).sum()),
    }
    return table, truth


@dataclass(frozen=True)
class _Respondents:
    """Who answers: person, group, day of T0, latent well-being, debt at T0."""

    person: np.ndarray
    group: np.ndarray
    day0: np.ndarray
    theta: np.ndarray
    in_debt: np.ndarray

    @property
    def pilot(self) -> np.ndarray:
        return np.asarray(self.group == "pilot")


def _draw_respondents(
    design: PilotDesign, r: np.random.Generator, pop: Population
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw each group's respondents (17 or older at the start) and their T0 day."""
    starts = sorted(design.start_index.values())
    col_of = {m: i for i, m in enumerate(pop.months)}
    people, group, t0 = [], [], []
    for label in ("pilot", "comparison"):
        in_group = pop.muni_treated[pop.muni] == (label == "pilot")
        start_of = np.where(pop.muni_start[pop.muni] >= 0, pop.muni_start[pop.muni], starts[0])
        start_col = np.array([col_of.get(s, 0) for s in start_of])
        eligible = in_group & pop.alive[np.arange(pop.n_persons), start_col]
        eligible &= pop.age_months[np.arange(pop.n_persons), start_col] >= 17 * 12
        idx = np.flatnonzero(eligible)
        weight = np.where(pop.vulnerable[idx], 4.0, 1.0)
        k = min(design.questionnaire_n, idx.shape[0])
        if k == 0:  # e.g. every municipality treated: no comparison group
            chosen = np.zeros(0, dtype=np.int64)
        else:
            chosen = np.sort(r.choice(idx, size=k, replace=False, p=weight / weight.sum()))
        if label == "comparison" and len(starts) > 1:
            start_of = np.asarray(starts)[r.integers(0, len(starts), pop.n_persons)]
        base = np.array([_day(month_start(int(s))) for s in start_of[chosen]], dtype=np.int64)
        people.append(chosen)
        group.append(np.full(k, label))
        t0.append(base + r.integers(0, 60, k))
    return np.concatenate(people), np.concatenate(group), np.concatenate(t0)


def _zrm(
    r: np.random.Generator,
    design: PilotDesign,
    resp: _Respondents,
    item_shift: np.ndarray,
    w: int,
    fraction: float,
) -> tuple[np.ndarray, np.ndarray]:
    """ZRM item scores of one wave without and with the pilot (the same draws)."""
    noise = r.normal(0.0, 0.55, (resp.theta.shape[0], len(ZRM_ITEMS)))
    latent = 3.2 + 0.7 * resp.theta[:, None] + item_shift[None, :] + noise
    latent[:, 0] -= 0.9 * resp.in_debt
    zrm0 = np.clip(np.rint(latent + 0.1 * w), 1, 5)
    zrm1 = np.clip(np.rint(latent + 0.1 * w + design.zrm_effect * fraction), 1, 5)
    return zrm0, zrm1


def _other_answers(
    r: np.random.Generator, design: PilotDesign, resp: _Respondents, w: int, fraction: float
) -> dict[str, np.ndarray]:
    """MHI-5, NPS and satisfaction answers of one wave."""
    theta, pilot, n = resp.theta, resp.pilot, resp.theta.shape[0]
    gain = 0.1 * w + design.zrm_effect * fraction * pilot
    mh = 0.6 * theta + 0.5 * design.zrm_effect * fraction * pilot + r.normal(0, 0.5, n)
    mhi_raw = np.clip(np.rint(4.0 + mh[:, None] + r.normal(0, 0.7, (n, 5))), 1, 6)
    mhi = mhi_raw.copy()
    mhi[:, [2, 4]] = 7 - mhi_raw[:, [2, 4]]
    nps = np.clip(np.rint(7.0 + 1.4 * theta + 0.8 * gain + r.normal(0, 1.3, n)), 0, 10)
    nps[r.random(n) < 0.03] = np.nan
    sat = np.clip(
        np.rint(3.6 + 0.5 * theta[:, None] + 0.5 * gain[:, None] + r.normal(0, 0.7, (n, 5))),
        1,
        5,
    )
    return {"mhi": mhi, "nps": nps, "sat": sat}


def _wave_rows(
    r: np.random.Generator,
    design: PilotDesign,
    pop: Population,
    resp: _Respondents,
    bsn: np.ndarray,
    wave: str,
    zrm: np.ndarray,
    answers: dict[str, np.ndarray],
    baseline_mean: np.ndarray,
) -> pd.DataFrame:
    """Return the rows of one wave: who responded by the reference date, coded answers."""
    n, w = resp.person.shape[0], design.waves.index(wave)
    respond = (
        np.ones(n, dtype=bool)
        if w == 0
        else r.random(n) < 1 / (1 + np.exp(-(1.0 + 0.9 * (baseline_mean - 3.0))))
    )
    day = resp.day0 + WAVE_DAYS[wave] + (r.integers(-7, 21, n) if w else 0)
    keep = respond & (day <= _day(month_end(design.month_range[1])))
    frame = pd.DataFrame(
        {
            "person_id": resp.person,
            "bsn": bsn[resp.person],
            "municipality": np.asarray(design.municipalities)[pop.muni[resp.person]],
            "group": resp.group,
            "wave": wave,
            "admin_date": (EPOCH + day.astype("timedelta64[D]")).astype("datetime64[s]"),
            "mode": r.choice(
                np.array(["interview", "web", "paper", "phone"]),
                n,
                p=[0.6, 0.3, 0.1, 0.0] if w == 0 else [0.2, 0.5, 0.0, 0.3],
            ),
        }
    )
    zrm_coded = _codes(r, zrm, 0.01, 0.01, 0.03)
    mhi_coded = _codes(r, answers["mhi"], 0.01, 0.0, 0.02)
    sat_coded = _codes(r, answers["sat"], 0.005, 0.08, 0.01)
    for j, item in enumerate(ZRM_ITEMS):
        frame[item] = zrm_coded[:, j]
    for j, item in enumerate(MHI5_ITEMS):
        frame[item] = mhi_coded[:, j]
    frame["nps"] = answers["nps"]
    for j, item in enumerate(SAT_ITEMS):
        frame[item] = sat_coded[:, j]
    return frame[keep]

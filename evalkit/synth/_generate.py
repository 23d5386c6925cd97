"""Generate a whole synthetic pilot in memory: panel, questionnaire, case events, truth."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from evalkit.synth._bsn import synthetic_bsns
from evalkit.synth._cases import make_case_events
from evalkit.synth._design import PANEL_OUTCOMES, PilotDesign
from evalkit.synth._months import format_month, parse_month
from evalkit.synth._outcomes import observed, potential_outcomes
from evalkit.synth._panel import full_panel
from evalkit.synth._population import STREAM_BSN, Population, make_population, rng
from evalkit.synth._questionnaire import make_questionnaire


@dataclasses.dataclass(frozen=True)
class SyntheticPilot:
    """A generated pilot, in memory.

    Attributes
    ----------
    design : PilotDesign
        The design it was drawn from.
    seed : int
        The seed.
    panel : pandas.DataFrame
        One row per person-month: the canonical columns of ``outcome_panel.yaml``
        (``person_id`` is the person's index) plus the raw ``bsn``.
    questionnaire : pandas.DataFrame
        Wide: one row per person and wave, every item of every instrument, with
        user-missing codes 7/8/9 (NPS: empty = system-missing).
    case_events : pandas.DataFrame
        One row per event (columns of ``case_events.yaml`` plus ``bsn``).
    truth : dict
        True effects, computed from both potential outcomes on the same draws.
    """

    design: PilotDesign
    seed: int
    panel: pd.DataFrame
    questionnaire: pd.DataFrame
    case_events: pd.DataFrame
    truth: dict[str, Any]

    def __repr__(self) -> str:
        return (
            f"SyntheticPilot(generator={self.design.generator!r}, seed={self.seed}, "
            f"panel={len(self.panel)} rows, questionnaire={len(self.questionnaire)} rows, "
            f"case_events={len(self.case_events)} rows)"
        )


def generate(design: PilotDesign, seed: int) -> SyntheticPilot:
    """Generate a synthetic pilot (pure: no files; same seed, same data).

    Parameters
    ----------
    design : PilotDesign
        The design, e.g. ``PilotDesign.preset('pilot')`` or ``PilotDesign.from_protocol(p)``.
    seed : int
        The seed.

    Returns
    -------
    SyntheticPilot
        Panel, questionnaire, case events and the truth.
    """
    seed = int(seed)
    pop = make_population(design, seed)
    pairs = potential_outcomes(design, seed, pop)
    bsn = synthetic_bsns(pop.n_persons, rng(seed, STREAM_BSN))
    panel = full_panel(design, seed, pop, pairs, bsn)
    debt = observed(pop, pairs["problematic_debt"])
    questionnaire, zrm_truth = make_questionnaire(design, seed, pop, debt, bsn)
    case_events, throughput_truth = make_case_events(design, seed, pop, bsn)
    truth = {
        "generator": design.generator,
        "seed": seed,
        "design": design.to_dict(),
        "cohorts": _cohorts(design, pop),
        "outcomes": _panel_truth(design, pop, pairs),
        "throughput": throughput_truth,
        "zrm": zrm_truth,
        "note": "Synthetic data. For tests only; reports never read this file.",
    }
    return SyntheticPilot(design, seed, panel, questionnaire, case_events, truth)


def _panel_truth(
    design: PilotDesign, pop: Population, pairs: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, Any]:
    treated = pop.alive & pop.treated_now
    window = None
    if design.post_window is not None:
        lo, hi = (parse_month(m) for m in design.post_window)
        window = treated & ((pop.months >= lo) & (pop.months <= hi))[None, :]
    pre = pop.alive & pop.muni_treated[pop.muni][:, None] & ~pop.treated_now
    turning = treated & pop.turning_18[:, None]
    out: dict[str, Any] = {}
    for name in PANEL_OUTCOMES:
        y0, y1 = pairs[name]
        diff = y1.astype(np.int8) - y0.astype(np.int8)
        entry: dict[str, Any] = {
            "effect_design": float(design.effects.get(name, 0.0)),
            "att": _mean(diff, treated),
            "mean_untreated_potential_treated_cells": _mean(y0, treated),
            "mean_treated_pre": _mean(y0, pre),
            "n_treated_cells": int(treated.sum()),
            "att_turning_18": _mean(diff, turning),
            "n_treated_cells_turning_18": int(turning.sum()),
        }
        if window is not None:
            entry["att_post_window"] = _mean(diff, window)
            entry["post_window"] = list(design.post_window or ())
        out[name] = entry
    return out


def _cohorts(design: PilotDesign, pop: Population) -> dict[str, list[str]]:
    by_cohort: dict[str, list[str]] = {}
    for m, start in enumerate(pop.muni_start):
        if start >= 0:
            by_cohort.setdefault(format_month(int(start)), []).append(design.municipalities[m])
    return dict(sorted(by_cohort.items()))


def _mean(values: np.ndarray, mask: np.ndarray) -> float:
    return round(float(values[mask].mean()), 10) if mask.any() else 0.0

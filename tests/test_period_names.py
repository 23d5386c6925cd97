"""Estimator notes name periods as the reader knows them: months and quarters, not positions.

The estimators number the periods of the time column; a note that said "cohort(s) 6
have a single unit" named the analysis's internal period 6. The did layer names a
cohort by its value in the caller's time column, and the analysis renames its own
period numbers to months before a result enters the bundle.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

import evalkit.synth as synth
from evalkit.analysis.effects import confirmatory_analysis
from evalkit.analysis.measures import build_analysis_frame
from evalkit.analysis.period_names import name_periods
from evalkit.did import estimate
from evalkit.did.notes import Note
from evalkit.protocol import load_protocol
from evalkit.report.warning_text import warning_text

ROOT = Path(__file__).resolve().parents[1]


def _quarters() -> pd.DataFrame:
    """Five municipalities by quarter; one starts alone in 2024-Q3, two in 2024-Q2."""
    rng = np.random.default_rng(3)
    rows = []
    starts = {"a": "2024-Q3", "b": None, "c": None, "d": "2024-Q2", "e": "2024-Q2"}
    for unit, start in starts.items():
        for t in ("2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"):
            d = int(start is not None and t >= start)
            rows.append({"u": unit, "t": t, "y": rng.normal() + d, "d": d})
    return pd.DataFrame(rows)


def test_a_one_unit_cohort_is_named_by_its_time_value() -> None:
    res = estimate(_quarters(), outcome="y", unit="u", time="t", treated="d", estimator="twfe")
    small = [n for n in res.notes if n.code == "single_unit_cohorts"]
    assert [n.values for n in small] == [{"cohorts": ["2024-Q3"]}]
    assert small[0].text.startswith("cohort(s) 2024-Q3 have a single unit")
    assert "die begint in 2024-Q3 bestaat" in (warning_text(small[0].to_dict(), "nl") or "")


def test_name_periods_renames_codes_and_texts_alike() -> None:
    notes = [
        Note("single_unit_cohorts", {"cohorts": [6, 9]}),
        Note("wild_unreliable", {"treated": 1}),
    ]
    row = {"warnings": [n.text for n in notes], "warning_codes": [n.to_dict() for n in notes]}
    joined = {**row, "warnings": "; ".join(row["warnings"])}
    months = {6: "2024-10", 9: "2025-01"}
    out = name_periods({"rows": [row, joined], "other": 6}, months.__getitem__)
    assert out["other"] == 6
    first, second = out["rows"]
    assert first["warning_codes"][0]["values"] == {"cohorts": ["2024-10", "2025-01"]}
    assert first["warning_codes"][1] == notes[1].to_dict()
    assert first["warnings"][0].startswith("cohort(s) 2024-10, 2025-01 have")
    assert second["warnings"] == "; ".join(first["warnings"])
    assert row["warning_codes"][0]["values"] == {"cohorts": [6, 9]}  # the input is left alone


def test_the_confirmatory_bundle_names_cohorts_by_month() -> None:
    """The demo with one pilot person left: every one-unit-cohort note names a month."""
    protocol = load_protocol(ROOT / "protocols" / "demo.yaml")
    design = synth.PilotDesign.from_protocol(protocol.to_dict())
    panel = synth.generate(dataclasses.replace(design, n_persons=400), 1).panel
    af = build_analysis_frame(panel, protocol)
    data = af.data
    pilot = data.loc[data["_cohort"] > 0]
    person = pilot.groupby("person_id").size().idxmax()
    alone = dataclasses.replace(
        af, data=data.loc[(data["_cohort"] == 0) | (data["person_id"] == person)]
    )
    bundle = json.loads(json.dumps(confirmatory_analysis(alone, protocol), default=str))
    named = _cohort_values(bundle)
    start = af.period_label(int(pilot["_cohort"].iloc[0]))
    assert start == "2025-10"
    assert start in named  # the main estimate; the placebo's start is six months earlier
    assert all(isinstance(v, str) and len(v) == 7 and v[4] == "-" for v in named), named


def _cohort_values(part: object) -> list[object]:
    """Every period a ``single_unit_cohorts`` note names, anywhere in ``part``."""
    if isinstance(part, list):
        return [v for item in part for v in _cohort_values(item)]
    if not isinstance(part, dict):
        return []
    found = [v for item in part.values() for v in _cohort_values(item)]
    if part.get("code") == "single_unit_cohorts":
        found += part["values"]["cohorts"]
    return found

"""Benchmark the monitoring analyses: throughput and questionnaire tables on a generated pilot.

Figures: wall time and peak traced memory of ``throughput_tables`` (all tables, incl. the
norm DiD) and ``questionnaire_tables`` on the demo design scaled to 20,000 cases and
2,000 respondents per group.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def _long_questionnaire(wide: pd.DataFrame, instruments: dict) -> pd.DataFrame:
    inst = {item: name for name, spec in instruments.items() for item in spec["items"]}
    ids = ["person_id", "municipality", "group", "wave", "admin_date", "mode"]
    long = wide[ids + list(inst)].melt(id_vars=ids, var_name="item", value_name="value")
    long["instrument"] = long["item"].map(inst)
    reason = long["value"].map({7: "refused", 8: "not_applicable", 9: "unknown"})
    long["missing_reason"] = reason.where(reason.notna(), None)
    long.loc[long["value"].isna(), "missing_reason"] = "not_asked"
    coded = long["missing_reason"].notna()
    long.loc[coded, "value"] = np.nan
    return long


def _timed(fn):
    """Wall time of an untraced run, then peak traced memory of a second run."""
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, seconds, peak / 2**20


def main() -> dict:
    """Run the benchmark, print and return its figures."""
    from evalkit.analysis.questionnaire import questionnaire_tables
    from evalkit.analysis.throughput import throughput_tables
    from evalkit.synth import PilotDesign, generate

    design = PilotDesign(n_persons=20000, n_cases=20000, questionnaire_n=2000)
    pilot = generate(design, 1)
    events = pilot.case_events.drop(columns=["bsn"])
    starts = {u: date.fromisoformat(f"{m}-01") for u, m in design.treated_starts.items()}
    comparison = [m for m in design.municipalities if m not in starts]
    import pyfixest  # noqa: F401  (import time is not the analysis's)

    _, t_seconds, t_mb = _timed(
        lambda: throughput_tables(
            events,
            reference_date=date(2026, 6, 30),
            pilot_starts=starts,
            comparison_units=comparison,
        )
    )
    schema = Path(__file__).resolve().parents[1] / "data_schemas" / "questionnaire.yaml"
    instruments = yaml.safe_load(schema.read_text(encoding="utf-8"))["instruments"]
    responses = _long_questionnaire(pilot.questionnaire, instruments)
    _, q_seconds, q_mb = _timed(lambda: questionnaire_tables(responses, instruments=instruments))
    figures = {
        "n_case_events": len(events),
        "n_cases": int(events["case_id"].nunique()),
        "throughput_seconds": round(t_seconds, 2),
        "throughput_peak_mb": round(t_mb, 1),
        "n_questionnaire_rows": len(responses),
        "questionnaire_seconds": round(q_seconds, 2),
        "questionnaire_peak_mb": round(q_mb, 1),
    }
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    return figures


if __name__ == "__main__":
    main()

"""Speed of the synthetic pilot: full generation, file writing, and the power fast path."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from evalkit.synth import PilotDesign, generate, simulate_outcome_panel, write_demo
from evalkit.synth._write import write_case_events_xlsx, write_panel_csv


def _best(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> dict[str, Any]:
    """Time the generator and print the figures.

    Returns
    -------
    dict
        Seconds per step and rows made.
    """
    design = PilotDesign.preset("pilot")
    pilot = generate(design, 1)
    figures: dict[str, Any] = {
        "panel_rows": len(pilot.panel),
        "case_events": len(pilot.case_events),
        "generate_s": _best(lambda: generate(design, 1), 3),
        "fast_path_one_outcome_s": _best(lambda: simulate_outcome_panel(design, 1, ["neet"]), 10),
        "fast_path_all_outcomes_s": _best(lambda: simulate_outcome_panel(design, 1), 5),
    }
    with tempfile.TemporaryDirectory() as tmp:
        figures["write_demo_s"] = _best(lambda: write_demo(pilot, tmp), 2)
        out = Path(tmp)
        figures["write_panel_csv_s"] = _best(
            lambda: write_panel_csv(pilot.panel, out / "outcome_panel.csv"), 3
        )
        figures["write_case_events_xlsx_s"] = _best(
            lambda: write_case_events_xlsx(pilot.case_events, out / "case_events.xlsx"), 3
        )
    big = design.replace(n_persons=30_000)
    figures["fast_path_30k_persons_s"] = _best(lambda: simulate_outcome_panel(big, 1, ["neet"]), 3)
    for key, value in figures.items():
        print(f"{key:28s} {value:.3f}" if isinstance(value, float) else f"{key:28s} {value}")
    return figures


if __name__ == "__main__":  # pragma: no cover
    main()

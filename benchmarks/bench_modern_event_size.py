"""Size of imputation's and Sun–Abraham's event-time tests under no effect (Monte Carlo).

With few pilot municipalities every event-time coefficient of both estimators (and
imputation's pre-trend leads) is tested over the assignments of cohorts to
municipalities, as their overall effect is (:mod:`evalkit.did._modern_inference`). This
checks each coefficient's rejection rate of a true null across designs with bounded
intervals (2–4 pilot municipalities of 12 and of 25, one start month or three), on the
panel of :mod:`benchmarks.bench_modern_size`, through :func:`evalkit.did.estimate` as a
user calls it (default inference, few assignments for speed: a randomization test's size
does not depend on how many it draws). Printed per design: the overall effect's rate
and the lowest and highest rate over the event times.
``EVALKIT_BENCH_MODERN_EVENT_SIMS`` sets the panels per design (default 200).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.bench_modern_size import ESTIMATORS, design_panel
from benchmarks.size_coverage import _outcomes
from evalkit.did import estimate

#: (pilot municipalities, all municipalities, staggered start months)
DESIGNS = ((2, 12, False), (2, 12, True), (3, 12, True), (4, 25, False), (4, 25, True))


def rejections(estimator: str, frame: pd.DataFrame, sims: int, seed: int) -> dict[str, float]:
    """Share of panels with p ≤ 0.05 under no effect: overall and per event time."""
    y0 = _outcomes(frame, int(frame["muni"].max()) + 1, sims, seed)
    hits: dict[str, list[bool]] = {}
    for d in range(sims):
        frame["y"] = y0[:, d]
        res = estimate(
            frame, outcome="y", unit="person", time="month", cohort="cohort", cluster="muni",
            estimator=estimator, max_enumerate=100, n_perm=99, seed=d,
        )  # fmt: skip
        hits.setdefault("overall", []).append(res.p_value <= 0.05)
        rows = res.table.dropna(subset=["event_time"])
        for e, p in zip(rows["event_time"], rows["p_value"], strict=True):
            hits.setdefault(str(int(e)), []).append(bool(p <= 0.05))
    return {k: float(np.mean(v)) for k, v in hits.items()}


def main() -> dict[str, Any]:
    """Simulate every design for both estimators, print the table, return the figures."""
    sims = int(os.environ.get("EVALKIT_BENCH_MODERN_EVENT_SIMS", "200"))
    figures: dict[str, Any] = {}
    print(f"{'design':<20} {'estimator':<12} {'overall':>8} {'events':>13}  seconds")
    for treated, total, staggered in DESIGNS:
        label = f"{treated} of {total} {'staggered' if staggered else 'block'}"
        frame = design_panel(treated, total, staggered)
        for estimator in ESTIMATORS:
            start = time.process_time()
            rates = rejections(estimator, frame, sims, seed=treated * 100 + total + 7)
            events = [v for k, v in rates.items() if k != "overall"]
            figures[f"{label} {estimator}"] = {"sims": sims, **rates}
            print(
                f"{label:<20} {estimator:<12} {rates['overall']:8.3f} "
                f"{min(events):6.3f}–{max(events):.3f}  {time.process_time() - start:.0f}",
                flush=True,
            )
    return figures


if __name__ == "__main__":
    main()

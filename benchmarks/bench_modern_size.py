"""Size of the few-treated default of imputation and Sun–Abraham under no effect (Monte Carlo).

With fewer than ten treated (or comparison) municipalities both estimators take
randomization inference over the assignment of cohorts to municipalities for their
overall effect (:mod:`evalkit.did._modern_inference`). This checks that it rejects a
true null at most about 5 % of the time: 1, 2, 3 and 4 pilot municipalities among 12
and among 25, with one start month for all (block) or start months 4, 5, 6 in turn
(staggered), on the few-treated harness's panel (:mod:`benchmarks.size_coverage`: four
people per municipality, 8 months, person effects, municipality-by-month AR(1) shocks,
person noise). Every panel goes through :func:`evalkit.did.estimate` as a user's call
does (the default inference, clustered by municipality), with fewer assignments than the
defaults (``max_enumerate=100``, ``n_perm=99``) to keep the run short: a randomization
test's size does not depend on how many assignments it draws, only its resolution does.
Where the assignments are drawn, each panel gets its own seed (the panel's number), so
the figure is the size of the procedure over its random draws; one fixed set of 99 draws
for every panel (the default seed) has a size of its own, a point or two either side of
the nominal one. ``EVALKIT_BENCH_MODERN_SIMS`` sets the panels per design (default 200).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.size_coverage import Design, _outcomes, panel
from evalkit.did import estimate

ESTIMATORS = ("imputation", "sun_abraham")
STAGGERED_STARTS = (4, 5, 6)


def design_panel(treated: int, total: int, staggered: bool) -> pd.DataFrame:
    """Return the harness panel of ``treated`` of ``total`` municipalities (equal sizes)."""
    frame = panel(Design(treated, total - treated, unequal=False))
    if staggered:
        muni = frame["muni"].to_numpy()
        starts = np.array(STAGGERED_STARTS)[muni % len(STAGGERED_STARTS)]
        frame["cohort"] = np.where(muni < treated, starts, 0)
    return frame


def size(estimator: str, frame: pd.DataFrame, sims: int, seed: int) -> dict[str, Any]:
    """Share of panels with p ≤ 0.05 under no effect, its Monte Carlo error, the inference."""
    n_munis = int(frame["muni"].max()) + 1
    y0 = _outcomes(frame, n_munis, sims, seed)
    p = np.empty(sims)
    smallest, inference = 0.0, ""
    for d in range(sims):
        frame["y"] = y0[:, d]
        res = estimate(
            frame,
            outcome="y",
            unit="person",
            time="month",
            cohort="cohort",
            cluster="muni",
            estimator=estimator,
            max_enumerate=100,
            n_perm=99,
            seed=d,
            **({"horizons": False} if estimator == "imputation" else {}),
        )
        p[d] = res.p_value
        inference = str(res.inference)
        smallest = float(res.inference_detail.get("smallest_p_value", 0.0))
    rate = float(np.mean(p <= 0.05))
    return {
        "sims": sims,
        "size": rate,
        "mc_se": math.sqrt(max(rate * (1 - rate), 0.05 * 0.95) / sims),
        "smallest_p": smallest,
        "inference": inference,
    }


def main() -> dict[str, Any]:
    """Simulate every design for both estimators, print the table, return the figures."""
    sims = int(os.environ.get("EVALKIT_BENCH_MODERN_SIMS", "200"))
    figures: dict[str, Any] = {}
    print(f"{'design':<24} {'estimator':<12} {'size':>6} {'mc_se':>6} {'min p':>6}  seconds")
    for staggered in (False, True):
        for total in (12, 25):
            for treated in (1, 2, 3, 4):
                label = f"{treated} of {total} {'staggered' if staggered else 'block'}"
                frame = design_panel(treated, total, staggered)
                for estimator in ESTIMATORS:
                    start = time.process_time()
                    cell = size(estimator, frame, sims, seed=treated * 100 + total)
                    cell["cpu_seconds"] = round(time.process_time() - start, 1)
                    figures[f"{label} {estimator}"] = cell
                    print(
                        f"{label:<24} {estimator:<12} {cell['size']:6.3f} {cell['mc_se']:6.3f} "
                        f"{cell['smallest_p']:6.3f}  {cell['cpu_seconds']}",
                        flush=True,
                    )
    return figures


if __name__ == "__main__":
    main()

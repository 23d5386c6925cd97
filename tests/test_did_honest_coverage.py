"""Few-treated HonestDiD bounds hold their coverage: a fast version of ``make bench``'s simulation.

The design is the benchmark's (``benchmarks/bench_honest.py``): 20 municipalities ×
4 people × 8 periods, three treated from period 5 with an effect of 1 on a linear
trend of 0.1 (a violation the smoothness restriction allows at M = 0), the target the
mean post-period effect, Conley–Taber placebo bounds. 300 draws in the benchmark:
coverage 0.950 (0.913 when each placebo row was left out alone).
"""

from __future__ import annotations

import numpy as np

from benchmarks.bench_honest import _panel
from evalkit.did import estimate

DRAWS = 60


def test_placebo_smoothness_bound_covers_with_three_treated_municipalities() -> None:
    # the first 60 draws of the benchmark's seed: 58 covered (56 when the weights that
    # judge a placebo row were fitted on rows sharing its comparison clusters)
    rng = np.random.default_rng(3001)
    kw = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort", "cluster": "muni"}
    covered = []
    for _ in range(DRAWS):
        res = estimate(
            _panel(rng, 3, 0.1),
            estimator="event_study",
            inference="conley_taber",
            sensitivity="smoothness",
            bounds=[0.0],
            **kw,
        ).to_dict()
        row = res["sensitivity"][0]
        covered.append(row["lb"] <= 1.0 <= row["ub"])
    assert np.mean(covered) >= 0.95, np.mean(covered)

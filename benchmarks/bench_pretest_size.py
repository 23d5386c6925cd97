"""Size of the national pre-trend test (``event_time_pretest``) when trends are parallel.

The national report's one robustness check is the joint Hotelling-F test of Callaway–
Sant'Anna's pre-period event-time estimates, with 12 coefficients and 35 region
clusters (22 denominator degrees of freedom). This Monte Carlo checks that it rejects
about 5 % of the time when nothing is wrong, across designs of the noise: 342
municipalities in the 35 regions and with the start months of
``protocols/national/law_2026.yaml``, 36 months (2025-01 to 2027-12), no effect and
no trend difference; ``y`` = municipality effect + month effect + region-month shock
(AR(1) with correlation ``rho``) + municipality-month noise. The spec is the registered
one: not-yet-treated controls, varying base period, regression adjustment, event window
−12…12, clustered by region. ``EVALKIT_BENCH_PRETEST_SIMS`` sets the pilots per design
(default 200; the closing note's figures used 500).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

PROTOCOL = Path(__file__).resolve().parents[1] / "protocols" / "national" / "law_2026.yaml"
MONTHS, MUNICIPALITIES = 36, 342
DESIGNS = (
    {"rho": 0.0, "region_sd": 0.0, "noise_sd": 1.0},
    {"rho": 0.0, "region_sd": 0.5, "noise_sd": 1.0},
    {"rho": 0.9, "region_sd": 0.5, "noise_sd": 1.0},
    {"rho": 0.9, "region_sd": 1.0, "noise_sd": 0.2},
)


def region_cohorts() -> np.ndarray:
    """Return each region's start as a month number (2025-01 = 1), in the protocol's order."""
    treated = yaml.safe_load(PROTOCOL.read_text(encoding="utf-8"))["units"]["treated"]
    starts = [str(t["start"]).split("-") for t in treated]
    return np.array([(int(y) - 2025) * 12 + int(m) for y, m in starts])


def simulate(
    rng: np.random.Generator, cohorts: np.ndarray, rho: float, region_sd: float, noise_sd: float
) -> pd.DataFrame:
    """Draw one municipality × month panel with parallel trends and no effect."""
    regions = len(cohorts)
    region = np.arange(MUNICIPALITIES) % regions
    shock = np.zeros((regions, MONTHS))
    shock[:, 0] = rng.normal(0, region_sd, regions)
    for t in range(1, MONTHS):
        fresh = rng.normal(0, region_sd, regions)
        shock[:, t] = rho * shock[:, t - 1] + np.sqrt(1 - rho**2) * fresh
    y = (
        rng.normal(0, 1, MUNICIPALITIES)[:, None]
        + rng.normal(0, 0.5, MONTHS)[None, :]
        + shock[region]
        + rng.normal(0, noise_sd, (MUNICIPALITIES, MONTHS))
    )
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(MUNICIPALITIES), MONTHS),
            "time": np.tile(np.arange(1, MONTHS + 1), MUNICIPALITIES),
            "cohort": np.repeat(cohorts[region], MONTHS),
            "region": np.repeat(region, MONTHS),
            "y": y.ravel(),
        }
    )


def pretest_p(panel: pd.DataFrame) -> float | None:
    """Fit the registered national spec and return the joint pre-trend test's p-value."""
    from evalkit.did import estimate
    from evalkit.did.cs import event_time_pretest

    result = estimate(
        panel,
        outcome="y",
        unit="unit",
        time="time",
        cohort="cohort",
        estimator="callaway_santanna",
        cluster="region",
        inference="analytic",
        control="notyet",
        base_period="varying",
        method="reg",
        event_window=(-12, 12),
        allow_unbalanced_panel=True,
    )
    return event_time_pretest(result)["p_value"]


def main() -> dict[str, Any]:
    """Simulate each design, print the rejection rates at 5 % and 10 %, return them."""
    sims = int(os.environ.get("EVALKIT_BENCH_PRETEST_SIMS", "200"))
    cohorts = region_cohorts()
    figures: dict[str, Any] = {}
    for design in DESIGNS:
        rng = np.random.default_rng(7)
        start = time.perf_counter()
        p = np.array([pretest_p(simulate(rng, cohorts, **design)) for _ in range(sims)])
        name = "rho={rho} region_sd={region_sd} noise_sd={noise_sd}".format(**design)
        figures[name] = {
            "sims": sims,
            "size_5": float(np.mean(p <= 0.05)),
            "size_10": float(np.mean(p <= 0.10)),
            "mc_se_5": float(np.sqrt(0.05 * 0.95 / sims)),
            "seconds": round(time.perf_counter() - start, 1),
        }
        print(f"{name:>40}: {figures[name]}", flush=True)
    return figures


if __name__ == "__main__":
    main()

"""HonestDiD sensitivity: speed on a 16-coefficient event study; few-treated coverage simulated.

Speed (target of issue #16: ≤ 1 s): relative magnitudes (C-LF, Mbar 0.5, 1, 1.5,
2 and the breakdown value) on the Sun–Abraham event study of the HonestDiD
README (10 pre, 6 post coefficients; tests/reference/honestdid), best of three.

Coverage (seeded Monte Carlo): 20 municipalities × 4 people × 8 periods,
municipality × period shocks (sd 0.5) and person noise (sd 0.5); 1 or 3
municipalities start in period 5 with an effect of 1 in every period after. The
treated municipalities' outcomes also drift on a linear trend (0.1 per period), a
violation of parallel trends that both restrictions allow (M = 0; Mbar = 1). The
target is the mean effect over the four post periods (the event study's headline;
truth 1). For each draw the event study is fitted twice:
analytic cluster-robust (CR1) covariance → HonestDiD's normal intervals, and
Conley–Taber → the placebo intervals. The table gives the share of draws whose
interval contains the truth (nominal 95 %) and the median width.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.did import estimate, sensitivity

REF = Path(__file__).parent.parent / "tests" / "reference" / "honestdid" / "published.json"
N_DRAWS = int(os.environ.get("EVALKIT_BENCH_DRAWS", "150"))


def _speed() -> dict[str, Any]:
    ref = json.loads(REF.read_text(encoding="utf-8"))["sunab_relative_magnitudes"]
    beta, sigma = np.array(ref["betahat"]), np.array(ref["sigma"])
    sensitivity(beta, sigma, num_pre=10, num_post=6, bounds=[1.0])  # warm-up
    out: dict[str, Any] = {"coefficients": len(beta)}
    for with_breakdown in (False, True):
        times, cpu = [], []
        for _ in range(3):
            start, cpu_start = time.perf_counter(), time.process_time()
            res = sensitivity(
                beta,
                sigma,
                num_pre=10,
                num_post=6,
                bounds=[0.5, 1.0, 1.5, 2.0],
                breakdown=with_breakdown,
            )
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
        suffix = "_with_breakdown" if with_breakdown else ""
        out["seconds" + suffix] = min(times)
        out["cpu_seconds" + suffix] = min(cpu)
    out["breakdown"] = res.breakdown
    return out


def _panel(rng: np.random.Generator, treated: int, trend: float) -> pd.DataFrame:
    shocks = rng.normal(0, 0.5, (20, 8))
    g, p, t = np.meshgrid(np.arange(20), np.arange(4), np.arange(1, 9), indexing="ij")
    g, p, t = g.ravel(), p.ravel(), t.ravel()
    unit = g * 4 + p
    is_treated = g < treated
    y = rng.normal(size=80)[unit] + 0.1 * t + shocks[g, t - 1] + rng.normal(0, 0.5, len(t))
    y = y + np.where(is_treated & (t >= 5), 1.0, 0.0) + np.where(is_treated, trend * (t - 4), 0.0)
    return pd.DataFrame(
        {"unit": unit, "muni": g, "time": t, "cohort": np.where(is_treated, 5, 0), "y": y}
    )


def _draw(df: pd.DataFrame) -> dict[str, tuple[float, float]]:
    kw: dict[str, Any] = {
        "outcome": "y",
        "unit": "unit",
        "time": "time",
        "cohort": "cohort",
        "cluster": "muni",
        "estimator": "event_study",
    }
    out = {}
    for inference, label in (("analytic", "normal (CR1)"), ("conley_taber", "placebo")):
        for restriction, bound in (("relative_magnitudes", 1.0), ("smoothness", 0.0)):
            res = estimate(
                df, inference=inference, sensitivity=restriction, bounds=[bound], **kw
            ).to_dict()
            row = res["sensitivity"][0]
            lo = -np.inf if row["lb"] is None else row["lb"]
            hi = np.inf if row["ub"] is None else row["ub"]
            out[f"{label} {restriction}"] = (lo, hi)
    return out


def _coverage(n_draws: int) -> list[dict[str, Any]]:
    rows = []
    for treated in (1, 3):
        for trend in (0.1,):
            rng = np.random.default_rng(1000 * treated + int(trend * 10))
            hits: dict[str, list[tuple[bool, float]]] = {}
            for _ in range(n_draws):
                for key, (lo, hi) in _draw(_panel(rng, treated, trend)).items():
                    hits.setdefault(key, []).append((lo <= 1.0 <= hi, hi - lo))
            for key, values in hits.items():
                method, restriction = key.rsplit(" ", 1)
                rows.append(
                    {
                        "treated": treated,
                        "trend": trend,
                        "method": method,
                        "restriction": restriction,
                        "coverage": float(np.mean([h for h, _ in values])),
                        "median_width": float(np.median([w for _, w in values])),
                    }
                )
    return rows


def main() -> dict[str, Any]:
    """Run the speed benchmark and the coverage simulation; print both."""
    load = os.getloadavg()[0]
    speed = _speed()
    print(
        f"relative magnitudes, {speed['coefficients']} coefficients, 4 bounds: "
        f"{speed['seconds']:.3f} s wall, {speed['cpu_seconds']:.3f} s CPU (target ≤ 1 s); "
        f"with the breakdown value: {speed['seconds_with_breakdown']:.3f} s wall, "
        f"{speed['cpu_seconds_with_breakdown']:.3f} s CPU (load {load:.2f})"
    )
    start = time.perf_counter()
    rows = _coverage(N_DRAWS)
    table = pd.DataFrame(rows)
    print(
        f"\nfew-treated coverage, {N_DRAWS} draws per design ({time.perf_counter() - start:.0f} s)"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return {"speed": speed, "load": load, "coverage": rows, "draws": N_DRAWS}

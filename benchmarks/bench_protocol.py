"""Protocol benchmarks: checking the shipped protocols, evaluating expressions, power simulation.

Figures: seconds to check every protocol in ``protocols/``; seconds to evaluate an
inclusion rule and a subgroup definition on one million person-months; and the time
of one power-simulation draw (simulate the demo design's panel and aggregate it) with
a trivial estimator, i.e. the overhead the power command adds to each estimator call.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.protocol import check_protocol, load_protocol, simulate_power
from evalkit.protocol.expressions import evaluate

ROOT = Path(__file__).resolve().parents[1]


def _trivial(frame: pd.DataFrame) -> tuple[float, float, float]:
    treated = frame.loc[frame["treated"] == 1, "y"].mean()
    return float(treated - frame.loc[frame["treated"] == 0, "y"].mean()), 1.0, 1.0


def main() -> dict[str, float]:
    """Run the protocol benchmarks, print and return their figures."""
    files = sorted((ROOT / "protocols").rglob("*.yaml"))
    files = [f for f in files if not f.name.endswith(".deviations.yaml")]
    start = time.perf_counter()
    for path in files:
        check_protocol(path)
    check_s = time.perf_counter() - start

    rng = np.random.default_rng(1)
    n = 1_000_000
    frame = pd.DataFrame(
        {
            "age": rng.integers(14, 30, n),
            "birth_month": pd.to_datetime("2000-01-01")
            + pd.to_timedelta(rng.integers(0, 365 * 12, n), unit="D"),
            "school_type": rng.choice(["pro", "vso", "mbo1", "other"], n),
        }
    )
    start = time.perf_counter()
    evaluate("age >= 16 and age <= 27", frame)
    evaluate("turns_18_between('2025-10', '2025-12') and school_type in ['pro', 'vso']", frame)
    expr_s = time.perf_counter() - start

    protocol = load_protocol(ROOT / "protocols" / "demo.yaml")
    draws = 20
    start = time.perf_counter()
    simulate_power(protocol, _trivial, effects=[0.01], n_sims=draws, outcomes=["neet"])
    per_draw_ms = (time.perf_counter() - start) / draws * 1000

    figures = {
        "check_all_protocols_s": round(check_s, 3),
        "n_protocols": len(files),
        "expressions_1m_rows_s": round(expr_s, 3),
        "power_draw_overhead_ms": round(per_draw_ms, 1),
    }
    for key, value in figures.items():
        print(f"{key:<28} {value}")
    return figures


if __name__ == "__main__":  # pragma: no cover
    main()

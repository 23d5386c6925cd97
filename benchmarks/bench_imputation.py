"""Imputation (Borusyak–Jaravel–Spiess) speed: evalkit versus pyfixest's ``did2s``, side by side.

The staggered benchmark panel of ``bench_did`` (50,000 units × 24 periods, 1.2M
rows; four cohorts and never treated). Both tools run in this one process, one
after the other, best of two runs each, so that the ratio holds under load:

* static: the overall effect and its clustered standard error
  (evalkit ``estimate(..., estimator="imputation", horizons=False)``; pyfixest
  ``did2s(first_stage="~ 0 | unit + time", second_stage="~ treat")``);
* event study: every event time ``e ≥ 0`` (evalkit also fits the five leads, as
  ``didimputation``'s ``pretrends``; pyfixest ``second_stage="~ i(rel, ref=-1)"``
  with the never treated at ``rel = -1``).

Target of issue #16: evalkit at least as fast as ``did2s`` (ratio ≤ 1). The two
give the same point estimates (Gardner's two-stage estimator equals imputation);
their variances differ (BJS's conservative one against did2s's GMM correction).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.bench_did import make_panel


def _best(fn: Callable[[], float], runs: int = 2) -> tuple[float, float]:
    times, value = [], float("nan")
    for _ in range(runs):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def main() -> dict[str, Any]:
    """Time both tools on the 1.2M-row panel and print the ratios."""
    import pyfixest as pf

    from evalkit.did import estimate

    df = make_panel()
    df["treat"] = ((df["cohort"] > 0) & (df["time"] >= df["cohort"])).astype(int)
    df["rel"] = np.where(df["cohort"] > 0, df["time"] - df["cohort"], -1)
    kw: dict[str, Any] = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}
    figures: dict[str, Any] = {"rows": len(df), "load": os.getloadavg()[0]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimate(df.head(2400), estimator="imputation", **kw)  # warm-up (imports, JIT)
        pf.did2s(
            df.head(2400),
            yname="y",
            first_stage="~ 0 | unit + time",
            second_stage="~ treat",
            treatment="treat",
            cluster="unit",
        )
        runs: dict[str, Callable[[], float]] = {
            "static evalkit": lambda: (
                estimate(df, estimator="imputation", horizons=False, **kw).att
            ),
            "static did2s": lambda: float(
                pf.did2s(
                    df,
                    yname="y",
                    first_stage="~ 0 | unit + time",
                    second_stage="~ treat",
                    treatment="treat",
                    cluster="unit",
                ).coef()["treat"]
            ),
            "event study evalkit": lambda: estimate(df, estimator="imputation", **kw).att,
            "event study did2s": lambda: float(
                pf.did2s(
                    df,
                    yname="y",
                    first_stage="~ 0 | unit + time",
                    second_stage="~ i(rel, ref=-1.0)",
                    treatment="treat",
                    cluster="unit",
                )
                .coef()
                .iloc[0]
            ),
        }
        for name, fn in runs.items():
            seconds, value = _best(fn)
            figures[name] = {"seconds": seconds, "value": value}
            print(f"{name:22s} {seconds:7.2f} s   ({value:.6f})", flush=True)
    for part in ("static", "event study"):
        ratio = figures[f"{part} evalkit"]["seconds"] / figures[f"{part} did2s"]["seconds"]
        figures[f"{part} ratio"] = ratio
        print(f"{part}: evalkit / did2s = {ratio:.2f} (target ≤ 1; load {figures['load']:.2f})")
    same = abs(figures["static evalkit"]["value"] - figures["static did2s"]["value"])
    figures["static difference"] = same
    print(f"static estimates differ by {same:.2e}")
    return figures


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()

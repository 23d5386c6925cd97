"""Imputation (Borusyak–Jaravel–Spiess) speed: evalkit versus pyfixest's ``did2s``, side by side.

The staggered benchmark panel of ``bench_did`` (50,000 units × 24 periods, 1.2M
rows; four cohorts and never treated) and a 2,000-unit panel of the same design
(48,000 rows). Both tools run in this one process, one after the other, best of
two runs each, so that the ratio holds under load. pyfixest 0.60's ``did2s``
builds a dense rows × units matrix for its variance: on the 1.2M-row panel that
is 56 GiB and it fails (MemoryError), so the side-by-side ratio is measured on
the smaller panel and evalkit alone on the large one:

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

#: did2s builds a dense rows × units first-stage matrix for its variance (pyfixest 0.60), so it
#: runs side by side with evalkit on this smaller panel only; on the 1.2M-row panel it would
#: need 56 GiB (it raised MemoryError when tried).
SMALL_UNITS = 2_000


def _best(fn: Callable[[], float], runs: int = 2) -> tuple[float, float]:
    times, value = [], float("nan")
    for _ in range(runs):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def _runs(df: pd.DataFrame, with_did2s: bool) -> dict[str, Callable[[], float]]:
    import pyfixest as pf

    from evalkit.did import estimate

    kw: dict[str, Any] = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}
    runs: dict[str, Callable[[], float]] = {
        "static evalkit": lambda: estimate(df, estimator="imputation", horizons=False, **kw).att,
        "event study evalkit": lambda: estimate(df, estimator="imputation", **kw).att,
    }
    if with_did2s:
        first = "~ 0 | unit + time"
        runs["static did2s"] = lambda: float(
            pf.did2s(
                df,
                yname="y",
                first_stage=first,
                second_stage="~ treat",
                treatment="treat",
                cluster="unit",
            ).coef()["treat"]
        )
        runs["event study did2s"] = lambda: float(
            pf.did2s(
                df,
                yname="y",
                first_stage=first,
                second_stage="~ i(rel, ref=-1.0)",
                treatment="treat",
                cluster="unit",
            )
            .coef()
            .iloc[0]
        )
    return runs


def main() -> dict[str, Any]:
    """Time both tools side by side and print the ratios."""
    figures: dict[str, Any] = {"load": os.getloadavg()[0]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n_units in (SMALL_UNITS, 50_000):
            df = make_panel(n_units=n_units)
            df["treat"] = ((df["cohort"] > 0) & (df["time"] >= df["cohort"])).astype(int)
            df["rel"] = np.where(df["cohort"] > 0, df["time"] - df["cohort"], -1)
            with_did2s = n_units == SMALL_UNITS
            _runs(df.head(2400), True)["static did2s"]()  # warm-up (imports, JIT)
            size: dict[str, Any] = {"rows": len(df)}
            for name, fn in _runs(df, with_did2s).items():
                seconds, value = _best(fn)
                size[name] = {"seconds": seconds, "value": value}
                print(f"{len(df):>9,} rows  {name:20s} {seconds:7.2f} s  ({value:.6f})", flush=True)
            if with_did2s:
                for part in ("static", "event study"):
                    ratio = size[f"{part} evalkit"]["seconds"] / size[f"{part} did2s"]["seconds"]
                    size[f"{part} ratio"] = ratio
                    print(f"{part}: evalkit / did2s = {ratio:.2f} (target ≤ 1)")
            else:
                need = len(df) * n_units / 2**30
                size["did2s"] = (
                    f"not run: its variance needs a dense rows × units matrix ({need:.0f} GiB)"
                )
                print(f"did2s {size['did2s']}")
            figures[str(len(df))] = size
    print(f"load {figures['load']:.2f}")
    return figures

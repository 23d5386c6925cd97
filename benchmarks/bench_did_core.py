"""Speed of the 2×2/TWFE family and its few-treated inference on a demo-sized panel.

3,000 people × 30 months (90,000 rows; 12 municipalities, one of which starts a
pilot in month 22). Each estimator and inference method runs once after a
warm-up call; wall times in seconds.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from evalkit.did import estimate


def _panel(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    people, months = 3000, 30
    pid = np.repeat(np.arange(people), months)
    month = np.tile(np.arange(1, months + 1), people)
    muni = pid % 12
    cohort = np.where(muni == 0, 22, 0)
    shock = rng.normal(scale=0.02, size=(12, months))[muni, month - 1]
    y = (rng.random(len(pid)) < 0.06 + shock - 0.02 * ((muni == 0) & (month >= 22))).astype(float)
    return pd.DataFrame(
        {
            "person": pid.astype(str),
            "month": month,
            "municipality": muni,
            "cohort": cohort,
            "debt": y,
        }
    )


def main() -> dict[str, Any]:
    """Time each estimator/inference combination and print the figures.

    Returns
    -------
    dict
        Seconds per run, keyed by ``estimator/inference``.
    """
    df = _panel()
    kw = dict(outcome="debt", unit="person", time="month", cohort="cohort", cluster="municipality")
    runs = [
        ("twfe", "analytic"),
        ("twfe", None),
        ("twfe", "permutation"),
        ("twfe", "wild"),
        ("2x2", None),
        ("event_study", "analytic"),
        ("event_study", None),
        ("bacon", "analytic"),
    ]
    figures: dict[str, Any] = {"rows": len(df)}
    estimate(df, estimator="twfe", inference="analytic", **kw)  # warm-up (imports)
    for estimator, inference in runs:
        start = time.perf_counter()
        estimate(df, estimator=estimator, inference=inference, **kw)
        seconds = time.perf_counter() - start
        key = f"{estimator}/{inference or 'default (conley_taber)'}"
        figures[key] = round(seconds, 3)
        print(f"{key:40s} {seconds:7.2f} s")
    return figures


if __name__ == "__main__":  # pragma: no cover
    main()

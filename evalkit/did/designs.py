"""Estimate, p-value and interval of one design on a unit-by-period power frame.

:func:`evalkit.analysis.design_power.compare_designs` simulates pilots and asks each
design for ``(estimate, p_value, ci_low, ci_high)``; this is that call for the
estimators of this package, on the frame the power simulation builds (``unit``,
``time``, ``treated``, ``y``: one row per unit and month; for triple differences one
row per unit, month and subgroup, with a 0/1 column ``subgroup``).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from evalkit.did.estimate import estimate
from evalkit.errors import EstimationError

__all__ = ["design_interval"]


def design_interval(
    frame: pd.DataFrame, estimator: str, inference: str, *, alpha: float, seed: int
) -> tuple[float, float, float, float]:
    """Run one design on a power frame and return estimate, p-value and interval.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``unit, time, treated, y`` (triple differences also ``subgroup``).
    estimator : str
        ``"twfe"``, ``"synthetic_did"``, ``"synthetic_control"`` or
        ``"triple_differences"`` (DiD on the within-cell subgroup differences).
    inference : str
        The inference method.
    alpha : float
        1 − confidence level.
    seed : int
        Seed of random draws.

    Returns
    -------
    tuple of float
        ``(estimate, p_value, ci_low, ci_high)``; an interval the design cannot bound
        is ``(-inf, inf)``; a design that cannot run gives NaN estimate and p-value 1.
    """
    kwargs: dict[str, Any] = {}
    if estimator in ("twfe", "2x2"):
        kwargs["cluster"] = "unit"
    elif estimator == "triple_differences":
        kwargs["subgroup"] = "subgroup"
    try:
        result = estimate(
            frame,
            outcome="y",
            unit="unit",
            time="time",
            treated="treated",
            estimator=estimator,
            inference=inference,
            alpha=alpha,
            seed=seed,
            **kwargs,
        )
    except EstimationError:
        return math.nan, 1.0, -math.inf, math.inf
    low = result.ci_low if math.isfinite(result.ci_low) else -math.inf
    high = result.ci_high if math.isfinite(result.ci_high) else math.inf
    return float(result.att), float(result.p_value), float(low), float(high)

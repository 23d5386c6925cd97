"""Estimate, p-value and interval of one design on a unit-by-period power frame.

:func:`evalkit.analysis.design_power.compare_designs` simulates pilots and asks each
design for ``(estimate, p_value, ci_low, ci_high)``; this is that call for the
estimators of this package, on the frame the power simulation builds (``unit``,
``time``, ``treated``, ``y``: one row per unit and month).
"""

from __future__ import annotations

import math

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
        Columns ``unit, time, treated, y``.
    estimator : str
        ``"twfe"``, ``"synthetic_did"`` or ``"synthetic_control"``.
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
    kwargs = {"cluster": "unit"} if estimator in ("twfe", "2x2") else {}
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
            **kwargs,  # type: ignore[arg-type]
        )
    except EstimationError:
        return math.nan, 1.0, -math.inf, math.inf
    low = result.ci_low if math.isfinite(result.ci_low) else -math.inf
    high = result.ci_high if math.isfinite(result.ci_high) else math.inf
    return float(result.att), float(result.p_value), float(low), float(high)

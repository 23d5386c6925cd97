"""Estimate, p-value and confidence set of one design on a unit-by-period power frame.

:func:`evalkit.analysis.design_power.compare_designs` simulates pilots and asks each
design for ``(estimate, p_value, low_1, high_1, ...)`` (its confidence set); this is
that call for the estimators of this package, on the frame the power simulation
builds (``unit``, ``time``, ``treated``, ``y``: one row per unit and month; for triple
differences one row per unit, month and subgroup, with a 0/1 column ``subgroup``).
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
) -> tuple[float, ...]:
    """Run one design on a power frame and return estimate, p-value and confidence set.

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
        ``(estimate, p_value, low_1, high_1, ...)``: the pieces of the confidence set in
        increasing order, one piece (the interval) except for conformal inference, whose
        set of effects not rejected can have gaps; an end the design cannot bound is
        ±inf; an empty conformal set is one NaN piece; a design that cannot run gives
        NaN estimate, p-value 1 and ``(-inf, inf)``.
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
    head = (float(result.att), float(result.p_value))
    conf_set = result.extra.get("conf_set")
    if conf_set is not None:
        # conformal: the set itself, not its hull (which also holds rejected effects)
        if not conf_set:
            return (*head, math.nan, math.nan)
        return head + tuple(float(end) for piece in conf_set for end in piece)
    low = result.ci_low if math.isfinite(result.ci_low) else -math.inf
    high = result.ci_high if math.isfinite(result.ci_high) else math.inf
    return (*head, float(low), float(high))

"""HonestDiD sensitivity analysis of a Callaway–Sant'Anna dynamic (event-time) aggregation.

As R ``HonestDiD::honest_did`` does for a ``did::aggte(type = "dynamic")`` object,
the event-time effects and their covariance from the influence functions (clustered
as the standard errors are) go into :func:`evalkit.did.sensitivity`. The restrictions
bound how the post-period violation of parallel trends relates to the pre-period
coefficients, so those must be deviations from one common reference period: that
needs the universal base period (with the varying one each pre-period coefficient is
a short difference from its own previous period, and R refuses it too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from evalkit.did._event_sensitivity import event_sensitivity
from evalkit.did.cs._result import CsResult
from evalkit.errors import EstimationError
from evalkit.spec import FEW_TREATED_THRESHOLD

__all__ = ["with_sensitivity"]


def with_sensitivity(
    result: CsResult,
    options: Mapping[str, Any],
    *,
    seed: int,
    few_treated_threshold: int = FEW_TREATED_THRESHOLD,
) -> CsResult:
    """Return ``result`` with the HonestDiD sensitivity analysis of its dynamic rows.

    Parameters
    ----------
    result : CsResult
        A Callaway–Sant'Anna result estimated with ``base_period="universal"``.
    options : mapping
        ``sensitivity`` (``"relative_magnitudes"`` or ``"smoothness"``), ``bounds``
        and ``sensitivity_target`` (``"mean"`` of the post-period effects, the dynamic
        aggregation's overall value, or ``"first"``), as for the event study.
    seed : int
        Seed of the least-favourable draws.

    Returns
    -------
    CsResult
        The same result with ``sensitivity`` set; its notes gain the analysis' notes
        (e.g. that the normal approximation is doubtful with few treated clusters).

    Raises
    ------
    EstimationError
        With the varying base period, or without the covariance of the dynamic rows.
    """
    base = result.options.get("base_period")
    if base != "universal":
        raise EstimationError(
            "the sensitivity analysis of a Callaway–Sant'Anna event study needs "
            f"base_period='universal' (got {base!r}): with the varying base period the "
            "pre-period effects are differences from each one's previous period, not from "
            "one reference period"
        )
    if result.dynamic_vcov is None:
        raise EstimationError("this Callaway–Sant'Anna result has no dynamic covariance")
    rows = result.aggregations["dynamic"]["rows"]
    anticipation = int(result.options.get("anticipation", 0) or 0)
    # Event times count from the moved start, so the reference period is −1 and the
    # first ``anticipation`` post-period coefficients are anticipation effects.
    times = rows["event_time"].to_numpy(dtype=int) + anticipation
    keep = np.flatnonzero(times != -1)
    vcov = np.asarray(result.dynamic_vcov, dtype=float)[np.ix_(keep, keep)]
    sens = event_sensitivity(
        times[keep].tolist(),
        rows["att"].to_numpy(dtype=float)[keep],
        vcov,
        options,
        alpha=result.alpha,
        placebo=None,
        treated=result.n_treated_clusters,
        clusters=result.n_clusters,
        seed=seed,
        anticipation=anticipation,
        few_treated_threshold=few_treated_threshold,
    )
    return replace(result, sensitivity=sens.to_dict(), notes=(*result.notes, *sens.notes))

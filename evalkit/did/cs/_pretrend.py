"""A joint pre-trend test on Callaway–Sant'Anna's pre-period event-time estimates.

R ``did``'s pre-test (:attr:`CsResult.pretest_p`) tests every pre-treatment ATT(g, t)
at once; with many cohorts and months there are more such cells than clusters (111
against 35 regions in the national protocol) and their cluster-robust covariance is
singular. The dynamic aggregation's pre-period rows (event times before the start)
are few, and :attr:`CsResult.dynamic_vcov` is their covariance from the same
influence functions (weight estimation included, clustered as the standard errors).

The test is the cluster-robust Wald statistic ``W = b' V^-1 b`` over the K pre-period
rows, in its Hotelling T² small-sample form for G clusters:
``F = W (G - K) / (K G)`` on K and G − K degrees of freedom (the cluster sums of the
influence functions taken as G independent draws). It needs K < G and is not run with
fewer treated clusters than the few-treated threshold, where a cluster-robust test
rejects far too often.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evalkit.did.cs._result import CsResult
from evalkit.spec import FEW_TREATED_THRESHOLD

__all__ = ["event_time_pretest"]

#: The test's name in a bundle's ``robustness.pretrend`` rows.
TEST = "wald_pre_event_times_cs"


def event_time_pretest(
    result: CsResult, few_treated_threshold: int = FEW_TREATED_THRESHOLD
) -> dict[str, Any]:
    """Test that every pre-period event-time effect of the dynamic aggregation is zero.

    Parameters
    ----------
    result : CsResult
        A Callaway–Sant'Anna result (its dynamic rows and ``dynamic_vcov``).
    few_treated_threshold : int
        Fewer treated clusters than this: the test is not run.

    Returns
    -------
    dict
        ``test``, ``statistic`` (F), ``wald`` (W), ``df`` (K), ``df_denominator``
        (G − K), ``p_value``, ``event_times`` (the rows tested), ``valid`` and, when it
        is not run, ``reason`` (``no_pre_periods``, ``more_effects_than_clusters``,
        ``few_treated_clusters`` or ``singular``) with ``reason_values``.
    """
    rows = result.aggregations["dynamic"]["rows"]
    anticipation = int(result.options.get("anticipation", 0) or 0)
    times = rows["event_time"].to_numpy(dtype=int)
    se = rows["se"].to_numpy(dtype=float)
    # Before the (anticipation-moved) start; reference rows have no standard error.
    pre = np.flatnonzero((times + anticipation < 0) & np.isfinite(se) & (se > 0))
    k, g = int(pre.size), int(result.n_clusters)
    out: dict[str, Any] = {
        "test": TEST,
        "statistic": None,
        "wald": None,
        "df": k,
        "df_denominator": None,
        "p_value": None,
        "event_times": [int(t) for t in times[pre]],
        "valid": False,
        "reason": None,
        "reason_values": {},
    }
    if k == 0 or result.dynamic_vcov is None:
        out["reason"] = "no_pre_periods"
    elif k >= g:
        out.update(reason="more_effects_than_clusters", reason_values={"k": k, "clusters": g})
    elif result.n_treated_clusters < few_treated_threshold:
        treated = int(result.n_treated_clusters)
        out.update(reason="few_treated_clusters", reason_values={"treated": treated})
    else:
        out.update(_wald(rows["att"].to_numpy(dtype=float)[pre], result.dynamic_vcov, pre, g))
    return out


def _wald(b: np.ndarray, vcov: Any, pre: np.ndarray, g: int) -> dict[str, Any]:
    """Return the Hotelling-form F test of ``b`` (or the reason it is singular)."""
    # imported here, as the analysis asks for this test and `evalkit did` does not
    # (see evalkit.did._distributions)
    from scipy import special

    v = np.asarray(vcov, dtype=float)[np.ix_(pre, pre)]
    k = b.size
    if np.linalg.cond(v) > 1.0 / np.finfo(float).eps:
        return {"reason": "singular"}
    wald = float(b @ np.linalg.solve(v, b))
    stat = wald * (g - k) / (k * g)
    return {
        "statistic": stat,
        "wald": wald,
        "df_denominator": g - k,
        "p_value": float(special.fdtrc(k, g - k, stat)),
        "valid": True,
    }

"""Rows of the robustness checks: event-study rows and the pre-trend test, from estimate dicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.did.results import event_time_rows

__all__ = ["event_rows", "pretrend_row"]


def event_rows(outcome: str, res: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Event-time rows ``event_time, estimate, std_error, conf_low, conf_high``.

    They are the event-time rows of the estimate's tidy frame: Callaway–Sant'Anna's
    dynamic aggregation (pointwise intervals, or the uniform band with the multiplier
    bootstrap), the event studies' coefficients; both carry their interval bounds.
    """
    if res is None:
        return []
    return [
        {"outcome": outcome, **{k: v for k, v in row.items() if k != "p_value"}}
        for row in event_time_rows(res["_tidy"])
    ]


def pretrend_row(
    outcome: str, es: Mapping[str, Any] | None, threshold: int, errors: Sequence[str] = ()
) -> dict[str, Any]:
    """Joint test that all pre-period event-time effects are zero, or why it cannot be run.

    A clustered Wald test of K pre-period effects needs the cluster-robust
    covariance to have rank K, which it cannot have with K ≥ the number of
    clusters, and it over-rejects with few treated clusters; then the test is
    reported as invalid with its reason (the placebo in time remains). ``errors`` are
    the event study's own errors when it could not be estimated (``es`` None): the row
    carries them (reason ``event_study_failed``), so no registered part goes unexplained.
    """
    row: dict[str, Any] = {
        "outcome": outcome,
        "test": "wald_pre_periods",
        "statistic": None,
        "p_value": None,
        "valid": False,
        "reason": None,  # a code the report's translation table words
        "reason_values": {},
    }
    if es is None:  # with the estimator's error, so that the report can say why
        row["reason"] = "event_study_failed" if errors else "no_event_study"
        row["reason_values"] = {"error": "; ".join(errors)} if errors else {}
        return row
    if es.get("pretest_p") is not None:
        row.update({"test": "wald_pre_periods_cs", "p_value": es["pretest_p"], "valid": True})
        return row
    if "aggregations" in es:  # Callaway–Sant'Anna: its pre-test says why it could not run
        k = int((es.get("inference_detail") or {}).get("pretest_df") or 0)
        row["test"] = "wald_pre_periods_cs"
        row["reason"] = "more_effects_than_clusters" if k else "no_pre_periods"
        row["reason_values"] = {"k": k, "clusters": es.get("n_clusters")} if k else {}
        return row
    test = es.get("pretrend") or {}
    k = int(test.get("df") or 0)
    clusters, treated = es.get("n_clusters"), es.get("n_treated_clusters")
    if not k:
        row["reason"] = "no_pre_periods"
    elif clusters is not None and k >= clusters:
        row["reason"] = "more_effects_than_clusters"
        row["reason_values"] = {"k": k, "clusters": clusters}
    elif (treated is not None and treated < threshold) or test.get("p_value") is None:
        row["reason"] = "few_treated_clusters"
        row["reason_values"] = {"treated": treated}
    else:
        row.update(
            {"statistic": test.get("statistic"), "p_value": test.get("p_value"), "valid": True}
        )
    return row

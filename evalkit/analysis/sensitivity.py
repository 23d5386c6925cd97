"""Registered robustness checks of the primary outcomes: HonestDiD sensitivity, other event studies.

``analysis.robustness`` in a protocol declares them in advance:
``sensitivity: {restriction, bounds, target}`` and ``event_studies: [imputation,
sun_abraham]``. The sensitivity analysis runs on an event study with a
covariance: Sun–Abraham when the registered estimator handles staggered timing
(Callaway–Sant'Anna) and enough clusters are treated, else the TWFE event study,
whose few-treated default (Conley–Taber) makes the bounds come from the placebo
distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["modern_event_rows", "robustness_checks", "sensitivity_record"]

Runner = Callable[..., tuple[dict[str, Any] | None, list[str]]]


def robustness_checks(
    run: Runner,
    outcome: str,
    estimator: str,
    analysis: Mapping[str, Any],
    main: Mapping[str, Any] | None,
    registered_rows: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the checks ``analysis.robustness`` registers for one primary outcome.

    Parameters
    ----------
    run : callable
        ``run(estimator, **options)`` for this outcome under the protocol's design.
    outcome, estimator : str
        Outcome id and the registered estimator.
    analysis : mapping
        The protocol's analysis block.
    main : mapping or None
        The registered estimate.
    registered_rows : list of dict
        The registered event study's rows (shown beside the others).

    Returns
    -------
    sensitivity, event_studies : list of dict
        Bundle records (empty when nothing is registered).
    """
    checks = analysis.get("robustness") or {}
    window = analysis.get("event_window")

    def in_window(est: str, **options: Any) -> tuple[dict[str, Any] | None, list[str]]:
        # The registered event window applies (Sun–Abraham bins event times outside it).
        if window and est != "callaway_santanna":
            options.setdefault("event_window", (int(window["min"]), int(window["max"])))
        return run(est, **options)

    sens = []
    if checks.get("sensitivity"):
        threshold = int(analysis.get("few_treated_threshold", 5))
        sens.append(
            sensitivity_record(
                in_window, outcome, estimator, checks["sensitivity"], main, threshold
            )
        )
    rows: list[dict[str, Any]] = []
    if checks.get("event_studies"):
        rows = registered_rows + modern_event_rows(in_window, outcome, checks["event_studies"])
    return sens, rows


def sensitivity_record(
    run: Runner,
    outcome: str,
    estimator: str,
    check: Mapping[str, Any],
    main: Mapping[str, Any] | None,
    threshold: int,
) -> dict[str, Any]:
    """Run the registered sensitivity analysis of one primary outcome.

    Parameters
    ----------
    run : callable
        ``run(estimator, **options) -> (result dict or None, errors)`` for this outcome.
    outcome : str
        Outcome id.
    estimator : str
        The registered estimator.
    check : mapping
        ``restriction``, ``bounds``, ``target`` from the protocol.
    main : mapping or None
        The registered estimate (its ``n_treated_clusters`` chooses the event study).
    threshold : int
        Fewer treated clusters than this count as few.

    Returns
    -------
    dict
        ``outcome, estimator, restriction, method, target, estimate, original, rows,
        breakdown, breakdown_censored, warnings, warning_codes, error``.
    """
    few = main is not None and int(main.get("n_treated_clusters") or 0) < threshold
    use = "sun_abraham" if estimator == "callaway_santanna" and not few else "event_study"
    res, errors = run(
        use,
        sensitivity=check["restriction"],
        bounds=[float(b) for b in check["bounds"]],
        sensitivity_target=check.get("target", "mean"),
    )
    record: dict[str, Any] = {
        "outcome": outcome,
        "estimator": use,
        "restriction": check["restriction"],
        "target": check.get("target", "mean"),
        "error": None if res is not None else "; ".join(errors),
    }
    out = res or {}
    analysis = out.get("sensitivity_analysis")
    if analysis is None:
        return {**record, "rows": [], "warnings": [], "warning_codes": []}
    return {
        **record,
        "method": analysis["method"],
        "estimate": analysis["estimate"],
        "original": analysis["original"],
        "rows": analysis["rows"],
        "breakdown": analysis["breakdown"],
        "breakdown_censored": analysis["breakdown_censored"],
        "warnings": [w for w in out.get("warnings", []) if w],
        "warning_codes": out.get("warning_codes", []),
    }


def modern_event_rows(run: Runner, outcome: str, estimators: Sequence[str]) -> list[dict[str, Any]]:
    """Event-study rows of the declared heterogeneity-robust estimators, one estimator each.

    Returns
    -------
    list of dict
        ``outcome, estimator, event_time, estimate, std_error, conf_low, conf_high``.
    """
    rows = []
    for est in estimators:
        res, _ = run(est)
        for r in (res or {}).get("event_study", []):
            rows.append(
                {
                    "outcome": outcome,
                    "estimator": est,
                    "event_time": r["event_time"],
                    "estimate": r["att"],
                    "std_error": r["se"],
                    "conf_low": r["ci_low"],
                    "conf_high": r["ci_high"],
                }
            )
    return rows

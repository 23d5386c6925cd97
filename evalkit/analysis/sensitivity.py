"""Registered robustness checks of the primary outcomes: HonestDiD sensitivity, other event studies.

``analysis.robustness`` in a protocol declares them in advance:
``sensitivity: {restriction, bounds, target}`` and ``event_studies: [imputation,
sun_abraham]``. Their specifications come from :func:`evalkit.analysis.plan.registered_spec`
(variants ``sensitivity``, ``imputation``, ``sun_abraham``); this module runs them
and shapes the bundle records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalkit.analysis.plan import Variant, registered_spec
from evalkit.analysis.robustness import event_rows
from evalkit.protocol.model import Protocol
from evalkit.spec import Spec

__all__ = ["robustness_checks", "sensitivity_record"]

Runner = Callable[[Spec], tuple[dict[str, Any] | None, list[str]]]


def robustness_checks(
    run: Runner,
    protocol: Protocol,
    outcome: str,
    registered_rows: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the checks ``analysis.robustness`` registers for one primary outcome.

    Parameters
    ----------
    run : callable
        ``run(spec) -> (result dict or None, errors)`` for this outcome's rows.
    protocol : Protocol
        The registered protocol.
    outcome : str
        Outcome id.
    registered_rows : list of dict
        The registered event study's rows with their ``estimator`` (shown beside the others).

    Returns
    -------
    sensitivity, event_studies : list of dict
        Bundle records (empty when nothing is registered).
    """
    checks = protocol.analysis.robustness
    if checks is None:
        return [], []
    sens = []
    if checks.sensitivity is not None:
        sens.append(sensitivity_record(run, protocol, outcome))
    rows: list[dict[str, Any]] = []
    if checks.event_studies:
        rows = list(registered_rows)
        for est in checks.event_studies:
            variant: Variant = "imputation" if est == "imputation" else "sun_abraham"
            res, _ = run(registered_spec(protocol, variant))
            rows += [{"outcome": outcome, "estimator": est, **r} for r in event_rows(outcome, res)]
    return sens, rows


def sensitivity_record(run: Runner, protocol: Protocol, outcome: str) -> dict[str, Any]:
    """Run the registered sensitivity analysis of one primary outcome.

    Returns
    -------
    dict
        ``outcome, estimator, restriction, target, method, estimate, original, rows,
        breakdown, breakdown_censored, warnings, warning_codes, error``.
    """
    spec = registered_spec(protocol, "sensitivity")
    res, errors = run(spec)
    record: dict[str, Any] = {
        "outcome": outcome,
        "estimator": spec.estimator,
        "restriction": spec.options["sensitivity"],
        "target": spec.options["sensitivity_target"],
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

"""Every registered hypothesis: its estimate or why there is none; the family's correction.

The multiple-testing family is the set of registered hypotheses (the primary
outcomes when a protocol registers none). It keeps its registered size: a
hypothesis that could not be estimated counts as ``p = 1`` (it cannot be
rejected), so the others are never corrected for a smaller family than was
registered. The correction is ``statsmodels.stats.multitest.multipletests``
with the method :data:`evalkit.spec.CORRECTIONS` names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from statsmodels.stats.multitest import multipletests

from evalkit.did.results import HEADLINE
from evalkit.protocol.model import Hypothesis, Protocol
from evalkit.spec import CORRECTIONS, MultipleTesting

__all__ = ["adjust", "hypothesis_rows"]


def adjust(p_values: Sequence[float | None], method: MultipleTesting) -> list[float | None]:
    """Adjust a family's p-values; a missing p-value counts as 1 and stays missing.

    Parameters
    ----------
    p_values : sequence of float or None
        The family's p-values, None where a hypothesis has no estimate.
    method : {"holm", "bonferroni", "bh", "none"}
        The registered correction.

    Returns
    -------
    list of float or None
        Adjusted p-values in the same order.
    """
    if not p_values:
        return []
    given = [p is not None and np.isfinite(p) for p in p_values]
    filled = [
        float(p) if p is not None and ok else 1.0 for p, ok in zip(p_values, given, strict=True)
    ]
    name = CORRECTIONS[method]
    adjusted = filled if name is None else list(multipletests(filled, method=name)[1])
    return [float(a) if ok else None for a, ok in zip(adjusted, given, strict=True)]


#: Why a hypothesis has no estimate: a code the report words in each language, and the
#: English sentence the bundle keeps beside it (``reason``).
_REASONS = {
    "outcome_unknown": "outcome {outcome!r} is not among the protocol's outcomes",
    "subgroup_not_estimated": (
        "the subgroup {subgroup!r} could not be estimated for {outcome!r} ({detail})"
    ),
    "estimate_failed": "the estimator could not run on these data ({detail})",
}

Reason = tuple[str, dict[str, str]]


def _estimate_of(
    hypothesis: Hypothesis, effects: Mapping[str, Mapping[str, Any]], subgroups: Sequence[Mapping]
) -> tuple[dict[str, Any] | None, Reason | None]:
    """Return the numbers of one hypothesis, or the reason (code, values) why there are none."""
    effect = effects.get(hypothesis.outcome)
    names = {"outcome": hypothesis.outcome, "subgroup": hypothesis.subgroup or ""}
    if effect is None:
        return None, ("outcome_unknown", names)
    if hypothesis.subgroup:
        rows = [
            r
            for r in subgroups
            if r["outcome"] == hypothesis.outcome and r.get("subgroup") == hypothesis.subgroup
        ]
        if not rows or rows[0].get("estimate") is None:
            detail = str((rows[0].get("error") if rows else None) or "no result")
            return None, ("subgroup_not_estimated", {**names, "detail": detail})
        return {k: rows[0].get(k) for k in (*HEADLINE, "inference", "conf_set")}, None
    result = effect.get("result")
    if result is None:
        detail = str(effect.get("error") or "no result")
        return None, ("estimate_failed", {**names, "detail": detail})
    return {k: result.get(k) for k in (*HEADLINE, "inference", "conf_set")}, None


def hypothesis_rows(
    protocol: Protocol,
    effects: list[dict[str, Any]],
    subgroups: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Every registered hypothesis with its estimate or reason, and the family's correction.

    Sets ``p_adjusted`` on each effect whose outcome is a whole-population
    hypothesis of the family (None on the others).

    Parameters
    ----------
    protocol : Protocol
        The registered protocol.
    effects : list of dict
        The bundle's effect records (changed in place: ``p_adjusted``).
    subgroups : sequence of dict
        The bundle's subgroup rows.

    Returns
    -------
    dict
        ``family`` (``method``, ``statsmodels_method``, ``size``, ``estimated``,
        ``members``) and ``hypotheses`` (one record per registered hypothesis).
    """
    by_outcome = {e["outcome"]: e for e in effects}
    members = list(protocol.hypotheses) or [  # none registered: the primary outcomes
        Hypothesis(id=e["outcome"], outcome=e["outcome"], direction="two_sided", text="")
        for e in effects
        if e["role"] == "primary"
    ]
    rows: list[dict[str, Any]] = []
    for h in members:
        numbers, why = _estimate_of(h, by_outcome, subgroups)
        code, values = why or (None, {})
        rows.append(
            {
                "id": h.id,
                "outcome": h.outcome,
                "subgroup": h.subgroup,
                "direction": h.direction,
                "text": h.text,
                "role": (by_outcome.get(h.outcome) or {}).get("role"),
                **dict.fromkeys((*HEADLINE, "inference", "conf_set")),
                **(numbers or {}),
                "status": "estimated" if numbers else "not_estimated",
                "reason": _REASONS[code].format(**values) if code else None,
                "reason_code": code,
                "reason_values": values or None,
            }
        )
    method = protocol.analysis.multiple_testing
    for row, p in zip(rows, adjust([r["p_value"] for r in rows], method), strict=True):
        row["p_adjusted"] = p
    for e in effects:
        e["p_adjusted"] = next(
            (r["p_adjusted"] for r in rows if r["outcome"] == e["outcome"] and not r["subgroup"]),
            None,
        )
    family = {
        "method": method,
        "statsmodels_method": CORRECTIONS[method],
        "size": len(rows),
        "estimated": sum(r["p_value"] is not None for r in rows),
        "members": [r["id"] for r in rows],
        "of": "hypotheses" if protocol.hypotheses else "primary_outcomes",
    }
    return {"family": family, "hypotheses": rows if protocol.hypotheses else []}

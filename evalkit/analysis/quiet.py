"""Run estimators quietly: errors and warnings become part of the result, not output.

The confirmatory analysis runs dozens of estimates per protocol. Each one's
evalkit warnings (dropped rows, one-unit cohorts, few treated clusters) must end
up in the bundle with their codes, so that the report can word them in its
language, and an estimator that cannot run on some subset must not stop the rest.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from evalkit.did import estimate
from evalkit.errors import EvalkitError, EvalkitWarning
from evalkit.spec import Inference, Spec

__all__ = ["estimate_quietly", "inferences_quietly"]


def estimate_quietly(
    frame: pd.DataFrame, spec: Spec, **columns: Any
) -> tuple[dict[str, Any] | None, list[str]]:
    """Run one estimate; return its dict (or None with the error) and the warnings raised.

    Warnings raised while estimating that the result does not carry (dropped rows,
    one-unit cohorts) are added to its ``warnings``, and their codes to its
    ``warning_codes`` (``None`` for a warning without a code), so both stay aligned.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EvalkitWarning)
        try:
            result = estimate(frame, spec, **columns)
        except EvalkitError as exc:
            return None, [f"{type(exc).__name__}: {exc}"]
    return _with_caught(result, caught, set())


def _with_caught(
    result: Any, caught: list[warnings.WarningMessage], others: set[str]
) -> tuple[dict[str, Any], list[str]]:
    """Return the result as a dict, with the caught warnings it does not carry added.

    ``others`` are warnings that belong to other results of the same call (they are
    not added here).
    """
    out = result.to_dict()
    shown = list(out.get("warnings", []))
    codes = list(out.get("warning_codes", [None] * len(shown)))
    extra = []
    for w in caught:
        text = str(w.message)
        if text in shown or text in others or text in extra:
            continue
        extra.append(text)
        message = w.message
        if isinstance(message, EvalkitWarning) and message.code:
            codes.append({"code": message.code, "values": dict(message.values)})
        else:
            codes.append(None)
    out["warnings"] = shown + extra
    out["warning_codes"] = codes
    out["_tidy"] = result.tidy()
    return out, extra


def inferences_quietly(
    frame: pd.DataFrame, spec: Spec, methods: Sequence[Inference], **columns: Any
) -> dict[str, tuple[dict[str, Any] | None, list[str]]]:
    """One fit, several inference methods (:func:`evalkit.did.several.estimate_inferences`).

    Each entry is what :func:`estimate_quietly` gives for that method: warnings raised
    while preparing the data go to every result, a method's own warnings to its result.
    """
    from evalkit.did.several import estimate_inferences

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EvalkitWarning)
        try:
            results = estimate_inferences(frame, spec, inferences=methods, **columns)
        except EvalkitError:  # one method failing: estimate each alone
            return {m: estimate_quietly(frame, spec.with_(inference=m), **columns) for m in methods}
    own = {m: set(r.warnings) for m, r in results.items()}
    return {
        m: _with_caught(r, caught, set().union(*(own[o] for o in own if o != m)))
        for m, r in results.items()
    }

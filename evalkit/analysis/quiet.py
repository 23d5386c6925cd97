"""Run estimators quietly: an error becomes part of the answer, not output.

The confirmatory analysis runs dozens of estimates per protocol. Each one's notes
(dropped rows, one-unit cohorts, few treated clusters) must end up in the bundle
with their codes, so that the report can word them in its language, and an
estimator that cannot run on some subset must not stop the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

import pandas as pd

from evalkit.did import estimate, fit
from evalkit.did.fitted import CallawaySantAnnaFit, RegressionFit
from evalkit.did.notes import PREPARATION_CODES, Note
from evalkit.did.results import HEADLINE, record
from evalkit.errors import EvalkitError
from evalkit.spec import Inference, Spec

__all__ = [
    "Failure",
    "Fitted",
    "estimate_quietly",
    "fit_quietly",
    "infer_quietly",
    "summary_row",
]

Fitted = RegressionFit | CallawaySantAnnaFit


@dataclass(frozen=True)
class Failure:
    """A fit that could not be made, with the error text each inference on it reports."""

    errors: list[str]


def estimate_quietly(
    frame: pd.DataFrame, spec: Spec, **columns: Any
) -> tuple[dict[str, Any] | None, list[str]]:
    """Run one estimate; return its dict (or None with the error) and its notes on the data.

    The dict's ``warnings`` and ``warning_codes`` hold every note of the result (see
    :func:`_as_row` for their order); the list holds the English text of the notes
    on the rows used (dropped rows, one-unit cohorts).
    """
    try:
        result = estimate(frame, spec, **columns)
    except EvalkitError as exc:
        return None, [f"{type(exc).__name__}: {exc}"]
    return _as_row(result)


def _as_row(result: Any) -> tuple[dict[str, Any], list[str]]:
    """Return the result as a bundle dict, and the text of its notes on the data.

    The numbers of the estimate are its tidy headline (``estimate, std_error,
    conf_low, conf_high, p_value``), the one vocabulary of the bundle; the other
    keys are ``to_dict()``'s (counts, inference, estimator-specific details).

    A bundle row lists the notes on the estimate first and then the regression
    estimators' notes on the rows they used (:data:`~evalkit.did.notes.PREPARATION_CODES`),
    each in the order it arose.
    """
    own = [n for n in result.notes if n.code not in PREPARATION_CODES]
    data = [n for n in result.notes if n.code in PREPARATION_CODES]
    tidy = result.tidy()
    out = record(result, tidy)
    out["warnings"] = [n.text for n in (*own, *data)]
    out["warning_codes"] = [n.to_dict() for n in (*own, *data)]
    out["_tidy"] = tidy
    return out, [n.text for n in data]


def fit_quietly(frame: pd.DataFrame, spec: Spec, **columns: Any) -> Fitted | Failure:
    """Fit once (:func:`evalkit.did.fit`); a failure comes back as :class:`Failure`."""
    try:
        return fit(frame, spec, **columns)
    except EvalkitError as exc:
        return Failure([f"{type(exc).__name__}: {exc}"])


def infer_quietly(
    fitted: Fitted | Failure, inference: Inference | EllipsisType | None = ...
) -> tuple[dict[str, Any] | None, list[str]]:
    """Infer on a fit as :func:`estimate_quietly` estimates: the same dict, or None and the error.

    ``inference`` omitted: the fit's registered inference.
    """
    if isinstance(fitted, Failure):
        return None, list(fitted.errors)
    try:
        result = fitted.infer(inference)
    except EvalkitError as exc:
        return None, [f"{type(exc).__name__}: {exc}"]
    return _as_row(result)


def summary_row(
    outcome: str,
    res: Mapping[str, Any] | None,
    errors: Sequence[str] = (),
    *,
    codes: Sequence[Mapping[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Return one estimate as a bundle row: estimate, std_error, conf_low, conf_high, p_value.

    An estimate that could not be made (``res`` None) keeps its ``errors``: in ``error``
    and as the row's warnings, so that the report's notes say why the row is empty.
    Each error gets a code too (``codes``, else ``estimate_failed``), so that a report
    in Dutch words the note in Dutch instead of showing the estimator's English text.
    """
    row: dict[str, Any] = {"outcome": outcome, **extra}
    row["inference"] = None if res is None else res.get("inference")
    row.update((key, None if res is None else res.get(key)) for key in HEADLINE)
    if res is not None and res.get("conf_set") is not None:
        row["conf_set"] = res["conf_set"]  # conformal: the set whose hull is the interval
    row["warnings"] = list(errors) if res is None else res.get("warnings", [])
    row["warning_codes"] = (
        res.get("warning_codes", [])
        if res is not None
        else (
            [dict(c) for c in codes]
            if codes is not None
            else [Note("estimate_failed", {"reason": e}).to_dict() for e in errors]
        )
    )
    if res is None:
        row["error"] = "; ".join(errors) or None
    return row

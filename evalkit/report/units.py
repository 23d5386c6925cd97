"""The one unit and number of decimals each outcome's effects are written in.

The summary, the hypotheses list and the evaluation text all write an effect with
its unit; they take it from here, so that one quantity reads the same everywhere:
shares in percentage points (one decimal), an outcome with a registered unit
(``unit: {nl: dagen, en: days}``) in that unit, anything else on its own scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalkit.report.escape import md_escape

__all__ = ["SHARE_DIGITS", "OutcomeUnit", "outcome_unit"]

#: Decimals for a duration in days or weeks: a tenth of a day is already finer than
#: the registrations are.
_DURATION_DIGITS = 1
#: Decimals of a share written as a share (0.123) in a table: "0.5 against 0.8" would
#: hide the difference of two shares.
SHARE_DIGITS = 3
_SCALE_DIGITS = 2


@dataclass(frozen=True)
class OutcomeUnit:
    """How an outcome's effects are written: multiply by ``scale``, round, add the unit.

    ``text`` is the unit as plain text (empty when none is registered); ``suffix`` is
    the same for markdown prose: escaped, after a space.
    """

    scale: float
    digits: int
    text: str

    @property
    def suffix(self) -> str:
        """The unit to append to a number in markdown (``" dagen"``; outside text escaped)."""
        return f" {md_escape(self.text)}" if self.text else ""


def outcome_unit(ctx: Any, outcome: str) -> OutcomeUnit:
    """Return the unit an outcome's effects are written in, in the document's language.

    Parameters
    ----------
    ctx : ReportContext
        The document's context (its bundle's protocol outcomes and its language).
    outcome : str
        The outcome id.

    Returns
    -------
    OutcomeUnit
        Percentage points for a binary outcome; the registered unit (if any) otherwise.
    """
    spec = _outcome(ctx, outcome)
    if spec.get("type") == "binary":
        return OutcomeUnit(100.0, 1, str(ctx.t("s.unit_pp")))
    digits = _DURATION_DIGITS if spec.get("type") == "duration" else _SCALE_DIGITS
    return OutcomeUnit(1.0, digits, ctx.text(spec.get("unit")))


def _outcome(ctx: Any, outcome: str) -> Mapping[str, Any]:
    for o in ctx.get("protocol.outcomes", []) or []:
        if isinstance(o, Mapping) and o.get("id") == outcome:
            return o
    return {}

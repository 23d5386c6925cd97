"""The step-curve part of the differencing attacker (test tooling; see ``differencing.py``).

A Kaplan–Meier curve falls at each event time by the factor ``1 − events / at risk``.
Two survival values shown one after the other in the same curve therefore give the
fall between them as a fraction; written to full precision, that fraction *is*
``events / at risk`` in lowest terms whenever one step lies between them, so the
hidden counts of that step come back (``fractions.Fraction.limit_denominator`` finds
it). This attack reads every table with a ``surv`` column that way.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

#: Largest number at risk tried (a denominator); the shipped releases have at most a
#: few thousand cases per curve.
MAX_AT_RISK = 20_000


def step_recoveries(rel: Any, recovery: type) -> list[Any]:
    """Return the hidden events / at-risk counts the falls of shown survival values give.

    Parameters
    ----------
    rel : differencing._Release
        The release's cells (shown, hidden, true values, text labels per table).
    recovery : type
        ``differencing.Recovery``, built for each recovered cell.
    """
    out = []
    for name in rel.names:
        if "surv" not in rel.reals[name]:
            continue
        labels = rel.labels[name]
        previous: dict[tuple[str, ...], int] = {}
        for i in range(len(labels)):
            surv = rel.shown.get((name, i, "surv"))
            if surv is None:
                continue
            curve = tuple(labels.iloc[i].tolist())
            before = previous.get(curve)
            previous[curve] = i
            if before is None or not rel.shown[(name, before, "surv")] > 0:
                continue
            fall = Fraction(1 - surv / rel.shown[(name, before, "surv")])
            fall = fall.limit_denominator(MAX_AT_RISK)
            # a guess is believed when it gives the step's events and number at risk
            # together (one of them alone matching is chance, and unknowable)
            cells = {"n_events": fall.numerator, "n_risk": fall.denominator}
            if all(rel.true.get((name, i, c)) == v for c, v in cells.items()):
                for column, guess in cells.items():
                    if (name, i, column) in rel.hidden:
                        out.append(recovery(name, i, column, float(guess), "fall of the curve"))
    return out

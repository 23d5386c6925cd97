"""How an estimate reads to a funder: what its interval allows, and did the pilot work.

Pure functions of numbers (no report context), so the wording rules are tested on
hand-computed cases. The summary turns the returned keys into sentences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.report.formatting import is_missing

__all__ = [
    "conf_pieces",
    "disagreement",
    "interval_kind",
    "min_pilot_p",
    "power_kind",
    "verdict_kind",
]

#: Interval kinds that exclude zero (no effect), and those that include it.
EXCLUDES_ZERO = frozenset({"benefit_only", "harm_only", "excludes_zero"})
INCLUDES_ZERO = frozenset(
    {"includes_zero", "large_both", "large_harm", "large_benefit", "no_relevant"}
)


def conf_pieces(res: Mapping[str, Any]) -> list[tuple[float, float]] | None:
    """Return the pieces of a bounded conformal confidence set of several pieces, else None.

    Parameters
    ----------
    res : mapping
        A bundle record of an estimate (``conf_set``: ``[[low, high], ...]``, null for an
        open end; only conformal inference writes it).

    Returns
    -------
    list of (float, float) or None
        The pieces when there are at least two and every end is finite; None when the
        record's interval (``conf_low``, ``conf_high``, the set's hull) says it all.
    """
    raw = res.get("conf_set")
    if not isinstance(raw, Sequence) or len(raw) < 2:
        return None
    pieces = []
    for piece in raw:
        low, high = piece
        if not _bounded(low, high):
            return None
        pieces.append((float(low), float(high)))
    return pieces


def _bounded(low: Any, high: Any) -> bool:
    return not (is_missing(low) or is_missing(high)) and math.isfinite(float(low) + float(high))


def _benefit_sign(direction: Any) -> float:
    """+1 when an increase is the aim, -1 when a decrease is, 0 when the protocol names neither."""
    return {"increase": 1.0, "decrease": -1.0}.get(str(direction), 0.0)


def interval_kind(
    low: Any,
    high: Any,
    direction: Any = None,
    relevant: Any = None,
    pieces: Sequence[tuple[float, float]] | None = None,
) -> str:
    """Classify a 95% interval (or confidence set) for plain-language wording.

    Parameters
    ----------
    low, high : float or None
        Interval bounds on the outcome's own scale; missing or infinite means unbounded.
        For a set, its hull.
    direction : {"increase", "decrease"}, optional
        The direction the pilot aimed for.
    relevant : float, optional
        The smallest relevant effect named in the protocol (its size; the sign is ignored).
    pieces : sequence of (float, float), optional
        A conformal confidence set of several pieces (:func:`conf_pieces`): zero in a
        gap between them is zero outside the set.

    Returns
    -------
    str
        ``unbounded``; ``benefit_only`` / ``harm_only`` (the interval or set excludes zero
        on that side); ``excludes_zero`` (no aim named); ``split`` (a set with pieces on
        both sides of zero and zero in a gap: zero excluded, the direction not);
        ``large_both`` (zero, a large improvement and a large harm all inside);
        ``large_harm`` / ``large_benefit``; ``no_relevant`` (zero inside, every relevant
        effect outside); ``includes_zero``.
    """
    if not _bounded(low, high):
        return "unbounded"
    if pieces and not any(a <= 0.0 <= b for a, b in pieces) and float(low) < 0 < float(high):
        # zero lies in a gap of the set: the test rejects it, on neither side alone
        return "split"
    sign = _benefit_sign(direction)
    if sign == 0.0:
        return "excludes_zero" if float(low) > 0 or float(high) < 0 else "includes_zero"
    lo, hi = sorted((float(low) * sign, float(high) * sign))
    if lo > 0:
        return "benefit_only"
    if hi < 0:
        return "harm_only"
    if is_missing(relevant) or not float(relevant):
        return "includes_zero"
    size = abs(float(relevant))
    harm, benefit = lo <= -size, hi >= size
    if harm and benefit:
        return "large_both"
    if harm:
        return "large_harm"
    return "large_benefit" if benefit else "no_relevant"


def verdict_kind(interval: str, p: Any, alpha: float) -> str:
    """Answer "did it work?" for one effect.

    Returns ``worked``, ``harmed``, ``no_relevant``, ``cannot_tell`` (unbounded
    interval) or ``unclear`` (also for a ``split`` set: zero is rejected, but effects on
    both sides of it are not, so the direction is not shown).

    An effect counts as shown only when its (adjusted) p-value is at most ``alpha`` and
    its interval lies wholly on one side of zero; both must agree.
    """
    if interval == "unbounded":
        return "cannot_tell"
    significant = not is_missing(p) and float(p) <= alpha
    if interval == "benefit_only" and significant:
        return "worked"
    if interval == "harm_only" and significant:
        return "harmed"
    return "no_relevant" if interval == "no_relevant" else "unclear"


def disagreement(
    interval: str, p_value: Any, p_adjusted: Any, alpha: float, *, set_gaps: bool = False
) -> str | None:
    """Say why an interval and the p-value the verdict uses disagree, or None when they agree.

    The 95% interval is not corrected for testing several hypotheses, while the p-value
    the reports judge by is; and with few pilot municipalities the two can come from
    different procedures (a permutation p-value beside a conformal interval). A reader
    who sees an interval that excludes zero next to "not shown" needs the reason.

    Parameters
    ----------
    interval : str
        From :func:`interval_kind`.
    p_value, p_adjusted : float or None
        The test's own p-value and the one corrected for the hypothesis family (the
        verdict uses the corrected one when there is one).
    alpha : float
        The registered significance level.
    set_gaps : bool
        The estimate carries the note ``conformal_set_gaps`` but the record has no
        ``conf_set`` (a bundle from before the set was kept): its interval is the hull of
        a set of effects with gaps, so it can contain a zero the test rejects. With the
        set, ``interval`` is ``split`` instead.

    Returns
    -------
    str or None
        ``uncorrected`` (the interval excludes zero and so does the test, but not after
        the correction), ``conformal_split`` (zero rejected and outside the conformal
        set, which has effects on both sides of it: no direction, so not shown),
        ``conformal_gaps`` (zero rejected but inside the hull of a conformal set with
        gaps, when only the hull is known), ``different_procedures`` (any other
        disagreement), or None.
    """
    p = p_value if is_missing(p_adjusted) else p_adjusted
    if is_missing(p) or interval == "unbounded":
        return None
    if interval == "split":
        # zero is outside the set exactly when the test rejects it, yet the set has
        # effects on both sides; after a correction for several hypotheses, that decides
        if float(p) <= alpha:
            return "conformal_split"
        raw_significant = not is_missing(p_value) and float(p_value) <= alpha
        return "uncorrected" if raw_significant else None
    if interval in EXCLUDES_ZERO and float(p) > alpha:
        raw_significant = not is_missing(p_value) and float(p_value) <= alpha
        return "uncorrected" if raw_significant else "different_procedures"
    if interval in INCLUDES_ZERO and float(p) <= alpha:
        return "conformal_gaps" if set_gaps else "different_procedures"
    return None


def min_pilot_p(n_clusters: Any, n_treated: Any) -> float | None:
    """Smallest p-value a permutation of the pilot label over municipalities can give.

    With ``n_treated`` pilot municipalities among ``n_clusters`` the assignments number
    C(n_clusters, n_treated), so p can be no smaller than one over that count.
    """
    if is_missing(n_clusters) or is_missing(n_treated) or int(n_treated) < 1:
        return None
    if int(n_clusters) <= int(n_treated):
        return None
    return 1.0 / math.comb(int(n_clusters), int(n_treated))


def power_kind(rows: Sequence[Mapping[str, Any]], outcome: str) -> tuple[str, float | None]:
    """Read the power simulation for ``outcome``.

    Returns ``mde`` with the smallest effect detectable with 80% power,
    ``none_detectable`` when no simulated effect ever reached significance, or
    ``unknown`` without power figures.
    """
    own = [r for r in rows if r.get("outcome") == outcome]
    if not own:
        return "unknown", None
    mdes = [float(r["mde"]) for r in own if not is_missing(r.get("mde"))]
    finite = [m for m in mdes if math.isfinite(m)]
    if finite:
        return "mde", abs(finite[0])
    powers = [float(r["power"]) for r in own if not is_missing(r.get("power"))]
    if powers and max(powers) == 0.0:
        return "none_detectable", None
    return "unknown", None

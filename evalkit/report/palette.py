"""The report's colours, defined once: every figure takes the pilot and comparison colours here.

Okabe & Ito's colour-blind-safe palette (Okabe and Ito 2008, "Color Universal Design"):
blue for the pilot and orange for the comparison group stay distinguishable under
protanopia, deuteranopia and tritanopia, and in greyscale print (dark vs light).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["COLOURS", "LINES", "colours_for"]

#: Colour per group or period code (codes as in the bundle).
COLOURS: dict[str, str] = {
    "pilot": "#0072B2",
    "comparison": "#E69F00",
    "all": "#4D4D4D",
    "other": "#999999",
    "before": "#999999",
    "during": "#0072B2",
    # sensitivity bounds: neither group, so neither group's colour
    "original": "#4D4D4D",
    "robust": "#009E73",
}
#: Reference lines: black dashed for a norm (never red beside an orange curve), grey for zero.
LINES: dict[str, str] = {"norm": "#000000", "event": "#333333", "zero": "#888888"}
#: Further Okabe–Ito colours, in order, for categories without a fixed colour (estimators,
#: organisation types): never the pilot's blue or the comparison's orange, and yellow last
#: because it hardly shows on white paper.
_SPARE = ("#009E73", "#D55E00", "#CC79A7", "#000000", "#56B4E9", "#F0E442")


def colours_for(codes: Iterable[str]) -> list[str]:
    """Return one colour per code, in order: fixed colours for known codes, spares for others."""
    spare = iter(_SPARE * 4)
    return [COLOURS.get(code) or next(spare) for code in codes]

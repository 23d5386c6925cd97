"""Counts of persons a share gives back beside its base (test tooling).

A reader who sees a share ``r`` (a proportion, or a mean of a yes/no outcome) and, in
the same row, the number of persons ``n`` it is taken over, knows ``k = r × n`` persons
with and ``n − k`` without. Written to full precision (the CSV exports) ``k`` is a
whole number exactly when ``r`` is a share of those ``n``; this reads every exported
row that way and lists each ``k`` or ``n − k`` from 1 to threshold − 1 it finds.
Means that are no shares (a change in a score, a standardised difference) and
intervals are not read; a mean that happens to be a whole number of units over ``n``
would be listed too, so a release that lists nothing has no such share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Implied:
    """A small count a share and its base give back."""

    table: str
    row: int
    share: str
    base: str
    count: int


def _share_like(column: str) -> bool:
    if "change" in column or column.startswith(("std_", "conf_", "sd")):
        return False
    return (
        column.startswith(("share", "mean", "pilot_mean", "comparison_mean"))
        or column.endswith(("_rate", "_share", "_mean"))
        or column in ("retention", "surv")
    )


def _bases(share: str, columns: list[str]) -> list[str]:
    """The count a share is taken over: ``mean_x`` and ``x_mean`` over ``n_x``, else ``n``.

    ``share_x`` is ``n_x / n`` (``n_x`` is its numerator), so its base is ``n``.
    """
    token = share.replace("mean", "").strip("_")
    if share.startswith("mean") or share.endswith("mean"):
        if token and f"n_{token}" in columns:
            return [f"n_{token}"]
    return ["n"] if "n" in columns else []


def _number(text: object) -> float | None:
    try:
        value = float(str(text).strip().lstrip("'"))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def small_implied_counts(released: dict[str, pd.DataFrame], threshold: int) -> list[Implied]:
    """Return every count of 1 … threshold − 1 persons that a shown share and base give."""
    found = []
    for name, frame in released.items():
        shares = [c for c in frame.columns if _share_like(c)]
        for i, row in enumerate(frame.to_dict("records")):
            for s in shares:
                r = _number(row[s])
                if r is None or not 0 < r < 1:
                    continue
                for b in _bases(s, list(frame.columns)):
                    n = _number(row[b])
                    if n is None or n < 1 or not float(n).is_integer():
                        continue
                    k = r * n
                    if abs(k - round(k)) > 1e-6:
                        continue
                    small = [c for c in (round(k), round(n - k)) if 1 <= c < threshold]
                    if small:
                        found.append(Implied(name, i, s, b, small[0]))
    return found

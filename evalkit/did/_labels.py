"""The order of units and periods: sorted labels, and text periods in time order.

Every random draw follows the units in the order given here, and every estimator
puts periods in the order given here, so that a result depends on the data and the
seed, not on the order of an export's rows or on how its periods sort as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from evalkit.errors import EstimationError

__all__ = ["ordered_periods", "sorted_codes"]


def sorted_codes(labels: pd.Series) -> np.ndarray:
    """Return codes 0, 1, ... of ``labels`` in sorted label order.

    Randomization inference, Conley–Taber and the wild bootstrap draw per cluster
    code: codes in sorted label order make those draws depend on the data and the
    seed, not on the order in which an export happens to list its rows. Labels
    that do not sort together (numbers beside text) are sorted as text.
    """
    try:
        return pd.factorize(labels, sort=True)[0]
    except TypeError:
        return pd.factorize(labels.astype(str), sort=True)[0]


_MONTH_WORD = re.compile(
    r"(?i)\b(jan(uari|uary)?|feb(ruari|ruary)?|mrt|maart|mar(ch)?|apr(il)?|mei|may|jun[ei]?"
    r"|jul[iy]?|aug(ustus|ust)?|sept?(ember)?|okt(ober)?|oct(ober)?|nov(ember)?|dec(ember)?)\b"
)


def _natural(label: object) -> tuple[object, ...]:
    """Sort key of a text period: its runs of digits compared as numbers ("2025-9" < "2025-10")."""
    parts = re.split(r"(\d+)", str(label))
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def ordered_periods(values: Iterable[object], column: object) -> list[object]:
    """Return the distinct periods in time order.

    Numbers and dates sort as they are. Text periods sort by their numbers, so that
    "2025-9" comes before "2025-10" (as text it would come after, and the pilot's
    start would land among the wrong months).

    Raises
    ------
    EstimationError
        When a period names a month in words ("okt 2025" would sort alphabetically),
        or one period is written in two forms ("2025-01" and "2025-1").
    """
    distinct = list(dict.fromkeys(values))
    texts = [v for v in distinct if isinstance(v, str)]
    if not texts:
        return sorted(distinct)  # type: ignore[type-var]
    named = next((v for v in texts if _MONTH_WORD.search(v)), None)
    if named is not None:
        raise EstimationError(
            f"time column {column!r}: period {named!r} names a month in words, which would "
            "sort alphabetically rather than in time; write periods as numbers or as 2025-01"
        )
    seen: dict[tuple[object, ...], object] = {}
    for v in distinct:
        twin = seen.setdefault(_natural(v), v)
        if twin != v:
            raise EstimationError(
                f"time column {column!r} writes one period in two forms ({twin!r} and {v!r}); "
                "give every period in one form"
            )
    return sorted(distinct, key=_natural)

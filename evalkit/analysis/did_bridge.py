"""Call the DiD estimator suite (:func:`evalkit.did.estimate`) and return one tidy record.

The monitoring analyses (throughput, questionnaires) compare pilot and comparison
municipalities with the same estimators as the confirmatory analysis. This module
turns one estimate into a flat record for the bundle, and reports plainly when the
estimator cannot run (too few units, no comparison group) instead of failing the
whole bundle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalkit.did import estimate
from evalkit.did.notes import Note, Notes
from evalkit.did.results import record
from evalkit.errors import EvalkitError

__all__ = ["DID_COLUMNS", "did_record", "within_range"]

DID_COLUMNS = [
    "estimator",
    "inference",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "n_obs",
    "n_units",
    "n_clusters",
    "n_treated_clusters",
    "status",
    "warnings",
    "warning_codes",
]


def did_record(data: pd.DataFrame, **kwargs: Any) -> dict[str, Any]:
    """Estimate one DiD effect and flatten the result.

    Parameters
    ----------
    data : pandas.DataFrame
        The estimation frame.
    **kwargs
        Keyword arguments of :func:`evalkit.did.estimate` (``outcome``, ``unit``,
        ``time``, ``treated``, ``post``, ``estimator``, ``cluster``, ...).

    Returns
    -------
    dict
        The keys of :data:`DID_COLUMNS`; ``status`` is ``ok``, or ``not_estimable: <why>``
        (then the numbers are None). The estimate's notes (few treated clusters,
        dropped rows), also those made before it failed, are joined into ``warnings``
        and their codes listed in ``warning_codes``.
    """
    empty = dict.fromkeys(DID_COLUMNS)
    empty["estimator"] = kwargs.get("estimator")
    noted = Notes()  # keeps what was noted before an estimate that fails
    try:
        result = estimate(data, notes=noted, **kwargs)
    except EvalkitError as exc:
        return _not_estimable(empty, noted, str(exc))
    except np.linalg.LinAlgError as exc:  # a numerically singular design on these data
        return _not_estimable(
            empty, noted, f"the estimator's design is singular on these data ({exc})"
        )
    res = record(result)
    notes = list(result.notes)
    return {
        **{key: res.get(key) for key in DID_COLUMNS},
        "status": "ok",
        "warnings": "; ".join(n.text for n in notes),
        "warning_codes": [n.to_dict() for n in notes],  # aligned with the texts
    }


def _not_estimable(empty: dict[str, Any], noted: Notes, why: str) -> dict[str, Any]:
    """Return the record of an estimate that could not run, with what was noted before it."""
    return {
        **empty,
        "status": f"not_estimable: {why}",
        "warnings": "; ".join(n.text for n in noted),
        "warning_codes": [n.to_dict() for n in noted],
    }


def within_range(rec: dict[str, Any], low: float, high: float) -> dict[str, Any]:
    """Cut a record's interval to the values its effect can take, and say so.

    An interval from test inversion (permutation, Conley–Taber) knows nothing of the
    outcome's range: the effect on a share is a difference of two shares, so a
    bound above 1 is impossible. Intersecting a confidence set with the parameter's
    range keeps its coverage. Infinite bounds are left alone (their note says the
    interval is unbounded).

    Parameters
    ----------
    rec : dict
        A record of :func:`did_record`.
    low, high : float
        The smallest and largest value the effect can take.

    Returns
    -------
    dict
        The record, its interval cut and a note ``interval_cut_to_range`` added when
        a finite bound lay outside ``[low, high]``.
    """
    lo, hi = rec.get("conf_low"), rec.get("conf_high")
    cut_lo = lo is not None and np.isfinite(lo) and lo < low
    cut_hi = hi is not None and np.isfinite(hi) and hi > high
    if not (cut_lo or cut_hi):
        return rec
    note = Note("interval_cut_to_range", {"range_low": low, "range_high": high})
    texts = [t for t in [rec.get("warnings") or "", note.text] if t]
    return {
        **rec,
        "conf_low": low if cut_lo else lo,
        "conf_high": high if cut_hi else hi,
        "warnings": "; ".join(texts),
        "warning_codes": [*(rec.get("warning_codes") or []), note.to_dict()],
    }

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
from evalkit.did.notes import Notes
from evalkit.did.results import record
from evalkit.errors import EvalkitError

__all__ = ["DID_COLUMNS", "did_record"]

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

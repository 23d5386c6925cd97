"""Call the DiD estimator suite (:func:`evalkit.did.estimate`) and return one tidy record.

The monitoring analyses (throughput, questionnaires) compare pilot and comparison
municipalities with the same estimators as the confirmatory analysis. This module
turns one estimate into a flat record for the bundle, and reports plainly when the
estimator cannot run (too few units, no comparison group) instead of failing the
whole bundle.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from evalkit.did import estimate
from evalkit.errors import EvalkitError, EvalkitWarning

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
        (then the numbers are None). evalkit warnings raised while estimating (few
        treated clusters, dropped rows) are joined into ``warnings``, not re-raised.
    """
    empty = dict.fromkeys(DID_COLUMNS)
    empty["estimator"] = kwargs.get("estimator")
    empty["warnings"] = ""
    empty["warning_codes"] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = estimate(data, **kwargs).to_dict()
        except EvalkitError as exc:
            res = {"_error": str(exc)}
        except np.linalg.LinAlgError as exc:  # a numerically singular design on these data
            res = {"_error": f"the estimator's design is singular on these data ({exc})"}
    notes: list[str] = []
    codes: list[dict[str, Any] | None] = []  # aligned with notes, for the report's languages
    for w in caught:  # evalkit's own warnings go into the record; others are passed on
        if issubclass(w.category, EvalkitWarning):
            notes.append(str(w.message))
            code = getattr(w.message, "code", None)
            values = getattr(w.message, "values", None) or {}
            codes.append({"code": code, "values": dict(values)} if code else None)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if "_error" in res:
        return {
            **empty,
            "status": f"not_estimable: {res['_error']}",
            "warnings": "; ".join(notes),
            "warning_codes": codes,
        }
    result_codes = res.get("warning_codes") or []
    for i, note in enumerate(res.get("warnings") or []):
        if note not in notes:
            notes.append(note)
            codes.append(result_codes[i] if i < len(result_codes) else None)
    return {
        "estimator": res.get("estimator"),
        "inference": res.get("inference"),
        "estimate": res.get("att"),
        "std_error": res.get("se"),
        "conf_low": res.get("ci_low"),
        "conf_high": res.get("ci_high"),
        "p_value": res.get("p_value"),
        "n_obs": res.get("n_obs"),
        "n_units": res.get("n_units"),
        "n_clusters": res.get("n_clusters"),
        "n_treated_clusters": res.get("n_treated_clusters"),
        "status": "ok",
        "warnings": "; ".join(notes),
        "warning_codes": codes,
    }

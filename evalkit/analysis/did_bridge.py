"""Call the DiD estimator suite (:func:`evalkit.did.estimate`) and return one tidy record.

The monitoring analyses (throughput, questionnaires) compare pilot and comparison
municipalities with the same estimators as the confirmatory analysis. This module
turns one estimate into a flat record for the bundle, and reports plainly when the
estimator cannot run (too few units, no comparison group) instead of failing the
whole bundle.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.errors import EvalkitError

__all__ = ["DID_COLUMNS", "did_record"]

DID_COLUMNS = ["estimator", "inference", "estimate", "std_error", "conf_low", "conf_high",
               "p_value", "n_obs", "n_units", "n_clusters", "n_treated_clusters", "status",
               "warnings"]


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
        (then the numbers are None).
    """
    empty = dict.fromkeys(DID_COLUMNS)
    empty["estimator"] = kwargs.get("estimator")
    empty["warnings"] = ""
    try:
        from evalkit.did import estimate
    except ImportError:
        return {**empty, "status": "not_estimable: the estimator suite is not installed"}
    try:
        res = estimate(data, **kwargs).to_dict()
    except EvalkitError as exc:
        return {**empty, "status": f"not_estimable: {exc}"}
    return {
        "estimator": res.get("estimator"), "inference": res.get("inference"),
        "estimate": res.get("att"), "std_error": res.get("se"),
        "conf_low": res.get("ci_low"), "conf_high": res.get("ci_high"),
        "p_value": res.get("p_value"), "n_obs": res.get("n_obs"), "n_units": res.get("n_units"),
        "n_clusters": res.get("n_clusters"), "n_treated_clusters": res.get("n_treated_clusters"),
        "status": "ok", "warnings": "; ".join(res.get("warnings") or []),
    }

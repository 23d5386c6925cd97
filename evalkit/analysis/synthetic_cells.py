"""Rows for the synthetic estimators: municipality-by-month means of the person panel.

Synthetic control, synthetic DiD and triple differences compare municipalities,
so the confirmatory analysis hands them one row per municipality and month (the
mean outcome of the persons observed there), and for triple differences one row
per municipality, month and subgroup (1: the registered subgroup, e.g. those
turning 18 during the pilot; 0: everyone else in the population).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from evalkit.analysis.measures import COHORT, PERIOD, UNIT
from evalkit.protocol.expressions import evaluate

__all__ = ["SUBGROUP", "SYNTHETIC", "cell_design"]

#: Estimators that take municipality-by-month cells.
SYNTHETIC = ("synthetic_control", "synthetic_did", "triple_differences")
#: The subgroup indicator column of the triple-differences cells.
SUBGROUP = "_subgroup"


def _subgroup_mask(frame: pd.DataFrame, protocol: Mapping[str, Any], name: str) -> pd.Series:
    for sub in (protocol.get("population", {}) or {}).get("subgroups", []) or []:
        if sub.get("id") == name:
            return evaluate(str(sub["definition"]), frame).fillna(False).astype(int)
    return pd.Series(0, index=frame.index)


def cell_design(
    data: pd.DataFrame,
    outcome: str,
    kwargs: Mapping[str, Any],
    protocol: Mapping[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Aggregate person rows to cells and return them with the estimator's keyword arguments.

    Parameters
    ----------
    data : pandas.DataFrame
        Person-month rows with an outcome.
    outcome : str
        Outcome column.
    kwargs : mapping
        Keyword arguments of :func:`evalkit.did.estimate` from the protocol.
    protocol : mapping
        The protocol (``analysis.subgroup`` names the triple-differences subgroup).

    Returns
    -------
    tuple of (pandas.DataFrame, dict)
        The cells and the keyword arguments for them.
    """
    keys = [UNIT, PERIOD]
    cells = data
    out = {k: v for k, v in kwargs.items() if k not in ("cluster", "covariates", "vcov")}
    if kwargs.get("estimator") == "triple_differences":
        name = str((protocol.get("analysis", {}) or {}).get("subgroup", ""))
        cells = data.assign(**{SUBGROUP: _subgroup_mask(data, protocol, name).to_numpy()})
        keys.append(SUBGROUP)
        out["subgroup"] = SUBGROUP
    grouped = cells.groupby(keys, sort=True, observed=True)
    frame = grouped[outcome].mean().to_frame()
    frame[COHORT] = grouped[COHORT].max()
    frame = frame.reset_index()
    out.update(outcome=outcome, unit=UNIT, time=PERIOD, cohort=COHORT)
    return frame, out

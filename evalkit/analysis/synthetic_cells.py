"""Rows for the synthetic estimators: municipality-by-month means of the person panel.

Synthetic control, synthetic DiD and triple differences compare municipalities,
so the confirmatory analysis hands them one row per municipality and month (the
mean outcome of the persons observed there), and for triple differences one row
per municipality, month and subgroup (1: the registered subgroup, e.g. those
turning 18 during the pilot; 0: everyone else in the population).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.analysis.measures import COHORT, PERIOD, UNIT
from evalkit.protocol.expressions import evaluate
from evalkit.protocol.model import Protocol
from evalkit.spec import SYNTHETIC_ESTIMATORS, Spec

__all__ = ["SUBGROUP", "cell_design", "uses_cells"]

#: The subgroup indicator column of the triple-differences cells.
SUBGROUP = "_subgroup"


def _subgroup_mask(frame: pd.DataFrame, protocol: Protocol) -> pd.Series:
    name = protocol.analysis.subgroup
    for sub in protocol.population.subgroups:
        if sub.id == name:
            return evaluate(sub.definition, frame).fillna(False).astype(int)
    return pd.Series(0, index=frame.index)


def uses_cells(spec: Spec) -> bool:
    """Whether ``spec`` takes municipality-by-month cells (synthetic estimators, conformal)."""
    return spec.estimator in SYNTHETIC_ESTIMATORS or spec.inference == "conformal"


def cell_design(
    data: pd.DataFrame, outcome: str, protocol: Protocol
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Aggregate person rows to cells and return them with the estimator's columns.

    Parameters
    ----------
    data : pandas.DataFrame
        Person-month rows with an outcome.
    outcome : str
        Outcome column.
    protocol : Protocol
        The protocol (``analysis.subgroup`` names the triple-differences subgroup).

    Returns
    -------
    tuple of (pandas.DataFrame, dict)
        The cells and the column keywords of :func:`evalkit.did.estimate` (with
        ``subgroup`` for triple differences, which becomes a tuning option).
    """
    keys = [UNIT, PERIOD]
    cells = data
    columns: dict[str, Any] = {"outcome": outcome, "unit": UNIT, "time": PERIOD, "cohort": COHORT}
    if protocol.analysis.estimator == "triple_differences":
        cells = data.assign(**{SUBGROUP: _subgroup_mask(data, protocol).to_numpy()})
        keys.append(SUBGROUP)
        columns["subgroup"] = SUBGROUP
    grouped = cells.groupby(keys, sort=True, observed=True)
    frame = grouped[outcome].mean().to_frame()
    frame[COHORT] = grouped[COHORT].max()
    return frame.reset_index(), columns

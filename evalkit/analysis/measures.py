"""Outcome measures: turn a stored outcome panel into the frame a protocol analyses.

One row per person-month inside the protocol's windows, with the protocol's
outcome definitions evaluated (safe expression language of
:mod:`evalkit.protocol.expressions`), the treatment timing of each unit as an
integer period, and the sample flow from rows in the store to rows analysed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit.analysis.windows import Windows, month_index, parse_month
from evalkit.errors import ProtocolError
from evalkit.protocol.expressions import evaluate
from evalkit.protocol.model import Protocol

__all__ = [
    "AnalysisFrame",
    "Windows",
    "build_analysis_frame",
    "month_index",
    "parse_month",
    "pre_post_mask",
]

#: Column names the analysis frame adds (never clash with schema columns).
PERIOD = "_period"
COHORT = "_cohort"
TREATED_GROUP = "_pilot"
TREAT = "_treat"
POST = "_post"
UNIT = "_unit"


@dataclass(frozen=True)
class AnalysisFrame:
    """The person-month frame a protocol analyses, and how it was reached.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per person-month with outcome columns named by outcome id and the
        design columns ``_unit``, ``_period``, ``_cohort``, ``_pilot``, ``_treat``, ``_post``.
    windows : Windows
        The protocol's windows as periods, computed once; every reader of the pre
        and post windows takes them from here.
    flow : list of dict
        Records ``step, n_persons, n_person_months`` from the store to the analysis.
    """

    data: pd.DataFrame
    windows: Windows
    flow: list[dict[str, Any]] = field(default_factory=list)

    @property
    def origin(self) -> pd.Timestamp:
        """The month numbered 1."""
        return self.windows.origin

    @property
    def starts(self) -> dict[str, int]:
        """Treated unit → first treated period (integer)."""
        return self.windows.starts

    def __repr__(self) -> str:
        return f"AnalysisFrame({len(self.data)} person-months, {len(self.flow)} flow steps)"

    def period_label(self, period: int) -> str:
        """Return ``YYYY-MM`` for an integer period.

        Parameters
        ----------
        period : int
            A period number (1 = origin).

        Returns
        -------
        str
            The month as ``YYYY-MM``.
        """
        return (self.origin + pd.DateOffset(months=int(period) - 1)).strftime("%Y-%m")


def _step(name: str, frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "step": name,
        "n_persons": int(frame["person_id"].nunique()),
        "n_person_months": len(frame),
    }


def build_analysis_frame(panel: pd.DataFrame, protocol: Protocol) -> AnalysisFrame:
    """Evaluate a protocol's outcomes and design on a stored outcome panel.

    Parameters
    ----------
    panel : pandas.DataFrame
        The ``outcome_panel`` table (canonical columns, ``month`` as dates).
    protocol : Protocol
        The registered protocol.

    Returns
    -------
    AnalysisFrame
        The frame with outcome and design columns, its windows, and the sample flow.

    Raises
    ------
    ProtocolError
        When the protocol's units are absent from the data or an outcome cannot be evaluated.
    """
    windows = Windows.of(protocol)
    unit_col = protocol.units.column
    first = windows.origin
    last = first + pd.DateOffset(months=windows.last - 1)
    treated = list(windows.starts)
    comparison = list(protocol.units.comparison)

    flow = [_step("rows_in_store", panel)]
    frame = panel.loc[panel[unit_col].astype(str).isin(list(treated) + comparison)].copy()
    flow.append(_step("in_pilot_or_comparison_units", frame))
    missing_units = sorted(set(treated) - set(frame[unit_col].astype(str).unique()))
    if missing_units:
        raise ProtocolError(
            f"units.treated: no rows in the outcome panel for {', '.join(missing_units)} "
            f"(column {unit_col!r}); check the unit codes or the data sources"
        )
    months = pd.to_datetime(frame["month"])
    frame = frame.loc[(months >= first) & (months <= last)].copy()
    flow.append(_step("in_protocol_windows", frame))

    population = protocol.population
    if "age" in frame:
        frame = frame.loc[frame["age"].between(population.age_min, population.age_max)]
    for rule in population.inclusion:
        keep = evaluate(str(rule), frame).fillna(False).astype(bool)
        frame = frame.loc[keep.to_numpy()]
    frame = frame.copy()
    flow.append(_step("eligible", frame))

    panel_outcomes = [o for o in protocol.outcomes if o.source == "outcome_panel"]
    for outcome in panel_outcomes:
        values = evaluate(outcome.definition, frame)
        frame[outcome.id] = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()

    frame[UNIT] = frame[unit_col].astype(str)
    _check_cluster(frame, protocol)
    frame[PERIOD] = month_index(frame["month"], first)
    frame[COHORT] = frame[UNIT].map(windows.starts).fillna(0).astype("int64")
    frame[TREATED_GROUP] = frame[COHORT] > 0
    effective = frame[COHORT] - windows.anticipation
    frame[TREAT] = (frame[TREATED_GROUP] & (frame[PERIOD] >= effective)).astype("int64")
    frame[POST] = (frame[PERIOD] >= windows.intervention_start).astype("int64")
    outcome_ids = [o.id for o in panel_outcomes]
    analysed = frame.dropna(subset=outcome_ids, how="all") if outcome_ids else frame
    flow.append(_step("analysed", analysed))
    analysed = analysed.sort_values([UNIT, "person_id", PERIOD], kind="mergesort").reset_index(
        drop=True
    )
    if analysed.empty:
        raise ProtocolError(
            "no rows left to analyse after the protocol's windows and inclusion rules"
        )
    return AnalysisFrame(data=analysed, windows=windows, flow=flow)


def _check_cluster(frame: pd.DataFrame, protocol: Protocol) -> None:
    """Refuse a registered cluster column that splits a pilot or comparison unit.

    The pilot is assigned per unit, so a cluster must hold whole units (a region of
    municipalities); a column that varies within a unit (age, sex) would count every
    cluster as treated and make every few-treated and cluster-robust p-value meaningless.
    """
    cluster = protocol.analysis.cluster
    if cluster in (None, "", protocol.units.column) or cluster not in frame.columns:
        return
    values = frame[cluster].astype("string")
    if values.isna().any():
        raise ProtocolError(
            f"analysis.cluster: {cluster!r} is missing in {int(values.isna().sum())} row(s) "
            "of the outcome panel; every row needs its cluster"
        )
    per_unit = values.groupby(frame[UNIT]).nunique()
    split = per_unit[per_unit > 1]
    if not split.empty:
        raise ProtocolError(
            f"analysis.cluster: {cluster!r} takes {int(split.iloc[0])} values within "
            f"{protocol.units.column} {split.index[0]} ({len(split)} of {len(per_unit)} units "
            f"are split); a cluster must hold whole units, because the pilot is assigned "
            f"per {protocol.units.column} (use {protocol.units.column!r} or a grouping of "
            "units such as 'region')"
        )


def pre_post_mask(frame: AnalysisFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return boolean masks for the registered pre window and the post window.

    The intervention months are in neither. This is the descriptives' pre window as
    registered; the estimator's untreated window also leaves out the anticipation
    months (:attr:`Windows.untreated_end`).

    Parameters
    ----------
    frame : AnalysisFrame
        The analysis frame (its windows).

    Returns
    -------
    tuple of numpy.ndarray
        ``(pre, post)`` masks over ``frame.data`` rows.
    """
    p = frame.data[PERIOD].to_numpy()
    return p <= frame.windows.pre_end, p >= frame.windows.post_start

"""Outcome measures: turn a stored outcome panel into the frame a protocol analyses.

One row per person-month inside the protocol's windows, with the protocol's
outcome definitions evaluated (safe expression language of
:mod:`evalkit.protocol.expressions`), the treatment timing of each unit as an
integer period, and the sample flow from rows in the store to rows analysed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import ProtocolError
from evalkit.protocol.expressions import evaluate

__all__ = ["AnalysisFrame", "build_analysis_frame", "month_index", "parse_month"]

#: Column names the analysis frame adds (never clash with schema columns).
PERIOD = "_period"
COHORT = "_cohort"
TREATED_GROUP = "_pilot"
TREAT = "_treat"
POST = "_post"
UNIT = "_unit"


def parse_month(value: Any) -> pd.Timestamp:
    """Return the first day of the month of ``value`` (``'2025-10'``, a date or a timestamp).

    Parameters
    ----------
    value : str, date or Timestamp
        A month.

    Returns
    -------
    pandas.Timestamp
        The first day of that month.
    """
    stamp = (
        pd.Timestamp(str(value) + "-01")
        if isinstance(value, str) and len(value) == 7
        else pd.Timestamp(value)
    )
    return pd.Timestamp(year=stamp.year, month=stamp.month, day=1)


def month_index(months: pd.Series | pd.Timestamp, origin: pd.Timestamp) -> Any:
    """Count months from ``origin`` (which is period 1).

    Parameters
    ----------
    months : Series of datetime or Timestamp
        Months to convert.
    origin : Timestamp
        The first month of the analysis window.

    Returns
    -------
    int or Series of int
        1 for ``origin``, 2 for the month after, and so on.
    """
    if isinstance(months, pd.Timestamp):
        return (months.year - origin.year) * 12 + (months.month - origin.month) + 1
    m = pd.to_datetime(months)
    return ((m.dt.year - origin.year) * 12 + (m.dt.month - origin.month) + 1).astype("int64")


@dataclass(frozen=True)
class AnalysisFrame:
    """The person-month frame a protocol analyses, and how it was reached.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per person-month with outcome columns named by outcome id and the
        design columns ``_unit``, ``_period``, ``_cohort``, ``_pilot``, ``_treat``, ``_post``.
    origin : pandas.Timestamp
        The month numbered 1.
    flow : list of dict
        Records ``step, n_persons, n_person_months`` from the store to the analysis.
    starts : dict
        Treated unit → first treated period (integer).
    """

    data: pd.DataFrame
    origin: pd.Timestamp
    flow: list[dict[str, Any]] = field(default_factory=list)
    starts: dict[str, int] = field(default_factory=dict)

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


def build_analysis_frame(panel: pd.DataFrame, protocol: Mapping[str, Any]) -> AnalysisFrame:
    """Evaluate a protocol's outcomes and design on a stored outcome panel.

    Parameters
    ----------
    panel : pandas.DataFrame
        The ``outcome_panel`` table (canonical columns, ``month`` as dates).
    protocol : mapping
        The protocol as a canonical mapping (``Protocol.to_dict()``).

    Returns
    -------
    AnalysisFrame
        The frame with outcome and design columns, and the sample flow.

    Raises
    ------
    ProtocolError
        When the protocol's units are absent from the data or an outcome cannot be evaluated.
    """
    units = protocol["units"]
    unit_col = units.get("column", "municipality")
    periods = protocol["periods"]
    first = parse_month(periods["pre"]["start"])
    last = parse_month(periods["post"]["end"])
    treated = {str(t["unit"]): parse_month(t["start"]) for t in units.get("treated", [])}
    comparison = [str(u) for u in units.get("comparison", [])]
    anticipation = int(units.get("anticipation_months", 0) or 0)

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

    population = protocol.get("population", {}) or {}
    age_min, age_max = population.get("age_min"), population.get("age_max")
    if age_min is not None and "age" in frame:
        frame = frame.loc[frame["age"].between(age_min, age_max)]
    for rule in population.get("inclusion", []) or []:
        keep = evaluate(str(rule), frame).fillna(False).astype(bool)
        frame = frame.loc[keep.to_numpy()]
    frame = frame.copy()
    flow.append(_step("eligible", frame))

    for outcome in protocol.get("outcomes", []):
        if outcome.get("source", "outcome_panel") != "outcome_panel":
            continue
        values = evaluate(str(outcome["definition"]), frame)
        frame[outcome["id"]] = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()

    start_periods = {u: int(month_index(m, first)) for u, m in treated.items()}
    frame[UNIT] = frame[unit_col].astype(str)
    frame[PERIOD] = month_index(frame["month"], first)
    frame[COHORT] = frame[UNIT].map(start_periods).fillna(0).astype("int64")
    frame[TREATED_GROUP] = frame[COHORT] > 0
    effective = frame[COHORT] - anticipation
    frame[TREAT] = (frame[TREATED_GROUP] & (frame[PERIOD] >= effective)).astype("int64")
    post_start = month_index(parse_month(periods["intervention"]["start"]), first)
    frame[POST] = (frame[PERIOD] >= post_start).astype("int64")
    outcome_ids = [
        o["id"]
        for o in protocol.get("outcomes", [])
        if o.get("source", "outcome_panel") == "outcome_panel"
    ]
    analysed = frame.dropna(subset=outcome_ids, how="all") if outcome_ids else frame
    flow.append(_step("analysed", analysed))
    analysed = analysed.sort_values([UNIT, "person_id", PERIOD], kind="mergesort").reset_index(
        drop=True
    )
    if analysed.empty:
        raise ProtocolError(
            "no rows left to analyse after the protocol's windows and inclusion rules"
        )
    return AnalysisFrame(data=analysed, origin=first, flow=flow, starts=start_periods)


def pre_post_mask(
    frame: AnalysisFrame, protocol: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Return boolean masks for the pre window and the post window (intervention months excluded).

    Parameters
    ----------
    frame : AnalysisFrame
        The analysis frame.
    protocol : mapping
        The protocol mapping.

    Returns
    -------
    tuple of numpy.ndarray
        ``(pre, post)`` masks over ``frame.data`` rows.
    """
    periods = protocol["periods"]
    p = frame.data[PERIOD].to_numpy()
    pre_end = month_index(parse_month(periods["pre"]["end"]), frame.origin)
    post_start = month_index(parse_month(periods["post"]["start"]), frame.origin)
    return p <= pre_end, p >= post_start

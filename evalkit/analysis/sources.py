"""Estimation frames of the outcomes measured outside the outcome panel.

A throughput outcome (``case_events``, e.g. ``days_between('registration',
'start')``) is one number per case; a case counts in the month it was
registered, and the frame holds the mean per municipality and month (a panel
of municipalities, the unit of treatment), so the registered estimator
compares pilot and comparison municipalities before and after the start.
Where some municipality has a month without any registration, the cells are
quarters instead (a start counts from its quarter), so that every comparison
has its cells.

A questionnaire outcome (``questionnaire``, e.g. ``scale_mean('zrm')``) is one
number per young person and wave; its frame is the person-by-wave panel with
the waves as periods in their registered order: pilot respondents are treated
from the second wave on (a change-score difference in differences).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evalkit.analysis.measures import (
    COHORT,
    PERIOD,
    POST,
    TREAT,
    TREATED_GROUP,
    UNIT,
    month_index,
)
from evalkit.analysis.scoring import prepare_responses
from evalkit.analysis.windows import Windows
from evalkit.errors import EvalkitError
from evalkit.protocol.expressions import evaluate
from evalkit.protocol.model import Outcome, Protocol

__all__ = ["WAVES", "source_frames"]

#: Questionnaire waves in time order.
WAVES = ("T0", "T3m", "T6m", "T12m", "exit")


def source_frames(
    protocol: Protocol,
    windows: Windows,
    events: pd.DataFrame | None,
    responses: pd.DataFrame | None,
    instruments: Mapping[str, Any] | None,
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Return one estimation frame per case or questionnaire outcome, or why there is none.

    Parameters
    ----------
    protocol : Protocol
        The registered protocol.
    windows : Windows
        The protocol's windows (the analysis frame's, so that month numbers agree).
    events, responses : pandas.DataFrame or None
        The stored ``case_events`` and ``questionnaire`` tables.
    instruments : mapping or None
        The questionnaire schema's instruments.

    Returns
    -------
    frames : dict
        Outcome id → frame with the design columns of the analysis frame.
    reasons : dict
        Outcome id → plain-language reason it has no frame.
    """
    frames: dict[str, pd.DataFrame] = {}
    reasons: dict[str, str] = {}
    wide = _wide_responses(responses, instruments)
    for outcome in protocol.outcomes:
        try:
            if outcome.source == "case_events":
                frames[outcome.id] = _case_frame(protocol, windows, events, outcome)
            elif outcome.source == "questionnaire":
                frames[outcome.id] = _wave_frame(protocol, wide, outcome)
        except (_NoData, EvalkitError) as exc:
            reasons[outcome.id] = str(exc)
    return frames, reasons


class _NoData(Exception):
    """An outcome's source has no usable rows."""


def _design(frame: pd.DataFrame, protocol: Protocol, starts: Mapping[str, int]) -> pd.DataFrame:
    units = [t.unit for t in protocol.units.treated] + list(protocol.units.comparison)
    frame = frame.loc[frame[UNIT].isin(units)].copy()
    frame[COHORT] = frame[UNIT].map(starts).fillna(0).astype("int64")
    frame[TREATED_GROUP] = frame[COHORT] > 0
    frame[TREAT] = (frame[TREATED_GROUP] & (frame[PERIOD] >= frame[COHORT])).astype("int64")
    return frame


def _case_frame(
    protocol: Protocol, windows: Windows, events: pd.DataFrame | None, outcome: Outcome
) -> pd.DataFrame:
    if events is None or events.empty:
        raise _NoData("no case events are in the store for this protocol")
    rows = events
    if outcome.filter:
        rows = rows.loc[evaluate(outcome.filter, rows).fillna(False).astype(bool).to_numpy()]
    values = pd.to_numeric(evaluate(outcome.definition, rows), errors="coerce")
    registered = rows.loc[rows["event_type"] == "registration"]
    cases = pd.DataFrame(
        {
            "case_id": registered["case_id"].to_numpy(),
            UNIT: registered["municipality"].astype(str).to_numpy(),
            PERIOD: month_index(
                pd.to_datetime(registered["event_date"]), windows.origin
            ).to_numpy(),
            outcome.id: values.loc[registered.index].to_numpy(dtype="float64"),
        }
    ).drop_duplicates("case_id")
    cases = cases.loc[(cases[PERIOD] >= 1) & (cases[PERIOD] <= windows.last)]
    starts = dict(windows.starts)
    # as the analysis frame's _post column: every month from the pilot's start
    post_start = windows.intervention_start
    cells = _cells(cases, outcome.id)
    quarters = len(cells) < cells[UNIT].nunique() * cells[PERIOD].nunique()
    if quarters:  # months without a registration in some municipality: count per quarter
        cases[PERIOD] = _quarter(cases[PERIOD])
        cells = _cells(cases, outcome.id)
        starts = {u: int(_quarter(m)) for u, m in starts.items()}
        post_start = int(_quarter(post_start))
    cells = _design(cells, protocol, starts)
    cells[POST] = (cells[PERIOD] >= post_start).astype("int64")
    if cells.empty:
        raise _NoData("no registered case has this outcome in the protocol's windows")
    cells.attrs["period"] = "quarter" if quarters else "month"
    return cells.reset_index(drop=True)


def _cells(cases: pd.DataFrame, outcome: str) -> pd.DataFrame:
    cells = cases.groupby([UNIT, PERIOD], as_index=False).agg(
        **{outcome: (outcome, "mean"), "n": (outcome, "count")}
    )
    return cells.loc[cells["n"] > 0]


def _quarter(month: Any) -> Any:
    """Quarter number of a month number (months 1–3 → 1)."""
    return (month - 1) // 3 + 1


def _wide_responses(
    responses: pd.DataFrame | None, instruments: Mapping[str, Any] | None
) -> pd.DataFrame | None:
    """One row per person and wave, one column per item."""
    if responses is None or responses.empty or instruments is None:
        return None
    r = prepare_responses(responses, instruments)
    keys = ["person_id", "municipality", "wave"]
    wide = r.pivot_table(index=keys, columns="item", values="value", aggfunc="first")
    wide.columns.name = None
    return wide.reset_index()


def _wave_frame(protocol: Protocol, wide: pd.DataFrame | None, outcome: Outcome) -> pd.DataFrame:
    if wide is None:
        raise _NoData("no questionnaire responses are in the store for this protocol")
    rows = wide
    if outcome.filter:
        rows = rows.loc[evaluate(outcome.filter, rows).fillna(False).astype(bool).to_numpy()]
    waves = [w for w in WAVES if w in set(rows["wave"])]
    if len(waves) < 2:
        raise _NoData(
            "the questionnaire outcome needs two waves to compare (found "
            f"{', '.join(waves) or 'none'})"
        )
    order = {w: i + 1 for i, w in enumerate(waves)}
    frame = pd.DataFrame(
        {
            "person_id": rows["person_id"].to_numpy(),
            UNIT: rows["municipality"].astype(str).to_numpy(),
            PERIOD: rows["wave"].map(order).to_numpy(dtype="int64"),
            outcome.id: pd.to_numeric(evaluate(outcome.definition, rows), errors="coerce")
            .astype("float64")
            .to_numpy(),
        }
    )
    pilot = {t.unit: 2 for t in protocol.units.treated}
    frame = _design(frame, protocol, pilot)
    frame[POST] = (frame[PERIOD] >= 2).astype("int64")
    frame = frame.loc[np.isfinite(frame[outcome.id])]
    if frame.empty:
        raise _NoData("no respondent has this outcome in the filtered waves")
    return frame.sort_values([UNIT, "person_id", PERIOD], kind="mergesort").reset_index(drop=True)

"""Per-case throughput intervals (doorlooptijden) from case events, with right-censoring.

Every case contributes one row per interval whose start event it has. When the end
event has not (yet) happened the row is right-censored: at the case's closure
(exit or dropout) if it closed, else at the reference date. Open cases are never
dropped and never treated as finished.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from evalkit.analysis.calendar_nl import LiberationDay, working_days_between
from evalkit.errors import DataValidationError

__all__ = [
    "INTERVALS",
    "REQUIRED_EVENT_COLUMNS",
    "WGS_CRISIS_TYPES",
    "assign_period",
    "case_intervals",
]

#: interval name -> (start event types, end event types (empty: any), end outcomes or None)
INTERVALS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...] | None]] = {
    "registration_to_first_conversation": (("registration",), ("first_conversation",), None),
    "first_conversation_to_decision_or_plan": (("first_conversation",), ("decision", "plan"), None),
    "application_to_decision": (("application",), ("decision",), None),
    "application_to_advance_payment": (
        ("application",),
        (),  # any event type whose outcome records the advance payment
        ("advance_payment", "voorschot"),
    ),
    "registration_to_start": (("registration",), ("start",), None),
    "start_to_exit": (("start",), ("exit", "dropout"), None),
}

REQUIRED_EVENT_COLUMNS = ("case_id", "person_id", "municipality", "event_type", "event_date")
#: Crises for which the Wgs sets the 3-working-day norm (art. 4a lid 2 Wgs).
WGS_CRISIS_TYPES = (
    "eviction",
    "energy_disconnection",
    "water_disconnection",
    "health_insurance_cancelled",
)
_CLOSING = ("exit", "dropout")


def _check_events(events: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise DataValidationError(
            f"case_events: required column(s) missing: {', '.join(missing)} "
            f"(columns present: {', '.join(map(str, events.columns))})"
        )


def prepare_events(events: pd.DataFrame, reference_date: date) -> pd.DataFrame:
    """Return a typed copy of the events, without events after the reference date.

    Parameters
    ----------
    events : pandas.DataFrame
        Case events with the canonical columns of ``data_schemas/case_events.yaml``.
    reference_date : datetime.date
        The date the data describe; later events are left out (count them with
        :func:`events_after`).

    Returns
    -------
    pandas.DataFrame
        Events with ``event_date`` as datetime64 and optional columns filled in.
    """
    _check_events(events)
    ev = events.copy()
    ev["event_date"] = pd.to_datetime(ev["event_date"]).astype("datetime64[ns]")
    for col, default in (
        ("domain", None),
        ("org_type", None),
        ("organisation", None),
        ("coach_id", None),
        ("crisis", False),
        ("crisis_type", None),
        ("outcome", None),
        ("receiving_org", None),
        ("event_id", None),
    ):
        if col not in ev.columns:
            ev[col] = default
    ev["crisis"] = ev["crisis"].fillna(False).astype(bool)
    bad_date = ev["event_date"].isna()
    if bad_date.any():
        rows = ", ".join(map(str, ev.index[bad_date][:5]))
        raise DataValidationError(f"case_events: event_date is empty in row(s) {rows}")
    ev = ev.loc[ev["event_date"] <= pd.Timestamp(reference_date)]
    return ev.sort_values(["case_id", "event_date"], kind="stable", ignore_index=True)


def events_after(events: pd.DataFrame, reference_date: date) -> int:
    """Count the case events dated after the reference date, which the analysis leaves out.

    The pipeline states this count in the bundle's limitations, so that no event is
    left out without a word in the report.

    Parameters
    ----------
    events : pandas.DataFrame
        Case events with an ``event_date`` column.
    reference_date : datetime.date
        The date the data describe.

    Returns
    -------
    int
        The number of events after ``reference_date``.
    """
    dates = pd.to_datetime(events["event_date"])
    return int((dates > pd.Timestamp(reference_date)).sum())


def assign_period(
    frame: pd.DataFrame,
    date_col: str,
    pilot_starts: Mapping[str, date],
    comparison_units: Sequence[str],
) -> pd.DataFrame:
    """Add ``group`` (pilot/comparison/other) and ``period`` (before/during/all) columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with ``municipality`` and a date column.
    date_col : str
        The date that decides the period (the interval's start).
    pilot_starts : mapping of str to date
        Pilot start per pilot municipality. Comparison and other municipalities use
        the earliest pilot start. Empty: every row gets period ``all``.
    comparison_units : sequence of str
        Municipalities in the comparison group.

    Returns
    -------
    pandas.DataFrame
        A copy with ``group`` and ``period``.
    """
    out = frame.copy()
    mun = out["municipality"].astype(str)
    out["group"] = np.where(
        mun.isin(list(pilot_starts)),
        "pilot",
        np.where(mun.isin(list(comparison_units)), "comparison", "other"),
    )
    if not pilot_starts:
        out["period"] = "all"
        return out
    starts = {k: pd.Timestamp(v) for k, v in pilot_starts.items()}
    first = min(starts.values())
    cut = mun.map(starts).fillna(first)
    out["period"] = np.where(pd.to_datetime(out[date_col]) < cut, "before", "during")
    return out


def case_intervals(
    events: pd.DataFrame,
    *,
    reference_date: date,
    pilot_starts: Mapping[str, date] | None = None,
    comparison_units: Sequence[str] = (),
    liberation_day: LiberationDay = "always",
) -> pd.DataFrame:
    """Compute every throughput interval per case, right-censored where open.

    Parameters
    ----------
    events : pandas.DataFrame
        Case events (canonical columns).
    reference_date : datetime.date
        Open intervals are censored here (or at the case's exit/dropout if earlier).
    pilot_starts : mapping of str to date, optional
        Pilot start per pilot municipality (for ``group`` and ``period``).
    comparison_units : sequence of str, default ()
        Comparison municipalities.
    liberation_day : {"lustrum", "always", "never"}, default "always"
        Working-day calendar option (see :mod:`evalkit.analysis.calendar_nl`).

    Returns
    -------
    pandas.DataFrame
        One row per case and interval: ``case_id, person_id, municipality, domain,
        org_type, organisation, crisis, crisis_type, wgs_crisis`` (a crisis with a Wgs
        crisis type, or without a type), ``start_outcome, interval, start_date, end_date,
        end_event, event`` (bool: end observed), ``censor_date, competing`` (bool: the
        case closed without the end event), ``days`` (calendar days to the end or
        censoring), ``working_days``, ``start_month`` (YYYY-MM), ``group``, ``period``.
    """
    ev = prepare_events(events, reference_date)
    ref = pd.Timestamp(reference_date)
    closure = ev.loc[ev["event_type"].isin(_CLOSING)].groupby("case_id")["event_date"].min()
    parts = [
        _interval(ev, name, starts, ends, outcomes, closure, ref)
        for name, (starts, ends, outcomes) in INTERVALS.items()
    ]
    parts = [part for part in parts if part is not None]
    if not parts:
        return pd.DataFrame(columns=_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    crisis = ev.groupby("case_id")["crisis"].any()
    out["crisis"] = out["case_id"].map(crisis).fillna(False).astype(bool)
    types = ev.dropna(subset=["crisis_type"]).groupby("case_id")["crisis_type"].first()
    out["crisis_type"] = out["case_id"].map(types)
    # a flagged crisis without a type is taken at its word; "other" crises are not Wgs crises
    out["wgs_crisis"] = out["crisis"] & (
        out["crisis_type"].isna() | out["crisis_type"].isin(WGS_CRISIS_TYPES)
    )
    out["days"] = (out["censor_date"] - out["start_date"]).dt.days.astype(float)
    out["working_days"] = working_days_between(
        out["start_date"], out["censor_date"], liberation_day=liberation_day
    )
    out["start_month"] = out["start_date"].dt.strftime("%Y-%m")
    out["start_quarter"] = (
        out["start_date"].dt.year.astype(str) + "-Q" + out["start_date"].dt.quarter.astype(str)
    )
    out = assign_period(out, "start_date", pilot_starts or {}, comparison_units)
    return out[_COLUMNS].sort_values(["interval", "case_id"], ignore_index=True)


#: Columns of :func:`case_intervals`, in order.
_COLUMNS = [
    "case_id",
    "person_id",
    "municipality",
    "domain",
    "org_type",
    "organisation",
    "crisis",
    "crisis_type",
    "wgs_crisis",
    "start_outcome",
    "interval",
    "start_date",
    "end_date",
    "end_event",
    "event",
    "censor_date",
    "competing",
    "days",
    "working_days",
    "start_month",
    "start_quarter",
    "group",
    "period",
]


def _interval(
    ev: pd.DataFrame,
    name: str,
    starts: tuple[str, ...],
    ends: tuple[str, ...],
    outcomes: tuple[str, ...] | None,
    closure: pd.Series,
    ref: pd.Timestamp,
) -> pd.DataFrame | None:
    """Return one interval's cases: its start, its first end after it, or its censoring.

    A case closed before its end event is censored at the closure, which competes with
    the end event; an open case is censored at the reference date. None without starts.
    """
    st = ev.loc[ev["event_type"].isin(starts)].drop_duplicates("case_id", keep="first")
    if st.empty:
        return None
    keep = ["case_id", "person_id", "municipality", "domain", "org_type", "organisation"]
    st = st[[*keep, "event_date", "outcome"]].rename(
        columns={"event_date": "start_date", "outcome": "start_outcome"}
    )
    en = ev.loc[ev["event_type"].isin(ends)] if ends else ev
    if outcomes is not None:
        en = en.loc[en["outcome"].astype("string").str.lower().isin(outcomes).fillna(False)]
    en = en[["case_id", "event_date", "event_type"]].merge(
        st[["case_id", "start_date"]], on="case_id"
    )
    en = en.loc[en["event_date"] >= en["start_date"]]
    en = en.sort_values(["case_id", "event_date"], kind="stable").drop_duplicates(
        "case_id", keep="first"
    )
    part = st.merge(
        en[["case_id", "event_date", "event_type"]].rename(
            columns={"event_date": "end_date", "event_type": "end_event"}
        ),
        on="case_id",
        how="left",
    )
    part["interval"] = name
    part["event"] = part["end_date"].notna()
    close = pd.Series(pd.to_datetime(closure.reindex(part["case_id"]).to_numpy()), index=part.index)
    close = close.where(close >= part["start_date"])
    censor = close.fillna(ref).where(close.fillna(ref) <= ref, ref)
    part["censor_date"] = part["end_date"].where(part["event"], censor)
    part["competing"] = ~part["event"] & close.notna() & (close <= ref)
    return part

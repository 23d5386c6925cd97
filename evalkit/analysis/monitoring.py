"""Monitoring tables for use during a pilot: registrations, active cases, data completeness."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["completeness_table", "data_up_to", "registrations_table"]

_CLOSING = ("exit", "dropout")
_BOOKKEEPING = ("_source_sha256", "_row")


def registrations_table(
    events: pd.DataFrame, *, pilot_units: Sequence[str]
) -> list[dict[str, Any]]:
    """Count new registrations per month and cases active at each month's end, per group.

    A case is active at the end of a month when it was registered on or before
    that day and had not closed (exit or drop-out) before it.

    Parameters
    ----------
    events : pandas.DataFrame
        Case events (``case_id, municipality, event_type, event_date``).
    pilot_units : sequence of str
        Municipalities of the pilot group; the others are the comparison group.

    Returns
    -------
    list of dict
        Records ``period (YYYY-MM), group, n_registrations, n_active`` in period order.
    """
    if events.empty:
        return []
    dates = pd.to_datetime(events["event_date"])
    frame = events.assign(_date=dates)
    registered = frame.loc[frame["event_type"] == "registration"].groupby("case_id")["_date"].min()
    closed = frame.loc[frame["event_type"].isin(_CLOSING)].groupby("case_id")["_date"].max()
    unit = frame.groupby("case_id")["municipality"].first()
    cases = pd.DataFrame({"registered": registered}).join(closed.rename("closed")).join(unit)
    cases["group"] = np.where(
        cases["municipality"].astype(str).isin(list(pilot_units)), "pilot", "comparison"
    )
    months = pd.period_range(dates.min().to_period("M"), dates.max().to_period("M"), freq="M")
    rows = []
    for month in months:
        end = month.to_timestamp(how="end").normalize()
        new = cases["registered"].dt.to_period("M") == month
        active = (cases["registered"] <= end) & (cases["closed"].isna() | (cases["closed"] > end))
        for group in ("pilot", "comparison"):
            in_group = cases["group"] == group
            rows.append(
                {
                    "period": str(month),
                    "group": group,
                    "n_registrations": int((new & in_group).sum()),
                    "n_active": int((active & in_group).sum()),
                }
            )
    return rows


def completeness_table(tables: Mapping[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """Share of missing values per column of each stored table.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Stored tables by kind (as read from the store).

    Returns
    -------
    list of dict
        Records ``kind, column, n, share_missing`` (``n`` = rows of that kind).
    """
    rows = []
    for kind in sorted(tables):
        frame = tables[kind]
        for column in frame.columns:
            if column in _BOOKKEEPING:
                continue
            n = len(frame)
            missing = float(frame[column].isna().mean()) if n else 0.0
            rows.append({"kind": kind, "column": column, "n": n, "share_missing": missing})
    return rows


def data_up_to(
    *,
    panel: pd.DataFrame | None = None,
    events_reference: dt.date | None = None,
    responses: pd.DataFrame | None = None,
) -> dict[str, str]:
    """Say up to when each source has data: what "now" means in a monitor.

    Parameters
    ----------
    panel : pandas.DataFrame, optional
        The outcome panel (``month`` column).
    events_reference : datetime.date, optional
        The case events' reference date (open cases are counted up to it).
    responses : pandas.DataFrame, optional
        Questionnaire responses (``admin_date`` column).

    Returns
    -------
    dict of str to str
        Per source kind: ``outcome_panel`` the last month (``YYYY-MM``), ``case_events``
        and ``questionnaire`` a date (``YYYY-MM-DD``). Sources without data are left out.
    """
    out: dict[str, str] = {}
    if events_reference is not None:
        out["case_events"] = pd.Timestamp(events_reference).strftime("%Y-%m-%d")
    if panel is not None and not panel.empty and "month" in panel.columns:
        last = pd.to_datetime(panel["month"].astype(str), errors="coerce").max()
        if pd.notna(last):
            out["outcome_panel"] = last.strftime("%Y-%m")
    if responses is not None and not responses.empty and "admin_date" in responses.columns:
        last = pd.to_datetime(responses["admin_date"], errors="coerce").max()
        if pd.notna(last):
            out["questionnaire"] = last.strftime("%Y-%m-%d")
    return out

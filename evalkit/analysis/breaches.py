"""Current norm breaches: the cases open past their norm on the data's reference date.

A pilot lead asks each week "which cases are waiting too long right now, and where".
A case counts for a norm when its interval (say registration to first conversation)
has started, has not reached its end event and the case has not closed; it is *past
the norm* when the time elapsed exceeds the norm's limit, else *still within*. Cases
are counted per norm, group (pilot/comparison), organisation (of the interval's start
event) and the coach who holds the case at that organisation (the latest coach
recorded there), with the group's total last. Coach values are whatever the caller
passes: the pipeline replaces coach ids by keyed pseudonyms before any analysis sees
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd

from evalkit.analysis.calendar_nl import LiberationDay
from evalkit.analysis.intervals import case_intervals, prepare_events
from evalkit.analysis.norms import norm_status, parse_norms

__all__ = ["BREACH_COLUMNS", "current_breaches"]

BREACH_COLUMNS = ["norm", "group", "organisation", "coach", "n_open", "n_within", "n_past_norm"]
_GROUPS = ("pilot", "comparison")
#: ``organisation`` and ``coach`` of a group's total row (the bundle's "all" convention).
ALL = "all"


def _current_coach(events: pd.DataFrame) -> pd.DataFrame:
    """Return the latest recorded coach per case and organisation."""
    held = events.loc[events["coach_id"].notna(), ["case_id", "organisation", "event_date"]]
    held = held.assign(coach=events.loc[held.index, "coach_id"].astype(str))
    held = held.sort_values(["case_id", "organisation", "event_date"], kind="stable")
    return held.drop_duplicates(["case_id", "organisation"], keep="last").drop(columns="event_date")


def current_breaches(
    events: pd.DataFrame,
    *,
    reference_date: date,
    pilot_starts: Mapping[str, date],
    comparison_units: Sequence[str],
    norms: Mapping[str, Any] | None = None,
    liberation_day: LiberationDay = "always",
    intervals: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Count the cases open past each norm on the reference date, per organisation and coach.

    Parameters
    ----------
    events : pandas.DataFrame
        Case events (canonical columns; ``coach_id`` already pseudonymised).
    reference_date : datetime.date
        "Now": the data's reference date.
    pilot_starts : mapping of str to date
        Pilot start per pilot municipality.
    comparison_units : sequence of str
        Comparison municipalities (cases elsewhere are left out).
    norms : mapping, optional
        Norms overriding the defaults (see :func:`evalkit.analysis.norms.parse_norms`).
    liberation_day : {"lustrum", "always", "never"}, default "always"
        When 5 May counts as a holiday for working-day norms.
    intervals : pandas.DataFrame, optional
        :func:`~evalkit.analysis.intervals.case_intervals` of these events with these
        arguments, when the caller has it (the throughput tables use the same): then it
        is not computed again.

    Returns
    -------
    list of dict
        Records with :data:`BREACH_COLUMNS`: per norm and group one row per organisation
        and coach holding an open case (``coach`` None when none is recorded), then the
        group's total row (``organisation = coach = "all"``); ``n_open = n_within +
        n_past_norm``. Only norms and groups with an open case appear.
    """
    if events.empty:
        return []
    ev = prepare_events(events, reference_date)
    iv = intervals
    if iv is None:
        iv = case_intervals(
            ev,
            reference_date=reference_date,
            pilot_starts=pilot_starts,
            comparison_units=comparison_units,
            liberation_day=liberation_day,
        )
    if iv.empty:
        return []
    coaches = _current_coach(ev)
    rows: list[dict[str, Any]] = []
    for norm in parse_norms(norms):
        status = norm_status(iv, norm)
        open_ = status.loc[~status["event"] & ~status["competing"] & status["group"].isin(_GROUPS)]
        if open_.empty:
            continue
        open_ = open_.merge(coaches, on=["case_id", "organisation"], how="left")
        open_ = open_.assign(_past=open_["breach_open"].astype(int))
        for group in _GROUPS:
            part = open_.loc[open_["group"] == group]
            if not part.empty:
                rows.extend(_group_rows(part, norm.name, group))
    return rows


def _group_rows(part: pd.DataFrame, norm: str, group: str) -> list[dict[str, Any]]:
    """One group's open cases under one norm: a row per organisation and coach, then all."""
    per_coach = (
        part.groupby(["organisation", "coach"], dropna=False, sort=True)["_past"]
        .agg(["size", "sum"])
        .reset_index()
    )
    total = {"organisation": ALL, "coach": ALL, "size": len(part), "sum": part["_past"].sum()}
    per_coach = pd.concat([per_coach, pd.DataFrame([total])], ignore_index=True)
    return [
        {
            "norm": norm,
            "group": group,
            "organisation": str(r.organisation),
            "coach": None if pd.isna(r.coach) else str(r.coach),
            "n_open": int(r.size),
            "n_within": int(r.size - r.sum),
            "n_past_norm": int(r.sum),
        }
        for r in per_coach.itertuples(index=False)
    ]

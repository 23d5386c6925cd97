"""Caseload: active cases per coach (or organisation) per week, against a benchmark.

A case is active from its first event up to and including its exit or dropout (or the
reference date when still open). In each week (Monday to Sunday) it counts for the
coach who holds it at the end of that week: the ``coach_id`` of its latest event on or
before the week's Sunday (its first coach before any coach was recorded). When no
coach ids are recorded at all, caseloads are counted per organisation.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from evalkit.analysis.intervals import prepare_events
from evalkit.errors import EvalkitError

__all__ = ["caseload_summary", "weekly_caseload"]


def weekly_caseload(events: pd.DataFrame, *, reference_date: date) -> pd.DataFrame:
    """Active cases per holder (coach, else organisation) per week.

    Parameters
    ----------
    events : pandas.DataFrame
        Case events (canonical columns).
    reference_date : datetime.date
        Open cases stay active up to this date.

    Returns
    -------
    pandas.DataFrame
        ``week`` (the Monday, datetime64), ``holder_type`` (``coach``/``organisation``),
        ``holder``, ``organisation``, ``org_type``, ``n_active`` (cases).
    """
    ev = prepare_events(events, reference_date)
    ref = pd.Timestamp(reference_date)
    has_coach = ev["coach_id"].notna().any()
    holder_col = "coach_id" if has_coach else "organisation"
    ev = ev.assign(_holder=ev[holder_col])
    if ev.empty:
        return pd.DataFrame(
            columns=["week", "holder_type", "holder", "organisation", "org_type", "n_active"]
        )
    g = ev.groupby("case_id")
    start = g["event_date"].min()
    end = ev.loc[ev["event_type"].isin(["exit", "dropout"])].groupby("case_id")["event_date"].min()
    end = end.reindex(start.index).fillna(ref).clip(upper=ref)
    wk0 = start - pd.to_timedelta(start.dt.day_of_week, unit="D")
    wk1 = end - pd.to_timedelta(end.dt.day_of_week, unit="D")
    n_weeks = ((wk1 - wk0).dt.days // 7 + 1).clip(lower=1).astype(int)
    grid = pd.DataFrame(
        {
            "case_id": np.repeat(start.index.to_numpy(), n_weeks.to_numpy()),
            "week": np.repeat(wk0.to_numpy(), n_weeks.to_numpy()),
        }
    )
    grid["week"] = grid["week"] + pd.to_timedelta(grid.groupby("case_id").cumcount() * 7, unit="D")
    grid["_sunday"] = (grid["week"] + pd.Timedelta(days=6)).astype("datetime64[ns]")
    held = ev.loc[
        ev["_holder"].notna(), ["case_id", "event_date", "_holder", "organisation", "org_type"]
    ].sort_values("event_date", kind="stable")
    held["event_date"] = held["event_date"].astype("datetime64[ns]")
    grid = grid.sort_values("_sunday", kind="stable")
    asof = pd.merge_asof(
        grid, held, left_on="_sunday", right_on="event_date", by="case_id", direction="backward"
    )
    first = held.drop_duplicates("case_id").set_index("case_id")
    for col in ("_holder", "organisation", "org_type"):
        asof[col] = asof[col].fillna(asof["case_id"].map(first[col]))
    asof = asof.dropna(subset=["_holder"])
    out = (
        asof.groupby(["week", "_holder", "organisation", "org_type"], dropna=False)
        .size()
        .rename("n_active")
        .reset_index()
        .rename(columns={"_holder": "holder"})
    )
    out.insert(1, "holder_type", "coach" if has_coach else "organisation")
    return out.sort_values(["week", "holder"], ignore_index=True)


def caseload_summary(
    weekly: pd.DataFrame, *, benchmark: tuple[int, int] = (30, 35)
) -> pd.DataFrame:
    """Summarise weekly caseloads per organisation against a benchmark range.

    Parameters
    ----------
    weekly : pandas.DataFrame
        Output of :func:`weekly_caseload`.
    benchmark : (int, int), default (30, 35)
        The lower and upper bound of a reasonable caseload (default: youth coach).

    Returns
    -------
    pandas.DataFrame
        Per ``week`` (YYYY-MM-DD) and ``organisation`` (and ``"all"``): ``org_type,
        holder_type, n_holders, n_active, mean_caseload, median_caseload, max_caseload,
        n_below, n_within, n_above, benchmark_low, benchmark_high``.
    """
    lo, hi = benchmark
    if not (0 <= lo <= hi):
        raise EvalkitError(
            f"caseload benchmark must be (low, high) with 0 <= low <= high, got {benchmark!r}"
        )
    cols = [
        "week",
        "organisation",
        "org_type",
        "holder_type",
        "n_holders",
        "n_active",
        "mean_caseload",
        "median_caseload",
        "max_caseload",
        "n_below",
        "n_within",
        "n_above",
        "benchmark_low",
        "benchmark_high",
    ]
    if weekly.empty:
        return pd.DataFrame(columns=cols)
    per_holder = weekly.groupby(["week", "holder_type", "holder"], as_index=False).agg(
        n_active=("n_active", "sum"),
        organisation=("organisation", "first"),
        org_type=("org_type", "first"),
    )
    both = pd.concat([per_holder, per_holder.assign(organisation="all", org_type="all")])
    load = both["n_active"]
    both = both.assign(
        _below=(load < lo).astype(int),
        _within=((load >= lo) & (load <= hi)).astype(int),
        _above=(load > hi).astype(int),
    )
    g = both.groupby(["week", "organisation", "org_type", "holder_type"])
    out = g.agg(
        n_holders=("n_active", "size"),
        n_active=("n_active", "sum"),
        mean_caseload=("n_active", "mean"),
        median_caseload=("n_active", "median"),
        max_caseload=("n_active", "max"),
        n_below=("_below", "sum"),
        n_within=("_within", "sum"),
        n_above=("_above", "sum"),
    ).reset_index()
    out["week"] = pd.to_datetime(out["week"]).dt.strftime("%Y-%m-%d")
    out["benchmark_low"] = lo
    out["benchmark_high"] = hi
    return out[cols].sort_values(["organisation", "week"], ignore_index=True)

"""Throughput monitoring: all bundle tables from case events in one call.

:func:`throughput_tables` is what the pipeline calls. The tables (all tidy, counts in
``n``/``n_*`` columns for disclosure control, no person-level rows):

``durations``
    The compact view the report shows: per interval, overall and per group × period,
    ``n, n_events, n_censored`` and the Kaplan–Meier median and 80th percentile (days).
``km_summary``
    Kaplan–Meier median and 80th percentile (days) with 95% CIs per interval, overall
    and per org type, period and group × period (:func:`~evalkit.analysis.survival.km_summary`).
``km_curve``
    The Kaplan–Meier step curves behind them (overall, per period, per org type, per group).
``norms``
    Share within each norm, censoring done right, overall and per period, group × period
    and org type (:func:`~evalkit.analysis.norms.norm_shares`).
``norms_monthly`` / ``norms_quarterly``
    The same per group and month (``month``, YYYY-MM) or quarter (``quarter``, YYYY-Qn)
    of the interval's start: the share within the norm over time.
``norm_definitions``
    The norms applied (name, interval, limit, unit, filter, label).
``handovers``
    Time from warm handover to the first event at the receiving organisation.
``out_of_sight``
    Ended cases followed up, out of sight, or not yet known after ``out_of_sight_days``.
``switches`` / ``switches_distribution``
    Organisations and switches per young person, by group and period.
``caseload``
    Active cases per coach (or organisation) per week against the benchmark.
``did``
    Pilot vs comparison difference-in-differences of the share within each norm
    (municipality × quarter panel, two-way fixed effects), where a comparison group
    exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Literal

import pandas as pd

from evalkit.analysis.calendar_nl import LiberationDay
from evalkit.analysis.caseload import caseload_summary, weekly_caseload
from evalkit.analysis.did_bridge import DID_COLUMNS, did_record, within_range
from evalkit.analysis.handovers import (
    handover_summary,
    handover_times,
    out_of_sight,
    out_of_sight_summary,
    switches,
    switches_summary,
)
from evalkit.analysis.intervals import assign_period, case_intervals, prepare_events
from evalkit.analysis.norms import Norm, norm_shares, norm_status, parse_norms
from evalkit.analysis.survival import km_curve, km_summary
from evalkit.errors import EvalkitError

__all__ = ["THROUGHPUT_TABLES", "norm_did", "throughput_tables"]

THROUGHPUT_TABLES = (
    "durations",
    "km_summary",
    "km_curve",
    "norms",
    "norms_monthly",
    "norms_quarterly",
    "norm_definitions",
    "handovers",
    "out_of_sight",
    "switches",
    "switches_distribution",
    "caseload",
    "did",
)


def _did_panel(st: pd.DataFrame, starts: Mapping[str, pd.Period], freq: str) -> pd.DataFrame:
    """Municipality × period shares; a period is treated once the pilot has started.

    With quarters, a pilot municipality's quarter that contains its start but does not
    begin with it mixes before and during; it is left out (``transition``).
    """
    col = "start_month" if freq == "M" else "start_quarter"
    panel = (
        st.assign(_within=(st["status"] == "within").astype(float))
        .groupby(["municipality", col], as_index=False)
        .agg(share_within=("_within", "mean"), n=("_within", "size"))
    )
    periods = pd.PeriodIndex(panel[col].str.replace("-Q", "Q", regex=False), freq=freq)
    first_month = periods.asfreq("M", how="start")
    start = panel["municipality"].map(starts)
    treated, transition = [], []
    for p, m, s in zip(periods, first_month, start, strict=True):
        if s is None or pd.isna(s):
            treated.append(0)
            transition.append(False)
            continue
        treated.append(int(m >= s))
        transition.append(bool(m < s <= p.asfreq("M", how="end")))
    panel["time"] = panel[col]  # sortable labels: the estimator counts positions
    panel["treated"] = treated
    panel["transition"] = transition
    return panel


def norm_did(
    intervals: pd.DataFrame,
    norms: Sequence[Norm],
    *,
    pilot_starts: Mapping[str, date],
    comparison_units: Sequence[str],
    period: Literal["quarter", "month"] = "quarter",
) -> pd.DataFrame:
    """Pilot vs comparison DiD of the share within each norm.

    The panel is municipality × quarter (or month) of the interval's start, outcome the
    share of cases with a known status that met the norm; a municipality is treated
    from the period its pilot starts (a quarter that contains the start but begins
    before it is left out for that municipality). The estimator is two-way fixed
    effects (:func:`evalkit.did.estimate`, ``estimator="twfe"``, clustered by
    municipality; the suite picks few-treated inference when needed).

    Parameters
    ----------
    intervals : pandas.DataFrame
        Output of :func:`evalkit.analysis.intervals.case_intervals`.
    norms : sequence of Norm
        The norms.
    pilot_starts : mapping of str to date
        Pilot start per pilot municipality.
    comparison_units : sequence of str
        Comparison municipalities.
    period : {"quarter", "month"}, default "quarter"
        Time unit of the panel (months of one municipality are often too sparse).

    Returns
    -------
    pandas.DataFrame
        ``norm, outcome, period, n_cases, n_cells, n_cells_transition`` and the DiD
        columns (``estimate, std_error, conf_low, conf_high, p_value, n_obs, n_units,
        n_treated_clusters, inference, status, warnings``).
    """
    if period not in ("quarter", "month"):
        raise EvalkitError(f"period={period!r} is not allowed; use one of quarter, month")
    cols = ["norm", "outcome", "period", "n_cases", "n_cells", "n_cells_transition", *DID_COLUMNS]
    if not pilot_starts or not comparison_units:
        return pd.DataFrame(columns=cols)
    starts = {k: pd.Timestamp(v).to_period("M") for k, v in pilot_starts.items()}
    freq = "Q" if period == "quarter" else "M"
    rows = []
    for norm in norms:
        st = norm_status(intervals, norm)
        st = st.loc[st["group"].isin(["pilot", "comparison"]) & (st["status"] != "unknown")]
        if st.empty:
            continue
        panel = _did_panel(st, starts, freq)
        used = panel.loc[~panel["transition"]]
        rec = did_record(
            used,
            outcome="share_within",
            unit="municipality",
            time="time",
            treated="treated",
            estimator="twfe",
            cluster="municipality",
        )
        rec = within_range(rec, -1.0, 1.0)  # the effect on a share lies in [-1, 1]
        rows.append(
            {
                "norm": norm.name,
                "outcome": "share_within",
                "period": period,
                "n_cases": int(used["n"].sum()),
                "n_cells": len(used),
                "n_cells_transition": int(panel["transition"].sum()),
                **rec,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def throughput_tables(
    events: pd.DataFrame,
    *,
    reference_date: date,
    pilot_starts: Mapping[str, date],
    comparison_units: Sequence[str],
    norms: Mapping[str, Any] | None = None,
    out_of_sight_days: int = 90,
    caseload_benchmark: tuple[int, int] = (30, 35),
    liberation_day: LiberationDay = "always",
    intervals: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Compute every throughput table for the results bundle.

    Parameters
    ----------
    events : pandas.DataFrame
        Case events with the canonical columns of ``data_schemas/case_events.yaml``.
    reference_date : datetime.date
        The data's reference date: open cases are censored here; later events are
        left out (the pipeline counts them with
        :func:`evalkit.analysis.intervals.events_after`).
    pilot_starts : mapping of str to date
        Pilot start per pilot municipality (decides ``group`` and ``period``).
    comparison_units : sequence of str
        Comparison municipalities (for ``group`` and the DiD).
    norms : mapping, optional
        Norms overriding the defaults by name (see :func:`evalkit.analysis.norms.parse_norms`).
    out_of_sight_days : int, default 90
        Follow-up window for "out of sight".
    caseload_benchmark : (int, int), default (30, 35)
        Reasonable caseload range per coach.
    liberation_day : {"lustrum", "always", "never"}, default "always"
        When 5 May counts as a holiday for working-day norms.
    intervals : pandas.DataFrame, optional
        :func:`~evalkit.analysis.intervals.case_intervals` of these events with these
        arguments, when the caller has it (the bundle also counts the current norm
        breaches from it): then it is not computed again.

    Returns
    -------
    dict of str to pandas.DataFrame
        The tables named in :data:`THROUGHPUT_TABLES` (see the module docstring).
    """
    if not isinstance(reference_date, date):
        raise EvalkitError(f"reference_date must be a date, got {reference_date!r}")
    parsed = parse_norms(norms)
    events = prepare_events(events, reference_date)
    iv = intervals
    if iv is None:
        iv = case_intervals(
            events,
            reference_date=reference_date,
            pilot_starts=pilot_starts,
            comparison_units=comparison_units,
            liberation_day=liberation_day,
        )
    return {
        **_duration_tables(iv),
        **_norm_tables(iv, parsed),
        **_journey_tables(
            events, reference_date, pilot_starts, comparison_units, out_of_sight_days
        ),
        "caseload": caseload_summary(
            weekly_caseload(events, reference_date=reference_date), benchmark=caseload_benchmark
        ),
        "did": norm_did(iv, parsed, pilot_starts=pilot_starts, comparison_units=comparison_units),
    }


#: The breakdowns of the case tables: organisation type, pilot or comparison, before or during.
_DIMS = ("org_type", "group", "period")


def _duration_tables(iv: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Kaplan–Meier summaries and curves of the throughput times, and their compact table."""
    km = km_summary(iv, groupings=((), ("org_type",), ("period",), ("group", "period")), dims=_DIMS)
    compact = km.loc[(km["org_type"] == "all") & ((km["group"] != "all") | (km["period"] == "all"))]
    return {
        "km_summary": km,
        "durations": compact[
            ["interval", "group", "period", "n", "n_events", "n_censored", "median", "p80"]
        ].reset_index(drop=True),
        "km_curve": km_curve(
            iv, groupings=((), ("period",), ("org_type",), ("group",)), dims=_DIMS
        ),
    }


def _norm_tables(iv: pd.DataFrame, parsed: Sequence[Norm]) -> dict[str, pd.DataFrame]:
    """Shares within each norm (overall, by month, by quarter) and the norms' definitions."""
    monthly = norm_shares(
        iv, parsed, groupings=(("start_month",), ("group", "start_month")),
        dims=("group", "start_month"),
    )  # fmt: skip
    quarterly = norm_shares(
        iv, parsed, groupings=(("start_quarter",), ("group", "start_quarter")),
        dims=("group", "start_quarter"),
    )  # fmt: skip
    definitions = pd.DataFrame(
        [
            {
                "norm": n.name,
                "interval": n.interval,
                "limit": n.limit,
                "unit": n.unit,
                "where": json.dumps(dict(n.where), sort_keys=True, default=str),
                "label": n.label,
            }
            for n in parsed
        ],
        columns=["norm", "interval", "limit", "unit", "where", "label"],
    )
    return {
        "norms": norm_shares(
            iv, parsed, groupings=((), ("period",), ("group", "period"), ("org_type",)), dims=_DIMS
        ),
        "norms_monthly": monthly.rename(columns={"start_month": "month"}),
        "norms_quarterly": quarterly.rename(columns={"start_quarter": "quarter"}),
        "norm_definitions": definitions,
    }


def _journey_tables(
    events: pd.DataFrame,
    reference_date: date,
    pilot_starts: Mapping[str, date],
    comparison_units: Sequence[str],
    out_of_sight_days: int,
) -> dict[str, pd.DataFrame]:
    """Warm handovers, young people out of sight after their case, and organisation switches."""
    handovers = handover_summary(handover_times(events, reference_date=reference_date))
    ended = out_of_sight(events, reference_date=reference_date, days=out_of_sight_days)
    ended = assign_period(ended, "end_date", pilot_starts, comparison_units)
    oos = out_of_sight_summary(ended, by=((), ("end_event",), ("org_type",), ("group", "period")))
    oos.insert(0, "days", out_of_sight_days)
    persons = switches(
        events,
        reference_date=reference_date,
        pilot_starts=pilot_starts,
        comparison_units=comparison_units,
    )
    dist, summ = switches_summary(persons)
    return {
        "handovers": handovers,
        "out_of_sight": oos,
        "switches": summ,
        "switches_distribution": dist,
    }

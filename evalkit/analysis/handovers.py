"""Warm handovers, young people out of sight, and switches between organisations.

The journey of one young person runs across schools, Doorstroompunt, municipality,
debt help and work. Three measures follow it:

* handover time: for each ``warm_handover`` event, the days until the young person's
  first event at the receiving organisation (right-censored at the reference date);
* out of sight: a case ends (exit or dropout) and no event of that young person
  follows anywhere within N days; cases that ended less than N days before the
  reference date without a follow-up yet are *not yet known*;
* switches: the number of organisations involved per young person, and how often the
  organisation changes along the journey.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from evalkit.analysis.intervals import assign_period, prepare_events
from evalkit.analysis.survival import km_fit
from evalkit.errors import EvalkitError

__all__ = ["handover_times", "out_of_sight", "switches"]


def _lookup(keys: pd.Series, values: pd.Series) -> pd.Series:
    """``keys.map(values)`` that keeps datetimes typed even when ``values`` is empty."""
    return pd.Series(pd.to_datetime(values.reindex(keys.to_numpy()).to_numpy()), index=keys.index)


def _org_types(ev: pd.DataFrame) -> dict[str, str]:
    known = ev.dropna(subset=["organisation"]).drop_duplicates("organisation")
    return dict(zip(known["organisation"].astype(str), known["org_type"], strict=True))


def handover_times(events: pd.DataFrame, *, reference_date: date) -> pd.DataFrame:
    """Per warm-handover event, the time until the first event at the receiving organisation.

    Parameters
    ----------
    events : pandas.DataFrame
        Case events (canonical columns, incl. ``receiving_org``).
    reference_date : datetime.date
        Handovers without an arrival are censored here.

    Returns
    -------
    pandas.DataFrame
        One row per handover: ``event_id, case_id, person_id, municipality,
        handover_date, from_org, from_org_type, to_org, to_org_type, arrival_date,
        arrived`` (bool), ``days`` (to arrival or censoring).
    """
    ev = prepare_events(events, reference_date)
    ho = ev.loc[ev["event_type"] == "warm_handover"].copy()
    ho = ho.reset_index(drop=True)
    ho["_hid"] = np.arange(len(ho))
    cand = ho[["_hid", "person_id", "event_date", "receiving_org"]].merge(
        ev[["person_id", "organisation", "event_date"]].rename(
            columns={"event_date": "arr_date", "organisation": "receiving_org"}
        ),
        on=["person_id", "receiving_org"],
    )
    cand = cand.loc[cand["arr_date"] >= cand["event_date"]]
    first = cand.groupby("_hid")["arr_date"].min()
    types = _org_types(ev)
    out = pd.DataFrame(
        {
            "event_id": ho["event_id"],
            "case_id": ho["case_id"],
            "person_id": ho["person_id"],
            "municipality": ho["municipality"],
            "handover_date": ho["event_date"],
            "from_org": ho["organisation"],
            "from_org_type": ho["org_type"],
            "to_org": ho["receiving_org"],
            "to_org_type": ho["receiving_org"].astype("string").map(types),
            "arrival_date": _lookup(ho["_hid"], first),
        }
    )
    out["arrived"] = out["arrival_date"].notna()
    end = out["arrival_date"].fillna(pd.Timestamp(reference_date))
    out["days"] = (end - out["handover_date"]).dt.days.astype(float)
    out["to_org_type"] = out["to_org_type"].fillna("unknown")
    return out


def handover_summary(
    handovers: pd.DataFrame, *, by: Sequence[Sequence[str]] = ((), ("from_org_type", "to_org_type"))
) -> pd.DataFrame:
    """Summarise handover times (Kaplan–Meier, censoring the open ones).

    Parameters
    ----------
    handovers : pandas.DataFrame
        Output of :func:`handover_times` (optionally with ``group``/``period``).
    by : sequence of sequences of str
        Groupings; columns not in a grouping are ``"all"``.

    Returns
    -------
    pandas.DataFrame
        ``from_org_type, to_org_type, n, n_arrived, n_open, median, median_ci_low,
        median_ci_high, p80, p80_ci_low, p80_ci_high`` (days).
    """
    dims = ["from_org_type", "to_org_type"]
    rows = []
    for cols in by:
        groups = [((), handovers)] if not cols else handovers.groupby(list(cols), sort=True)
        for key, g in groups:
            key = key if isinstance(key, tuple) else (key,)
            lab = dict(zip(cols, key, strict=True))
            fit = km_fit(g["days"].to_numpy(), g["arrived"].to_numpy())
            rows.append(
                {
                    **{d: lab.get(d, "all") for d in dims},
                    "n": fit.pop("n"),
                    "n_arrived": fit.pop("n_events"),
                    "n_open": fit.pop("n_censored"),
                    **fit,
                }
            )
    cols_out = [
        *dims,
        "n",
        "n_arrived",
        "n_open",
        "median",
        "median_ci_low",
        "median_ci_high",
        "p80",
        "p80_ci_low",
        "p80_ci_high",
    ]
    return pd.DataFrame(rows, columns=cols_out)


def out_of_sight(events: pd.DataFrame, *, reference_date: date, days: int = 90) -> pd.DataFrame:
    """Classify every ended case: followed up, out of sight, or not yet known.

    Parameters
    ----------
    events : pandas.DataFrame
        Case events (canonical columns).
    reference_date : datetime.date
        The data's reference date.
    days : int, default 90
        The follow-up window N (protocol setting).

    Returns
    -------
    pandas.DataFrame
        One row per ended case: ``case_id, person_id, municipality, org_type, end_date,
        end_event, followup_date, status`` (``followed_up``, ``out_of_sight``,
        ``not_yet_known``).
    """
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise EvalkitError(f"out_of_sight days must be a whole number >= 1, got {days!r}")
    ev = prepare_events(events, reference_date)
    ref = pd.Timestamp(reference_date)
    ends = ev.loc[ev["event_type"].isin(["exit", "dropout"])].drop_duplicates("case_id")
    ends = ends[
        ["case_id", "person_id", "municipality", "org_type", "event_date", "event_type"]
    ].rename(columns={"event_date": "end_date", "event_type": "end_event"})
    cand = ends[["case_id", "person_id", "end_date"]].merge(
        ev[["person_id", "case_id", "event_date"]].rename(columns={"case_id": "f_case"}),
        on="person_id",
    )
    later = (cand["event_date"] > cand["end_date"]) | (
        (cand["event_date"] == cand["end_date"]) & (cand["f_case"] != cand["case_id"])
    )
    cand = cand.loc[later]
    first = cand.groupby("case_id")["event_date"].min()
    ends = ends.reset_index(drop=True)
    ends["followup_date"] = _lookup(ends["case_id"], first)
    window_end = ends["end_date"] + pd.Timedelta(days=days)
    followed = ends["followup_date"].notna() & (ends["followup_date"] <= window_end)
    ends["status"] = np.where(
        followed, "followed_up", np.where(window_end <= ref, "out_of_sight", "not_yet_known")
    )
    return ends


def out_of_sight_summary(
    ended: pd.DataFrame, *, by: Sequence[Sequence[str]] = ((), ("end_event",), ("org_type",))
) -> pd.DataFrame:
    """Count ended cases by follow-up status.

    Parameters
    ----------
    ended : pandas.DataFrame
        Output of :func:`out_of_sight` (optionally with ``group``/``period``).
    by : sequence of sequences of str
        Groupings over ``end_event``, ``org_type``, ``group``, ``period``.

    Returns
    -------
    pandas.DataFrame
        ``end_event, org_type, group, period, n, n_followed_up, n_out_of_sight,
        n_not_yet_known, n_persons_out_of_sight, share_out_of_sight``: ``n`` counts every
        ended case (``n = n_followed_up + n_out_of_sight + n_not_yet_known``); the share's
        denominator is the cases whose status is known (followed up or out of sight).
    """
    dims = ["end_event", "org_type", "group", "period"]
    rows = []
    for cols in by:
        groups = [((), ended)] if not cols else ended.groupby(list(cols), sort=True)
        for key, g in groups:
            key = key if isinstance(key, tuple) else (key,)
            lab = dict(zip(cols, key, strict=True))
            n_f = int((g["status"] == "followed_up").sum())
            n_o = int((g["status"] == "out_of_sight").sum())
            rows.append(
                {
                    **{d: lab.get(d, "all") for d in dims},
                    "n": len(g),
                    "n_followed_up": n_f,
                    "n_out_of_sight": n_o,
                    "n_not_yet_known": int((g["status"] == "not_yet_known").sum()),
                    "n_persons_out_of_sight": int(
                        g.loc[g["status"] == "out_of_sight", "person_id"].nunique()
                    ),
                    "share_out_of_sight": n_o / (n_f + n_o) if n_f + n_o else np.nan,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            *dims,
            "n",
            "n_followed_up",
            "n_out_of_sight",
            "n_not_yet_known",
            "n_persons_out_of_sight",
            "share_out_of_sight",
        ],
    )


def switches(
    events: pd.DataFrame,
    *,
    reference_date: date,
    pilot_starts: Mapping[str, date] | None = None,
    comparison_units: Sequence[str] = (),
) -> pd.DataFrame:
    """Organisations involved and organisation changes per young person.

    Parameters
    ----------
    events : pandas.DataFrame
        Case events (canonical columns).
    reference_date : datetime.date
        Later events are left out.
    pilot_starts : mapping of str to date, optional
        Pilot starts (the person's first event decides ``group`` and ``period``).
    comparison_units : sequence of str, default ()
        Comparison municipalities.

    Returns
    -------
    pandas.DataFrame
        One row per person: ``person_id, municipality, first_date, n_cases,
        n_organisations, n_switches, n_warm_handovers, group, period``.
    """
    ev = prepare_events(events, reference_date)
    ev = ev.sort_values(["person_id", "event_date"], kind="stable")
    org = ev["organisation"].astype("string")
    prev = org.groupby(ev["person_id"]).shift()
    changed = (org != prev) & prev.notna() & org.notna()
    ev = ev.assign(
        _changed=changed.fillna(False).astype(int),
        _ho=(ev["event_type"] == "warm_handover").astype(int),
    )
    g = ev.groupby("person_id", sort=True)
    out = pd.DataFrame(
        {
            "municipality": g["municipality"].first(),
            "first_date": g["event_date"].min(),
            "n_cases": g["case_id"].nunique(),
            "n_organisations": g["organisation"].nunique(),
            "n_switches": g["_changed"].sum(),
            "n_warm_handovers": g["_ho"].sum(),
        }
    ).reset_index()
    return assign_period(out, "first_date", pilot_starts or {}, comparison_units)


def switches_summary(persons: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Distribution and means of organisations per young person, per group and period.

    Parameters
    ----------
    persons : pandas.DataFrame
        Output of :func:`switches`.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        ``distribution``: ``group, period, n_organisations, n_persons`` (5 or more
        organisations pooled as 5); ``summary``: ``group, period, n, mean_organisations,
        median_organisations, mean_switches, share_3plus_organisations, n_warm_handovers``.
    """
    p = persons
    levels = [p.assign(group="all", period="all"), p.assign(period="all"), p]
    stacked = pd.concat(levels, ignore_index=True).drop_duplicates(
        subset=["person_id", "group", "period"]
    )
    dist = (
        stacked.assign(n_organisations=stacked["n_organisations"].clip(upper=5))
        .groupby(["group", "period", "n_organisations"])
        .size()
        .rename("n_persons")
        .reset_index()
    )
    g = stacked.groupby(["group", "period"])
    summ = pd.DataFrame(
        {
            "n": g.size(),
            "mean_organisations": g["n_organisations"].mean(),
            "median_organisations": g["n_organisations"].median(),
            "mean_switches": g["n_switches"].mean(),
            "share_3plus_organisations": g["n_organisations"].apply(
                lambda s: float((s >= 3).mean())
            ),
            "n_warm_handovers": g["n_warm_handovers"].sum(),
        }
    ).reset_index()
    return dist, summ

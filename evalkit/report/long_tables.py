"""Summaries of long bundle tables for the document; the full tables stay in the exports.

A reader of the evaluation wants the pattern, not 1,700 rows of coach-weeks or 25 rows of
norm × breakdown combinations. Each function here turns one long bundle table into a
short one; the document shows the summary and says which CSV file (and workbook sheet)
holds the full table.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

__all__ = ["NEEDS", "SUMMARIES", "SUMMARY_ROWS", "caseload_summary", "norms_summary"]


def caseload_summary(frame: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Caseload per organisation type over all weeks (the full table has one row per week).

    Parameters
    ----------
    frame : pandas.DataFrame
        The bundle's ``throughput.caseload`` (one row per organisation and week), with
        the cells the release hides set to missing: the summary is a function of what
        the release shows, so it cannot give a hidden cell away.
    threshold : int
        Disclosure threshold: caseloads of an organisation type that never counted this
        many caseload holders in one week would describe a handful of people; they are
        left out.

    Returns
    -------
    pandas.DataFrame
        ``org_type, n_organisations, n_weeks, mean_active`` (active cases per week, all
        organisations of the type together), ``mean_caseload`` (active cases per holder,
        pooled), ``max_caseload`` and ``share_above`` (share of holder-weeks above the
        benchmark).
    """
    data = frame.loc[frame.get("org_type", pd.Series("all", index=frame.index)) != "all"]
    if data.empty:
        data = frame
    rows = []
    for org_type, whole in data.groupby("org_type", sort=True):
        # hidden cells (``None`` in a plan-masked bundle) are left out, not taken as 0
        holders = pd.to_numeric(whole["n_holders"], errors="coerce")
        active = pd.to_numeric(whole["n_active"], errors="coerce")
        part = whole.loc[holders.notna() & active.notna()]
        holders, active = holders.loc[part.index], active.loc[part.index]
        above = pd.to_numeric(part.get("n_above"), errors="coerce")
        # pooled over organisations and weeks; shown only where the busiest week counted
        # at least `threshold` caseload holders of this type (else it describes a few people)
        busiest = holders.groupby(part["week"]).sum().max() if len(part) else 0
        shown = busiest >= threshold and holders.sum() > 0
        rows.append(
            {
                "org_type": org_type,
                "n_organisations": int(whole["organisation"].nunique()),
                "n_weeks": int(whole["week"].nunique()),
                "mean_active": float(active.groupby(part["week"]).sum().mean())
                if len(part)
                else None,
                "mean_caseload": float(active.sum() / holders.sum()) if shown else None,
                "max_caseload": _max(part.get("max_caseload")) if shown else None,
                "share_above": float(above.sum() / holders.sum())
                if shown and above is not None
                else None,
            }
        )
    return pd.DataFrame(rows)


def norms_summary(frame: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Share within each norm: overall, and for pilot and comparison before and during.

    Parameters
    ----------
    frame : pandas.DataFrame
        The bundle's ``throughput.norms`` (one row per norm and breakdown), with the
        cells the release hides set to missing.
    threshold : int
        Disclosure threshold: a share of fewer cases than this is not shown.

    Returns
    -------
    pandas.DataFrame
        One row per norm: ``norm, limit, unit, n, share_within`` and
        ``share_<group>_<period>`` for the pilot and comparison groups before and during.
    """
    data = frame.copy()
    for col in ("org_type", "group", "period"):
        if col not in data.columns:
            data[col] = "all"
    data = data.loc[data["org_type"] == "all"]
    rows = []
    for norm, part in data.groupby("norm", sort=False):
        total = part.loc[(part["group"] == "all") & (part["period"] == "all")]
        first = (total if not total.empty else part).iloc[0]
        row = {
            "norm": norm,
            "limit": first.get("limit"),
            "unit": first.get("unit"),
            "n": first.get("n"),
            "share_within": _share(first, threshold),
        }
        for group in ("pilot", "comparison"):
            for period in ("before", "during"):
                cell = part.loc[(part["group"] == group) & (part["period"] == period)]
                row[f"share_{group}_{period}"] = (
                    _share(cell.iloc[0], threshold) if not cell.empty else None
                )
        rows.append(row)
    out = pd.DataFrame(rows)
    # breakdowns the data do not have (no comparison group, no pilot period) are left out
    empty = [c for c in out.columns if c.startswith("share_") and out[c].isna().all()]
    return out.drop(columns=empty)


#: A table is summarised in the document when it has more rows than this.
SUMMARY_ROWS = 15
#: Columns a summary needs (an older or smaller bundle table without them is shown whole).
NEEDS: dict[str, tuple[str, ...]] = {
    "throughput_caseload": ("org_type", "organisation", "week", "n_holders", "n_active"),
    "throughput_norms": ("norm", "n", "share_within", "group", "period"),
}
#: Bundle table (``part_name``) -> its summary for the document.
SUMMARIES: dict[str, Callable[[pd.DataFrame, int], pd.DataFrame]] = {
    "throughput_caseload": caseload_summary,
    "throughput_norms": norms_summary,
}


def _share(row: pd.Series, threshold: int) -> float | None:
    n = pd.to_numeric(pd.Series([row.get("n")]), errors="coerce").iloc[0]
    share = pd.to_numeric(pd.Series([row.get("share_within")]), errors="coerce").iloc[0]
    if pd.isna(n) or pd.isna(share) or n < threshold:
        return None
    return float(share)


def _max(values: pd.Series | None) -> float | None:
    nums = pd.to_numeric(values, errors="coerce").dropna() if values is not None else None
    return None if nums is None or nums.empty else float(nums.max())

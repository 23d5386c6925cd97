"""Summaries of long bundle tables for the document; the full tables stay in the exports.

A reader of the evaluation wants the pattern, not 1,700 rows of coach-weeks or 25 rows of
norm × breakdown combinations. Each function here turns one long bundle table into a
short one; the document shows the summary and says which CSV file (and workbook sheet)
holds the full table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from evalkit.report.disclosure import SECONDARY

__all__ = [
    "NEEDS",
    "SHARE_BREAKDOWNS",
    "SUMMARIES",
    "SUMMARY_ROWS",
    "Summary",
    "caseload_summary",
    "norms_summary",
]


@dataclass(frozen=True)
class Summary:
    """A long table's summary, and the bundle cell each of its cells shows.

    Attributes
    ----------
    frame : pandas.DataFrame
        The summary, from what the release shows (hidden cells missing).
    origins : mapping
        ``(row, column)`` of the summary → ``(record position, column)`` of the bundle
        table, for cells that show one bundle cell; aggregates have none.
    held_back : frozenset
        ``(row, column)`` of cells the summary itself leaves out (a share of fewer
        cases than the threshold).
    """

    frame: pd.DataFrame
    origins: Mapping[tuple[int, str], tuple[int, str]] = field(default_factory=dict)
    held_back: frozenset[tuple[int, str]] = frozenset()

    def status(self, known: pd.DataFrame | None) -> pd.DataFrame | None:
        """Return each cell's disclosure status, that of the bundle cell it shows.

        ``known`` is the suppression plan's status of the bundle table (index: record
        positions). A hidden cell then reads as hidden (``·``), not as missing (``–``).
        None when the summary's cells show no single bundle cell (aggregates).
        """
        if not self.origins or known is None:
            return None
        status = pd.DataFrame("", index=self.frame.index, columns=self.frame.columns, dtype=object)
        for (row, col), (record, source) in self.origins.items():
            if record in known.index and source in known.columns:
                status.at[row, col] = known.at[record, source]
        for row, col in self.held_back:
            if not status.at[row, col]:
                status.at[row, col] = SECONDARY
        return status


def caseload_summary(frame: pd.DataFrame, threshold: int) -> Summary:
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
    Summary
        A frame ``org_type, n_organisations, n_weeks, mean_active`` (active cases per week, all
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
    return Summary(pd.DataFrame(rows))


def norms_summary(frame: pd.DataFrame, threshold: int) -> Summary:
    """Share within each norm: overall, and for pilot and comparison before and during.

    Parameters
    ----------
    frame : pandas.DataFrame
        The bundle's ``throughput.norms`` (one row per norm and breakdown; index: record
        positions), with the cells the release hides set to missing.
    threshold : int
        Disclosure threshold: a share of fewer cases than this is not shown.

    Returns
    -------
    Summary
        One row per norm: ``norm, limit, unit, n, share_within`` and
        ``share_<group>_<period>`` for the pilot and comparison groups before and during,
        with the bundle cell each count and share shows (so a hidden one reads as hidden).
    """
    data = frame.copy()
    for col in ("org_type", "group", "period"):
        if col not in data.columns:
            data[col] = "all"
    data = data.loc[data["org_type"] == "all"]
    rows: list[dict[str, object]] = []
    origins: dict[tuple[int, str], tuple[int, str]] = {}
    held_back: set[tuple[int, str]] = set()
    present: set[str] = set()
    for norm, part in data.groupby("norm", sort=False):
        total = part.loc[(part["group"] == "all") & (part["period"] == "all")]
        first = (total if not total.empty else part).iloc[0]
        r = len(rows)
        row: dict[str, object] = {"norm": norm, "limit": first.get("limit")}
        row |= {"unit": first.get("unit"), "n": first.get("n")}
        origins[(r, "n")] = (first.name, "n")
        cells = {"share_within": first}
        for group in ("pilot", "comparison"):
            for period in ("before", "during"):
                cell = part.loc[(part["group"] == group) & (part["period"] == period)]
                if not cell.empty:
                    cells[f"share_{group}_{period}"] = cell.iloc[0]
                    present.add(f"share_{group}_{period}")
        for col in ("share_within", *SHARE_BREAKDOWNS):
            record = cells.get(col)
            row[col], held = (None, False) if record is None else _share(record, threshold)
            if record is not None:
                origins[(r, col)] = (record.name, "share_within")
            if held:
                held_back.add((r, col))
        rows.append(row)
    out = pd.DataFrame(rows)
    # breakdowns the data do not have (no comparison group, no pilot period) are left out;
    # those it has stay, their hidden cells marked as hidden
    out = out.drop(columns=[c for c in SHARE_BREAKDOWNS if c not in present])
    kept = {(r, c): o for (r, c), o in origins.items() if c in out.columns}
    return Summary(out, kept, frozenset(k for k in held_back if k[1] in out.columns))


#: The breakdowns of the share within a norm the summary shows beside the overall share.
SHARE_BREAKDOWNS = tuple(
    f"share_{group}_{period}"
    for group in ("pilot", "comparison")
    for period in ("before", "during")
)

#: A table is summarised in the document when it has more rows than this.
SUMMARY_ROWS = 15
#: Columns a summary needs (an older or smaller bundle table without them is shown whole).
NEEDS: dict[str, tuple[str, ...]] = {
    "throughput_caseload": ("org_type", "organisation", "week", "n_holders", "n_active"),
    "throughput_norms": ("norm", "n", "share_within", "group", "period"),
}
#: Bundle table (``part_name``) -> its summary for the document.
SUMMARIES: dict[str, Callable[[pd.DataFrame, int], Summary]] = {
    "throughput_caseload": caseload_summary,
    "throughput_norms": norms_summary,
}


def _share(row: pd.Series, threshold: int) -> tuple[float | None, bool]:
    """Return the share to show, and whether a share that exists is held back.

    A share of fewer than ``threshold`` cases (or of a hidden count) is held back.
    """
    n = pd.to_numeric(pd.Series([row.get("n")]), errors="coerce").iloc[0]
    share = pd.to_numeric(pd.Series([row.get("share_within")]), errors="coerce").iloc[0]
    if pd.isna(share):
        return None, False
    if pd.isna(n) or n < threshold:
        return None, True
    return float(share), False


def _max(values: pd.Series | None) -> float | None:
    nums = pd.to_numeric(values, errors="coerce").dropna() if values is not None else None
    return None if nums is None or nums.empty else float(nums.max())

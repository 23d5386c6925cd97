"""The monitor's protected tables, declared once: frame and suppression arguments.

The monitor's sections show these tables and its "since the last monitor" figures are
read from them, so a number hidden in a table (primary or secondary) is hidden in the
comparison too. Each function returns the raw frame (codes, not labels: the sections
translate) and the keyword arguments for :func:`evalkit.report.disclosure.protect`
(used only without a plan); with the release's suppression plan every table here is
hidden as the plan decides, like every other table of the release.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from evalkit.report.disclosure import protect
from evalkit.report.plan import SuppressionPlan

__all__ = [
    "GROUPS",
    "SOURCES",
    "TableSpec",
    "breaches_spec",
    "norms_spec",
    "registrations_spec",
    "registrations_status",
    "status",
]

GROUPS = ("pilot", "comparison")
#: A table to protect: its frame (None when the bundle lacks it) and ``protect`` arguments.
TableSpec = tuple[pd.DataFrame | None, dict[str, Any]]


def _records(bundle: Mapping[str, Any], part: str, name: str) -> pd.DataFrame | None:
    node = bundle.get(part)
    records = node.get(name) if isinstance(node, Mapping) else None
    if not records or not isinstance(records, list):
        return None
    return pd.DataFrame.from_records(records)


def registrations_spec(bundle: Mapping[str, Any]) -> TableSpec:
    """Registrations and active cases per month: pilot and comparison side by side.

    Rows: newest month first, then a ``Σ`` row with the registrations' column totals.
    """
    frame = _records(bundle, "monitoring", "registrations")
    if frame is None or not {"period", "n_registrations", "n_active"} <= set(frame.columns):
        return None, {}
    if "group" not in frame.columns:
        frame = frame.assign(group="pilot")
    wide = frame.loc[frame["group"].isin(GROUPS)].pivot_table(
        index="period", columns="group", values=["n_registrations", "n_active"], aggfunc="sum"
    )
    wide.columns = [f"{value}_{group}" for value, group in wide.columns]
    wide = wide.sort_index(ascending=False).reset_index()
    columns = ["period"] + [
        f"{v}_{g}" for g in GROUPS for v in ("n_registrations", "n_active") if f"{v}_{g}" in wide
    ]
    # NaN, not None, in the Σ row's empty cells: the columns stay numeric (right-aligned)
    total: dict[str, Any] = {c: float("nan") for c in columns}
    total["period"] = "Σ"
    for g in GROUPS:
        if f"n_registrations_{g}" in wide:
            total[f"n_registrations_{g}"] = int(wide[f"n_registrations_{g}"].sum())
    wide = pd.concat([wide[columns], pd.DataFrame([total])], ignore_index=True)
    counts = [c for c in columns if c.startswith("n_")]
    return wide, {"count_columns": counts, "dependent": {}, "total_row": True}


def breaches_spec(bundle: Mapping[str, Any]) -> TableSpec:
    """Open cases past the norm per norm, group, organisation and coach, group total last.

    Coaches without a case past the norm are left out; the group's total row still
    counts their open cases.
    """
    frame = _records(bundle, "monitoring", "breaches")
    needed = {"norm", "group", "organisation", "coach", "n_open", "n_within", "n_past_norm"}
    if frame is None or not needed <= set(frame.columns):
        return None, {}
    total = frame["organisation"] == "all"
    frame = frame.loc[total | (frame["n_past_norm"] > 0)]  # index: record positions (the plan)
    return frame, {
        "count_columns": ["n_open", "n_within", "n_past_norm"],
        "row_totals": {"n_open": ["n_within", "n_past_norm"]},
        "total_row": True,
        "groups": ["norm", "group"],
    }


def norms_spec(bundle: Mapping[str, Any]) -> TableSpec:
    """Share within each norm per group, before and during the pilot (all org types)."""
    frame = _records(bundle, "throughput", "norms")
    needed = {"norm", "org_type", "group", "period", "n", "n_within", "n_breach", "n_unknown"}
    if frame is None or not needed <= set(frame.columns):
        return None, {}
    frame = frame.loc[
        (frame["org_type"] == "all") & frame["group"].isin(GROUPS) & (frame["n"] > 0)
    ].copy()
    ranks = {"group": {g: i for i, g in enumerate(GROUPS)}, "period": {"before": 0, "during": 1}}
    order = frame.assign(
        _g=frame["group"].map(ranks["group"]), _p=frame["period"].map(ranks["period"]).fillna(2)
    ).sort_values(["norm", "_g", "_p"], kind="stable")
    counts = ["n", "n_within", "n_breach", "n_unknown"]
    return order.drop(columns=["_g", "_p"]), {
        "count_columns": counts,
        "row_totals": {"n": ["n_within", "n_breach", "n_unknown"]},
        "dependent": {c: ["share_within"] for c in counts},
    }


#: Bundle table of each spec: the release's plan decides their cells.
SOURCES = {
    "breaches": "monitoring.breaches",
    "norms": "throughput.norms",
    "registrations": "monitoring.registrations",
}


def registrations_status(
    bundle: Mapping[str, Any], frame: pd.DataFrame, plan: SuppressionPlan
) -> pd.DataFrame:
    """Return the plan's status of each cell of :func:`registrations_spec`'s table.

    The table shows the bundle's records side by side (a month's row holds the pilot's
    and the comparison group's record) and each group's Σ, which the plan adds after
    the records in the order the groups first appear (``plan_rules``: ``total_by``).
    """
    out = pd.DataFrame("", index=frame.index, columns=frame.columns, dtype=object)
    records = _records(bundle, "monitoring", "registrations")
    known = plan.statuses.get(SOURCES["registrations"])
    if records is None or known is None:
        return out
    groups = (
        records["group"].astype(str).tolist() if "group" in records else ["pilot"] * len(records)
    )
    where = {(str(p), g): i for i, (p, g) in enumerate(zip(records["period"], groups, strict=True))}
    sigma = {g: len(records) + k for k, g in enumerate(dict.fromkeys(groups))}
    if "group" not in records:
        sigma = {"pilot": len(records)}
    for row, period in zip(frame.index, frame["period"], strict=True):
        for col in frame.columns:
            value, _, group = col.rpartition("_")  # n_registrations_pilot
            pos = sigma.get(group) if period == "Σ" else where.get((str(period), group))
            if pos is not None and pos in known.index and value in known.columns:
                out.at[row, col] = known.at[pos, value]
    return out


def status(
    spec: TableSpec, threshold: int, plan: SuppressionPlan | None = None, source: str | None = None
) -> pd.DataFrame | None:
    """Return the per-cell disclosure status of a table (``""`` where a value is shown).

    With the release's ``plan`` and the bundle table ``source`` the frame's rows come
    from, the plan decides (so the monitor hides what the evaluation hides); otherwise
    the table is protected on its own.
    """
    frame, kwargs = spec
    if frame is None or frame.empty:
        return None
    if plan is not None and source is not None:
        return plan.status(source, frame)
    return protect(frame, threshold, **kwargs).status

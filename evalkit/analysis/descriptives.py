"""Descriptive tables of the analysis frame: monthly trends per group and pre-period balance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalkit.analysis.measures import TREATED_GROUP, AnalysisFrame, pre_post_mask

__all__ = ["balance_table", "trend_table"]

#: Person characteristics compared in the balance table when present.
_BALANCE_COLUMNS = ("age", "sex", "school_type")


def trend_table(af: AnalysisFrame, outcomes: list[str]) -> list[dict[str, Any]]:
    """Monthly mean of each outcome for pilot and comparison units.

    Parameters
    ----------
    af : AnalysisFrame
        The analysis frame.
    outcomes : list of str
        Outcome ids (columns of ``af.data``).

    Returns
    -------
    list of dict
        Records ``outcome, month, group, mean, n`` sorted by outcome, group and month.
    """
    data = af.data
    group = np.where(data[TREATED_GROUP].to_numpy(), "pilot", "comparison")
    month = pd.to_datetime(data["month"]).dt.strftime("%Y-%m")
    rows: list[dict[str, Any]] = []
    for outcome in outcomes:
        stats = (
            pd.DataFrame({"group": group, "month": month, "y": data[outcome].to_numpy()})
            .dropna(subset=["y"])
            .groupby(["group", "month"], sort=True)["y"]
            .agg(["mean", "size"])
            .reset_index()
        )
        rows += [
            {
                "outcome": outcome,
                "month": r.month,
                "group": r.group,
                "mean": float(r.mean),
                "n": int(r.size),
            }
            for r in stats.itertuples(index=False)
        ]
    return rows


def _smd(a: pd.Series, b: pd.Series) -> float | None:
    """Standardised mean difference with the pooled standard deviation."""
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    if not np.isfinite(pooled) or pooled == 0:
        return None
    return float((a.mean() - b.mean()) / pooled)


def balance_table(af: AnalysisFrame, outcomes: list[str]) -> list[dict[str, Any]]:
    """Pre-period balance of person characteristics and outcomes, pilot vs comparison.

    Each person counts once (their last pre-period month) so that people with
    more months do not weigh more. Categorical columns enter as shares per level.

    Parameters
    ----------
    af : AnalysisFrame
        The analysis frame (its registered pre window, :attr:`Windows.pre_end`).
    outcomes : list of str
        Outcome ids to include.

    Returns
    -------
    list of dict
        Records ``variable, pilot_mean, comparison_mean, std_diff, n_pilot, n_comparison``.
    """
    pre, _ = pre_post_mask(af)
    people = af.data.loc[pre].drop_duplicates("person_id", keep="last")
    pilot = people[TREATED_GROUP].to_numpy()
    columns: dict[str, pd.Series] = {}
    for col in _BALANCE_COLUMNS:
        if col not in people:
            continue
        values = people[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            columns[col] = values.astype("float64")
        else:
            for level in sorted(values.dropna().astype(str).unique()):
                columns[f"{col}={level}"] = (
                    (values.astype(str) == level).astype("float64").where(values.notna())
                )
    for outcome in outcomes:
        columns[outcome] = people[outcome].astype("float64")
    rows = []
    for name, values in columns.items():
        a, b = values[pilot].dropna(), values[~pilot].dropna()
        rows.append(
            {
                "variable": name,
                "pilot_mean": None if a.empty else float(a.mean()),
                "comparison_mean": None if b.empty else float(b.mean()),
                "std_diff": _smd(a, b),
                "n_pilot": len(a),
                "n_comparison": len(b),
            }
        )
    return rows

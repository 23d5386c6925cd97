"""Cross-column rules named in a schema's ``rules:`` list, each a vectorised check.

Rule types: ``event_order`` (per case, the first date of one event type is not
after the first date of another), ``one_value_per_group`` (e.g. one person per
case), ``age`` (age from birth month and month within bounds, and consistent
with an age column) and ``exclusive`` (two yes/no columns not both yes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evalkit.ingest._failures import Failures
from evalkit.ingest._schema import Schema

__all__ = ["apply_rules"]


def apply_rules(data: pd.DataFrame, schema: Schema, cols: Any, failures: Failures) -> None:
    """Apply every cross-column rule of a schema whose columns are present.

    Parameters
    ----------
    data : pandas.DataFrame
        Typed columns (null where empty or invalid).
    schema : Schema
        The schema with its ``rules``.
    cols : Columns
        Displayable values per column (``cols.shown``).
    failures : Failures
        Where failures are recorded.
    """
    for rule in schema.rules:
        check = _CHECKS[rule["rule"]]
        check(data, rule, cols.shown, failures)


def _has(data: pd.DataFrame, *names: str) -> bool:
    return all(n in data for n in names)


def _event_order(
    data: pd.DataFrame, rule: Mapping[str, Any], shown: Mapping[str, pd.Series], failures: Failures
) -> None:
    case, kind, when = rule["group"], rule["type_column"], rule["date_column"]
    if not _has(data, case, kind, when):
        return
    ok = data[case].notna() & data[kind].notna() & data[when].notna()
    sub = data.loc[ok, [case, kind, when]]
    if sub.empty:
        return
    first = sub.groupby([kind, case], sort=False, observed=True)[when].min()
    types = set(sub[kind].unique())
    for pair in rule.get("before") or []:
        earlier, later = pair["first"], pair["then"]
        name = pair.get("name", rule.get("name", "event_order"))
        if earlier not in types or later not in types:
            continue
        first_earlier = first.xs(earlier, level=0)
        rows = sub[sub[kind] == later]
        limit = rows[case].map(first_earlier)
        bad = (rows[when] < limit).fillna(False).to_numpy(dtype=bool)
        if not bad.any():
            continue
        idx = rows.index[bad]
        pos = data.index.get_indexer(idx)
        dates = rows[when][bad].dt.strftime("%d-%m-%Y").to_numpy()
        limits = limit[bad].dt.strftime("%d-%m-%Y").to_numpy()
        cases = rows[case][bad].to_numpy()
        failures.add(
            pos,
            when,
            name,
            shown[when].iloc[pos].to_numpy(),
            [
                f"{later} on {d} is before the first {earlier} ({lim}) in case {c}"
                for d, lim, c in zip(dates, limits, cases, strict=True)
            ],
        )


def _one_value(
    data: pd.DataFrame, rule: Mapping[str, Any], shown: Mapping[str, pd.Series], failures: Failures
) -> None:
    group, column = rule["group"], rule["column"]
    if not _has(data, group, column):
        return
    ok = data[group].notna() & data[column].notna()
    counts = data.loc[ok].groupby(group, sort=False)[column].nunique()
    many = counts[counts > 1]
    if many.empty:
        return
    hit = (ok & data[group].isin(many.index)).to_numpy(dtype=bool)
    pos = np.flatnonzero(hit)
    groups = data[group].iloc[pos].to_numpy()
    failures.add(
        pos,
        column,
        rule.get("name", "one_value_per_group"),
        shown[column].iloc[pos].to_numpy(),
        [f"{group} {g} has {many[g]} different {column} values" for g in groups],
    )


def _age(
    data: pd.DataFrame, rule: Mapping[str, Any], shown: Mapping[str, pd.Series], failures: Failures
) -> None:
    birth, at = rule["birth"], rule["at"]
    if not _has(data, birth, at):
        return
    b, m = data[birth], data[at]
    months = (m.dt.year - b.dt.year) * 12 + (m.dt.month - b.dt.month)
    age = np.floor_divide(months, 12)
    low, high = rule.get("min"), rule.get("max")
    out = pd.Series(False, index=data.index)
    if low is not None:
        out |= (age < low).fillna(False)
    if high is not None:
        out |= (age > high).fillna(False)
    arr = out.to_numpy(dtype=bool)
    if arr.any():
        pos = np.flatnonzero(arr)
        ages = age.iloc[pos].astype(int).to_numpy()
        at_text = m.iloc[pos].dt.strftime("%m-%Y").to_numpy()
        failures.add(
            pos,
            birth,
            rule.get("name", "age"),
            shown[birth].iloc[pos].to_numpy(),
            [f"age {a} in {t} is outside {low}–{high}" for a, t in zip(ages, at_text, strict=True)],
        )
    column = rule.get("age_column")
    if column and column in data:
        given = data[column].astype("Float64")
        off = ((given - age).abs() > rule.get("tolerance", 1)).fillna(False).to_numpy(dtype=bool)
        if off.any():
            pos = np.flatnonzero(off)
            failures.add(
                pos,
                column,
                "age_consistent",
                shown[column].iloc[pos].to_numpy(),
                [
                    f"age {int(g)} does not match birth month and month (age {int(a)})"
                    for g, a in zip(given.iloc[pos], age.iloc[pos], strict=True)
                ],
            )


def _exclusive(
    data: pd.DataFrame, rule: Mapping[str, Any], shown: Mapping[str, pd.Series], failures: Failures
) -> None:
    first, second = rule["columns"]
    if not _has(data, first, second):
        return
    both = (
        (data[first].astype("boolean") & data[second].astype("boolean"))
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    if both.any():
        pos = np.flatnonzero(both)
        failures.add(
            pos,
            first,
            rule.get("name", "exclusive"),
            shown[first].iloc[pos].to_numpy(),
            f"{first} and {second} cannot both be yes",
        )


_CHECKS = {
    "event_order": _event_order,
    "one_value_per_group": _one_value,
    "age": _age,
    "exclusive": _exclusive,
}

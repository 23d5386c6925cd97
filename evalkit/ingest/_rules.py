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
from evalkit.ingest._typed import Shown

__all__ = ["ROW_RULES", "apply_rules", "check_rule", "row_rule_columns"]

# Rules that look at one row at a time; the others compare the rows of a group.
ROW_RULES = ("age", "exclusive")


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
        check_rule(data, rule, cols.shown, failures)


def check_rule(
    data: pd.DataFrame, rule: Mapping[str, Any], shown: Mapping[str, Shown], failures: Failures
) -> None:
    """Apply one cross-column rule (skipped when its columns are not all present).

    Parameters
    ----------
    data : pandas.DataFrame
        Typed columns.
    rule : mapping
        One entry of a schema's ``rules``.
    shown : mapping
        Displayable values per column, for failures.
    failures : Failures
        Where failures are recorded.
    """
    _CHECKS[rule["rule"]](data, rule, shown, failures)


def row_rule_columns(rule: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the columns a one-row rule (``ROW_RULES``) reads.

    Parameters
    ----------
    rule : mapping
        An ``age`` or ``exclusive`` rule.

    Returns
    -------
    tuple of str
        Its columns, in the rule's order.
    """
    if rule["rule"] == "age":
        extra = (rule["age_column"],) if rule.get("age_column") else ()
        return (rule["birth"], rule["at"], *extra)
    if rule["rule"] == "exclusive":
        return tuple(rule["columns"])
    raise ValueError(f"{rule['rule']!r} is not a one-row rule")


def _has(data: pd.DataFrame, *names: str) -> bool:
    return all(n in data for n in names)


def _event_order(
    data: pd.DataFrame, rule: Mapping[str, Any], shown: Mapping[str, Shown], failures: Failures
) -> None:
    case, kind, when = rule["group"], rule["type_column"], rule["date_column"]
    if not _has(data, case, kind, when):
        return
    ok = (data[case].notna() & data[kind].notna() & data[when].notna()).to_numpy(dtype=bool)
    if not ok.any():
        return
    pos_ok = np.flatnonzero(ok)
    case_codes, case_names = pd.factorize(data[case].iloc[pos_ok])
    kind_codes, kind_names = pd.factorize(data[kind].iloc[pos_ok])
    kind_index = {str(name): i for i, name in enumerate(kind_names)}
    days = data[when].iloc[pos_ok].to_numpy(dtype="datetime64[s]").astype(np.int64)
    never = np.iinfo(np.int64).max
    first: dict[str, np.ndarray] = {}

    def first_of(event: str) -> np.ndarray:
        if event not in first:
            sel = kind_codes == kind_index[event]
            earliest = np.full(len(case_names), never, dtype=np.int64)
            np.minimum.at(earliest, case_codes[sel], days[sel])
            first[event] = earliest
        return first[event]

    present = set(kind_index)
    for pair in rule.get("before") or []:
        earlier, later = pair["first"], pair["then"]
        if earlier not in present or later not in present:
            continue
        sel = np.flatnonzero(kind_codes == kind_index[later])
        limit = first_of(earlier)[case_codes[sel]]
        bad = (limit != never) & (days[sel] < limit)
        if not bad.any():
            continue
        hit = sel[bad]
        pos = pos_ok[hit]
        when_text = pd.to_datetime(days[hit], unit="s").strftime("%d-%m-%Y")
        limit_text = pd.to_datetime(limit[bad], unit="s").strftime("%d-%m-%Y")
        cases = np.asarray(case_names)[case_codes[hit]]
        failures.add(
            pos,
            when,
            pair.get("name", rule.get("name", "event_order")),
            shown[when].iloc[pos].to_numpy(),
            [
                f"{later} on {d} is before the first {earlier} ({lim}) in case {c}"
                for d, lim, c in zip(when_text, limit_text, cases, strict=True)
            ],
        )


def _one_value(
    data: pd.DataFrame, rule: Mapping[str, Any], shown: Mapping[str, Shown], failures: Failures
) -> None:
    group, column = rule["group"], rule["column"]
    if not _has(data, group, column):
        return
    ok = (data[group].notna() & data[column].notna()).to_numpy(dtype=bool)
    pos_ok = np.flatnonzero(ok)
    if len(pos_ok) == 0:
        return
    group_codes, group_names = pd.factorize(data[group].iloc[pos_ok])
    value_codes, _ = pd.factorize(data[column].iloc[pos_ok])
    pairs = np.unique(group_codes.astype(np.int64) * (int(value_codes.max()) + 1) + value_codes)
    distinct = np.bincount(pairs // (int(value_codes.max()) + 1), minlength=len(group_names))
    bad = distinct[group_codes] > 1
    if not bad.any():
        return
    pos = pos_ok[bad]
    names = np.asarray(group_names)[group_codes[bad]]
    counts = distinct[group_codes[bad]]
    failures.add(
        pos,
        column,
        rule.get("name", "one_value_per_group"),
        shown[column].iloc[pos].to_numpy(),
        [
            f"{group} {g} has {k} different {column} values"
            for g, k in zip(names, counts, strict=True)
        ],
    )


def _age(
    data: pd.DataFrame, rule: Mapping[str, Any], shown: Mapping[str, Shown], failures: Failures
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
    data: pd.DataFrame, rule: Mapping[str, Any], shown: Mapping[str, Shown], failures: Failures
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

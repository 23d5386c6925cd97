"""The built-in functions of the expression language, evaluated column-wise."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import ProtocolError
from evalkit.protocol._evaluator import _as_bool, _literal_month, month_index


def _series(value: Any, index: pd.Index) -> pd.Series:
    if isinstance(value, pd.Series):
        return value
    return pd.Series([value] * len(index), index=index)


def _num(value: Any, index: pd.Index) -> pd.Series:
    s = _series(value, index)
    if s.dtype == bool or isinstance(s.dtype, pd.BooleanDtype):
        return s.astype("Float64").astype("float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _turns_between(frame: pd.DataFrame, age: int, start: str, end: str) -> pd.Series:
    birthday = month_index(frame["birth_month"]) + 12 * age
    hit = (birthday >= _literal_month(start)) & (birthday <= _literal_month(end))
    return hit.astype("boolean").mask(birthday.isna())


def _days_between(frame: pd.DataFrame, first: str, second: str) -> pd.Series:
    events = frame[["case_id", "event_type"]].copy()
    events["_date"] = pd.to_datetime(frame["event_date"], errors="coerce")
    starts = events[events["event_type"] == first].groupby("case_id")["_date"].min()
    ends = events[events["event_type"] == second].groupby("case_id")["_date"].min()
    per_case = (ends - starts).dt.days.astype("float64")
    return frame["case_id"].map(per_case).astype("float64")


def _scale_mean(frame: pd.DataFrame, instrument: str) -> pd.Series:
    from evalkit.protocol._schemas import load_schemas

    items = load_schemas().get("questionnaire")
    columns = list((items.instruments if items else {}).get(instrument, ()))
    if not columns:
        raise ProtocolError(f"scale_mean: unknown questionnaire instrument {instrument!r}")
    present = [c for c in columns if c in frame.columns]
    if not present:
        raise ProtocolError(
            f"scale_mean({instrument!r}): none of its items are in the data "
            f"(expected {', '.join(columns)})"
        )
    return frame[present].apply(pd.to_numeric, errors="coerce").mean(axis=1, skipna=True)


def call(name: str, args: list[Any], frame: pd.DataFrame) -> Any:
    """Evaluate built-in function ``name`` on already-evaluated arguments."""
    index = frame.index
    if name == "turns_18_between":
        return _turns_between(frame, 18, args[0], args[1])
    if name == "turns_age_between":
        return _turns_between(frame, int(args[0]), args[1], args[2])
    if name == "age_at":
        diff = _literal_month(args[0]) - month_index(frame["birth_month"])
        return np.floor(diff / 12)
    if name == "months_since":
        return month_index(frame["month"]) - _literal_month(args[0])
    if name == "month_between":
        m = month_index(frame["month"])
        hit = (m >= _literal_month(args[0])) & (m <= _literal_month(args[1]))
        return hit.astype("boolean").mask(m.isna())
    if name == "between":
        x = _num(args[0], index)
        hit = (x >= args[1]) & (x <= args[2])
        return hit.astype("boolean").mask(x.isna())
    if name == "coalesce":
        out = _series(args[0], index)
        for value in args[1:]:
            out = out.where(out.notna(), _series(value, index))
        return out
    if name == "is_missing":
        return _series(args[0], index).isna().astype("boolean")
    if name == "not_missing":
        return _series(args[0], index).notna().astype("boolean")
    if name in ("any_of", "all_of", "count_of"):
        flags = pd.concat([_as_bool(a, index) for a in args], axis=1)
        if name == "count_of":
            return flags.fillna(False).astype(int).sum(axis=1).astype("float64")
        if name == "any_of":
            out = flags.iloc[:, 0]
            for col in range(1, flags.shape[1]):
                out = out | flags.iloc[:, col]
            return out
        out = flags.iloc[:, 0]
        for col in range(1, flags.shape[1]):
            out = out & flags.iloc[:, col]
        return out
    if name in ("sum_of", "mean_of"):
        values = pd.concat([_num(a, index) for a in args], axis=1)
        if name == "sum_of":
            return values.sum(axis=1, min_count=1)
        return values.mean(axis=1, skipna=True)
    if name == "scale_mean":
        return _scale_mean(frame, args[0])
    if name == "contains":
        text = _series(args[0], index).astype("string")
        return text.str.contains(str(args[1]), case=False, regex=False).astype("boolean")
    if name == "abs":
        return _num(args[0], index).abs()
    if name == "days_between":
        return _days_between(frame, args[0], args[1])
    raise ProtocolError(f"unknown function {name!r}")

"""Turn long panel data into the matrix that synthetic control and synthetic DiD work on.

Everything a user can get wrong (missing columns or outcomes, an unbalanced panel, a
treatment that switches off, no untreated unit) is reported here as an
:class:`~evalkit.errors.EstimationError` that names the column, unit or period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.did._data import COHORT_RULE, refuse_infinite
from evalkit.did._labels import ordered_periods
from evalkit.errors import EstimationError

__all__ = ["Panel", "panel_matrix", "plain"]


@dataclass(frozen=True)
class Panel:
    """A balanced panel as a matrix, with each unit's adoption period.

    Attributes
    ----------
    y : numpy.ndarray
        Outcomes, units × periods, units in sorted order, periods ascending.
    units : tuple
        Unit labels (row order).
    times : tuple
        Period labels (column order).
    adoption : numpy.ndarray
        Per unit the column index of its first treated period; ``-1`` never treated.
    """

    y: np.ndarray
    units: tuple[object, ...]
    times: tuple[object, ...]
    adoption: np.ndarray

    @property
    def controls(self) -> np.ndarray:
        """Row indices of the never-treated units."""
        return np.flatnonzero(self.adoption < 0)

    @property
    def cohorts(self) -> list[int]:
        """The distinct adoption column indices, ascending."""
        return sorted({int(a) for a in self.adoption if a >= 0})


def plain(value: object) -> object:
    """Return a numpy scalar as the Python value, so a message says 10, not np.int64(10)."""
    return value.item() if isinstance(value, np.generic) else value


def _need(data: pd.DataFrame, column: str | None, role: str) -> str:
    if column is None:
        raise EstimationError(f"synthetic estimators need {role}= (a column name)")
    if column not in data.columns:
        raise EstimationError(
            f"{role} column {column!r} not found; columns are: {', '.join(map(str, data.columns))}"
        )
    return column


def _treatment(data: pd.DataFrame, time: str, treated: str | None, cohort: str | None) -> pd.Series:
    """Return the 0/1 treatment per row from ``treated`` or from ``cohort``."""
    if (treated is None) == (cohort is None):
        raise EstimationError(
            "give exactly one of treated= (1 in the rows where a unit is treated) or cohort= "
            f"({COHORT_RULE})"
        )
    if treated is not None:
        raw = pd.to_numeric(data[_need(data, treated, "treated")], errors="coerce")
        bad = ~raw.isin([0, 1])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise EstimationError(
                f"treated column {treated!r} must be 0 or 1 in every row; row {row} has "
                f"{plain(data[treated].iloc[row])!r}"
            )
        return raw.astype(int)
    col = _need(data, cohort, "cohort")
    g = pd.to_numeric(data[col], errors="coerce").fillna(0)
    t = pd.to_numeric(data[time], errors="coerce")
    if t.isna().any() or pd.api.types.is_datetime64_any_dtype(data[time]):
        # periods as labels ("2024-10", dates): the cohort names one of them, as for TWFE
        g, t = _label_positions(data[col], data[time], col)
    late = (g > t.max()).to_numpy()
    if late.any() and not ((g > 0) & (g <= t.max())).any():
        # else the refusal would be "no unit is ever treated", which hides the cause
        raise EstimationError(
            f"cohort column {col!r}: every first treated period ({_whole(g[late].min())} or "
            f"later) lies after the last period of the time column ({_whole(t.max())}); no "
            "unit is treated within the panel"
        )
    return ((g > 0) & (t >= g)).astype(int)


def _whole(value: object) -> object:
    """Return 20.0 as 20 (a cohort read from a column with empty cells is float)."""
    number = plain(value)
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _sortable(values: pd.Series, role: str) -> np.ndarray:
    """Return ids or periods that sort: mixed numbers and text (3 and "u04") could not."""
    out = values.to_numpy()
    if values.dtype != object:
        return out
    kinds = {type(v) for v in values.dropna().map(plain)}
    if len(kinds) < 2 or kinds <= {int, float}:
        return out
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():  # "16" beside 15: all numbers
        return numbers.to_numpy()
    if role == "unit":  # ids are labels: 3 and "3" are one unit
        return values.astype(str).to_numpy()
    raise EstimationError(
        f"time column {values.name!r} mixes numbers and text "
        f"({', '.join(sorted(k.__name__ for k in kinds))}); give every period in one form"
    )


def _label_positions(cohort: pd.Series, time: pd.Series, col: str) -> tuple[pd.Series, pd.Series]:
    """Return cohort and period as positions 1, 2, ... of the sorted labels (0: never)."""
    if time.isna().any():
        raise EstimationError(f"time column {time.name!r} has missing values")
    position = {v: i + 1 for i, v in enumerate(ordered_periods(pd.unique(time), time.name))}
    never = cohort.isna() | cohort.astype(str).str.strip().isin(["", "0", "0.0", "nan", "NaT"])
    g = cohort.map(position).where(~never, 0)
    if g.isna().any():
        bad = cohort[g.isna()].iloc[0]
        raise EstimationError(
            f"cohort column {col!r}: value {plain(bad)!r} is not a period of the time column "
            f"{time.name!r}; {COHORT_RULE}"
        )
    return g.astype(int), time.map(position).astype(int)


def panel_matrix(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str | None,
    time: str | None,
    treated: str | None = None,
    cohort: str | None = None,
) -> Panel:
    """Check long data and return the balanced outcome matrix with adoption periods.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit and period.
    outcome, unit, time : str
        Outcome, unit id and period columns.
    treated : str, optional
        0/1 per row, 1 where the unit is treated (absorbing: once treated, always).
    cohort : str, optional
        First treated period per unit; 0 or empty is never treated.

    Returns
    -------
    Panel
        The matrix and adoption periods.

    Raises
    ------
    EstimationError
        Missing columns or outcomes, an unbalanced panel, a treatment that switches
        off, no never-treated unit, or a unit treated from the first period.
    """
    y_col = _need(data, outcome, "outcome")
    u_col, t_col = _need(data, unit, "unit"), _need(data, time, "time")
    d = _treatment(data, t_col, treated, cohort)
    frame = pd.DataFrame(
        {
            "u": _sortable(data[u_col], "unit"),
            "t": _sortable(data[t_col], "time"),
            "d": d.to_numpy(),
        }
    )
    frame["y"] = pd.to_numeric(data[y_col], errors="coerce").to_numpy()
    refuse_infinite(frame["y"], outcome)
    missing = frame["y"].isna()
    if missing.any():
        first = frame[missing].iloc[0]
        raise EstimationError(
            f"outcome {outcome!r} is missing or not numeric in {int(missing.sum())} row(s) "
            f"(first: unit {plain(first['u'])!r}, period {plain(first['t'])!r}); synthetic "
            "estimators need a complete, balanced panel"
        )
    if frame.duplicated(["u", "t"]).any():
        dup = frame[frame.duplicated(["u", "t"])].iloc[0]
        raise EstimationError(
            f"unit {plain(dup['u'])!r} has more than one row in period {plain(dup['t'])!r}; "
            "give one row per unit and period"
        )
    wide = frame.pivot(index="u", columns="t", values="y").sort_index()
    wide = wide[ordered_periods(wide.columns, t_col)]
    if wide.isna().to_numpy().any():
        row, col = np.argwhere(wide.isna().to_numpy())[0]
        raise EstimationError(
            f"the panel is not balanced: unit {plain(wide.index[row])!r} has no row for period "
            f"{plain(wide.columns[col])!r}; synthetic estimators need every unit in every period"
        )
    if np.ptp(wide.to_numpy(dtype=float)) == 0:
        # as TWFE refuses it: every weight fits, every placebo is 0, and p = 1 says nothing
        raise EstimationError(
            f"outcome {outcome!r} is {plain(frame['y'].iloc[0])!r} in every row; there is no "
            "variation and no effect to estimate"
        )
    dmat = frame.pivot(index="u", columns="t", values="d").loc[wide.index, wide.columns]
    return Panel(
        y=wide.to_numpy(dtype=float),
        units=tuple(wide.index),
        times=tuple(wide.columns),
        adoption=_adoption(dmat),
    )


def _adoption(dmat: pd.DataFrame) -> np.ndarray:
    w = dmat.to_numpy(dtype=int)
    ever = w.any(axis=1)
    first = np.where(ever, w.argmax(axis=1), -1)
    for i in np.flatnonzero(ever):
        if not w[i, first[i] :].all():
            raise EstimationError(
                f"unit {plain(dmat.index[i])!r} is treated from period "
                f"{plain(dmat.columns[first[i]])!r} but untreated later; synthetic estimators "
                "need a treatment that stays on"
            )
        if first[i] == 0:
            raise EstimationError(
                f"unit {plain(dmat.index[i])!r} is treated from the first period "
                f"{plain(dmat.columns[0])!r}; a synthetic comparison needs at least one period "
                "before treatment"
            )
    if not ever.any():
        raise EstimationError("no unit is ever treated; there is no effect to estimate")
    if ever.all():
        raise EstimationError(
            "every unit is treated at some point; synthetic estimators need never-treated "
            "comparison units"
        )
    return first

"""Check and prepare the input frame of the 2×2, TWFE, event-study and Bacon estimators.

Everything a user can get wrong is caught here and reported as an
:class:`~evalkit.errors.EstimationError` naming the column, unit or rows, or as
a note on the prepared data (dropped rows, one-unit cohorts) that every result
built from it carries. The estimators downstream work on the
prepared frame with fixed internal column names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from evalkit.did._labels import ordered_periods, sorted_codes
from evalkit.did.notes import Note, as_number
from evalkit.errors import EstimationError

__all__ = ["COHORT_RULE", "Prepared", "anticipate", "prepare"]

#: The cohort convention, quoted in every error about cohorts.
COHORT_RULE = (
    "the cohort is the first treated period of a unit, in the units of the time column; "
    "0 or empty means never treated"
)

# Internal column names of the prepared frame.
Y, UNIT, TIME, CLUSTER, D, GROUP, POST, COHORT = (
    "_y",
    "_unit",
    "_t",
    "_cl",
    "_d",
    "_grp",
    "_post",
    "_g",
)


@dataclass(frozen=True)
class Prepared:
    """A checked frame with internal columns and the facts the estimators need.

    Attributes
    ----------
    frame : pandas.DataFrame
        Columns ``_y``, ``_d`` (treatment 0/1), ``_cl`` (cluster code) and, when
        available, ``_unit`` (code), ``_t`` (integer period), ``_grp``, ``_post``,
        ``_g`` (cohort in period units, 0 = never treated), plus the covariates
        under names ``_x0, _x1, ...``.
    covariates : tuple of str
        Internal covariate names.
    has_unit, has_time, has_cohort, has_post : bool
        Which design columns exist.
    cluster_given : bool
        True when the user named a cluster column (otherwise clusters are units, or rows).
    time_labels : dict
        Period index → original time value (for event-time labels).
    notes : tuple of Note
        What preparing the data noted (dropped rows, one-unit cohorts), in order.
    """

    frame: pd.DataFrame
    covariates: tuple[str, ...]
    has_unit: bool
    has_time: bool
    has_cohort: bool
    has_post: bool
    cluster_given: bool
    time_labels: dict[int, object]
    notes: tuple[Note, ...] = ()

    @property
    def n_clusters(self) -> int:
        """Number of distinct clusters."""
        return int(self.frame[CLUSTER].nunique())

    @property
    def n_treated_clusters(self) -> int:
        """Clusters with at least one treated row (2×2: in the treated group)."""
        col = GROUP if self.has_post else D
        return int(self.frame.loc[self.frame[col] > 0, CLUSTER].nunique())

    @property
    def n_units(self) -> int:
        """Distinct units (rows when there is no unit column)."""
        return int(self.frame[UNIT].nunique()) if self.has_unit else len(self.frame)


def _require_columns(data: pd.DataFrame, names: Sequence[str | None]) -> None:
    missing = [n for n in names if n is not None and n not in data.columns]
    if missing:
        raise EstimationError(
            f"column(s) {', '.join(map(repr, missing))} not in the data; "
            f"available columns: {', '.join(map(str, data.columns))}"
        )


def _indicator(values: pd.Series, name: str) -> np.ndarray:
    """Return a 0/1 float array from a 0/1, boolean or yes/no column, or raise."""
    s = values
    if s.dtype == bool or str(s.dtype) == "boolean":
        return s.astype("float64").to_numpy()
    num = pd.to_numeric(s, errors="coerce")
    bad = ~num.isin([0, 1]) | num.isna()
    if bad.any():
        first = s[bad].iloc[0]
        raise EstimationError(
            f"column {name!r} must be a 0/1 indicator; row {s.index[bad][0]!r} has {first!r} "
            f"({int(bad.sum())} such row(s))"
        )
    return num.to_numpy(dtype="float64")


def _period_index(time: pd.Series) -> tuple[np.ndarray, dict[object, int], dict[int, object]]:
    """Map the time column to integer periods (numeric kept, otherwise sorted positions 1..T)."""
    # dates are labels counted in positions: to_numeric would turn them into nanoseconds,
    # and an event time of -1 into one nanosecond before the start
    dated = pd.api.types.is_datetime64_any_dtype(time) or pd.api.types.is_timedelta64_dtype(time)
    num = pd.to_numeric(time, errors="coerce") if not dated else pd.Series(np.nan, time.index)
    if num.notna().all() and np.allclose(num, np.round(num)):
        ints = np.round(num.to_numpy(dtype="float64")).astype("int64")
        mapping = {v: int(v) for v in np.unique(ints)}
        return ints, mapping, {int(v): int(v) for v in mapping}
    if time.isna().any():
        raise EstimationError(f"time column {time.name!r} has missing values")
    values = ordered_periods(pd.unique(time), time.name)
    mapping = {v: i + 1 for i, v in enumerate(values)}
    return time.map(mapping).to_numpy(dtype="int64"), mapping, {i: v for v, i in mapping.items()}


def _cohort_index(cohort: pd.Series, mapping: dict[object, int], numeric: bool) -> np.ndarray:
    """Map cohort values to periods; 0, empty or missing → 0 (never treated)."""
    out = np.zeros(len(cohort), dtype="int64")
    never = cohort.isna() | cohort.astype(str).str.strip().isin(["", "0", "0.0", "nan", "NaT"])
    rest = cohort[~never]
    if numeric:
        num = pd.to_numeric(rest, errors="coerce")
        bad = num.isna() | ~np.isclose(num.fillna(0), np.round(num.fillna(0)))
        vals = num
    else:
        vals = rest.map(mapping)
        bad = vals.isna()
    if bad.any():
        raise EstimationError(
            f"cohort column {cohort.name!r}: value {rest[bad].iloc[0]!r} (row "
            f"{rest.index[bad][0]!r}) is not a period of the time column; {COHORT_RULE}"
        )
    out[(~never).to_numpy()] = np.round(vals.to_numpy(dtype="float64")).astype("int64")
    return out


def _constant_within(
    codes: np.ndarray, values: np.ndarray, labels: pd.Series, what: str, rule: str
) -> None:
    """Raise naming the first unit whose ``values`` are not constant."""
    frame = pd.DataFrame({"k": codes, "v": values})
    n = frame.groupby("k", sort=False)["v"].nunique(dropna=False)
    bad = n[n > 1]
    if len(bad):
        first = bad.index[0]
        label = labels.iloc[int(np.flatnonzero(codes == first)[0])]
        raise EstimationError(
            f"{what} changes within unit {label!r} ({len(bad)} unit(s) affected); {rule}"
        )


def prepare(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str | None,
    time: str | None,
    cohort: str | None,
    treated: str | None,
    post: str | None,
    covariates: Sequence[str],
    cluster: str | None,
) -> Prepared:
    """Check the design columns and return the prepared frame.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data: one row per unit and period (or per respondent for repeated cross-sections).
    outcome, unit, time, cohort, treated, post, cluster : str or None
        Column names (see :func:`evalkit.did.estimate`).
    covariates : sequence of str
        Covariate columns.

    Returns
    -------
    Prepared
        The checked frame, with its notes (rows dropped for a missing outcome or
        covariate, cohorts of a single unit).

    Raises
    ------
    EstimationError
        Missing columns, duplicate unit-time rows, timing that changes within a
        unit, non-indicator treatment columns, no usable rows.
    """
    if not isinstance(data, pd.DataFrame):
        raise EstimationError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if (cohort is None) == (treated is None):
        raise EstimationError(
            "give exactly one of cohort= (first treated period per unit; 0 or empty = never "
            "treated) or treated= (treatment indicator per row, or group indicator with post=)"
        )
    if post is not None and treated is None:
        raise EstimationError("post= needs treated= (the group indicator)")
    covariates = tuple(covariates)
    _require_columns(data, [outcome, unit, time, cohort, treated, post, cluster, *covariates])
    out, src, notes = _numeric_rows(data, outcome, covariates)
    cov_names = tuple(f"_x{i}" for i in range(len(covariates)))
    for name, column in zip(covariates, cov_names, strict=True):
        if out[column].nunique() < 2:  # the regression would drop it without a word
            raise EstimationError(
                f"covariate {name!r} takes one value in every row used, so it cannot adjust "
                "the comparison; remove it from the covariates"
            )
    unit_labels, time_labels, mapping = _unit_and_time(out, src, unit, time)
    has_unit = unit is not None
    if cohort is not None:
        if time is None:
            raise EstimationError(f"cohort= needs time= ({COHORT_RULE})")
        notes.extend(_cohort_treatment(out, src[cohort], cohort, mapping, time_labels, unit_labels))
    elif post is not None and treated is not None:
        _group_treatment(out, src, treated, post, unit_labels if has_unit else None)
    elif treated is not None:
        out[D] = _indicator(src[treated], treated)
        if has_unit and time is not None:
            notes.extend(_derive_cohort(out, unit_labels, time_labels))
    if cluster is not None:
        if src[cluster].isna().any():
            raise EstimationError(f"cluster column {cluster!r} has missing values")
        out[CLUSTER] = sorted_codes(src[cluster])
    else:
        out[CLUSTER] = out[UNIT] if has_unit else np.arange(len(out))
    return Prepared(
        frame=out.reset_index(drop=True),
        covariates=cov_names,
        has_unit=has_unit,
        has_time=time is not None,
        has_cohort=COHORT in out.columns,
        has_post=post is not None,
        cluster_given=cluster is not None,
        time_labels=time_labels,
        notes=tuple(notes),
    )


def refuse_infinite(values: pd.Series, column: str) -> None:
    """Raise naming the first row of ``values`` that is infinite.

    Parameters
    ----------
    values : pandas.Series
        A numeric column.
    column : str
        Its name, for the message.

    Raises
    ------
    EstimationError
        When a value is +inf or -inf (an estimator would drop it silently or return NaN).
    """
    inf = values.isin([np.inf, -np.inf])
    if inf.any():
        raise EstimationError(
            f"column {column!r} is infinite in {int(inf.sum())} row(s) (first: row "
            f"{values.index[inf][0]!r}); give finite values or leave them empty"
        )


def _numeric_rows(
    data: pd.DataFrame, outcome: str, covariates: tuple[str, ...]
) -> tuple[pd.DataFrame, pd.DataFrame, list[Note]]:
    """Keep the rows with a numeric outcome and covariates; say how many were dropped.

    Returns the new frame (outcome and ``_x0``, ``_x1``, … covariates), the kept source
    rows and the notes on dropped rows.
    """
    used = [c for c in dict.fromkeys([outcome, *covariates]) if c is not None]
    numeric = {c: pd.to_numeric(data[c], errors="coerce") for c in used}
    for c in used:
        nonnum = numeric[c].isna() & data[c].notna()
        if nonnum.any():
            raise EstimationError(
                f"column {c!r} must be numeric; row {data.index[nonnum][0]!r} has "
                f"{data.loc[nonnum, c].iloc[0]!r}"
            )
        refuse_infinite(numeric[c], c)
    missing_y = numeric[outcome].isna()
    missing_x = pd.Series(False, index=data.index)
    for c in covariates:
        missing_x |= numeric[c].isna()
    keep = ~(missing_y | missing_x)
    notes: list[Note] = []
    if int(missing_y.sum()):
        values = {
            "n": int(missing_y.sum()),
            "outcome": outcome,
            "kept": int(keep.sum()),
            "total": len(data),
        }
        notes.append(Note("dropped_missing_outcome", values))
    if int((missing_x & ~missing_y).sum()):
        notes.append(Note("dropped_missing_covariate", {"n": int((missing_x & ~missing_y).sum())}))
    src = data.loc[keep]
    if src.empty:
        raise EstimationError(f"no rows left after dropping missing values of {outcome!r}")
    out = pd.DataFrame(index=src.index)
    out[Y] = numeric[outcome][keep].to_numpy(dtype="float64")
    for i, c in enumerate(covariates):
        out[f"_x{i}"] = numeric[c][keep].to_numpy(dtype="float64")
    return out, src, notes


def _unit_and_time(
    out: pd.DataFrame, src: pd.DataFrame, unit: str | None, time: str | None
) -> tuple[pd.Series, dict[int, object], dict[object, int]]:
    """Add unit and period codes; refuse missing ids and duplicate unit-time rows.

    Returns the unit labels, the period labels and the period mapping (empty without time).
    """
    unit_labels = src[unit] if unit is not None else pd.Series(src.index, index=src.index)
    if unit is not None:
        if src[unit].isna().any():
            raise EstimationError(f"unit column {unit!r} has missing ids")
        out[UNIT] = sorted_codes(src[unit])
    time_labels: dict[int, object] = {}
    mapping: dict[object, int] = {}
    if time is not None:
        periods, mapping, time_labels = _period_index(src[time])
        out[TIME] = periods
        if unit is not None:
            dup = src.duplicated([unit, time], keep=False)
            if dup.any():
                pairs = src.loc[dup, [unit, time]].drop_duplicates().head(3)
                named = ", ".join(f"({u!r}, {t!r})" for u, t in pairs.itertuples(index=False))
                raise EstimationError(
                    f"{int(dup.sum())} duplicate unit-time rows for ({unit!r}, {time!r}), e.g. "
                    f"{named}; each unit may appear once per period"
                )
    return unit_labels, time_labels, mapping


def _cohort_treatment(
    out: pd.DataFrame,
    cohorts: pd.Series,
    cohort: str,
    mapping: dict[object, int],
    time_labels: dict[int, object],
    unit_labels: pd.Series,
) -> list[Note]:
    """Add the cohort and the treatment it implies; return the notes on one-unit cohorts."""
    numeric_time = all(isinstance(k, (int, np.integer)) for k in time_labels)
    g = _cohort_index(
        cohorts, mapping, numeric_time and all(time_labels[k] == k for k in time_labels)
    )
    has_unit = UNIT in out.columns
    if has_unit:
        _constant_within(out[UNIT].to_numpy(), g, unit_labels, f"cohort {cohort!r}", COHORT_RULE)
    out[COHORT] = g
    out[D] = ((g > 0) & (out[TIME].to_numpy() >= g)).astype("float64")
    return _small_cohorts(out, has_unit, time_labels)


def _group_treatment(
    out: pd.DataFrame,
    src: pd.DataFrame,
    treated: str,
    post: str,
    unit_labels: pd.Series | None,
) -> None:
    """Add the group and post indicators of a 2×2 design and their product."""
    grp = _indicator(src[treated], treated)
    if unit_labels is not None:
        _constant_within(
            out[UNIT].to_numpy(),
            grp,
            unit_labels,
            f"group {treated!r}",
            "with post=, treated= is the group indicator and must be constant within a unit",
        )
    out[GROUP] = grp
    out[POST] = _indicator(src[post], post)
    out[D] = grp * out[POST].to_numpy()


def _derive_cohort(
    out: pd.DataFrame, unit_labels: pd.Series, time_labels: dict[int, object]
) -> list[Note]:
    """Add ``_g`` when the treatment indicator is absorbing (stays on once on) in every unit.

    Returns the note on one-unit cohorts, if any.
    """
    t = out[TIME].to_numpy()
    first = (
        out.assign(_tt=np.where(out[D] > 0, t, np.iinfo(np.int64).max))
        .groupby(UNIT)["_tt"]
        .transform("min")
        .to_numpy()
    )
    g = np.where(first == np.iinfo(np.int64).max, 0, first)
    if np.array_equal(((g > 0) & (t >= g)).astype("float64"), out[D].to_numpy()):
        out[COHORT] = g
        return _small_cohorts(out, True, time_labels)
    return []


def _small_cohorts(out: pd.DataFrame, has_unit: bool, time_labels: dict[int, object]) -> list[Note]:
    """Return the note on cohorts of a single unit (or row), or nothing.

    A cohort is named by its value in the caller's time column (``2024-Q3``), not by
    the position the estimator gave it.
    """
    key = UNIT if has_unit else None
    per = out.loc[out[COHORT] > 0]
    if per.empty:
        return []
    counts = per.groupby(COHORT)[key].nunique() if key else per.groupby(COHORT).size()
    small = counts[counts < 2]
    if len(small):
        named = [_time_value(time_labels.get(int(c), int(c))) for c in small.index]
        return [Note("single_unit_cohorts", {"cohorts": named})]
    return []


def _time_value(value: object) -> int | float | str:
    """Return a time value as a note shows it: a whole number as int, a label as text."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return as_number(value)
    return str(value)


def anticipate(prep: Prepared, periods: int) -> Prepared:
    """Move every cohort ``periods`` earlier: units may react before their first treated period.

    The treatment indicator follows the moved cohorts, so the anticipation
    periods count as treated (neither as comparison nor as reference period).

    Raises
    ------
    EstimationError
        When there are no cohorts (a ``treated=`` indicator that switches off).
    """
    if not periods or prep.has_post:
        # A 2×2 takes its group × post indicator as given: the caller leaves the
        # anticipation periods out of its pre-period rows.
        return prep
    if not prep.has_cohort:
        raise EstimationError(
            f"anticipation={periods} needs cohort= (or a treated= indicator that stays on once "
            "on); with treated= and post=, leave the anticipation periods out of the rows"
        )
    out = prep.frame.copy()
    g = out[COHORT].to_numpy()
    first = int(out[TIME].min())
    moved = np.where(g > 0, np.maximum(g - periods, first), 0)
    out[COHORT] = moved
    out[D] = ((moved > 0) & (out[TIME].to_numpy() >= moved)).astype("float64")
    return replace(prep, frame=out)

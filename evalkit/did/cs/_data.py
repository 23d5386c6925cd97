"""Check and reshape the input of Callaway–Sant'Anna into arrays.

Cohort convention (used in every message): the cohort of a unit is the first
period in which it is treated; 0 or empty means never treated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evalkit.did._data import refuse_infinite
from evalkit.did.cs._arrays import as_float, distinct, factorize, index_dtype, show, slices
from evalkit.did.notes import Note, as_number
from evalkit.errors import EstimationError

__all__ = ["COHORT_RULE", "CsData", "prepare"]

COHORT_RULE = (
    "the cohort is the first period in which a unit is treated; 0 or empty means never treated"
)


@dataclass(frozen=True)
class CsData:
    """Arrays for the estimator.

    Attributes
    ----------
    layout : str
        ``"panel"`` (balanced, wide arrays) or ``"long"`` (repeated cross-sections
        or an unbalanced panel, one entry per row).
    periods : ndarray
        Sorted distinct periods.
    unit_cohort : ndarray
        Cohort of each unit (``0`` never treated), float.
    n_units : int
        Units (panel) or rows (repeated cross-sections) that carry the influence function.
    n_obs : int
        Rows used.
    y : ndarray
        Panel: units × periods outcomes. Long: outcome per row.
    x : ndarray
        Panel: units × periods × (1 + covariates). Long: rows × (1 + covariates).
    row_period : ndarray or None
        Long layout: index into ``periods`` of each row.
    row_unit : ndarray or None
        Long layout: index of the unit (or row) each row belongs to.
    unit_cluster : ndarray or None
        Cluster index of each unit.
    unit_ids : ndarray or None
        The id of each unit as the data wrote it (None for repeated cross-sections).
    """

    layout: str
    periods: NDArray[Any]
    unit_cohort: NDArray[np.float64]
    n_units: int
    n_obs: int
    y: NDArray[np.float64]
    x: NDArray[np.float64]
    row_period: NDArray[np.int64] | None
    row_unit: NDArray[np.int64] | None
    unit_cluster: NDArray[np.int64] | None
    unit_ids: NDArray[Any] | None = None

    def with_units_as_clusters(self) -> CsData:
        """Return the data with each unit its own cluster, numbered in the order of its id.

        The numbering is the one a cluster column equal to the unit column gives
        (sorted ids), so permuting cohorts over units gives the same draws either way.
        """
        if self.unit_ids is None:
            raise EstimationError("units as clusters need a unit column (panel data)")
        order = pd.factorize(self.unit_ids, sort=True)[0].astype(np.int64)
        return replace(self, unit_cluster=order)


def _need_columns(data: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise EstimationError(
            f"column(s) {', '.join(repr(c) for c in missing)} not found in the data; "
            f"available: {', '.join(map(str, data.columns))}"
        )


def _cohorts(raw: pd.Series, cohort: str) -> NDArray[Any]:
    """Cohort of every row: an integer column as it is, otherwise floats with 0 for empty."""
    dtype = raw.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        values: NDArray[Any] = raw.to_numpy()  # read only: no copy of a whole column
    else:
        values = as_float(raw)
        missing = np.isnan(values)
        if missing.any() and not pd.api.types.is_numeric_dtype(raw):
            text = raw.astype(str).str.strip()
            bad = missing & raw.notna().to_numpy() & (text != "").to_numpy()
            if bad.any():
                i = np.flatnonzero(bad)[0]
                raise EstimationError(
                    f"column {cohort!r}: value {raw.iloc[i]!r} (row {raw.index[i]}) is not a "
                    f"period; {COHORT_RULE}"
                )
        values[missing] = 0.0
    if values.size and values.min() < 0:
        row = raw.index[np.flatnonzero(values < 0)[0]]
        raise EstimationError(f"column {cohort!r}: negative cohort at row {row}; {COHORT_RULE}")
    return values


def _in_window(g: NDArray[Any], last: Any) -> NDArray[np.float64]:
    """Cohorts as floats; treated after the last period counts as never treated here."""
    out = g.astype(np.float64)
    out[out > last] = 0.0
    return out


def prepare(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str | None,
    time: str,
    cohort: str,
    covariates: tuple[str, ...],
    cluster: str | None,
    panel: bool,
    allow_unbalanced_panel: bool,
    anticipation: int,
) -> tuple[CsData, list[Note]]:
    """Validate the data and build the arrays.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per unit and period (panel) or per observation.
    outcome, unit, time, cohort : str
        Column names (``unit`` may be None for repeated cross-sections).
    covariates : tuple of str
        Covariate columns (numeric).
    cluster : str or None
        Cluster column (constant within unit).
    panel : bool
        Whether rows of the same unit are linked over time.
    allow_unbalanced_panel : bool
        Keep units not observed in every period (estimated as repeated
        cross-sections with unit-level influence functions).
    anticipation : int
        Periods of anticipation.

    Returns
    -------
    CsData
        The arrays.
    list of Note
        What preparing the data noted (dropped rows and units, one-unit cohorts).
    """
    unit = _checked_input(data, outcome, unit, time, cohort, covariates, cluster, panel)
    notes: list[Note] = []
    rows = _read_rows(data, outcome, time, cohort, covariates, notes)
    periods = np.sort(distinct(rows.tt))
    if periods.size < 2:
        raise EstimationError(f"column {time!r}: at least two periods are needed")
    crow = _cluster_rows(data, cluster, rows.keep)
    codes, uniq, unit_g = _units(data, unit, rows, periods[-1], cohort)
    t_idx = np.empty(rows.y.size, dtype=index_dtype(periods.size))
    for s in slices(rows.y.size):
        t_idx[s] = np.searchsorted(periods, rows.tt[s])
    y, xcov = rows.y, rows.xcov
    del rows  # the periods and cohorts of the rows are no longer needed
    names = (unit, time)
    left_out, unbalanced = _units_left_out(
        codes, t_idx, unit_g, periods, uniq, names, panel, allow_unbalanced_panel, notes
    )
    if left_out is not None:
        kept = ~left_out[codes]
        y, t_idx, codes = y[kept], t_idx[kept], codes[kept]
        xcov = xcov[kept] if xcov is not None else None
        crow = crow[kept] if crow is not None else None
        kept_units = ~left_out
        codes = (np.cumsum(kept_units) - 1).astype(codes.dtype)[codes]
        unit_g = unit_g[kept_units]
        uniq = uniq[kept_units] if uniq is not None else None
        unbalanced = unbalanced[kept_units] if unbalanced is not None else None
    n_u = unit_g.size
    if n_u == 0 or y.size == 0:
        raise EstimationError("no units left after dropping incomplete or early-treated units")
    clus_codes = _unit_clusters(crow, codes, n_u, cluster, uniq)
    _note_small(unit_g, notes)
    cells = _Cells(periods, unit_g, y, xcov, codes, t_idx, clus_codes, uniq)
    balanced = unbalanced is not None and not unbalanced.any()
    return (_wide(cells) if balanced else _long(cells)), notes


@dataclass(frozen=True)
class _Rows:
    """The rows with an outcome and covariates: their values, and which rows of the data."""

    y: NDArray[np.float64]
    tt: NDArray[Any]
    g: NDArray[Any]
    xcov: NDArray[np.float64] | None
    keep: NDArray[np.bool_] | None  # None: every row of the data


@dataclass(frozen=True)
class _Cells:
    """The kept rows as codes, ready to be laid out as a panel or as long arrays."""

    periods: NDArray[Any]
    unit_g: NDArray[np.float64]
    y: NDArray[np.float64]
    xcov: NDArray[np.float64] | None
    codes: NDArray[np.signedinteger[Any]]
    t_idx: NDArray[np.signedinteger[Any]]
    unit_cluster: NDArray[np.int64] | None
    unit_ids: Any


def _checked_input(
    data: Any,
    outcome: str,
    unit: str | None,
    time: str,
    cohort: str,
    covariates: tuple[str, ...],
    cluster: str | None,
    panel: bool,
) -> str | None:
    """Refuse what cannot be estimated; return the unit column (None: every row its own unit)."""
    if not isinstance(data, pd.DataFrame):
        raise EstimationError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if panel and unit is None:
        raise EstimationError("a panel needs the unit column; pass unit=... or panel=False")
    if not panel:
        unit = None  # repeated cross-sections: every row is its own unit
    cols = [outcome, time, cohort, *covariates]
    cols += [c for c in (unit, cluster) if c is not None]
    _need_columns(data, cols)
    for c in covariates:
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise EstimationError(
                f"covariate {c!r} is not numeric; encode categories as 0/1 columns first"
            )
    return unit


def _read_rows(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    cohort: str,
    covariates: tuple[str, ...],
    notes: list[Note],
) -> _Rows:
    """Read outcome, period, cohort and covariates; leave out (and note) rows missing one."""
    y = as_float(data[outcome], copy=False)  # read only
    for c, v in ((outcome, y), *((c, as_float(data[c], copy=False)) for c in covariates)):
        refuse_infinite(pd.Series(v, index=data.index), c)
    if np.isnan(y).all():
        raise EstimationError(f"column {outcome!r}: no numeric outcome values")
    tcol = data[time]
    if tcol.dtype.kind in "mM":  # as numbers they are nanoseconds: event times of 10**15
        raise EstimationError(
            f"column {time!r} holds dates; callaway_santanna counts periods in numbers "
            "(1, 2, ... or 202401): number the periods and give the cohort in the same numbers"
        )
    if isinstance(tcol.dtype, np.dtype) and tcol.dtype.kind in "iu":
        tt: NDArray[Any] = tcol.to_numpy()  # integer periods: no conversion needed
    else:
        tt = as_float(tcol, copy=False)  # read only
        if np.isnan(tt).any():
            row = data.index[np.flatnonzero(np.isnan(tt))[0]]
            raise EstimationError(f"column {time!r}: missing or non-numeric period at row {row}")
    g = _cohorts(data[cohort], cohort)
    xcov = np.column_stack([as_float(data[c]) for c in covariates]) if covariates else None
    drop = np.isnan(y)
    if xcov is not None:
        drop |= np.isnan(xcov).any(axis=1)
    if not drop.any():
        return _Rows(y, tt, g, xcov, None)
    notes.append(Note("cs_dropped_missing", {"n": int(drop.sum()), "total": len(data)}))
    keep = ~drop
    return _Rows(y[keep], tt[keep], g[keep], xcov[keep] if xcov is not None else None, keep)


def _cluster_rows(
    data: pd.DataFrame, cluster: str | None, keep: NDArray[np.bool_] | None
) -> NDArray[np.int64] | None:
    """Return the cluster code of every kept row (None without a cluster column)."""
    if cluster is None:
        return None
    cvals = data[cluster].to_numpy()
    crow = pd.factorize(cvals if keep is None else cvals[keep], sort=True)[0]
    if (crow < 0).any():
        raise EstimationError(f"column {cluster!r}: missing cluster id")
    return crow


def _units(
    data: pd.DataFrame, unit: str | None, rows: _Rows, last: Any, cohort: str
) -> tuple[NDArray[np.signedinteger[Any]], Any, NDArray[np.float64]]:
    """Return each row's unit code, the unit ids and each unit's cohort.

    Without a unit column every row is its own unit. A unit's cohort must be the
    same on all its rows.
    """
    if unit is None:
        return np.arange(rows.y.size), None, _in_window(rows.g, last)
    uvals = data[unit].to_numpy()
    codes, uniq = factorize(uvals if rows.keep is None else uvals[rows.keep])
    del uvals
    if (codes < 0).any():
        raise EstimationError(f"column {unit!r}: missing unit id")
    unit_g = np.empty(len(uniq))
    for s in slices(codes.size):
        unit_g[codes[s]] = _in_window(rows.g[s], last)
    changing = [
        codes[s][unit_g[codes[s]] != _in_window(rows.g[s], last)] for s in slices(codes.size)
    ]
    if any(c.size for c in changing):
        bad = np.concatenate(changing)
        raise EstimationError(
            f"column {cohort!r}: treatment timing changes within unit "
            f"{show(uniq[bad[0]])} ({np.unique(bad).size} unit(s) in all); {COHORT_RULE}, "
            "so it must be the same on every row of a unit"
        )
    return codes, uniq, unit_g


def _units_left_out(
    codes: NDArray[np.signedinteger[Any]],
    t_idx: NDArray[np.signedinteger[Any]],
    unit_g: NDArray[np.float64],
    periods: NDArray[Any],
    uniq: Any,
    names: tuple[str | None, str],
    panel: bool,
    allow_unbalanced_panel: bool,
    notes: list[Note],
) -> tuple[NDArray[np.bool_] | None, NDArray[np.bool_] | None]:
    """Return the units to leave out (None: none) and, for a panel, the unbalanced ones kept.

    Units treated in the first period have no pre-period and are left out (as R
    ``did`` does); so are the units of a panel not seen in every period, unless an
    unbalanced panel is allowed.
    """
    early = (unit_g > 0) & (unit_g <= periods[0])
    if early.any():
        values = {"n": int(early.sum()), "first_period": as_number(periods[0])}
        notes.append(Note("cs_dropped_early_treated", values))
    if not panel:
        return (early if early.any() else None), None
    observed = _observed_periods(codes, t_idx, unit_g.size, periods, uniq, names)
    unbalanced = (observed < periods.size) & ~early
    if unbalanced.any() and not allow_unbalanced_panel:
        values = {"n": int(unbalanced.sum()), "periods": int(periods.size)}
        notes.append(Note("cs_dropped_unbalanced", values))
        early = early | unbalanced
        unbalanced = np.zeros_like(unbalanced)
    return (early if early.any() else None), unbalanced


def _observed_periods(
    codes: NDArray[np.signedinteger[Any]],
    t_idx: NDArray[np.signedinteger[Any]],
    n_units: int,
    periods: NDArray[Any],
    uniq: Any,
    names: tuple[str | None, str],
) -> NDArray[np.int64]:
    """Return the number of periods each unit is seen in; refuse a unit seen twice in one."""
    n_t = periods.size
    seen = np.zeros((n_units, n_t), dtype=bool)
    for s in slices(codes.size):
        seen[codes[s], t_idx[s]] = True
    if int(seen.sum()) < codes.size:
        counts = np.zeros(n_units * n_t, dtype=np.int64)
        np.add.at(counts, codes.astype(np.int64) * n_t + t_idx, 1)
        dup = np.flatnonzero(counts > 1)
        examples = ", ".join(f"({show(uniq[c // n_t])}, {periods[c % n_t]:g})" for c in dup[:3])
        unit, time = names
        raise EstimationError(
            f"{dup.size} duplicate (unit, period) pair(s) in columns {unit!r}/{time!r}, "
            f"e.g. {examples}; each unit may have one row per period"
        )
    return seen.sum(axis=1)


def _wide(c: _Cells) -> CsData:
    """Lay out a balanced panel: units × periods outcomes and covariates."""
    n_u, n_t = c.unit_g.size, c.periods.size
    ymat = np.empty((n_u, n_t), order="F")  # a column per period
    for s in slices(c.y.size):
        ymat[c.codes[s], c.t_idx[s]] = c.y[s]
    if c.xcov is None:
        xmat: NDArray[np.float64] = np.broadcast_to(np.ones(1), (n_u, n_t, 1))
    else:
        xmat = np.empty((n_u, n_t, 1 + c.xcov.shape[1]))
        xmat[:, :, 0] = 1.0
        for s in slices(c.y.size):
            xmat[c.codes[s], c.t_idx[s], 1:] = c.xcov[s]
    return CsData(
        "panel", c.periods, c.unit_g, n_u, int(c.y.size), ymat, xmat, None, None,
        c.unit_cluster, c.unit_ids,
    )  # fmt: skip


def _long(c: _Cells) -> CsData:
    """Lay out repeated cross-sections or an unbalanced panel: one entry per row."""
    if c.xcov is None:
        x_long: NDArray[np.float64] = np.broadcast_to(np.ones(1), (c.y.size, 1))
    else:
        x_long = np.column_stack([np.ones(c.y.size), c.xcov])
    return CsData(
        "long", c.periods, c.unit_g, c.unit_g.size, int(c.y.size), c.y, x_long,
        c.t_idx.astype(np.int64), c.codes.astype(np.int64), c.unit_cluster, c.unit_ids,
    )  # fmt: skip


def _unit_clusters(
    crow: NDArray[np.int64] | None,
    codes: NDArray[np.int64],
    n_u: int,
    cluster: str | None,
    uniq: Any,
) -> NDArray[np.int64] | None:
    if crow is None:
        return None
    cmin = np.full(n_u, np.iinfo(np.int64).max)
    cmax = np.full(n_u, -1)
    np.minimum.at(cmin, codes, crow)
    np.maximum.at(cmax, codes, crow)
    if (cmin != cmax).any():
        bad = np.flatnonzero(cmin != cmax)[0]
        who = uniq[bad] if uniq is not None else bad
        raise EstimationError(
            f"column {cluster!r}: unit {show(who)} belongs to more than one cluster; "
            "clusters must contain whole units"
        )
    return pd.factorize(cmin, sort=True)[0].astype(np.int64)


def _note_small(unit_g: NDArray[np.float64], notes: list[Note]) -> None:
    """Add the note on one-unit cohorts to ``notes``; raise when no unit is treated."""
    cohorts, counts = np.unique(unit_g[unit_g > 0], return_counts=True)
    small = [as_number(c) for c, k in zip(cohorts, counts, strict=True) if k < 2]
    if small:
        msg = Note("cs_single_unit_cohorts", {"cohorts": small})
        notes.append(msg)
    if not (unit_g > 0).any():
        raise EstimationError(f"no treated unit: {COHORT_RULE}")

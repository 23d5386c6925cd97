"""Check and reshape the input of Callaway–Sant'Anna into arrays.

Cohort convention (used in every message): the cohort of a unit is the first
period in which it is treated; 0 or empty means never treated.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evalkit.errors import DroppedRowsWarning, EstimationError, SmallCohortWarning

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


def _show(value: Any) -> str:
    """Show a unit id the way the user wrote it (no numpy type names)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def _need_columns(data: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise EstimationError(
            f"column(s) {', '.join(repr(c) for c in missing)} not found in the data; "
            f"available: {', '.join(map(str, data.columns))}"
        )


def _cohorts(raw: pd.Series, cohort: str) -> NDArray[np.float64]:
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        first = raw[bad].iloc[0]
        raise EstimationError(
            f"column {cohort!r}: value {first!r} (row {raw.index[bad][0]}) is not a period; "
            f"{COHORT_RULE}"
        )
    out = values.fillna(0.0).to_numpy(dtype=np.float64)
    if (out < 0).any():
        row = raw.index[np.flatnonzero(out < 0)[0]]
        raise EstimationError(
            f"column {cohort!r}: negative cohort at row {row}; {COHORT_RULE}"
        )
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
) -> tuple[CsData, list[str]]:
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
    list of str
        Warnings in plain words (also issued as Python warnings).
    """
    if not isinstance(data, pd.DataFrame):
        raise EstimationError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if panel and unit is None:
        raise EstimationError("a panel needs the unit column; pass unit=... or panel=False")
    if not panel:
        unit = None  # repeated cross-sections: every row is its own unit
    cols = [outcome, time, cohort, *covariates]
    if unit is not None:
        cols.append(unit)
    if cluster is not None:
        cols.append(cluster)
    _need_columns(data, cols)
    notes: list[str] = []
    frame = data[list(dict.fromkeys(cols))]
    y_all = pd.to_numeric(frame[outcome], errors="coerce")
    if y_all.isna().all():
        raise EstimationError(f"column {outcome!r}: no numeric outcome values")
    for c in covariates:
        if not pd.api.types.is_numeric_dtype(frame[c]):
            raise EstimationError(
                f"covariate {c!r} is not numeric; encode categories as 0/1 columns first"
            )
    times_raw = pd.to_numeric(frame[time], errors="coerce")
    if times_raw.isna().any():
        row = frame.index[times_raw.isna().to_numpy()][0]
        raise EstimationError(f"column {time!r}: missing or non-numeric period at row {row}")
    g_all = _cohorts(frame[cohort], cohort)
    drop = y_all.isna().to_numpy().copy()
    for c in covariates:
        drop |= frame[c].isna().to_numpy()
    if drop.any():
        msg = (f"dropped {int(drop.sum())} of {len(frame)} rows with a missing outcome "
               "or covariate")
        notes.append(msg)
        warnings.warn(msg, DroppedRowsWarning, stacklevel=3)
    keep = ~drop
    crow: NDArray[np.int64] | None = None
    if cluster is not None:
        crow = pd.factorize(frame[cluster].to_numpy()[keep], sort=True)[0].astype(np.int64)
        if (crow < 0).any():
            raise EstimationError(f"column {cluster!r}: missing cluster id")
    y = y_all.to_numpy(dtype=np.float64)[keep]
    tt = times_raw.to_numpy(dtype=np.float64)[keep]
    g = g_all[keep]
    xcov = (frame.loc[keep, list(covariates)].to_numpy(dtype=np.float64)
            if covariates else np.empty((int(keep.sum()), 0)))
    periods = np.unique(tt)
    if periods.size < 2:
        raise EstimationError(f"column {time!r}: at least two periods are needed")
    last = periods[-1]
    late = (g > last)
    if late.any():
        g = np.where(late, 0.0, g)
    if unit is not None:
        uid_raw = frame.loc[keep, unit]
        if uid_raw.isna().any():
            raise EstimationError(f"column {unit!r}: missing unit id")
        codes, uniq = pd.factorize(uid_raw, sort=True)
        # Cohort must be constant within a unit.
        n_u = len(uniq)
        gmin = np.full(n_u, np.inf)
        gmax = np.full(n_u, -np.inf)
        np.minimum.at(gmin, codes, g)
        np.maximum.at(gmax, codes, g)
        changing = np.flatnonzero(gmin != gmax)
        if changing.size:
            raise EstimationError(
                f"column {cohort!r}: treatment timing changes within unit "
                f"{_show(uniq[changing[0]])} ({changing.size} unit(s) in all); {COHORT_RULE}, "
                "so it must be the same on every row of a unit"
            )
        unit_g = gmin
    else:
        codes = np.arange(y.size)
        uniq = None
        n_u = y.size
        unit_g = g
    # Units treated in the first period have no pre-period: drop them (as R did does).
    early_units = (unit_g > 0) & (unit_g <= periods[0])
    if early_units.any():
        row_keep = ~early_units[codes]
        msg = (f"dropped {int(early_units.sum())} unit(s) already treated in the first period "
               f"({periods[0]:g}); they have no pre-treatment period")
        notes.append(msg)
        warnings.warn(msg, DroppedRowsWarning, stacklevel=3)
        y, tt, g, xcov, codes = y[row_keep], tt[row_keep], g[row_keep], xcov[row_keep], \
            codes[row_keep]
        if crow is not None:
            crow = crow[row_keep]
        codes, _ = pd.factorize(codes, sort=True)
        if uniq is not None:
            uniq = uniq[np.flatnonzero(~early_units)]
        n_u = int(codes.max()) + 1 if codes.size else 0
        unit_g = unit_g[~early_units]
    t_idx = np.searchsorted(periods, tt)
    nT = periods.size
    x_full = np.column_stack([np.ones(y.size), xcov])
    if panel:
        counts = np.bincount(codes * nT + t_idx, minlength=n_u * nT)
        if (counts > 1).any():
            cell = np.flatnonzero(counts > 1)
            examples = ", ".join(
                f"({_show(uniq[c // nT])}, {periods[c % nT]:g})" for c in cell[:3]
            )
            raise EstimationError(
                f"{cell.size} duplicate (unit, period) pair(s) in columns {unit!r}/{time!r}, "
                f"e.g. {examples}; each unit may have one row per period"
            )
        per_unit = np.bincount(codes, minlength=n_u)
        unbalanced = per_unit < nT
        if unbalanced.any() and not allow_unbalanced_panel:
            msg = (f"dropped {int(unbalanced.sum())} unit(s) not observed in all {nT} periods "
                   "(balanced panel); pass allow_unbalanced_panel=True to keep them")
            notes.append(msg)
            warnings.warn(msg, DroppedRowsWarning, stacklevel=3)
            row_keep = ~unbalanced[codes]
            y, t_idx, xcov, codes = y[row_keep], t_idx[row_keep], xcov[row_keep], codes[row_keep]
            x_full = x_full[row_keep]
            if crow is not None:
                crow = crow[row_keep]
            remap = np.cumsum(~unbalanced) - 1
            codes = remap[codes]
            unit_g = unit_g[~unbalanced]
            n_u = int((~unbalanced).sum())
            unbalanced = np.zeros(n_u, dtype=bool)
        if n_u == 0:
            raise EstimationError("no unit is observed in every period")
        clus_codes = _unit_clusters(crow, codes, n_u, cluster, uniq)
        if not unbalanced.any():
            ymat = np.empty((n_u, nT))
            ymat[codes, t_idx] = y
            xmat = np.empty((n_u, nT, x_full.shape[1]))
            xmat[codes, t_idx, :] = x_full
            result = CsData("panel", periods, unit_g, n_u, int(y.size), ymat, xmat,
                            None, None, clus_codes)
            _warn_small(unit_g, notes)
            return result, notes
    else:
        clus_codes = _unit_clusters(crow, codes, n_u, cluster, uniq)
    result = CsData("long", periods, unit_g, n_u, int(y.size), y, x_full,
                    t_idx.astype(np.int64), codes.astype(np.int64), clus_codes)
    _warn_small(unit_g, notes)
    return result, notes


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
            f"column {cluster!r}: unit {_show(who)} belongs to more than one cluster; "
            "clusters must contain whole units"
        )
    return pd.factorize(cmin, sort=True)[0].astype(np.int64)


def _warn_small(unit_g: NDArray[np.float64], notes: list[str]) -> None:
    cohorts, counts = np.unique(unit_g[unit_g > 0], return_counts=True)
    small = [f"{c:g}" for c, k in zip(cohorts, counts, strict=True) if k < 2]
    if small:
        msg = (f"cohort(s) {', '.join(small)} have a single unit; their effects rest on one "
               "unit and their standard errors are unreliable")
        notes.append(msg)
        warnings.warn(msg, SmallCohortWarning, stacklevel=3)
    if not (unit_g > 0).any():
        raise EstimationError(f"no treated unit: {COHORT_RULE}")

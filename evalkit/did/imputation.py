"""The imputation estimator of Borusyak, Jaravel & Spiess (2024), with their conservative variance.

Unit and period effects are fitted on the untreated rows only (never treated and
not yet treated); each treated row's untreated outcome is imputed from them and
``tau_it = Y_it − Yhat_it(0)``. The overall effect averages ``tau`` over all
treated rows; the effect at event time ``e ≥ 0`` averages it over the rows at
``e``. Pre-trends are the lead coefficients of a regression of ``Y`` on event-time
dummies and the two-way effects on the untreated rows (as the R package
``didimputation``), fitted with pyfixest.

Why our own code: pyfixest's ``did2s`` (Gardner's two-stage estimator) gives the
same point estimates but a different variance (GMM); the BJS variance needs the
weights ``v_it = −Z (Z0'Z0)^{-1} Z1' w`` of every untreated row, which no Python
library provides. We solve those systems through the period block
(:mod:`evalkit.did._twoway`), so a panel of a million rows costs seconds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from evalkit.did._data import CLUSTER, COHORT, TIME, UNIT, Prepared, Y
from evalkit.did._twoway import TwoWay
from evalkit.did.notes import Note
from evalkit.did.regression import feols
from evalkit.errors import EstimationError

__all__ = ["ImputationFit", "imputation"]


class ImputationFit:
    """The estimates of :func:`imputation`: overall effect, horizons, leads, with their SEs.

    Attributes
    ----------
    att, se : float
        Overall effect (mean over treated rows) and its standard error.
    horizons : pandas.DataFrame
        ``event_time, att, se`` for every event time ``e ≥ 0`` and for the leads.
    n_obs : int
        Rows used.
    notes : list of Note
        Dropped rows and similar.
    """

    def __init__(
        self, att: float, se: float, horizons: pd.DataFrame, n_obs: int, notes: list[Note]
    ) -> None:
        self.att, self.se, self.horizons, self.n_obs, self.notes = att, se, horizons, n_obs, notes


def imputation(
    prep: Prepared, *, leads: int = 5, horizons: bool = True, lead_vcov: str = "cluster"
) -> ImputationFit:
    """Fit the imputation estimator on a prepared panel.

    Parameters
    ----------
    prep : Prepared
        Panel with unit, period and cohort columns.
    leads : int
        Number of pre-period event times (−leads … −1) in the pre-trend regression.
    horizons : bool
        Whether to estimate every event time ``e ≥ 0`` (else only the overall effect).
    lead_vcov : {"cluster", "iid"}
        Variance of the lead coefficients (the R package's README prints iid ones).

    Returns
    -------
    ImputationFit
        The estimates.
    """
    if not (prep.has_unit and prep.has_time and prep.has_cohort):
        raise EstimationError("the imputation estimator needs unit=, time= and cohort=")
    f = prep.frame
    unit = pd.factorize(f[UNIT], sort=True)[0]
    period = pd.factorize(f[TIME], sort=True)[0]
    t, g = f[TIME].to_numpy(), f[COHORT].to_numpy()
    treated = (g > 0) & (t >= g)
    if not treated.any():
        raise EstimationError("no treated rows (cohort > 0 and period ≥ cohort)")
    y = f[Y].to_numpy(dtype=float)
    cluster = pd.factorize(f[CLUSTER], sort=True)[0]
    two = TwoWay(unit[~treated], period[~treated], int(unit.max()) + 1, int(period.max()) + 1)
    a, lam = two.fit(y[~treated])
    y0 = a[unit] + lam[period]
    notes: list[Note] = []
    lost = treated & np.isnan(y0)
    if lost.any():
        notes.append(Note("imputation_dropped", {"n": int(lost.sum())}))
    keep = ~lost
    unit, period, y, y0, cluster = unit[keep], period[keep], y[keep], y0[keep], cluster[keep]
    t, g, treated = t[keep], g[keep], treated[keep]
    event = np.where(g > 0, t - g, np.iinfo(np.int64).min)
    tr = np.flatnonzero(treated)
    e_tr = event[tr]
    times = sorted(set(e_tr.tolist())) if horizons else []
    weights = np.zeros((len(tr), 1 + len(times)))
    weights[:, 0] = 1.0 / len(tr)
    for j, e in enumerate(times, start=1):
        at = e_tr == e
        weights[at, j] = 1.0 / at.sum()
    tau = y[tr] - y0[tr]
    est = weights.T @ tau
    se = _bjs_se(two, unit, period, tr, weights, y - y0, g[tr], e_tr, cluster)
    rows = [{"event_time": e, "att": est[j], "se": se[j]} for j, e in enumerate(times, start=1)]
    lead_rows = _leads(prep, keep, treated, event, leads, lead_vcov) if horizons and leads else []
    table = pd.DataFrame(lead_rows + rows, columns=["event_time", "att", "se"])
    return ImputationFit(float(est[0]), float(se[0]), table, int(keep.sum()), notes)


def _bjs_se(
    two: TwoWay,
    unit: np.ndarray,
    period: np.ndarray,
    tr: np.ndarray,
    weights: np.ndarray,
    resid: np.ndarray,
    g_tr: np.ndarray,
    e_tr: np.ndarray,
    cluster: np.ndarray,
) -> np.ndarray:
    """BJS (2024) conservative standard errors, clustered, of ``weights' tau``.

    Untreated rows get ``v = −Z (Z0'Z0)^{-1} Z1' w`` and their first-stage residual;
    treated rows get ``v = w`` and ``tau − taubar`` with ``taubar`` the
    ``v²``-weighted mean of ``tau`` in their cohort × event-time cell (Theorem 3).
    """
    h = weights.shape[1]
    r_unit = np.zeros((two.n_units, h))
    r_period = np.zeros((two.n_periods, h))
    for j in range(h):  # bincount per column: np.add.at is slow on a million rows
        r_unit[:, j] = np.bincount(unit[tr], weights[:, j], minlength=two.n_units)
        r_period[:, j] = np.bincount(period[tr], weights[:, j], minlength=two.n_periods)
    a_b, l_b = two.solve(r_unit, r_period)
    v = -(a_b[unit] + l_b[period])
    v[tr] = weights
    eps = np.repeat(resid[:, None], h, axis=1)
    span = int(e_tr.max() - e_tr.min()) + 1
    cell = pd.factorize((g_tr.astype(np.int64) * span) + (e_tr - e_tr.min()))[0]
    v2 = weights**2
    n_cell, n_cl = int(cell.max()) + 1, int(cluster.max()) + 1
    out = np.empty(h)
    for j in range(h):
        num = np.bincount(cell, v2[:, j] * resid[tr], minlength=n_cell)
        den = np.bincount(cell, v2[:, j], minlength=n_cell)
        bar = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        eps[tr, j] = resid[tr] - bar[cell]
        sums = np.bincount(cluster, np.nan_to_num(v[:, j]) * eps[:, j], minlength=n_cl)
        out[j] = math.sqrt(float((sums**2).sum()))
    return out


def _leads(
    prep: Prepared,
    keep: np.ndarray,
    treated: np.ndarray,
    event: np.ndarray,
    leads: int,
    vcov: str,
) -> list[dict[str, Any]]:
    """Lead coefficients ``−leads … −1`` on the untreated rows, clustered (pyfixest)."""
    f = prep.frame.loc[keep].loc[~treated, [Y, UNIT, TIME, CLUSTER]].copy()
    ev = event[~treated]
    names = []
    for e in range(-leads, 0):
        if (ev == e).any():
            name = f"lead{-e}"
            f[name] = (ev == e).astype(float)
            names.append((e, name))
    if not names:
        return []
    fit = feols(
        f"{Y} ~ {' + '.join(n for _, n in names)} | {UNIT} + {TIME}",
        f,
        {"CRV1": CLUSTER} if vcov == "cluster" else "iid",
    )
    coef, se = fit.coef(), fit.se()
    return [
        {"event_time": e, "att": float(coef[n]), "se": float(se[n])}
        for e, n in names
        if n in coef.index
    ]


def normal_row(att: float, se: float, alpha: float) -> dict[str, float]:
    """Normal-approximation interval and p-value (as the R package ``didimputation``)."""
    z = float(special.ndtri(1 - alpha / 2))
    p = float(2 * special.ndtr(-abs(att / se))) if se > 0 else math.nan
    return {"conf_low": att - z * se, "conf_high": att + z * se, "p_value": p}

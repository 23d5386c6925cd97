"""The interaction-weighted event study of Sun & Abraham (2021), as fixest's ``sunab``.

One coefficient per cohort and event time (the period before treatment, −1, is
the reference; never-treated units are the comparison), fitted with unit and
period effects by pyfixest; the event-study coefficient at ``e`` is the
average of the cohorts' coefficients at ``e`` weighted by their numbers of rows,
and the overall effect the same average over every cell with ``e ≥ 0``
(fixest's ``agg = "att"``). Their covariance follows from the fitted one, so
the event study feeds the HonestDiD sensitivity analysis directly.

pyfixest's ``SaturatedEventStudy`` fits the same regression but is marked beta,
warns on every call and aggregates only by period without the covariance of the
aggregated coefficients; we build the interactions and the aggregation here and
leave the fit to pyfixest's ``feols``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.did._data import CLUSTER, COHORT, TIME, UNIT, Prepared, Y
from evalkit.did.regression import feols
from evalkit.errors import EstimationError

__all__ = ["SunAbrahamFit", "sun_abraham"]


@dataclass(frozen=True)
class SunAbrahamFit:
    """Aggregated Sun–Abraham estimates.

    Attributes
    ----------
    event_times : list of int
        Event times of the aggregated coefficients (−1 left out).
    beta, vcov : numpy.ndarray
        Aggregated coefficients and their covariance.
    att, se : float
        Overall effect (row-weighted mean of the cells with ``e ≥ 0``) and its SE.
    df : float
        Degrees of freedom of the t distribution (clusters − 1).
    """

    event_times: list[int]
    beta: np.ndarray
    vcov: np.ndarray
    att: float
    se: float
    df: float


def sun_abraham(
    prep: Prepared, min_e: int | None = None, max_e: int | None = None
) -> SunAbrahamFit:
    """Fit the Sun–Abraham event study on a prepared panel.

    Parameters
    ----------
    prep : Prepared
        Panel with unit, period and cohort columns and never-treated units.
    min_e, max_e : int, optional
        Event window: earlier (later) event times are binned into ``min_e``
        (``max_e``), as in the TWFE event study.

    Returns
    -------
    SunAbrahamFit
        Aggregated coefficients, covariance and the overall effect.
    """
    if not (prep.has_unit and prep.has_time and prep.has_cohort):
        raise EstimationError("the Sun–Abraham estimator needs unit=, time= and cohort=")
    f = prep.frame[[Y, UNIT, TIME, CLUSTER, COHORT]].copy()
    g = f[COHORT].to_numpy()
    if not (g == 0).any():
        raise EstimationError(
            "the Sun–Abraham estimator compares with never-treated units (cohort 0 or empty); "
            "there are none. Use estimator='imputation' or 'callaway_santanna' with "
            "control='notyet'"
        )
    rel = f[TIME].to_numpy() - g
    if min_e is not None or max_e is not None:
        rel = np.clip(rel, min_e, max_e)
    in_cell = (g > 0) & (rel != -1)
    cells = pd.MultiIndex.from_arrays([g[in_cell], rel[in_cell]])
    codes, uniques = pd.factorize(cells, sort=True)
    names = [f"sa{i}" for i in range(len(uniques))]
    dummies = np.zeros((len(f), len(uniques)))
    dummies[np.flatnonzero(in_cell), codes] = 1.0
    f = pd.concat([f, pd.DataFrame(dummies, columns=names, index=f.index)], axis=1)
    fit = feols(f"{Y} ~ {' + '.join(names)} | {UNIT} + {TIME}", f, {"CRV1": CLUSTER})
    coef = fit.coef()
    kept = [i for i, n in enumerate(names) if n in coef.index]
    beta_cells = coef[[names[i] for i in kept]].to_numpy()
    vc_cells = np.asarray(fit._vcov)
    counts = np.bincount(codes, minlength=len(uniques))[kept].astype(float)
    cell_e = np.array([uniques[i][1] for i in kept])
    times = sorted({int(e) for e in cell_e})
    agg = np.zeros((len(times), len(kept)))
    for j, e in enumerate(times):
        at = cell_e == e
        agg[j, at] = counts[at] / counts[at].sum()
    post = cell_e >= 0
    if not post.any():
        raise EstimationError("no treated cell with event time ≥ 0 could be estimated")
    w_att = np.where(post, counts, 0.0) / counts[post].sum()
    return SunAbrahamFit(
        event_times=times,
        beta=agg @ beta_cells,
        vcov=agg @ vc_cells @ agg.T,
        att=float(w_att @ beta_cells),
        se=float(np.sqrt(w_att @ vc_cells @ w_att)),
        df=float(prep.n_clusters - 1),
    )

"""Standard errors from influence functions, the multiplier bootstrap and the Wald pre-test.

Analytic standard errors are ``sqrt(sum_i psi_i**2) / n`` (units as clusters,
as R ``did``), or with a cluster variable ``sqrt(sum_c (sum_{i in c} psi_i)**2) / n``.
The multiplier bootstrap perturbs the influence functions with Mammen's
two-point weights (R ``did``'s default) or Rademacher weights, drawn per unit or
per cluster from a seeded generator; its standard error is the interquartile
range of the draws divided by that of the standard normal, and a uniform band
uses the ``1 - alpha`` quantile of the largest t-statistic in the family.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import sparse, stats

__all__ = ["analytic_se", "bootstrap", "cluster_sums", "wald_pretest"]

Array = NDArray[np.float64]

#: Standard errors at or below this are reported as missing (as R ``did``).
SE_FLOOR = float(np.sqrt(np.finfo(float).eps) * 10)

_SQRT5 = np.sqrt(5.0)
_MAMMEN_LOW = (1.0 - _SQRT5) / 2.0
_MAMMEN_HIGH = (1.0 + _SQRT5) / 2.0
_MAMMEN_P_LOW = (_SQRT5 + 1.0) / (2.0 * _SQRT5)
_IQR_NORMAL = float(stats.norm.ppf(0.75) - stats.norm.ppf(0.25))


def cluster_sums(inf: Array, cluster: NDArray[np.int64] | None) -> Array:
    """Sum influence functions within clusters (rows unchanged without clusters).

    Parameters
    ----------
    inf : ndarray
        Units × columns.
    cluster : ndarray or None
        Cluster index of each unit.

    Returns
    -------
    ndarray
        Clusters × columns.
    """
    if cluster is None:
        return inf
    k = int(cluster.max()) + 1
    n = cluster.size
    indicator = sparse.csr_matrix((np.ones(n), (cluster, np.arange(n))), shape=(k, n))
    return np.asarray(indicator @ inf)


def analytic_se(inf: Array, n: int, cluster: NDArray[np.int64] | None) -> Array:
    """Compute the standard errors of the columns of an influence-function matrix.

    Parameters
    ----------
    inf : ndarray
        Units × columns.
    n : int
        Number of units.
    cluster : ndarray or None
        Cluster index of each unit.

    Returns
    -------
    ndarray
        One standard error per column (NaN when numerically zero).
    """
    summed = cluster_sums(inf, cluster)
    se = np.sqrt(np.einsum("ij,ij->j", summed, summed)) / n
    se[se <= SE_FLOOR] = np.nan
    return se


def bootstrap(
    inf: Array,
    n: int,
    cluster: NDArray[np.int64] | None,
    *,
    n_boot: int,
    seed: int,
    weights: str = "mammen",
    chunk: int = 64,
) -> Array:
    """Draw the multiplier bootstrap distribution of the estimates.

    Parameters
    ----------
    inf : ndarray
        Units × columns influence functions.
    n : int
        Number of units.
    cluster : ndarray or None
        Cluster index of each unit (weights are drawn per cluster).
    n_boot : int
        Number of draws.
    seed : int
        Seed of the generator (same seed, same draws).
    weights : {"mammen", "rademacher"}
        Multiplier distribution.
    chunk : int
        Draws generated at a time (bounds memory).

    Returns
    -------
    ndarray
        Draws × columns of ``estimate* - estimate``.
    """
    summed = cluster_sums(inf, cluster)
    m = summed.shape[0]
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, inf.shape[1]))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        u = rng.random((b, m))
        if weights == "mammen":
            v = np.where(u < _MAMMEN_P_LOW, _MAMMEN_LOW, _MAMMEN_HIGH)
        else:
            v = np.where(u < 0.5, -1.0, 1.0)
        out[start:start + b] = v @ summed / n
    return out


def boot_se(draws: Array) -> Array:
    """Compute bootstrap standard errors: interquartile range over that of N(0, 1).

    Parameters
    ----------
    draws : ndarray
        Draws × columns.

    Returns
    -------
    ndarray
        Standard errors (NaN when numerically zero).
    """
    q75 = np.quantile(draws, 0.75, axis=0, method="inverted_cdf")
    q25 = np.quantile(draws, 0.25, axis=0, method="inverted_cdf")
    se = (q75 - q25) / _IQR_NORMAL
    se[se <= SE_FLOOR] = np.nan
    return se


def uniform_crit(draws: Array, se: Array, alpha: float) -> float:
    """Critical value of a simultaneous band over the columns of ``draws``.

    Parameters
    ----------
    draws : ndarray
        Draws × columns.
    se : ndarray
        Bootstrap standard errors of the columns (NaN columns are ignored).
    alpha : float
        1 − confidence level.

    Returns
    -------
    float
        The ``1 - alpha`` quantile of ``max_j |draw_j / se_j|``.
    """
    ok = np.isfinite(se)
    if not ok.any():
        return float("nan")
    tmax = np.max(np.abs(draws[:, ok] / se[ok]), axis=1)
    tmax = tmax[np.isfinite(tmax)]
    return float(np.quantile(tmax, 1.0 - alpha, method="inverted_cdf"))


def wald_pretest(att: Array, inf: Array, n: int,
                 cluster: NDArray[np.int64] | None) -> tuple[float, int, float, str | None]:
    """Wald test that all pre-treatment ATT(g, t) are zero.

    Parameters
    ----------
    att : ndarray
        Pre-treatment estimates.
    inf : ndarray
        Their influence functions (units × cells).
    n : int
        Number of units.
    cluster : ndarray or None
        Cluster index of each unit.

    Returns
    -------
    stat : float
        Wald statistic (NaN when the test cannot be run).
    df : int
        Degrees of freedom.
    p_value : float
        Chi-squared p-value (NaN when the test cannot be run).
    reason : str or None
        Why the test could not be run.
    """
    q = att.size
    if q == 0:
        return float("nan"), 0, float("nan"), "no pre-treatment periods to test"
    summed = cluster_sums(inf, cluster)
    vcov = summed.T @ summed / n**2
    if np.linalg.cond(vcov) > 1.0 / np.finfo(float).eps:
        return (float("nan"), q, float("nan"),
                "the covariance of the pre-treatment estimates is singular")
    stat = float(att @ np.linalg.solve(vcov, att))
    return stat, q, float(stats.chi2.sf(stat, q)), None

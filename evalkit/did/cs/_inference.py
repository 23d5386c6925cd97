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

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from evalkit.did._distributions import chi2_sf, normal_quantile
from evalkit.did.cs._fast import CohortIF, Draw

if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["Moments", "boot_se", "bootstrap", "cluster_sums", "uniform_crit", "wald_pretest"]

Array = NDArray[np.float64]

#: Standard errors at or below this are reported as missing (as R ``did``).
SE_FLOOR = float(np.sqrt(np.finfo(float).eps) * 10)

_SQRT5 = np.sqrt(5.0)
_MAMMEN_LOW = (1.0 - _SQRT5) / 2.0
_MAMMEN_HIGH = (1.0 + _SQRT5) / 2.0
_MAMMEN_P_LOW = (_SQRT5 + 1.0) / (2.0 * _SQRT5)
_IQR_NORMAL = normal_quantile(0.75) - normal_quantile(0.25)


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
    # SciPy is imported only on the clustered path: see evalkit.did._distributions.
    from scipy import sparse

    k = int(cluster.max()) + 1
    n = cluster.size
    indicator = sparse.csr_matrix((np.ones(n), (cluster, np.arange(n))), shape=(k, n))
    return np.asarray(indicator @ inf)


@dataclass(frozen=True)
class Moments:
    """Cross-products that give the variance of any ``inf @ w + h[cohort]``.

    Attributes
    ----------
    sums : ndarray
        Influence functions summed per cluster (units when unclustered), clusters × cells.
    counts : scipy.sparse matrix
        Clusters × cohorts: units of each cohort in each cluster.
    gram, cross, count_gram : ndarray
        ``sums' sums``, ``sums' counts`` and ``counts' counts``.
    n : int
        Number of units.
    """

    sums: Array | None
    counts: sparse.csr_matrix | None
    gram: Array
    cross: Array
    count_gram: Array
    n: int
    n_multipliers: int
    cohort_if: CohortIF | None = None

    @classmethod
    def of_cohorts(cls, cif: CohortIF) -> Moments:
        """Compute the cross-products from influence functions kept per cohort.

        Parameters
        ----------
        cif : CohortIF
            The per-cohort influence functions (units are their own clusters).

        Returns
        -------
        Moments
            The cross-products.
        """
        gram, cross, count_gram = cif.moments()
        return cls(None, None, gram, cross, count_gram, cif.n, cif.n, cif)

    def drawer(self) -> Draw:
        """Return a function that turns multiplier indicators into draws.

        Returns
        -------
        callable
            ``draw(bern, low, step)``: ``bern`` is draws × clusters (units) 0/1
            indicators, the multipliers are ``low + step * bern``; it returns
            ``v @ sums`` (draws × cells) and ``v @ counts`` (draws × cohorts).
        """
        if self.cohort_if is not None:
            return self.cohort_if.drawer()
        sums, counts = self.sums, self.counts
        if sums is None or counts is None:  # pragma: no cover
            raise ValueError("no influence functions")

        def draw(bern: NDArray[np.float32], low: float, step: float) -> tuple[Array, Array]:
            v = low + step * bern.astype(np.float64)
            return v @ sums, np.asarray(counts.T @ v.T).T

        return draw

    @classmethod
    def of(
        cls,
        inf: Array,
        cohort_code: NDArray[np.int64],
        n_cohorts: int,
        cluster: NDArray[np.int64] | None,
    ) -> Moments:
        """Compute the cross-products.

        Parameters
        ----------
        inf : ndarray
            Units × cells influence functions.
        cohort_code : ndarray
            Cohort index of every unit.
        n_cohorts : int
            Number of cohorts (including never treated).
        cluster : ndarray or None
            Cluster index of each unit.

        Returns
        -------
        Moments
            The cross-products.
        """
        from scipy import sparse  # as in cluster_sums

        n = inf.shape[0]
        rows = np.arange(n) if cluster is None else cluster
        m = n if cluster is None else int(cluster.max()) + 1
        counts = sparse.csr_matrix((np.ones(n), (rows, cohort_code)), shape=(m, n_cohorts))
        sums = cluster_sums(inf, cluster)
        gram = sums.T @ sums
        cross = np.asarray((counts.T @ sums).T)
        count_gram = np.asarray((counts.T @ counts).todense())
        return cls(sums, counts, gram, cross, count_gram, n, m)

    def se(self, w: Array, h: Array) -> Array:
        """Return the standard errors of the quantities with cell weights ``w``, cohort terms ``h``.

        Parameters
        ----------
        w : ndarray
            Cells × quantities.
        h : ndarray
            Cohorts × quantities.

        Returns
        -------
        ndarray
            One standard error per quantity (NaN when numerically zero).
        """
        var = (
            np.einsum("kq,kq->q", w, self.gram @ w)
            + 2.0 * np.einsum("kq,kq->q", w, self.cross @ h)
            + np.einsum("cq,cq->q", h, self.count_gram @ h)
        )
        se = np.sqrt(np.maximum(var, 0.0)) / self.n
        se[se <= SE_FLOOR] = np.nan
        return se

    def cov(self, w: Array, h: Array) -> Array:
        """Return the covariance matrix of the quantities whose standard errors :meth:`se` gives.

        Parameters
        ----------
        w : ndarray
            Cells × quantities.
        h : ndarray
            Cohorts × quantities.

        Returns
        -------
        ndarray
            Quantities × quantities (its diagonal is ``se(w, h) ** 2``).
        """
        cross = w.T @ self.cross @ h
        return (w.T @ self.gram @ w + cross + cross.T + h.T @ self.count_gram @ h) / self.n**2


def bootstrap(
    mom: Moments,
    w: Array,
    h: Array,
    *,
    n_boot: int,
    seed: int,
    weights: str = "mammen",
    chunk: int = 50,
) -> Array:
    """Draw the multiplier bootstrap distribution of the quantities ``(w, h)``.

    Parameters
    ----------
    mom : Moments
        Influence functions summed per cluster and cohort counts.
    w, h : ndarray
        Cell weights and cohort terms of the quantities (see :class:`Moments`).
    n_boot : int
        Number of draws.
    seed : int
        Seed of the generator (same seed, same draws).
    weights : {"mammen", "rademacher"}
        Multiplier distribution, drawn per cluster (unit when unclustered).
    chunk : int
        Draws generated at a time (bounds memory).

    Returns
    -------
    ndarray
        Draws × quantities of ``estimate* - estimate``.

    Notes
    -----
    Multipliers are single precision (two values per distribution); the
    products are accumulated by BLAS. The relative error of a draw is about
    1e-6, far below the Monte Carlo error of the bootstrap itself.
    """
    m = mom.n_multipliers
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, w.shape[1]))
    if weights == "mammen":
        p_low, low, high = _MAMMEN_P_LOW, _MAMMEN_LOW, _MAMMEN_HIGH
    else:
        p_low, low, high = 0.5, -1.0, 1.0
    # bern = 1 when the multiplier is high: P(u >= p_low) = 1 - p_low.
    buf = np.empty((min(chunk, n_boot), m), dtype=np.float32)
    draw = mom.drawer()
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        bern = buf[:b]
        rng.random(dtype=np.float32, out=bern)
        np.greater_equal(bern, np.float32(p_low), out=bern, casting="unsafe")
        cell_draws, cohort_draws = draw(bern, low, high - low)
        out[start : start + b] = (cell_draws @ w + cohort_draws @ h) / mom.n
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


def wald_pretest(att: Array, gram: Array, n: int) -> tuple[float, int, float, str | None]:
    """Wald test that all pre-treatment ATT(g, t) are zero.

    Parameters
    ----------
    att : ndarray
        Pre-treatment estimates.
    gram : ndarray
        Cross-product of their (cluster-summed) influence functions.
    n : int
        Number of units.

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
    vcov = gram / n**2
    if np.linalg.cond(vcov) > 1.0 / np.finfo(float).eps:
        return (
            float("nan"),
            q,
            float("nan"),
            "the covariance of the pre-treatment estimates is singular",
        )
    stat = float(att @ np.linalg.solve(vcov, att))
    return stat, q, chi2_sf(q, stat), None

"""Sensitivity bounds from the placebo (Conley–Taber) distribution, for few treated clusters.

HonestDiD treats ``betahat − beta`` as normal with a known covariance. With one to
a few treated clusters the covariance is estimated from those few clusters and
the normal approximation fails (the intervals come out far too narrow). Conley &
Taber's remedy: the estimation error of a few-treated design has the
distribution of placebo estimates, the same event study fitted with a comparison
cluster given the treated cluster's timing. Each row of ``placebo`` is one such
error vector ``e_p`` over all event-study coefficients.

Both restrictions then give intervals whose only probabilistic step is that the
true error is exchangeable with the placebos:

* relative magnitudes: the post-period bias of ``l'betahat_post`` is at most
  ``Mbar · kappa · D`` with ``D`` the largest pre-period change of the true
  violations and ``kappa = sum_t |sum_{s ≥ t} l_s|``. Since
  ``D ≤ Dhat + max|Delta e_pre|``, the interval
  ``l'betahat ± (Mbar·kappa·Dhat + q)`` covers when ``q`` is the ``1 − alpha``
  quantile of ``|l'e_post| + Mbar·kappa·max|Delta e_pre|`` over the placebos.
* smoothness: the fixed-length interval's weights ``v`` (optimised with the
  placebos' covariance) have worst-case bias ``b``; ``v'betahat ± (b + q)`` covers
  when ``q`` is the ``1 − alpha`` quantile of ``|v'e|``, each placebo's ``|v'e|``
  taken with weights optimised without it (see :func:`_left_out_errors`).

The quantile is the order statistic that a rank test with ``n`` placebos allows
(``ceil((1 − alpha)(n + 1))``-th smallest); with too few placebos the interval is
unbounded, as for Conley–Taber itself.
"""

from __future__ import annotations

import math

import numpy as np

from evalkit.did.honest._flci import optimal_flci

__all__ = ["placebo_original", "placebo_quantile", "placebo_relmag", "placebo_smooth"]


def placebo_quantile(values: np.ndarray, alpha: float) -> float:
    """Return the ``ceil((1 − alpha)(n + 1))``-th smallest value (inf when there is none).

    Parameters
    ----------
    values : numpy.ndarray
        Placebo statistics.
    alpha : float
        1 − confidence level.

    Returns
    -------
    float
        The critical value.
    """
    n = len(values)
    rank = math.ceil((1 - alpha) * (n + 1) - 1e-9)
    if rank > n:
        return math.inf
    return float(np.sort(values)[rank - 1])


def _kappa(l_vec: np.ndarray) -> float:
    tails = np.cumsum(l_vec[::-1])[::-1]
    return float(np.abs(tails).sum())


def _pre_changes(pre: np.ndarray) -> np.ndarray:
    """Return the changes between consecutive pre-periods and into the reference period (0)."""
    return np.abs(np.diff(np.concatenate([pre, np.zeros((*pre.shape[:-1], 1))], axis=-1), axis=-1))


def placebo_original(
    betahat: np.ndarray, placebo: np.ndarray, num_pre: int, l_vec: np.ndarray, alpha: float
) -> tuple[float, float]:
    """Return the interval under exact parallel trends, from the placebo distribution.

    Returns
    -------
    tuple of float
        ``l'betahat_post ± q`` with ``q`` the placebo quantile of ``|l'e_post|``.
    """
    est = float(l_vec @ betahat[num_pre:])
    q = placebo_quantile(np.abs(placebo[:, num_pre:] @ l_vec), alpha)
    return est - q, est + q


def placebo_relmag(
    betahat: np.ndarray,
    placebo: np.ndarray,
    num_pre: int,
    l_vec: np.ndarray,
    mbar: float,
    alpha: float,
) -> tuple[float, float]:
    """Interval for ``l'tau`` under relative magnitudes ``mbar`` from the placebo distribution.

    Returns
    -------
    tuple of float
        Lower and upper end (infinite when the placebos cannot bound it).
    """
    kappa = _kappa(l_vec)
    d_hat = float(_pre_changes(betahat[:num_pre]).max())
    stat = np.abs(placebo[:, num_pre:] @ l_vec) + mbar * kappa * _pre_changes(
        placebo[:, :num_pre]
    ).max(axis=1)
    half = mbar * kappa * d_hat + placebo_quantile(stat, alpha)
    est = float(l_vec @ betahat[num_pre:])
    return est - half, est + half


def placebo_smooth(
    betahat: np.ndarray,
    placebo: np.ndarray,
    num_pre: int,
    l_vec: np.ndarray,
    m: float,
    alpha: float,
    groups: np.ndarray | None = None,
) -> tuple[float, float]:
    """Interval for ``l'tau`` under smoothness ``m`` from the placebo distribution.

    ``groups`` (rows × treated clusters) names the comparison clusters each placebo
    row is built from; each row is then judged with weights fitted on rows that share
    none of its clusters (:func:`_left_out_by_cluster`), else row by row.

    Returns
    -------
    tuple of float
        Lower and upper end (infinite when the placebos cannot bound it).
    """
    cov = placebo.T @ placebo / len(placebo)
    flci = optimal_flci(betahat, cov, num_pre, l_vec, m, alpha)
    if groups is not None and np.asarray(groups).shape[0] == len(placebo):
        errors = _left_out_by_cluster(
            betahat, placebo, np.asarray(groups), num_pre, l_vec, m, alpha
        )
    else:
        errors = _left_out_errors(betahat, placebo, num_pre, l_vec, m, alpha)
    half = flci.worst_bias + placebo_quantile(errors, alpha)
    return flci.centre - half, flci.centre + half


def _left_out_errors(
    betahat: np.ndarray,
    placebo: np.ndarray,
    num_pre: int,
    l_vec: np.ndarray,
    m: float,
    alpha: float,
) -> np.ndarray:
    """Return ``|v_(-p)' e_p|`` per placebo, ``v_(-p)`` optimised without placebo ``p``.

    The weights are chosen to make ``v'e`` small on the placebos; measured on the
    same placebos its quantile is too small for the treated clusters' error, which
    played no part in choosing ``v`` (coverage 0.92 at a nominal 0.95 in the
    benchmark with 19 placebos). Leaving each placebo out of its own weights
    restores the symmetry the rank test needs, as cross-validated residuals do.
    With many placebos the effect vanishes, so they are left out in at most
    ``_FOLDS`` folds (placebo ``p`` in fold ``p mod folds``) to bound the work.
    """
    n = len(placebo)
    folds = min(n, _FOLDS)
    out = np.empty(n)
    fold = np.arange(n) % folds
    for f in range(folds):
        rest = placebo[fold != f]
        cov = rest.T @ rest / len(rest)
        weights = optimal_flci(betahat, cov, num_pre, l_vec, m, alpha).weights
        out[fold == f] = np.abs(placebo[fold == f] @ weights)
    return out


def _left_out_by_cluster(
    betahat: np.ndarray,
    placebo: np.ndarray,
    groups: np.ndarray,
    num_pre: int,
    l_vec: np.ndarray,
    m: float,
    alpha: float,
) -> np.ndarray:
    """Return ``|v' e_p|`` per placebo, ``v`` fitted on rows sharing no cluster with ``p``.

    With several treated clusters each placebo row sums the contributions of several
    comparison clusters, and leaving out the row alone keeps those clusters in the
    fit through the other rows that use them: the interval covered 0.913 at a
    nominal 0.95 with three treated municipalities. The comparison clusters are dealt
    into folds (cluster ``c`` in fold ``c mod F``); a row is judged with the weights
    fitted on the rows that use none of its folds. ``F`` is the largest number of
    folds (at most 40, at least one more than the treated clusters) for which the
    distinct fold sets of the rows need at most 64 fits.
    """
    k = groups.shape[1]
    n_comparison = int(groups.max()) + 1
    folds = _fold_count(n_comparison, k)
    fold_of = groups % folds
    members = np.zeros((len(groups), folds), dtype=bool)
    members[np.arange(len(groups))[:, None], fold_of] = True
    out = np.full(len(placebo), np.nan)
    keys, inverse = np.unique(members, axis=0, return_inverse=True)
    for i, key in enumerate(keys):
        rest = placebo[~(members & key).any(axis=1)]
        rows = inverse.ravel() == i
        if len(rest) < 2:  # too few clusters to leave any out: judge on all the others
            rest = placebo[~rows]
        cov = rest.T @ rest / len(rest)
        weights = optimal_flci(betahat, cov, num_pre, l_vec, m, alpha).weights
        out[rows] = np.abs(placebo[rows] @ weights)
    return out


def _fold_count(n_comparison: int, k: int) -> int:
    """Folds of comparison clusters: as many as 64 fits allow (see _left_out_by_cluster)."""
    best = min(n_comparison, k + 1)
    for f in range(best, min(n_comparison, _FOLDS) + 1):
        if sum(math.comb(f, j) for j in range(1, k + 1)) <= _MAX_FITS:
            best = f
    return max(best, 1)


#: Most folds the left-out weights are fitted in (one per placebo below this).
_FOLDS = 40
#: Most distinct left-out fits per interval when placebo rows combine several clusters.
_MAX_FITS = 64

"""Optimal fixed-length confidence intervals under smoothness (Delta^SD(M)), HonestDiD's default.

Under ``Delta^SD(M)`` the violations of parallel trends may bend by at most ``M``
between consecutive periods: ``|delta_{t+1} − 2·delta_t + delta_{t−1}| ≤ M``
(``delta_0 = 0``). An affine estimator ``v'betahat`` with ``v = (v_pre, l)`` has
bounded bias only if it removes linear trends (``sum_t t·v_t = 0``); writing
``delta`` through its slope at the reference period and its second differences
``D`` gives the worst-case bias ``M · ||B'v||_1``. The interval
``v'betahat ± sd(v)·cv(bias/sd(v))`` (``cv(b)`` the ``1 − alpha`` quantile of
``|N(b, 1)|``) is the Armstrong & Kolesár (2018) fixed-length interval; the
optimal ``v_pre`` minimises its half-length. The problem is convex and small
(one weight per pre-period), so scipy's SLSQP solves it directly; the R package
traces the same frontier with a conic solver over a grid of standard deviations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# scipy.optimize is imported inside the two functions that use it: importing it costs
# about 0.2 s, which every `evalkit did` run paid although only sensitivity bounds need it.
from scipy import special

__all__ = ["Flci", "folded_normal_cv", "optimal_flci", "second_difference_map"]


@dataclass(frozen=True)
class Flci:
    """One fixed-length interval: the weights, the centre, the half-length."""

    weights: np.ndarray
    centre: float
    half_length: float
    worst_bias: float
    sd: float


def folded_normal_cv(bias: float, alpha: float) -> float:
    """Return the ``1 − alpha`` quantile of ``|N(bias, 1)|``.

    Parameters
    ----------
    bias : float
        Mean of the normal (≥ 0).
    alpha : float
        1 − coverage.

    Returns
    -------
    float
        ``c`` with ``Phi(c − bias) − Phi(−c − bias) = 1 − alpha``.
    """
    b = abs(bias)
    z = float(special.ndtri(1 - alpha))
    lo = max(0.0, b + float(special.ndtri(1 - alpha)) - 1.0) if b > 0 else 0.0

    def gap(c: float) -> float:
        return float(special.ndtr(c - b) - special.ndtr(-c - b)) - (1 - alpha)

    from scipy import optimize  # imported here: see the module's import block

    return float(optimize.brentq(gap, lo, b + z + 10.0, xtol=1e-14))


def second_difference_map(num_pre: int, num_post: int) -> tuple[np.ndarray, np.ndarray]:
    """``delta = b0·slope + B·D``: the trend and second-difference loadings of every coefficient.

    Parameters
    ----------
    num_pre, num_post : int
        Numbers of pre- and post-period coefficients (``delta_0 = 0`` left out).

    Returns
    -------
    b0 : numpy.ndarray
        Loading of the slope ``delta_0 − delta_{−1}`` (equals the event time).
    big_b : numpy.ndarray
        ``(num_pre + num_post) × (num_pre + num_post − 1)`` loadings of the second
        differences at event times ``−num_pre + 1 … num_post − 1``.
    """
    k, t = num_pre, num_post
    n_d = k + t - 1
    # First differences Delta_j, j = -k+1..t, over [slope, D_{-k+1}..D_{t-1}].
    first = {}
    for j in range(-k + 1, t + 1):
        row = np.zeros(n_d + 1)
        row[0] = 1.0
        if j > 0:
            row[1 + k - 1 : 1 + k - 1 + j] = 1.0  # D_0 .. D_{j-1}
        elif j < 0:
            row[1 + (j + k - 1) : 1 + k - 1] = -1.0  # D_j .. D_{-1}
        first[j] = row
    rows = []
    for e in [*range(-k, 0), *range(1, t + 1)]:
        if e > 0:
            rows.append(sum(first[j] for j in range(1, e + 1)))
        else:
            rows.append(-sum(first[j] for j in range(e + 1, 1)))
    full = np.array(rows)
    return full[:, 0], full[:, 1:]


def optimal_flci(
    betahat: np.ndarray,
    sigma: np.ndarray,
    num_pre: int,
    l_vec: np.ndarray,
    m: float,
    alpha: float,
) -> Flci:
    """Find the shortest fixed-length interval for ``l'tau`` under ``Delta^SD(m)``.

    Parameters
    ----------
    betahat, sigma : numpy.ndarray
        Event-study coefficients (pre then post) and their covariance.
    num_pre : int
        Number of pre-period coefficients.
    l_vec : numpy.ndarray
        Weights of the post-period effects in the target.
    m : float
        The smoothness bound.
    alpha : float
        1 − confidence level.

    Returns
    -------
    Flci
        Weights, centre, half-length, worst-case bias and standard deviation.
    """
    k = num_pre
    b0, big_b = second_difference_map(k, len(l_vec))
    post = np.arange(1, len(l_vec) + 1, dtype=float)
    scale = math.sqrt(float(l_vec @ sigma[k:, k:] @ l_vec))
    sig = sigma / scale**2
    m_s = m / scale

    def full(z: np.ndarray) -> np.ndarray:
        return np.concatenate([z[:k], l_vec])

    n_d = big_b.shape[1]

    def half_length(z: np.ndarray) -> float:
        v = full(z)
        sd = math.sqrt(max(float(v @ sig @ v), 1e-300))
        return sd * folded_normal_cv(m_s * float(z[k:].sum()) / sd, alpha)

    start_pre = np.zeros(k)
    start_pre[-1] = float(post @ l_vec)
    z0 = np.concatenate(
        [start_pre, np.abs(big_b.T @ full(np.concatenate([start_pre, np.zeros(n_d)])))]
    )
    cons = [
        {"type": "eq", "fun": lambda z: np.array([b0 @ full(z)])},
        {"type": "ineq", "fun": lambda z: z[k:] - big_b.T @ full(z)},
        {"type": "ineq", "fun": lambda z: z[k:] + big_b.T @ full(z)},
    ]
    from scipy import optimize  # imported here: see the module's import block

    res = optimize.minimize(
        half_length, z0, method="SLSQP", constraints=cons, options={"ftol": 1e-13, "maxiter": 500}
    )
    z = res.x if res.success and half_length(res.x) <= half_length(z0) else z0
    v = full(z)
    sd = math.sqrt(float(v @ sigma @ v))
    bias = m * float(np.abs(big_b.T @ v).sum())
    return Flci(
        weights=v,
        centre=float(v @ betahat),
        half_length=sd * folded_normal_cv(bias / sd, alpha),
        worst_bias=bias,
        sd=sd,
    )

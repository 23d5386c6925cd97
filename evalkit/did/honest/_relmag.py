"""Robust intervals under relative magnitudes (Rambachan & Roth 2023, Delta^RM(Mbar)).

The post-period violations of parallel trends may change from one period to
the next by at most ``Mbar`` times the largest change between consecutive
pre-periods: ``|delta_t − delta_{t−1}| ≤ Mbar · max_{s ≤ 0} |delta_s − delta_{s−1}|``
for ``t ≥ 1`` (``delta_0 = 0`` is the reference period). The set is a union over
which pre-period change is the largest (``s``) and its sign, each a polyhedron;
the interval is the union of the intervals of the conditional least-favourable
hybrid test on each (as in the R package's default, "C-LF", with only the
post-period moments in the test).
"""

from __future__ import annotations

import numpy as np

from evalkit.did.honest._arp import ArpProblem, accept_grid

__all__ = ["relmag_accept", "relmag_rows"]


def relmag_rows(num_pre: int, num_post: int, mbar: float, s: int, sign: float) -> np.ndarray:
    """Moment rows ``A`` (over ``delta_pre, delta_post``, without ``delta_0``) for one piece.

    Parameters
    ----------
    num_pre, num_post : int
        Numbers of pre- and post-period coefficients.
    mbar : float
        The bound.
    s : int
        Event time ``−(num_pre − 1) … 0`` of the largest pre-period change.
    sign : {1.0, −1.0}
        Whether that change is positive or negative.

    Returns
    -------
    numpy.ndarray
        ``2·num_post`` rows: ``±(delta_t − delta_{t−1}) − Mbar·sign·(delta_s − delta_{s−1}) ≤ 0``.
    """
    width = num_pre + num_post + 1  # with delta_0 at column num_pre

    def diff(t: int) -> np.ndarray:
        row = np.zeros(width)
        row[num_pre + t] += 1.0
        row[num_pre + t - 1] -= 1.0
        return row

    ref = sign * diff(s)
    rows = []
    for t in range(1, num_post + 1):
        rows.append(diff(t) - mbar * ref)
        rows.append(-diff(t) - mbar * ref)
    a = np.array(rows)
    return np.delete(a, num_pre, axis=1)


def relmag_accept(
    betahat: np.ndarray,
    sigma: np.ndarray,
    num_pre: int,
    l_vec: np.ndarray,
    mbar: float,
    grid: np.ndarray,
    *,
    alpha: float,
    sims: int,
    seed: int,
) -> np.ndarray:
    """Return which grid values of ``theta = l'tau`` are accepted under ``Delta^RM(mbar)``.

    Parameters
    ----------
    betahat, sigma : numpy.ndarray
        Event-study coefficients (pre then post) and their covariance.
    num_pre : int
        Number of pre-period coefficients.
    l_vec : numpy.ndarray
        Weights of the post-period effects in the target.
    mbar : float
        The bound.
    grid : numpy.ndarray
        Values of theta to test.
    alpha : float
        1 − confidence level.
    sims, seed : int
        Draws and seed of the least-favourable critical value.

    Returns
    -------
    numpy.ndarray of bool
        True where some piece of the restriction accepts theta.
    """
    num_post = len(l_vec)
    post = slice(num_pre, num_pre + num_post)
    null = np.linalg.svd(l_vec[None, :])[2][1:].T  # basis of {tau: l'tau = 0}
    accept = np.zeros(len(grid), dtype=bool)
    for s in range(-(num_pre - 1), 1):
        for sign in (1.0, -1.0):
            a = relmag_rows(num_pre, num_post, mbar, s, sign)
            problem = ArpProblem(
                y=a @ betahat,
                a=a[:, post] @ l_vec / float(l_vec @ l_vec),
                x=a[:, post] @ null,
                sigma_y=a @ sigma @ a.T,
            )
            accept |= accept_grid(
                problem, grid, alpha=alpha, kappa=alpha / 10, sims=sims, seed=seed
            )
    return accept

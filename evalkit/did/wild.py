"""Restricted wild cluster bootstrap (WCR) for linear combinations of DiD coefficients.

Each hypothesis ``w'theta = b0`` (the static treatment coefficient, one event-time
coefficient, or the mean of the post-period event times) gets its own restricted
bootstrap of the CR1 t-statistic (MacKinnon–Webb), with the same seeded weight
draws for every hypothesis. The interval is the set of ``b0`` the test does not
reject (test inversion). All ``2**G`` Rademacher sign vectors are enumerated when
that is fewer than the requested draws.

Written here rather than taken from a library: the Python ports of ``boottest``
(wildboottest) bootstrap one coefficient of a statsmodels OLS with the fixed
effects as dummies, which is too slow on a person-month panel and cannot invert
the test; this version works on the partialled-out (FWL) design and reduces
everything to per-cluster sums (``G × m`` and ``G × m × m``), so a draw costs
``O(G·m)`` whatever the number of rows.

Honesty: with random draws the p-value is ``(1 + #{|t*| ≥ |t|}) / (B + 1)``
(the observed statistic counts as a draw), never 0; with enumeration the
observed sign vector and its mirror image are among the draws, so the smallest
p-value is ``2 / 2**G``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from evalkit.did._spread import ClusterSums, Spread
from evalkit.did.inference import InferenceOutcome, LinearDesign, invert
from evalkit.did.notes import Note
from evalkit.errors import EstimationError

__all__ = ["wild_bootstrap", "wild_bootstrap_combinations", "wild_joint_test"]

_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])


@dataclass(frozen=True)
class _Sums:
    """Per-cluster sums of the partialled-out design: everything a draw needs."""

    theta: np.ndarray  # m, OLS coefficients
    bread: np.ndarray  # m × m, (Z'Z)^-1
    score: np.ndarray  # G × m, sum_g z_i u_i (unrestricted residuals)
    gram: np.ndarray  # G × m × m, sum_g z_i z_i'
    spread: Spread  # how the nuisance part carries one cluster's residuals to the others

    @classmethod
    def of(cls, design: LinearDesign) -> _Sums:
        y, z = design.partialled()
        cl = design.cluster
        g_count = design.n_clusters
        if np.any(np.bincount(cl, minlength=g_count) == 0):
            raise EstimationError("the wild bootstrap needs every cluster code to have rows")
        try:
            bread = np.linalg.inv(z.T @ z)
        except np.linalg.LinAlgError as exc:
            raise EstimationError(
                "the wild bootstrap cannot run: the regressors of interest are collinear"
            ) from exc
        theta = bread @ (z.T @ y)
        u = y - z @ theta
        spread = Spread.of(design, z, u, ClusterSums(cl, g_count))
        return cls(theta, bread, spread.score, spread.gram, spread)


def _draws(g_count: int, weights: str, n_boot: int, seed: int) -> tuple[np.ndarray, bool]:
    """Weight draws (G × B) and whether they are the full Rademacher enumeration."""
    if weights not in ("rademacher", "webb"):
        raise EstimationError(f"weights must be one of 'rademacher', 'webb'; got {weights!r}")
    enumerated = weights == "rademacher" and 2**g_count <= n_boot
    draws = 2**g_count if enumerated else n_boot
    if g_count * draws > 50_000_000:
        raise EstimationError(
            f"a wild bootstrap with {draws} draws over {g_count} clusters is too large here; "
            "lower n_boot or cluster at a coarser level (e.g. municipality)"
        )
    rng = np.random.default_rng(seed)
    if enumerated:
        v = np.array(list(itertools.product((-1.0, 1.0), repeat=g_count))).T
    elif weights == "rademacher":
        v = rng.choice((-1.0, 1.0), size=(g_count, n_boot))
    else:
        v = rng.choice(_WEBB, size=(g_count, n_boot))
    return v, enumerated


def _combination(
    sums: _Sums, w: np.ndarray, v: np.ndarray, enumerated: bool, alpha: float
) -> tuple[float, float, float]:
    """p-value of ``w'theta = 0`` and the interval, by the restricted bootstrap of CR1 t.

    With ``c = Z (Z'Z)^-1 w`` the estimate is ``c'y``; the residuals restricted to
    ``w'theta = b0`` are ``u0 - b0 u1`` with ``u0 = u + c (w'theta) / c'c`` and
    ``u1 = c / c'c``, so every bootstrap quantity is linear in ``b0`` and in the
    per-cluster sums of ``z u`` and ``z z'``.
    """
    pw = sums.bread @ w  # (Z'Z)^-1 w
    kappa = float(w @ pw)  # c'c
    if not kappa > 0:
        return math.nan, math.nan, math.nan
    beta = float(w @ sums.theta)
    hw = sums.gram @ pw  # G × m: sum_g z_i c_i
    big_a0 = sums.score + (beta / kappa) * hw  # sum_g z_i u0_i
    big_a1 = hw / kappa  # sum_g z_i u1_i
    a0, a1 = big_a0 @ pw, big_a1 @ pw  # sum_g c_i u0_i, sum_g c_i u1_i
    se_u = math.sqrt(float(((sums.score @ pw) ** 2).sum()))
    hp = hw @ sums.bread  # G × m
    # Cluster g's score of the bootstrap fit, c_g' M_X (v * u~): the nuisance part spreads
    # each cluster's bootstrap residuals over the others (spread), the regressors of
    # interest take out hp_g' sum_h v_h A_h.
    col = pw[:, None]
    s0 = sums.spread(col, True, pw * beta / kappa, v)[:, 0, :] - hp @ (big_a0.T @ v)
    s1 = sums.spread(col, False, pw / kappa, v)[:, 0, :] - hp @ (big_a1.T @ v)
    n0, n1 = a0 @ v, a1 @ v
    extra = 0 if enumerated else 1  # random draws: the observed statistic counts as one

    def pfun(b0: float) -> float:
        t_obs = (beta - b0) / se_u if se_u > 0 else math.inf
        se_star = np.sqrt(((s0 - b0 * s1) ** 2).sum(axis=0))
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = (n0 - b0 * n1) / se_star
        t_star = np.where(se_star > 0, t_star, 0.0)
        hits = int((np.abs(t_star) >= abs(t_obs) - 1e-12 * max(1.0, abs(t_obs))).sum())
        return (hits + extra) / (v.shape[1] + extra)

    lo, hi = invert(pfun, beta, se_u, alpha)
    return pfun(0.0), lo, hi


def wild_bootstrap_combinations(
    design: LinearDesign,
    combinations: Sequence[np.ndarray],
    *,
    weights: Literal["rademacher", "webb"] = "rademacher",
    n_boot: int = 9999,
    seed: int = 0,
    alpha: float = 0.05,
) -> list[InferenceOutcome]:
    """Restricted wild cluster bootstrap of ``w'theta = 0`` for each weight vector ``w``.

    Parameters
    ----------
    design : LinearDesign
        The regression (``role`` is not needed).
    combinations : sequence of numpy.ndarray
        Weight vectors of length m (one per regressor of interest).
    weights : {"rademacher", "webb"}
        Bootstrap weight distribution.
    n_boot : int
        Number of draws (Rademacher: all ``2**G`` sign vectors when fewer).
    seed : int
        Seed of the draws (shared by all combinations).
    alpha : float
        1 − confidence level.

    Returns
    -------
    list of InferenceOutcome
        One per combination: p-value and the interval by test inversion.
    """
    sums = _Sums.of(design)
    g_count = design.n_clusters
    v, enumerated = _draws(g_count, weights, n_boot, seed)
    draws = v.shape[1]
    messages: list[Note] = []
    if enumerated:
        messages.append(Note("wild_enumerated", {"clusters": int(g_count), "draws": int(draws)}))
    smallest = 2.0 / draws if enumerated else 1.0 / (draws + 1)
    detail = {
        "method": "wild cluster bootstrap (restricted, WCR)",
        "weights": weights,
        "draws": int(draws),
        "enumerated": bool(enumerated),
        "smallest_p_value": smallest,
        "seed": int(seed),
        "statistic": "CR1 t",
    }
    out = []
    for w in combinations:
        p, lo, hi = _combination(sums, np.asarray(w, dtype=float), v, enumerated, alpha)
        out.append(InferenceOutcome(p, lo, hi, dict(detail), tuple(messages)))
    return out


def wild_bootstrap(
    design: LinearDesign,
    *,
    weights: Literal["rademacher", "webb"] = "rademacher",
    n_boot: int = 9999,
    seed: int = 0,
    alpha: float = 0.05,
) -> InferenceOutcome:
    """Restricted wild cluster bootstrap (WCR) of the CR1 t-statistic of the last regressor.

    Parameters
    ----------
    design : LinearDesign
        The regression.
    weights : {"rademacher", "webb"}
        Bootstrap weight distribution.
    n_boot : int
        Number of draws (Rademacher: all ``2**G`` sign vectors when fewer).
    seed : int
        Seed of the draws.
    alpha : float
        1 − confidence level.

    Returns
    -------
    InferenceOutcome
        p-value of "no effect" and the interval by test inversion.
    """
    w = np.zeros(design.regressors.shape[1])
    w[-1] = 1.0
    return wild_bootstrap_combinations(
        design, [w], weights=weights, n_boot=n_boot, seed=seed, alpha=alpha
    )[0]


def wild_joint_test(
    design: LinearDesign,
    positions: Sequence[int],
    *,
    weights: Literal["rademacher", "webb"] = "rademacher",
    n_boot: int = 9999,
    seed: int = 0,
) -> float:
    """Wild bootstrap p-value of "every coefficient in ``positions`` is zero".

    The statistic is the sum of the squared CR1 t-statistics of those coefficients
    (no inverse of their joint covariance, which is singular when they outnumber the
    clusters); the bootstrap is restricted under the joint null.

    Parameters
    ----------
    design : LinearDesign
        The regression.
    positions : sequence of int
        Regressors tested jointly (e.g. the pre-period event times).
    weights, n_boot, seed
        As in :func:`wild_bootstrap_combinations` (same draws for the same seed).

    Returns
    -------
    float
        The p-value.
    """
    sums = _Sums.of(design)
    v, enumerated = _draws(design.n_clusters, weights, n_boot, seed)
    idx = list(positions)
    m = sums.theta.size
    r = np.eye(m)[idx]  # q × m
    rp = r @ sums.bread  # q × m
    middle = np.linalg.pinv(rp @ r.T)
    shift = sums.bread @ r.T @ middle @ (r @ sums.theta)  # theta - restricted theta
    big_a = sums.score + sums.gram @ shift  # G × m, sum_g z_i u~_i
    k = np.einsum("qm,gmn,nk->gqk", rp, sums.gram, sums.bread)  # R P H_g P
    sv = big_a.T @ v  # m × B
    t_b = sums.spread(rp.T, True, shift, v) - np.einsum("gqm,mb->gqb", k, sv)  # G × q × B
    num = rp @ sv  # q × B
    var_b = (t_b**2).sum(axis=0)
    var_obs = ((sums.score @ rp.T) ** 2).sum(axis=0)
    est = r @ sums.theta
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = float(np.where(var_obs > 0, est**2 / var_obs, 0.0).sum())
        star = np.where(var_b > 0, num**2 / var_b, 0.0).sum(axis=0)
    extra = 0 if enumerated else 1
    hits = int((star >= stat - 1e-12 * max(1.0, stat)).sum())
    return (hits + extra) / (v.shape[1] + extra)

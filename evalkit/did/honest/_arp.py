"""The conditional least-favourable hybrid test of Andrews, Roth & Pakes (2023), on a grid.

HonestDiD's default for relative magnitudes ("C-LF"): the moments
``Y = A·betahat − d`` must satisfy ``E[Y] − a·theta − X·tau ≤ 0`` for some
nuisance ``tau``. The statistic is the linear programme
``eta = min_{eta, tau} eta  s.t.  Y − a·theta − X·tau ≤ eta·sd``, whose dual is
``max lambda'(Y − a·theta)`` over the polytope ``lambda ≥ 0, lambda'sd = 1,
lambda'X = 0``. That polytope does not depend on ``theta`` or on the data, so we
enumerate its vertices once; every primal programme on the grid, every
least-favourable simulation draw and the conditioning bounds ``vlo, vup`` (the
values ``c`` for which the maximising vertex stays optimal) then reduce to
matrix products. We wrote this ourselves: no Python library offers the ARP test,
and a linear-programme solver per grid point and draw (as the R package does)
would be a hundred times slower.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from evalkit.errors import EstimationError

__all__ = ["MAX_VERTICES", "ArpProblem", "accept_grid", "normal_draws"]

#: Above this many candidate bases the vertex enumeration would be too slow.
MAX_VERTICES = 300_000
_TOL = 1e-10


@dataclass(frozen=True)
class ArpProblem:
    """One moment-inequality problem ``Y − a·theta − X·tau ≤ 0`` with ``Y ~ N(mu, sigma_y)``.

    Parameters
    ----------
    y : numpy.ndarray
        Moments at theta = 0 (``A·betahat − d``), length m.
    a : numpy.ndarray
        Loading of theta in each moment, length m.
    x : numpy.ndarray
        Loading of the nuisance parameters, m × k (k may be 0).
    sigma_y : numpy.ndarray
        Covariance of ``Y``, m × m.
    """

    y: np.ndarray
    a: np.ndarray
    x: np.ndarray
    sigma_y: np.ndarray


def _vertices(sd: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Vertices of ``{lambda ≥ 0, lambda'[sd, X] = e1}``, one per row."""
    w = np.column_stack([sd, x])
    m, k1 = w.shape
    n_bases = math.comb(m, k1)
    if n_bases > MAX_VERTICES:
        raise EstimationError(
            f"the sensitivity analysis has {k1} post-period coefficients; the exact test "
            f"would enumerate {n_bases} bases, too many to compute here. Cap the event window "
            "(max_e) or bin the later event times"
        )
    subsets = np.array(list(itertools.combinations(range(m), k1)), dtype=np.intp)
    mats = np.transpose(w[subsets], (0, 2, 1))  # (n, k1, k1): rows of W_S as columns
    rhs = np.zeros((len(subsets), k1))
    rhs[:, 0] = 1.0
    ok = np.abs(np.linalg.det(mats)) > 1e-12 * max(1.0, float(np.abs(w).max()) ** k1)
    lam_s = np.linalg.solve(mats[ok], rhs[ok][..., None])[..., 0]
    keep = np.all(lam_s >= -1e-10, axis=1)
    out = np.zeros((int(keep.sum()), m))
    rows = np.repeat(np.arange(len(out)), k1)
    out[rows, subsets[ok][keep].ravel()] = np.clip(lam_s[keep], 0.0, None).ravel()
    return out


@functools.lru_cache(maxsize=8)
def _standard_draws(m: int, sims: int, seed: int) -> np.ndarray:
    # The same draws for every piece of a restriction (as the R package re-seeds each time).
    out = np.random.default_rng(seed).standard_normal((m, sims))
    out.setflags(write=False)
    return out


def normal_draws(sigma_y: np.ndarray, sims: int, seed: int) -> np.ndarray:
    """Return draws of ``N(0, sigma_y)`` (sigma_y may be singular), one per column."""
    vals, vecs = np.linalg.eigh((sigma_y + sigma_y.T) / 2)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return root @ _standard_draws(len(vals), sims, seed)


def accept_grid(
    problem: ArpProblem,
    grid: np.ndarray,
    *,
    alpha: float,
    kappa: float,
    sims: int,
    seed: int,
) -> np.ndarray:
    """Whether the conditional least-favourable hybrid test accepts each ``theta`` of ``grid``.

    Parameters
    ----------
    problem : ArpProblem
        The moments.
    grid : numpy.ndarray
        Values of theta to test.
    alpha : float
        Size of the test.
    kappa : float
        Size of the least-favourable first stage (HonestDiD: alpha / 10).
    sims : int
        Draws for the least-favourable critical value.
    seed : int
        Seed of those draws.

    Returns
    -------
    numpy.ndarray of bool
        True where theta is accepted.
    """
    sig = problem.sigma_y
    sd = np.sqrt(np.clip(np.diag(sig), 0.0, None))
    if np.any(sd <= 0):
        raise EstimationError("a moment of the sensitivity analysis has zero variance")
    lam = _vertices(sd, problem.x)
    # Single precision halves the cost of the largest product; a quantile needs no more.
    lf_draws = lam.astype(np.float32) @ normal_draws(sig, sims, seed).astype(np.float32)
    lf_cv = float(np.quantile(lf_draws.max(axis=0), 1 - kappa))
    vals = (lam @ problem.y)[:, None] - (lam @ problem.a)[:, None] * grid[None, :]
    best = np.argmax(vals, axis=0)
    cols = np.arange(len(grid))
    eta = vals[best, cols]
    gamma = lam[best]  # (G, m)
    s_gamma = gamma @ sig  # (G, m) = (sigma γ)'
    var_b = np.einsum("gm,gm->g", s_gamma, gamma)
    proj = lam @ s_gamma.T  # (V, G): λ_v' Σ γ
    accept = np.ones(len(grid), dtype=bool)
    first = eta > lf_cv
    accept[first] = False
    flat = var_b <= np.finfo(float).eps
    accept[flat & ~first] = ~(eta[flat & ~first] > 0)
    live = ~first & ~flat
    if not live.any():
        return accept
    vb = var_b[live]
    num = vals[:, live] - proj[:, live] * (eta[live] / vb)[None, :]
    den = 1.0 - proj[:, live] / vb[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num / den
    vlo = np.where(den > _TOL, ratio, -np.inf).max(axis=0)
    vup = np.where(den < -_TOL, ratio, np.inf).min(axis=0)
    s_b = np.sqrt(vb)
    zlo, zup = vlo / s_b, np.minimum(vup, lf_cv) / s_b
    stat = eta[live] / s_b
    inside = (zlo <= stat) & (stat <= zup)
    mod_size = (alpha - kappa) / (1 - kappa)
    cval = np.zeros(len(stat))
    if inside.any():
        cval[inside] = np.maximum(0.0, _truncnorm_ppf(1 - mod_size, zlo[inside], zup[inside]))
    accept[live] = ~(inside & (stat > cval))
    return accept


def _truncnorm_ppf(p: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Quantile ``p`` of the standard normal truncated to ``[lo, hi]``.

    Computed on the upper tail's survival function when ``lo > 0`` (and on the
    distribution function otherwise), so that neither tail loses its digits;
    scipy.special rather than scipy.stats keeps the estimators light to import.
    """
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    upper = lo > 0
    out = np.empty_like(lo)
    s_lo, s_hi = special.ndtr(-lo[upper]), special.ndtr(-hi[upper])
    out[upper] = -special.ndtri(s_lo - p * (s_lo - s_hi))
    c_lo, c_hi = special.ndtr(lo[~upper]), special.ndtr(hi[~upper])
    out[~upper] = special.ndtri(c_lo + p * (c_hi - c_lo))
    return np.clip(out, lo, hi)

"""Unit and time weights of synthetic control, synthetic DiD and DiD, for many assignments at once.

One call fits the weights of ``D`` assignments of treatment inside one block: the
real one (``D = 1``) or placebo assignments that pretend comparison units were
treated. The defaults are those of R ``synthdid`` 0.0.9 (``synthdid_estimate``,
``sc_estimate``, ``did_estimate``; Arkhangelsky et al. 2021, Section 2 and Algorithm 1):

* noise level σ = standard deviation of the first differences of the comparison
  units' pre-period outcomes;
* synthetic DiD: unit weights with an intercept and ridge ζ_ω = (N₁T₁)^¼ σ; time
  weights with an intercept and ζ_λ = 10⁻⁶ σ;
* synthetic control: unit weights without intercept and ζ_ω = 10⁻⁶ σ, no time weights;
* DiD: equal unit and time weights;
* two rounds of Frank–Wolfe (100 steps, then sparsify: weights ≤ max/4 set to zero,
  then up to 10 000 steps), stopping once a step gains less than (10⁻⁵ σ)².
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from evalkit.did._frank_wolfe import SimplexProblems, solve

__all__ = ["Method", "Weights", "fit_weights", "two_rounds"]

Method = Literal["synthetic_did", "synthetic_control", "did"]

_ETA_LAMBDA = 1e-6
_ETA_SC = 1e-6
_PRE_SPARSIFY = 100
_MAX_ITER = 10_000


@dataclass(frozen=True)
class Weights:
    """Weights and estimates of ``D`` assignments in one block.

    Attributes
    ----------
    omega : numpy.ndarray
        Unit weights over the pool (D × pool size), zero on excluded units.
    lam : numpy.ndarray
        Time weights over the pre-periods (D × t0); zero for synthetic control.
    tau : numpy.ndarray
        The estimate of each assignment (D).
    noise : numpy.ndarray
        The noise level σ of each assignment (D).
    zeta_omega : numpy.ndarray
        The unit-weight regularisation ζ_ω (D).
    """

    omega: np.ndarray
    lam: np.ndarray
    tau: np.ndarray
    noise: np.ndarray
    zeta_omega: np.ndarray


def _sparsify(x: np.ndarray) -> np.ndarray:
    out = np.where(x <= x.max(axis=1, keepdims=True) / 4, 0.0, x)
    return out / out.sum(axis=1, keepdims=True)


def two_rounds(
    problems: SimplexProblems, start: np.ndarray, floor: np.ndarray, max_iter: int = _MAX_ITER
) -> np.ndarray:
    """Run the reference's two Frank–Wolfe rounds (100 steps, sparsify, ``max_iter`` steps)."""
    first = solve(problems, start, min_decrease=floor, max_iter=_PRE_SPARSIFY)
    return solve(problems, _sparsify(first), min_decrease=floor, max_iter=max_iter)


def _noise(pre: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """σ per assignment: SD of first differences of the pool's pre-period rows left in."""
    diffs = np.diff(pre, axis=1)
    s1, s2 = diffs.sum(axis=1), (diffs**2).sum(axis=1)
    per_row = diffs.shape[1]
    n = (pre.shape[0] - excluded.shape[1]) * per_row
    t1 = s1.sum() - s1[excluded].sum(axis=1)
    t2 = s2.sum() - s2[excluded].sum(axis=1)
    return np.sqrt(np.maximum(t2 - t1**2 / n, 0.0) / (n - 1))


def _unit_weights(
    pre: np.ndarray,
    treated_pre: np.ndarray,
    allowed: np.ndarray,
    zeta: np.ndarray,
    floor: np.ndarray,
    intercept: bool,
    start: np.ndarray | None,
) -> np.ndarray:
    """Fit ω for every assignment: the pool's pre-periods against the treated mean."""
    if intercept:
        pre = pre - pre.mean(axis=1, keepdims=True)
        treated_pre = treated_pre - treated_pre.mean(axis=1, keepdims=True)
    gram = pre @ pre.T
    problems = SimplexProblems(
        gram=gram,
        cross=treated_pre @ pre.T,
        target=np.einsum("dt,dt->d", treated_pre, treated_pre),
        rows=pre.shape[1],
        zeta=zeta,
        allowed=allowed,
    )
    begin = allowed if start is None else np.where(allowed, start, 0.0)
    sums = begin.sum(axis=1, keepdims=True)
    begin = np.where(
        sums > 0,
        begin / np.where(sums > 0, sums, 1.0),
        allowed / allowed.sum(axis=1, keepdims=True),
    )
    return two_rounds(problems, begin, floor)


def _time_weights(
    pre: np.ndarray,
    post_mean: np.ndarray,
    excluded: np.ndarray,
    zeta: np.ndarray,
    floor: np.ndarray,
    start: np.ndarray | None,
) -> np.ndarray:
    """Fit λ for every assignment: pre-periods against the post mean, over units left in."""
    z = np.column_stack([pre, post_mean])
    left = z.shape[0] - excluded.shape[1]
    out_rows = z[excluded]
    gram = z.T @ z - np.einsum("dkp,dkq->dpq", out_rows, out_rows)
    sums = z.sum(axis=0) - out_rows.sum(axis=1)
    gram = gram - np.einsum("dp,dq->dpq", sums, sums) / left
    t0 = pre.shape[1]
    problems = SimplexProblems(
        gram=gram[:, :t0, :t0],
        cross=gram[:, :t0, t0],
        target=gram[:, t0, t0],
        rows=left,
        zeta=zeta,
    )
    begin = np.full((excluded.shape[0], t0), 1.0 / t0) if start is None else start
    return two_rounds(problems, np.broadcast_to(begin, (excluded.shape[0], t0)), floor)


def fit_weights(
    y: np.ndarray,
    t0: int,
    pool: np.ndarray,
    treated: np.ndarray,
    excluded: np.ndarray,
    method: Method,
    eta_omega: float | None = None,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> Weights:
    """Fit unit and time weights and the estimate of every assignment.

    Parameters
    ----------
    y : numpy.ndarray
        Outcomes, units × periods; columns ``t0:`` are the treated periods.
    t0 : int
        Number of pre-treatment periods (at least 2).
    pool : numpy.ndarray
        Row indices of the comparison units available to every assignment.
    treated : numpy.ndarray
        D × n₁ row indices of the treated units of each assignment.
    excluded : numpy.ndarray
        D × k positions *in pool* that an assignment may not use (its own pseudo-treated).
    method : {"synthetic_did", "synthetic_control", "did"}
        The estimator.
    eta_omega : float, optional
        Overrides the unit-weight regularisation multiplier η_ω (ζ_ω = η_ω σ).
    start : tuple of numpy.ndarray, optional
        Starting unit weights over the pool and time weights (as R ``synthdid``'s
        placebo standard error starts every placebo fit from the treated fit's weights,
        renormalised over the units an assignment may use); default equal weights.

    Returns
    -------
    Weights
        The weights and estimates.
    """
    n_draws, n1 = treated.shape
    t1 = y.shape[1] - t0
    pre, post_mean = y[pool, :t0], y[pool, t0:].mean(axis=1)
    allowed = np.ones((n_draws, len(pool)), dtype=bool)
    allowed[np.arange(n_draws)[:, None], excluded] = False
    noise = _noise(pre, excluded)
    floor = 1e-5 * noise
    if eta_omega is None:
        eta_omega = (n1 * t1) ** 0.25 if method == "synthetic_did" else _ETA_SC
    zeta_omega = eta_omega * noise
    treated_pre = y[treated, :t0].mean(axis=1)
    if method == "did":
        omega = allowed / allowed.sum(axis=1, keepdims=True)
    else:
        intercept = method == "synthetic_did"
        omega = _unit_weights(
            pre, treated_pre, allowed, zeta_omega, floor, intercept, start and start[0]
        )
    if method == "synthetic_did":
        lam = _time_weights(
            pre, post_mean, excluded, _ETA_LAMBDA * noise, floor, start and start[1]
        )
    elif method == "did":
        lam = np.full((n_draws, t0), 1.0 / t0)
    else:
        lam = np.zeros((n_draws, t0))
    treated_gap = y[treated, t0:].mean(axis=(1, 2)) - np.einsum("dt,dt->d", treated_pre, lam)
    control_gap = post_mean[None, :] - lam @ pre.T
    tau = treated_gap - np.einsum("dn,dn->d", omega, control_gap)
    return Weights(omega=omega, lam=lam, tau=tau, noise=noise, zeta_omega=zeta_omega)

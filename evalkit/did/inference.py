"""Inference for the 2×2 and TWFE treatment coefficient when few clusters are treated.

Three resampling methods, all working on the partialled-out (FWL) design of
:class:`LinearDesign`:

* :func:`wild_bootstrap` — restricted wild cluster bootstrap (WCR) of the CR1
  t-statistic, Rademacher or Webb weights, seeded; the interval by test inversion.
  All ``2**G`` Rademacher sign vectors are enumerated when that is fewer than the
  requested draws.
* :func:`randomization` — randomization inference over the assignment of the
  treatment (timing) to clusters; exact enumeration when the number of distinct
  assignments is at most ``max_enumerate``, otherwise seeded random assignments;
  the interval by inverting the sharp-null test ``Y(0) = Y - tau0 * D``.
* Conley–Taber with the Ferman–Pinto correction lives in
  :mod:`evalkit.did.conley_taber` (it also serves the event study).

p-values are finite-sample honest: with ``n`` distinct assignments (or placebos)
the smallest attainable p-value is ``1/n`` (``1/(n+1)`` for Conley–Taber) and the
functions report it; when it exceeds ``alpha`` the interval is unbounded
(``-inf, inf``) and a plain-words message says why.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from evalkit.did._fwl import Residualizer
from evalkit.errors import EstimationError

__all__ = [
    "InferenceOutcome",
    "LinearDesign",
    "randomization",
    "unbounded_message",
    "wild_bootstrap",
]

_MAX_BLOCK_CELLS = 60_000_000


@dataclass(frozen=True)
class InferenceOutcome:
    """p-value and interval of one resampling method, with the facts behind them."""

    p_value: float
    ci_low: float
    ci_high: float
    detail: dict[str, Any]
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinearDesign:
    """A linear DiD regression ready for resampling.

    Parameters
    ----------
    y : numpy.ndarray
        Outcome (N).
    regressors : numpy.ndarray
        Regressors of interest (N × m); the LAST column is the treatment whose
        coefficient is tested; earlier columns move with the assignment (2×2: group).
    residualizer : Residualizer
        Partials out the nuisance part (fixed effects, covariates, intercept, post).
    cluster : numpy.ndarray
        Cluster codes 0..G-1.
    role : numpy.ndarray or None
        Per cluster, 0 for comparison clusters and r ≥ 1 for the treatment pattern
        ``r`` (cohort); None when the treatment is not a cluster-level pattern
        (then only the wild bootstrap is available).
    block : callable or None
        ``block(g, r)`` → N × m matrix: the regressors cluster ``g`` contributes
        when given pattern ``r``.
    """

    y: np.ndarray
    regressors: np.ndarray
    residualizer: Residualizer
    cluster: np.ndarray
    role: np.ndarray | None = None
    block: Callable[[int, int], np.ndarray] | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return int(self.cluster.max()) + 1

    def partialled(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the residualised outcome and regressors (cached)."""
        if "yz" not in self._cache:
            self._cache["yz"] = (self.residualizer(self.y), self.residualizer(self.regressors))
        out: tuple[np.ndarray, np.ndarray] = self._cache["yz"]
        return out

    def coefficient(self) -> float:
        """Return the treatment coefficient (last regressor) by FWL."""
        y, z = self.partialled()
        theta, *_ = np.linalg.lstsq(z, y, rcond=None)
        return float(theta[-1])

    def blocks(self) -> tuple[np.ndarray, int, int]:
        """Return residualised block columns (N × G·R·m), R and m (cached)."""
        if "blocks" in self._cache:
            out: tuple[np.ndarray, int, int] = self._cache["blocks"]
            return out
        if self.role is None or self.block is None:
            raise EstimationError(
                "this inference needs a treatment that switches on at the same period for "
                "every row of a cluster (cohort per cluster); here it does not"
            )
        n_roles = int(self.role.max())
        m = self.regressors.shape[1]
        g_count = self.n_clusters
        n = len(self.y)
        if n * g_count * n_roles * m > _MAX_BLOCK_CELLS:
            raise EstimationError(
                f"permutation/Conley–Taber inference over {g_count} clusters on {n} rows is "
                "too large to compute here; aggregate the data to cluster × period means or "
                "use inference='wild'"
            )
        cols = np.zeros((n, g_count * n_roles * m))
        for g in range(g_count):
            for r in range(1, n_roles + 1):
                start = (g * n_roles + r - 1) * m
                cols[:, start : start + m] = self.block(g, r)
        self._cache["blocks"] = (self.residualizer(cols), n_roles, m)
        return self._cache["blocks"]


def _gram(design: LinearDesign) -> np.ndarray:
    """Gram matrix of the residualised blocks (cached on the design)."""
    if "gram" not in design._cache:
        q, _, _ = design.blocks()
        design._cache["gram"] = q.T @ q
    out: np.ndarray = design._cache["gram"]
    return out


def _index(g: int, r: int, n_roles: int, m: int) -> list[int]:
    start = (g * n_roles + r - 1) * m
    return list(range(start, start + m))


def _assigned_coef(
    gram: np.ndarray,
    vecs: np.ndarray,
    pairs: list[tuple[int, int]],
    n_roles: int,
    m: int,
    scales: np.ndarray | None = None,
) -> np.ndarray:
    """Coefficient of the last regressor when clusters ``pairs`` (g, r) are treated.

    ``vecs`` holds block-wise inner products with one or more vectors (columns);
    ``scales`` optionally multiplies each pair's inner products.
    """
    idx = np.array([_index(g, r, n_roles, m) for g, r in pairs])  # k × m
    rr = np.zeros((m, m))
    for j in range(m):
        for k in range(m):
            rr[j, k] = gram[np.ix_(idx[:, j], idx[:, k])].sum()
    parts = vecs[idx]  # k × m × v
    if scales is not None:
        parts = parts * scales[:, None, None]
    ry = parts.sum(axis=0)  # m × v
    sol = np.linalg.solve(rr, ry)
    return np.asarray(sol[-1])


def _distinct_assignments(role: np.ndarray, limit: int) -> list[np.ndarray] | None:
    """All distinct permutations of the role vector, or None when more than ``limit``."""
    g_count = len(role)
    counts = {int(r): int((role == r).sum()) for r in np.unique(role) if r > 0}
    total = math.factorial(g_count) // math.prod(
        math.factorial(c) for c in [*counts.values(), int((role == 0).sum())]
    )
    if total > limit:
        return None
    out: list[np.ndarray] = []

    def place(free: list[int], roles: list[tuple[int, int]], current: np.ndarray) -> None:
        if not roles:
            out.append(current.copy())
            return
        (r, c), rest = roles[0], roles[1:]
        for chosen in itertools.combinations(free, c):
            current[list(chosen)] = r
            place([f for f in free if f not in chosen], rest, current)
            current[list(chosen)] = 0

    place(list(range(g_count)), sorted(counts.items()), np.zeros(g_count, dtype=int))
    return out


def _invert(
    pfun: Callable[[float], float], center: float, scale: float, alpha: float
) -> tuple[float, float]:
    """Return the interval {tau: p(tau) > alpha} around ``center`` by bracketing and bisection."""
    scale = scale if np.isfinite(scale) and scale > 0 else max(abs(center), 1.0)
    bounds = []
    for sign in (-1.0, 1.0):
        inner, step = center, scale
        outer = None
        for _ in range(60):
            trial = center + sign * step
            if pfun(trial) <= alpha:
                outer = trial
                break
            inner, step = trial, step * 2
        if outer is None:
            bounds.append(sign * math.inf)
            continue
        for _ in range(60):
            mid = 0.5 * (inner + outer)
            if pfun(mid) <= alpha:
                outer = mid
            else:
                inner = mid
            if abs(outer - inner) <= 1e-9 * max(1.0, abs(center), scale):
                break
        bounds.append(0.5 * (inner + outer))
    return bounds[0], bounds[1]


def unbounded_message(method: str, n: int, smallest: float, alpha: float, why: str) -> str:
    """Explain in plain words why no p-value below ``alpha`` (and no bounded interval) exists."""
    return (
        f"{method}: {why}, so the smallest p-value this design can produce is "
        f"1/{n} = {smallest:.3f}, above alpha = {alpha:g}; no effect of any size can be "
        f"declared significant at the {1 - alpha:.0%} level and the interval is unbounded"
    )


def wild_bootstrap(
    design: LinearDesign,
    *,
    weights: Literal["rademacher", "webb"] = "rademacher",
    n_boot: int = 9999,
    seed: int = 0,
    alpha: float = 0.05,
) -> InferenceOutcome:
    """Restricted wild cluster bootstrap (WCR) of the CR1 t-statistic.

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
    if weights not in ("rademacher", "webb"):
        raise EstimationError(f"weights must be one of 'rademacher', 'webb'; got {weights!r}")
    y, z = design.partialled()
    cl = design.cluster
    g_count = design.n_clusters
    ztz_inv = np.linalg.inv(z.T @ z)
    c = (z @ ztz_inv)[:, -1]
    theta = ztz_inv @ (z.T @ y)
    beta = float(theta[-1])
    u_hat = y - z @ theta
    se_u = math.sqrt(float((np.bincount(cl, c * u_hat, g_count) ** 2).sum()))

    others = z[:, :-1]
    d = z[:, -1]
    if others.shape[1]:
        coef_y, *_ = np.linalg.lstsq(others, y, rcond=None)
        coef_d, *_ = np.linalg.lstsq(others, d, rcond=None)
        u0, u1 = y - others @ coef_y, d - others @ coef_d
    else:
        u0, u1 = y, d
    a0, a1 = np.bincount(cl, c * u0, g_count), np.bincount(cl, c * u1, g_count)
    m = z.shape[1]
    big_a0 = np.column_stack([np.bincount(cl, z[:, j] * u0, g_count) for j in range(m)])
    big_a1 = np.column_stack([np.bincount(cl, z[:, j] * u1, g_count) for j in range(m)])
    h = np.column_stack([np.bincount(cl, c * z[:, j], g_count) for j in range(m)])
    hp = h @ ztz_inv  # G × m
    draws = n_boot if not (weights == "rademacher" and 2**g_count <= n_boot) else 2**g_count
    if g_count * draws > 50_000_000:
        raise EstimationError(
            f"a wild bootstrap with {draws} draws over {g_count} clusters is too large here; "
            "lower n_boot or cluster at a coarser level (e.g. municipality)"
        )

    rng = np.random.default_rng(seed)
    enumerated = weights == "rademacher" and 2**g_count <= n_boot
    if enumerated:
        v = np.array(list(itertools.product((-1.0, 1.0), repeat=g_count))).T
    elif weights == "rademacher":
        v = rng.choice((-1.0, 1.0), size=(g_count, n_boot))
    else:
        webb = np.array(
            [-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)]
        )
        v = rng.choice(webb, size=(g_count, n_boot))
    s0 = a0[:, None] * v - hp @ (big_a0.T @ v)
    s1 = a1[:, None] * v - hp @ (big_a1.T @ v)
    n0, n1 = a0 @ v, a1 @ v

    def pfun(b0: float) -> float:
        t_obs = (beta - b0) / se_u
        se_star = np.sqrt(((s0 - b0 * s1) ** 2).sum(axis=0))
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = (n0 - b0 * n1) / se_star
        t_star = np.where(se_star > 0, t_star, 0.0)
        return float(np.mean(np.abs(t_star) >= abs(t_obs) - 1e-12 * max(1.0, abs(t_obs))))

    p = pfun(0.0)
    lo, hi = _invert(pfun, beta, se_u, alpha)
    draws = v.shape[1]
    messages: list[str] = []
    if enumerated:
        messages.append(
            f"wild bootstrap: with {g_count} clusters all {draws} Rademacher sign vectors were "
            "enumerated; p-values come in steps of 2/{draws}".replace("{draws}", str(draws))
        )
    detail = {
        "method": "wild cluster bootstrap (restricted, WCR)",
        "weights": weights,
        "draws": int(draws),
        "enumerated": bool(enumerated),
        "seed": int(seed),
        "statistic": "CR1 t",
    }
    return InferenceOutcome(p, lo, hi, detail, tuple(messages))


def randomization(
    design: LinearDesign,
    *,
    n_perm: int = 1999,
    max_enumerate: int = 20_000,
    seed: int = 0,
    alpha: float = 0.05,
) -> InferenceOutcome:
    """Randomization inference over the assignment of treatment patterns to clusters.

    Parameters
    ----------
    design : LinearDesign
        The regression; ``role`` and ``block`` must be set.
    n_perm : int
        Random assignments drawn when exact enumeration is too large.
    max_enumerate : int
        Enumerate every distinct assignment when there are at most this many.
    seed : int
        Seed of the random assignments.
    alpha : float
        1 − confidence level.

    Returns
    -------
    InferenceOutcome
        p-value of the sharp null of no effect, and the interval by test inversion.
    """
    q, n_roles, m = design.blocks()
    role = np.asarray(design.role)
    y, _ = design.partialled()
    d_obs = design.regressors[:, -1]
    gram = _gram(design)
    vecs = np.column_stack([q.T @ y, q.T @ d_obs])

    assignments = _distinct_assignments(role, max_enumerate)
    enumerated = assignments is not None
    if assignments is None:
        rng = np.random.default_rng(seed)
        assignments = [role] + [rng.permutation(role) for _ in range(n_perm)]
    bd = np.array(
        [
            _assigned_coef(gram, vecs, [(int(g), int(a[g])) for g in np.flatnonzero(a)], n_roles, m)
            for a in assignments
        ]
    )
    obs = _assigned_coef(
        gram, vecs, [(int(g), int(role[g])) for g in np.flatnonzero(role)], n_roles, m
    )
    b_obs = float(obs[0])
    n = len(assignments)

    def pfun(tau: float) -> float:
        stat = np.abs(bd[:, 0] - tau * bd[:, 1])
        ref = abs(b_obs - tau)
        hits = int((stat >= ref - 1e-10 * max(1.0, ref)).sum())
        return hits / n  # the observed assignment is among the n

    p = pfun(0.0)
    smallest = 1.0 / n
    messages: list[str] = []
    if smallest > alpha:
        k = int((role > 0).sum())
        lo, hi = -math.inf, math.inf
        messages.append(
            unbounded_message(
                "permutation inference",
                n,
                smallest,
                alpha,
                f"with {k} treated of {len(role)} clusters there are only {n} distinct ways to "
                "assign the treatment",
            )
        )
    else:
        spread = float(np.std(bd[:, 0])) or 1.0
        lo, hi = _invert(pfun, b_obs, spread, alpha)
    detail = {
        "method": "randomization inference over clusters",
        "assignments": int(n),
        "enumerated": bool(enumerated),
        "smallest_p_value": smallest,
        "seed": int(seed),
        "statistic": "coefficient",
    }
    return InferenceOutcome(p, lo, hi, detail, tuple(messages))

"""Frank–Wolfe with exact line search for simplex-constrained ridge regression, many at once.

Each problem is ``min_x ζ²‖x‖² + ‖A x − b‖² / m`` over the unit simplex (``x ≥ 0``,
``Σx = 1``), the weight problem of synthetic difference-in-differences (Arkhangelsky
et al. 2021, Algorithm 1). The iteration, its start, its stopping rule (stop once one
step lowers the objective by less than ``min_decrease²``) and the objective it records
follow R ``synthdid`` 0.0.9 (``sc.weight.fw``), so the weights, and therefore the
estimates, match the reference implementation's printed numbers: the rule stops
before the exact optimum, and the published figures are those of this rule.

We write the solver rather than import one because no maintained Python library
exposes it: ``synthdid`` on PyPI pins exact versions of matplotlib and friends that
cannot be installed beside ours, ``synthdid-py`` is a 0.1.0 single-author port,
``diff-diff`` solves per problem in a loop (too slow for in-space placebo inference
over hundreds of units), and ``pysyncon`` fits Abadie's synthetic control, not the
regularised simplex problem. Working on Gram matrices makes a step cost O(k), and
one call solves many problems together (placebos, a grid of null hypotheses).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["SimplexProblems", "solve"]

_BLOCK = 1e150


@dataclass(frozen=True)
class SimplexProblems:
    """``p`` problems in Gram form: ``gram`` (k×k shared or p×k×k), ``cross`` = Aᵀb (p×k).

    ``target`` is bᵀb (p), ``rows`` the number of rows ``m`` of A, ``zeta`` the
    regularisation ζ (p), and ``allowed`` (p×k, optional) marks the columns a problem
    may put weight on (a placebo unit may not weigh itself).
    """

    gram: np.ndarray
    cross: np.ndarray
    target: np.ndarray
    rows: int
    zeta: np.ndarray
    allowed: np.ndarray | None = None


def solve(
    problems: SimplexProblems,
    start: np.ndarray,
    *,
    min_decrease: np.ndarray | float,
    max_iter: int,
) -> np.ndarray:
    """Run Frank–Wolfe on every problem from ``start`` and return the weights (p×k).

    Parameters
    ----------
    problems : SimplexProblems
        The problems.
    start : numpy.ndarray
        Starting weights (p×k), each row on the simplex and zero where not allowed.
    min_decrease : float or numpy.ndarray
        Stop a problem once one step lowers its objective by at most ``min_decrease²``.
    max_iter : int
        At most this many steps per problem.

    Returns
    -------
    numpy.ndarray
        The weights, p×k.
    """
    x = np.array(start, dtype=float, copy=True)
    gram, target = problems.gram, problems.target
    shared = gram.ndim == 2
    p = x.shape[0]
    zeta2 = np.broadcast_to(np.asarray(problems.zeta, dtype=float) ** 2, (p,)).copy()
    eta = problems.rows * zeta2
    floor = np.broadcast_to(np.asarray(min_decrease, dtype=float) ** 2, (p,)).copy()
    gx = x @ gram if shared else np.einsum("pk,pkl->pl", x, gram)
    xx = np.einsum("pk,pk->p", x, x)
    xgx = np.einsum("pk,pk->p", x, gx)
    xc = np.einsum("pk,pk->p", x, problems.cross)
    # A column a problem may not use gets a hugely negative c: its half gradient stays
    # huge through every update, so it is never chosen and costs no extra pass.
    cross = problems.cross.astype(float, copy=True)
    if problems.allowed is not None:
        cross[~problems.allowed] = -_BLOCK
    # The half gradient h = Gx − c + ηx and the scalars x·x, x·Gx, x·c change by rank-one
    # updates along a Frank–Wolfe step; x is kept as scale·x̃ so its update costs O(1).
    h = gx - cross + eta[:, None] * x
    steps = _steps()
    steps(
        np.ascontiguousarray(gram[None] if shared else gram, dtype=float),
        shared,
        cross,
        np.asarray(target, dtype=float),
        float(problems.rows),
        zeta2,
        eta,
        floor,
        x,
        h,
        xx.astype(float),
        xgx.astype(float),
        xc.astype(float),
        int(max_iter),
    )
    return x


@functools.cache
def _steps() -> Callable[..., None]:
    """Return the compiled step loop (compiled once per process, cached on disk).

    The loop is compiled with numba because each step costs O(k) arithmetic but
    about thirty numpy calls: interpreted, the per-call overhead made a 500-unit
    placebo analysis take 10–20 s, almost all of it outside the arithmetic. Every
    operation is the same, in the same order, as the vectorised numpy update it
    replaced (whose weights it gave to the last bit on the benchmark panel).
    """
    import numba  # imported here: only the synthetic estimators need it

    compiled: Callable[..., None] = numba.njit(cache=True, nogil=True)(_step_loop)
    return compiled


def _step_loop(
    gram: np.ndarray,
    shared: bool,
    cross: np.ndarray,
    target: np.ndarray,
    rows: float,
    zeta2: np.ndarray,
    eta: np.ndarray,
    floor: np.ndarray,
    x: np.ndarray,
    h: np.ndarray,
    xx: np.ndarray,
    xgx: np.ndarray,
    xc: np.ndarray,
    max_iter: int,
) -> None:
    """Run every problem's Frank–Wolfe steps in place; ``x`` ends as the weights."""
    p, k = x.shape
    for i in range(p):
        g = gram[0] if shared else gram[i]
        hi, xi, ci = h[i], x[i], cross[i]
        scale, previous = 1.0, np.inf
        s_xx, s_xgx, s_xc, e = xx[i], xgx[i], xc[i], eta[i]
        for step_no in range(max_iter):
            best = 0
            for j in range(1, k):
                if hi[j] < hi[best]:
                    best = j
            x_b = scale * xi[best]
            g_bb, c_b, h_b = g[best, best], ci[best], hi[best]
            gx_b = h_b + c_b - e * x_b
            hd = h_b - (s_xgx - s_xc + e * s_xx)
            denom = (g_bb - 2 * gx_b + s_xgx) + e * (1.0 - 2 * x_b + s_xx)
            step = -hd / denom if denom > 0 else 0.0
            step = min(max(step, 0.0), 1.0)
            if x_b >= 1.0:
                step = 0.0
            s1 = 1.0 - step
            row = g[best]
            for j in range(k):
                hi[j] = hi[j] * s1 + (row[j] - ci[j]) * step
            hi[best] += e * step
            full = step >= 1.0
            scale *= s1
            if full:
                xi[:] = 0.0
                scale = 1.0
            if scale < 1e-150:
                for j in range(k):
                    xi[j] *= scale
                scale = 1.0
            xi[best] += 1.0 if full else step / scale
            s_xgx = s1**2 * s_xgx + 2 * step * s1 * gx_b + step**2 * g_bb
            s_xx = s1**2 * s_xx + 2 * step * s1 * x_b + step**2
            s_xc = s1 * s_xc + step * c_b
            value = zeta2[i] * s_xx + (s_xgx - 2 * s_xc + target[i]) / rows
            keep = (previous - value > floor[i]) or step_no == 0
            previous = value
            if not keep:
                break
        for j in range(k):
            xi[j] *= scale

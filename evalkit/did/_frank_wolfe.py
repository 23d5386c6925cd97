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
    out = x
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
    scale = np.ones(p)
    previous = np.full(p, np.inf)
    index = np.arange(p)
    buffer = np.empty_like(h)
    for step_no in range(max_iter):
        rows = np.arange(index.size)
        best = np.argmin(h, axis=1)
        x_i = scale * x[rows, best]
        col = gram[best] if shared else gram[rows, best]
        g_ii = col[rows, best]
        c_i = cross[rows, best]
        h_i = h[rows, best]
        gx_i = h_i + c_i - eta * x_i
        # d = e_i − x: h·d, ‖A d‖² and ‖d‖² from the maintained scalars
        hd = h_i - (xgx - xc + eta * xx)
        denom = (g_ii - 2 * gx_i + xgx) + eta * (1.0 - 2 * x_i + xx)
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.where(denom > 0, -hd / denom, 0.0)
        step = np.clip(step, 0.0, 1.0)
        step[x_i >= 1.0] = 0.0
        s1 = 1.0 - step
        np.subtract(col, cross, out=buffer)
        buffer *= step[:, None]
        h *= s1[:, None]
        h += buffer
        h[rows, best] += eta * step
        full = step >= 1.0
        scale *= s1
        if full.any():
            x[full] = 0.0
            scale[full] = 1.0
        small = scale < 1e-150
        if small.any():
            x[small] *= scale[small, None]
            scale[small] = 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            x[rows, best] += np.where(full, 1.0, step / np.where(full, 1.0, scale))
        xgx = s1**2 * xgx + 2 * step * s1 * gx_i + step**2 * g_ii
        xx = s1**2 * xx + 2 * step * s1 * x_i + step**2
        xc = s1 * xc + step * c_i
        value = zeta2 * xx + (xgx - 2 * xc + target) / problems.rows
        keep = (previous - value > floor) | (step_no == 0)
        previous = value
        if not keep.all():
            out[index[~keep]] = x[~keep] * scale[~keep, None]
            index, x, h, cross, target = index[keep], x[keep], h[keep], cross[keep], target[keep]
            xx, xgx, xc, previous, scale = (
                xx[keep],
                xgx[keep],
                xc[keep],
                previous[keep],
                scale[keep],
            )
            zeta2, eta, floor = zeta2[keep], eta[keep], floor[keep]
            gram = gram if shared else gram[keep]
            buffer = buffer[keep]
            if index.size == 0:
                break
    out[index] = x * scale[:, None]
    return out

"""Coefficients under every assignment of the treatment patterns, from the block products.

An assignment gives each cluster a pattern (0 = comparison); the coefficients of the
regression with the treatment so moved follow from the Grams and inner products of
the residualised block columns (:meth:`evalkit.did.inference.LinearDesign.block_products`)
by summing the assigned blocks and solving, many assignments at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["assigned_coefs"]


#: Condition number above which an assignment's coefficients count as not identified.
_SINGULAR_COND = 1e12
#: Share of a moved regressor's own sum of squares left after the nuisance part is taken
#: out, at or below which it counts as collinear with the fixed effects. Exact collinearity
#: leaves rounding residue (1e-16 to 1e-23 of it), which the condition number of a
#: one-regressor Gram cannot see.
_COLLINEAR_SHARE = 1e-10


def _not_identified(rr: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Flag the assignments (batch of Grams) whose moved regressors the nuisance part absorbs.

    Parameters
    ----------
    rr : numpy.ndarray
        Residualised Grams ``X_a' M X_a`` (batch × p × p).
    raw : numpy.ndarray
        The same before residualising, ``X_a' X_a``.

    Returns
    -------
    numpy.ndarray
        True where the Gram is ill-conditioned, or a combination of the regressors keeps
        at most ``_COLLINEAR_SHARE`` of its own sum of squares (or a regressor is empty).
    """
    size = np.sqrt(np.maximum(np.einsum("bii->bi", raw), 0.0))
    empty = (size == 0).any(axis=1)
    inv = np.where(size > 0, 1.0 / np.where(size > 0, size, 1.0), 0.0)
    scaled = rr * inv[:, :, None] * inv[:, None, :]
    smallest = np.linalg.eigvalsh(scaled)[:, 0]
    return empty | (smallest <= _COLLINEAR_SHARE) | (np.linalg.cond(rr) > _SINGULAR_COND)


def assigned_coefs(
    gram: np.ndarray,
    raw: np.ndarray,
    vecs: np.ndarray,
    assignments: Sequence[np.ndarray],
    n_roles: int,
    m: int,
) -> np.ndarray:
    """All m coefficients (n × m × v) under each of n assignments, in batches.

    ``gram`` and ``raw`` are the block Grams after and before the nuisance part is
    taken out; ``vecs`` holds block-wise inner products with one or more vectors
    (columns); an assignment gives each cluster its pattern (0 = comparison).
    """
    rows = []
    for a in assignments:
        g = np.flatnonzero(a)
        rows.append((g * n_roles + np.asarray(a)[g] - 1)[:, None] * m + np.arange(m))
    idx = np.array(rows)  # n × k × m
    n, k, _ = idx.shape
    step = max(1, 2_000_000 // max(1, (k * m) ** 2))
    out = []
    for lo in range(0, n, step):
        part = idx[lo : lo + step]
        pairs = (part[:, :, :, None, None], part[:, None, None, :, :])
        rr = gram[pairs].sum(axis=(1, 3))
        ry = vecs[part].sum(axis=1)  # batch × m × v
        # Under some assignments the moved treatment is collinear with the fixed effects
        # (a municipality observed only after the start): the effect is not identified
        # there, so those assignments get NaN and the caller leaves them out.
        singular = _not_identified(rr, raw[pairs].sum(axis=(1, 3)))
        rr[singular] = np.eye(rr.shape[-1])
        solved = np.linalg.solve(rr, ry)
        solved[singular] = np.nan
        out.append(solved)
    return np.concatenate(out)

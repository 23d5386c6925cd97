"""Resampling inference for 2×2, TWFE and event-study coefficients when few clusters are treated.

All methods work on the partialled-out (FWL) design of :class:`LinearDesign`:

* :func:`randomization` / :func:`randomization_combinations` — randomization
  inference over the assignment of the treatment (timing) to clusters; exact
  enumeration when the number of distinct assignments is at most
  ``max_enumerate``, otherwise seeded random assignments; the interval by
  inverting a sharp null (``Y(0) = Y - tau * D``, see the functions).
* The restricted wild cluster bootstrap lives in :mod:`evalkit.did.wild`.
* Conley–Taber with the Ferman–Pinto correction lives in
  :mod:`evalkit.did.conley_taber` (it also serves the event study).

p-values are finite-sample honest: with ``n`` distinct assignments (or placebos)
the smallest attainable p-value is ``1/n`` (``1/(n+1)`` for Conley–Taber) and the
functions report it; when it exceeds ``alpha`` the interval is unbounded
(``-inf, inf``) and a plain-words message says why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from evalkit.did._assigned import assigned_coefs
from evalkit.did._fwl import Residualizer
from evalkit.did._permutation import (
    distinct_assignments,
    draw_assignments,
    exact_size,
    invert,
    sharp_null_p,
    size_note,
    unbounded_note,
    unbounded_values,
)
from evalkit.did.notes import Note
from evalkit.errors import EstimationError

__all__ = [
    "InferenceOutcome",
    "LinearDesign",
    "distinct_assignments",
    "exact_size",
    "invert",
    "randomization",
    "randomization_combinations",
    "unbounded_values",
]

#: Limits of the block columns ``B`` of permutation and Conley–Taber inference: their
#: nonzeros (each row holds its regressors once per treatment pattern; building them
#: peaked at about 550 MB at the limit) and their number (``B' M B`` and
#: ``B' B`` are dense, 8 bytes a cell). ``B`` is never made dense
#: (:meth:`~evalkit.did._fwl.Residualizer.products`), so the number of clusters does not
#: multiply the rows.
_MAX_BLOCK_NONZEROS = 20_000_000
_MAX_BLOCK_COLUMNS = 4_000


@dataclass(frozen=True)
class InferenceOutcome:
    """p-value and interval of one resampling method, with the facts behind them."""

    p_value: float
    ci_low: float
    ci_high: float
    detail: dict[str, Any]
    messages: tuple[Note, ...] = ()


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
    pattern : callable or None
        ``pattern(r)`` → N × m matrix: the regressors each row contributes when its
        cluster is given pattern ``r`` (only a cluster's own rows are read for it).
    """

    y: np.ndarray
    regressors: np.ndarray
    residualizer: Residualizer
    cluster: np.ndarray
    role: np.ndarray | None = None
    pattern: Callable[[int], np.ndarray] | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return int(self.cluster.max()) + 1

    def block(self, g: int, r: int) -> np.ndarray:
        """Return the N × m regressors of cluster ``g`` under pattern ``r`` (0 on other rows)."""
        if self.pattern is None:
            raise EstimationError("this design has no treatment pattern per cluster")
        out = np.array(self.pattern(r), dtype=float)
        out[self.cluster != g] = 0.0
        return out

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

    def block_products(self) -> BlockProducts:
        """Return the inner products the resampling needs of the residualised block columns.

        The block columns ``B`` (N × G·R·m: the regressors every cluster contributes
        under every pattern) enter only through ``B' M B`` and ``B' M [y, X]`` (M the
        residual maker of the nuisance part), computed without residualising ``B``
        (:meth:`~evalkit.did._fwl.Residualizer.products`). The Grams are cached; the
        products with ``y`` are not, so that a copy with another outcome (a Monte Carlo
        draw) shares the cache.

        Returns
        -------
        BlockProducts
            The Grams of ``B`` after and before the nuisance part is taken out,
            ``B' M [y, X]`` (``X`` the observed regressors), R and m.
        """
        if "blocks" not in self._cache:
            self._cache["blocks"] = self._block_grams()
        cols, gram, raw, n_roles, m = self._cache["blocks"]
        # B'M[y, X] depends on the outcome: never cached (callers swap y on a copy)
        vecs = self.residualizer.cross(cols, np.column_stack([self.y, self.regressors]))
        return BlockProducts(gram, raw, vecs, n_roles, m)

    def _block_grams(self) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, int, int]:
        """Return the sparse block columns B, ``B' M B``, ``B' B``, R and m."""
        if self.role is None or self.pattern is None:
            raise EstimationError(
                "this inference needs a treatment that switches on at the same period for "
                "every row of a cluster (cohort per cluster); here it does not"
            )
        n_roles = int(self.role.max())
        m = self.regressors.shape[1]
        g_count = self.n_clusters
        n = len(self.y)
        if n * n_roles * m > _MAX_BLOCK_NONZEROS or g_count * n_roles * m > _MAX_BLOCK_COLUMNS:
            raise EstimationError(
                f"permutation/Conley–Taber inference over {g_count} clusters on {n} rows is "
                "too large to compute here; aggregate the data to cluster × period means or "
                "use inference='wild'"
            )
        # column (g·R + r − 1)·m + j of B holds pattern r's regressor j on cluster g's rows
        # and zeros elsewhere, so each row fills m columns per pattern: built from the
        # rows at once, never one N-row block per cluster
        parts = [self.pattern(r) for r in range(1, n_roles + 1)]
        values = np.stack(parts, axis=1)  # N × R × m
        # int32 indices: the limits keep them far below 2**31, and halve what is built
        cluster = self.cluster.astype(np.int32)
        first = (cluster[:, None] * n_roles + np.arange(n_roles, dtype=np.int32)[None, :]) * m
        columns = first[:, :, None] + np.arange(m, dtype=np.int32)[None, None, :]
        rows = np.broadcast_to(np.arange(n, dtype=np.int32)[:, None, None], values.shape)
        cols = sp.csr_matrix(
            (values.ravel(), (rows.ravel(), columns.ravel())), shape=(n, g_count * n_roles * m)
        )
        cols.eliminate_zeros()
        gram, _ = self.residualizer.products(cols, np.zeros((n, 0)))
        return cols, gram, np.asarray((cols.T @ cols).toarray()), n_roles, m


class BlockProducts(NamedTuple):
    """Inner products of a design's block columns ``B`` (see ``LinearDesign.block_products``)."""

    gram: np.ndarray  # B' M B
    raw: np.ndarray  # B' B
    vecs: np.ndarray  # B' M [y, X]
    n_roles: int
    m: int


def randomization_combinations(
    design: LinearDesign,
    combinations: Sequence[np.ndarray],
    shifts: Sequence[np.ndarray] | None = None,
    *,
    n_perm: int = 1999,
    max_enumerate: int = 20_000,
    seed: int = 0,
    alpha: float = 0.05,
    joint: Sequence[int] = (),
) -> tuple[list[InferenceOutcome], float | None]:
    """Randomization inference for linear combinations ``w'theta`` of the coefficients.

    The p-value of each combination is that of the sharp null of no effect at all
    (``Y(0) = Y`` for every cluster), with ``|w'theta|`` recomputed under every
    assignment of the treatment patterns (cohorts) to clusters. The interval of a
    combination inverts the sharp null ``Y(0) = Y - tau * X s``: the effect is
    ``tau`` on the regressors marked by its shift vector ``s`` (and zero on the
    others), e.g. ``tau`` at one event time, or the same ``tau`` in every period
    after the start for the mean of the post-period event times.

    Parameters
    ----------
    design : LinearDesign
        The regression; ``role`` and ``block`` must be set.
    combinations : sequence of numpy.ndarray
        Weight vectors ``w`` (length m each).
    shifts : sequence of numpy.ndarray, optional
        One shift vector ``s`` per combination with ``w's = 1``; default ``s = w``
        (a unit vector for a single coefficient).
    n_perm : int
        Random assignments drawn (besides the observed one) when exact
        enumeration is too large.
    max_enumerate : int
        Enumerate every distinct assignment when there are at most this many.
    seed : int
        Seed of the random assignments.
    alpha : float
        1 − confidence level.
    joint : sequence of int
        Coefficients tested jointly under the sharp null of no effect: statistic
        ``sum(theta_j**2 / s_j**2)``, ``s_j**2`` the mean of ``theta_j**2`` over
        the assignments.

    Returns
    -------
    outcomes : list of InferenceOutcome
        One per combination, in order.
    joint_p : float or None
        p-value of the joint test (None when ``joint`` is empty).
    """
    coefs, obs, messages, enumerated = _assigned_coefficients(design, max_enumerate, n_perm, seed)
    n = len(coefs)
    unbounded = unbounded_note("permutation_unbounded", n, alpha, np.asarray(design.role))
    if unbounded is not None:
        messages.append(unbounded)
    detail = {
        "method": "randomization inference over clusters",
        "assignments": int(n),
        "enumerated": bool(enumerated),
        "smallest_p_value": 1.0 / n,
        "seed": int(seed),
        "statistic": "coefficient",
    }
    outcomes = []
    for i, w_raw in enumerate(combinations):
        w = np.asarray(w_raw, dtype=float)
        s = w if shifts is None else np.asarray(shifts[i], dtype=float)
        if not math.isclose(float(w @ s), 1.0, rel_tol=1e-9):
            raise EstimationError("internal: a randomization shift vector must have w's = 1")
        by_y = coefs[:, :, 0] @ w  # w'theta_a(Y), n
        by_shift = np.einsum("amj,m,j->a", coefs[:, :, 1:], w, s)  # w'theta_a(X_obs s)
        b_obs = float(w @ obs[:, 0])
        pfun = sharp_null_p(by_y, by_shift, b_obs, 1.0)  # w's = 1 for the observed X
        if i == 0 and unbounded is None:
            # the first combination's exact size stands for all (the same assignments)
            detail["exact_size"], coarse = size_note(np.abs(by_y), alpha)
            messages.extend([coarse] if coarse else [])
        lo, hi = -math.inf, math.inf
        if unbounded is None:
            lo, hi = invert(pfun, b_obs, float(np.std(by_y)) or 1.0, alpha)
        outcomes.append(InferenceOutcome(pfun(0.0), lo, hi, dict(detail), tuple(messages)))
    return outcomes, (_joint_p(coefs, obs, list(joint)) if joint else None)


def _assigned_coefficients(
    design: LinearDesign, max_enumerate: int, n_perm: int, seed: int
) -> tuple[np.ndarray, np.ndarray, list[Note], bool]:
    """Return the coefficients under every identified assignment and the observed ones.

    Returns ``(coefs, obs, notes, enumerated)``: ``coefs`` is assignments × m × (1 + m),
    the coefficients of ``Y`` and of every observed regressor (the coefficients of
    ``Y - tau * X_obs s`` under any assignment follow by linearity); ``obs`` those of
    the observed assignment. Assignments that do not identify the effect are left out
    with a note: that depends on the assignment alone, not on the outcomes, so
    testing within the identified ones keeps the test exact.
    """
    gram, raw, vecs, n_roles, m = design.block_products()
    role = np.asarray(design.role)
    assignments, enumerated = draw_assignments(role, max_enumerate, n_perm, seed)
    coefs = assigned_coefs(gram, raw, vecs, assignments, n_roles, m)  # n × m × (1 + m)
    obs = assigned_coefs(gram, raw, vecs, [role], n_roles, m)[0]
    if not np.isfinite(obs).all():
        raise EstimationError(
            "the treatment is collinear with the fixed effects: no effect can be estimated"
        )
    identified = np.isfinite(coefs).all(axis=(1, 2))
    notes: list[Note] = []
    if not identified.all():
        left = {"left_out": int((~identified).sum()), "assignments": len(assignments)}
        notes.append(Note("permutation_not_identified", left))
        coefs = coefs[identified]
    return coefs, obs, notes, enumerated


def _joint_p(coefs: np.ndarray, obs: np.ndarray, idx: list[int]) -> float:
    """p-value of the joint sharp null on coefficients ``idx``: ``sum(theta_j**2 / s_j**2)``."""
    placebo = coefs[:, idx, 0]
    s2 = np.mean(placebo**2, axis=0)
    s2 = np.where(s2 > 0, s2, np.inf)
    stat = float((obs[idx, 0] ** 2 / s2).sum())
    dist = (placebo**2 / s2).sum(axis=1)
    return int((dist >= stat - 1e-12 * max(1.0, stat)).sum()) / len(coefs)


def randomization(
    design: LinearDesign,
    *,
    n_perm: int = 1999,
    max_enumerate: int = 20_000,
    seed: int = 0,
    alpha: float = 0.05,
) -> InferenceOutcome:
    """Randomization inference for the treatment coefficient (the last regressor).

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
        p-value of the sharp null of no effect, and the interval by inverting
        ``Y(0) = Y - tau * D``.
    """
    w = np.zeros(design.regressors.shape[1])
    w[-1] = 1.0
    outcomes, _ = randomization_combinations(
        design, [w], n_perm=n_perm, max_enumerate=max_enumerate, seed=seed, alpha=alpha
    )
    return outcomes[0]

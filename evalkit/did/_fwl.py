"""Frisch–Waugh–Lovell machinery shared by the resampling inference methods.

The resampling methods (wild cluster bootstrap, randomization inference,
Conley–Taber) refit the treatment coefficient thousands of times. They do it
on data from which the nuisance part of the model (fixed effects by alternating
projections, then covariates and intercept/post dummies by least squares) has
been partialled out once: by FWL the coefficient of the remaining regressors is
the same as in the full regression.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from evalkit.errors import EstimationError

__all__ = ["Residualizer", "compile_sweeps"]


@dataclass(frozen=True)
class Residualizer:
    """Partial out fixed effects and dense nuisance columns from any matrix.

    Parameters
    ----------
    factors : sequence of numpy.ndarray
        Integer codes of each fixed effect (0..L-1), one array per factor.
    nuisance : numpy.ndarray
        Dense nuisance columns (N × p), e.g. covariates, intercept, post; may have 0 columns.
    tol : float
        Convergence tolerance of the alternating projections.
    maxiter : int
        Maximum sweeps.
    """

    factors: Sequence[np.ndarray]
    nuisance: np.ndarray
    tol: float = 1e-11
    maxiter: int = 10_000

    def _demean(self, x: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype="float64", order="C", copy=True)
        if not self.factors:
            return x
        codes = np.array([np.asarray(c, dtype=np.int64) for c in self.factors])
        levels = int(codes.max(initial=-1)) + 1
        counts = np.ones((len(self.factors), max(levels, 1)))
        for f, c in enumerate(codes):
            counts[f, : int(c.max(initial=-1)) + 1] = np.maximum(np.bincount(c), 1.0)
        if not _sweeps()(x, codes, counts, self.tol, self.maxiter):
            raise EstimationError("fixed-effects demeaning did not converge")
        return x

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Return ``x`` (N or N × k) with fixed effects and nuisance columns partialled out.

        Parameters
        ----------
        x : numpy.ndarray
            Vector or matrix with N rows.

        Returns
        -------
        numpy.ndarray
            The residualised array, same shape.
        """
        vec = x.ndim == 1
        mat = x.reshape(len(x), -1) if vec else x
        out = self._demean(mat)
        if self.nuisance.shape[1]:
            w = self._w
            coef, *_ = np.linalg.lstsq(w, out, rcond=None)
            out = out - w @ coef
        return out.ravel() if vec else out

    def products(self, a: sp.spmatrix, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``a' M a`` and ``a' M v`` without residualising ``a`` (M: the residual maker).

        The permutation inference needs only these inner products of its block columns
        (hundreds of sparse indicator columns over all rows). Residualising them by
        alternating projections took most of an event study's analysis time; here
        every product comes from sums over the rows, never an N-row matrix:

        * the factor with the most levels (the units, ``U``, counts ``D``) is absorbed
          in closed form, ``x' M_U y = x' y - (U' x)' D^-1 (U' y)``;
        * the other factors' dummies (the periods) and the nuisance columns, ``Z``,
          are projected out through their unit-demeaned Gram ``C = Z' M_U Z``, scaled
          to a unit diagonal: with ``C = V L V'`` and ``B = V L^-1/2`` over the
          eigenvalues above ``RANK_TOL`` times the largest (the rest is collinear with
          the units or each other, e.g. the one period dummy too many),
          ``x' M y = x' M_U y - (B' Z' M_U x)' (B' Z' M_U y)``.

        This is the exact projection, where the alternating projections stop at their
        tolerance; on the shipped protocols the two agree to about 1e-13 relative.

        Parameters
        ----------
        a : scipy.sparse matrix
            N × K columns (sparse; dense arrays are accepted).
        v : numpy.ndarray
            N or N × p.

        Returns
        -------
        tuple of numpy.ndarray
            ``a' M a`` (K × K) and ``a' M v`` (K × p).
        """
        a = sp.csr_matrix(a, dtype="float64")
        unit, z, basis = self._projector()
        za = basis.T @ unit(z, a)
        return unit(a, a) - za.T @ za, self._cross(a, za, v)

    def cross(self, a: sp.spmatrix, v: np.ndarray) -> np.ndarray:
        """Return ``a' M v`` only (see :meth:`products`; the same operations).

        Parameters
        ----------
        a : scipy.sparse matrix
            N × K columns (sparse; dense arrays are accepted).
        v : numpy.ndarray
            N or N × p.

        Returns
        -------
        numpy.ndarray
            ``a' M v`` (K × p).
        """
        a = sp.csr_matrix(a, dtype="float64")
        unit, z, basis = self._projector()
        return self._cross(a, basis.T @ unit(z, a), v)

    def _cross(self, a: sp.csr_matrix, za: np.ndarray, v: np.ndarray) -> np.ndarray:
        unit, z, basis = self._projector()
        v = np.asarray(v, dtype="float64").reshape(a.shape[0], -1)
        out: np.ndarray = unit(a, v) - za.T @ (basis.T @ unit(z, v))
        return out

    def _projector(self) -> tuple[_UnitCross, sp.csr_matrix, np.ndarray]:
        """Return the unit cross product, the other columns Z and their basis B (cached)."""
        cached = self.__dict__.get("_projector_cache")
        if cached is None:
            absorbed, others = self._split()
            z = sp.hstack(
                [*(_indicators(c).T for c in others), sp.csr_matrix(self.nuisance)], format="csr"
            )
            unit = _UnitCross(absorbed)
            cached = (unit, z, _basis(unit(z, z)))
            object.__setattr__(self, "_projector_cache", cached)
        return cached

    def _split(self) -> tuple[np.ndarray | None, list[np.ndarray]]:
        """Return the factor with the most levels (absorbed) and the others (as dummies)."""
        factors = [np.asarray(c, dtype=np.int64) for c in self.factors]
        if not factors:
            return None, []
        big = max(range(len(factors)), key=lambda f: int(factors[f].max(initial=-1)))
        return factors[big], factors[:big] + factors[big + 1 :]

    @property
    def _w(self) -> np.ndarray:
        cached = self.__dict__.get("_w_cache")
        if cached is None:
            cached = self._demean(self.nuisance)
            object.__setattr__(self, "_w_cache", cached)
        return cached


#: Eigenvalues of the scaled nuisance Gram at or below this share of the largest count as
#: collinear. Exact collinearity leaves about 1e-15; a covariate this close to the fixed
#: effects (singular value 3e-6 of the largest) carries no usable variation.
RANK_TOL = 1e-11


class _UnitCross:
    """``x' M_U y`` for sparse or dense x, y: M_U takes out the means of one factor (or nothing)."""

    def __init__(self, codes: np.ndarray | None) -> None:
        self.groups = None if codes is None else _indicators(codes)
        counts = np.zeros(0) if self.groups is None else self.groups.sum(axis=1)
        self.inv = 1.0 / np.maximum(np.asarray(counts).ravel(), 1.0)

    def __call__(self, x: sp.csr_matrix, y: sp.csr_matrix | np.ndarray) -> np.ndarray:
        out = _dense(x.T @ y)
        if self.groups is not None:
            gx, gy = self.groups @ x, self.groups @ y
            out -= _dense(gx.T @ (sp.diags(self.inv) @ gy))
        return out


def _dense(x: Any) -> np.ndarray:
    return np.asarray(x.toarray()) if sp.issparse(x) else np.asarray(x)


def _basis(gram: np.ndarray) -> np.ndarray:
    """Return B with ``B' C B = I`` on the span of the Gram C (``RANK_TOL``, unit diagonal)."""
    size = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    scale = np.divide(1.0, size, out=np.zeros_like(size), where=size > 0)
    values, vectors = np.linalg.eigh(gram * scale[:, None] * scale[None, :])
    keep = values > RANK_TOL * values.max(initial=0.0)
    out: np.ndarray = scale[:, None] * vectors[:, keep] / np.sqrt(values[keep])
    return out


def _indicators(codes: np.ndarray) -> sp.csr_matrix:
    """Return the L × N indicator matrix of integer codes 0..L-1."""
    n = len(codes)
    return sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(int(codes.max()) + 1, n))


@functools.cache
def _sweeps() -> Callable[..., bool]:
    """Return the compiled alternating projections (compiled once per process, cached on disk).

    Compiled because the resampling methods residualise the outcome and every
    regressor (an event study: 20–30 columns over 90,000–160,000 rows), and as numpy
    and sparse products every sweep made and walked six full copies of the matrix.
    """
    import numba  # imported here: only the fixed-effects fits need it

    compiled: Callable[..., bool] = numba.njit(cache=True, nogil=True)(_sweep_loop)
    return compiled


def compile_sweeps() -> None:
    """Compile the sweep loop now (or load it from numba's cache), on a four-row example.

    Called when an analysis worker starts, so that the compilation (about 2 s on a
    fresh clone) overlaps the main process's ingest instead of the first fit.
    """
    Residualizer((np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1])), np.zeros((4, 0)))(np.arange(4.0))


def _sweep_loop(
    x: np.ndarray, codes: np.ndarray, counts: np.ndarray, tol: float, maxiter: int
) -> bool:
    """Subtract each factor's group means from ``x`` in turn until every step is small.

    A sweep is small when no step exceeds ``tol`` times the largest ``|x|`` at the
    start (at least ``tol``).

    Every operation is the one the sparse indicator products did, in the same
    order, so the result is the same to the last bit: group sums accumulate row by
    row from 0.0, the means divide by the counts, and each row subtracts
    ``0.0 + mean`` (the product's zero start). One factor needs one sweep.

    The passes are fused, which changes no operation: the pass that subtracts one
    factor's means also adds each updated row into the next factor's sums (row by
    row, in the same order as a separate pass would, since a row's update touches
    that row only), and the first factor's first sums are taken in the pass that
    finds the largest ``|x|``. A step depends on the row's level only, so the
    largest step is read from the levels' steps (a level no row has steps by 0.0,
    which never raises it). The matrix is walked once per factor instead of twice.

    Returns
    -------
    bool
        Whether the projections converged within ``maxiter`` sweeps.
    """
    n, k = x.shape
    n_factors = codes.shape[0]
    n_levels = counts.shape[1]
    scale = 1.0
    sums = np.zeros((n_levels, k))  # sums of the factor to subtract next
    for i in range(n):
        c = codes[0, i]
        for j in range(k):
            value = x[i, j]
            if abs(value) > scale:
                scale = abs(value)
            sums[c, j] += value
    tol = tol * scale
    following = np.zeros((n_levels, k))
    for _ in range(maxiter):
        change = 0.0
        for f in range(n_factors):
            for c in range(n_levels):
                for j in range(k):
                    sums[c, j] = 0.0 + sums[c, j] / counts[f, c]  # the steps of factor f
                    if abs(sums[c, j]) > change:
                        change = abs(sums[c, j])
            nxt = (f + 1) % n_factors
            following[:] = 0.0
            for i in range(n):
                c = codes[f, i]
                d = codes[nxt, i]
                for j in range(k):
                    x[i, j] -= sums[c, j]
                    following[d, j] += x[i, j]
            sums, following = following, sums
        if change <= tol or n_factors == 1:
            return True
    return False

"""Frisch–Waugh–Lovell machinery shared by the resampling inference methods.

The resampling methods (wild cluster bootstrap, randomization inference,
Conley–Taber) refit the treatment coefficient thousands of times. They do it
on data from which the nuisance part of the model (fixed effects by alternating
projections, then covariates and intercept/post dummies by least squares) has
been partialled out once: by FWL the coefficient of the remaining regressors is
the same as in the full regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from evalkit.errors import EstimationError

__all__ = ["Residualizer"]


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
        x = np.array(x, dtype="float64", copy=True)
        if not self.factors:
            return x
        ops = []
        for codes in self.factors:
            n = len(codes)
            ind = sp.csr_matrix((np.ones(n), (np.arange(n), codes)))
            counts = np.maximum(np.asarray(ind.sum(axis=0)).ravel(), 1.0)
            ops.append((ind, counts))
        scale = max(1.0, float(np.abs(x).max(initial=0.0)))
        for _ in range(self.maxiter):
            change = 0.0
            for ind, counts in ops:
                means = (ind.T @ x) / counts[:, None]
                step = ind @ means
                x -= step
                change = max(change, float(np.abs(step).max(initial=0.0)))
            if change <= self.tol * scale or len(self.factors) == 1:
                return x
        raise EstimationError("fixed-effects demeaning did not converge")

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

    @property
    def _w(self) -> np.ndarray:
        cached = self.__dict__.get("_w_cache")
        if cached is None:
            cached = self._demean(self.nuisance)
            object.__setattr__(self, "_w_cache", cached)
        return cached

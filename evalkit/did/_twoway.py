"""Least squares on unit and period effects alone, solved through the period block.

The imputation estimator needs ``(Z0'Z0)^{-1} r`` for the unit-and-period dummy
design ``Z0`` of the untreated rows, once for the fit and once per weighting for
the variance. Eliminating the unit effects leaves a system with one equation per
period (``D_t − C' D_u^{-1} C``, with ``C`` the unit × period counts), so a panel
of millions of rows costs a few sparse products and one small dense solve. The
normalisation (first identified period's effect = 0) does not change fitted
values or the products ``Z0 b`` the callers use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["TwoWay"]


@dataclass(frozen=True)
class TwoWay:
    """The untreated rows' unit × period count structure, ready to solve normal equations.

    Parameters
    ----------
    unit, period : numpy.ndarray
        Integer codes (0…n_units−1, 0…n_periods−1) of the rows used in the fit.
    n_units, n_periods : int
        Numbers of codes (units or periods without rows get no effect: NaN).
    """

    unit: np.ndarray
    period: np.ndarray
    n_units: int
    n_periods: int

    def _counts(self) -> sparse.csr_matrix:
        ones = np.ones(len(self.unit))
        shape = (self.n_units, self.n_periods)
        return sparse.csr_matrix((ones, (self.unit, self.period)), shape=shape)

    def solve(self, r_unit: np.ndarray, r_period: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Solve ``Z0'Z0 [a; l] = [r_unit; r_period]`` (columns of ``r_*`` are right-hand sides).

        Parameters
        ----------
        r_unit : numpy.ndarray
            ``n_units × h`` right-hand side for the unit effects.
        r_period : numpy.ndarray
            ``n_periods × h`` right-hand side for the period effects.

        Returns
        -------
        a, l : numpy.ndarray
            Unit effects (NaN for units without rows) and period effects (NaN for
            periods without rows).
        """
        c = self._counts()
        n_u = np.asarray(c.sum(axis=1)).ravel()
        n_t = np.asarray(c.sum(axis=0)).ravel()
        inv_u = np.divide(1.0, n_u, out=np.zeros_like(n_u), where=n_u > 0)
        scaled = sparse.diags(inv_u) @ c
        schur = np.diag(n_t) - (c.T @ scaled).toarray()
        rhs = r_period - scaled.T @ r_unit
        live = np.flatnonzero(n_t > 0)
        keep = live[1:]  # one period effect is fixed at 0 (the unit effects absorb the level)
        lam = np.full(r_period.shape, np.nan)
        lam[live[0]] = 0.0
        if len(keep):
            lam[keep] = np.linalg.solve(schur[np.ix_(keep, keep)], rhs[keep])
        lam_filled = np.where(np.isnan(lam), 0.0, lam)
        a = inv_u[:, None] * (r_unit - c @ lam_filled)
        a[n_u == 0] = np.nan
        return a, lam

    def fit(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Least-squares unit and period effects of ``y`` (one value per row).

        Returns
        -------
        a, l : numpy.ndarray
            Unit and period effects (NaN where a unit or period has no rows).
        """
        r_unit = np.bincount(self.unit, weights=y, minlength=self.n_units)[:, None]
        r_period = np.bincount(self.period, weights=y, minlength=self.n_periods)[:, None]
        a, lam = self.solve(r_unit, r_period)
        return a[:, 0], lam[:, 0]

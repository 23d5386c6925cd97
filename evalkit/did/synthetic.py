"""Synthetic control and synthetic difference-in-differences for one or a few treated units.

:func:`synthetic_fit` fits the estimator once and returns a :class:`SyntheticFit`;
inference (:mod:`evalkit.did._synth_inference`) is applied to that fit. Block
adoption follows Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021, AER) and R
``synthdid`` 0.0.9 exactly (see :mod:`evalkit.did._synth_weights`). Staggered adoption
fits every adoption cohort against the never-treated units on all periods (the
cohort's own pre-periods before its start) and averages the cohort estimates
weighted by treated unit-periods, as Stata ``sdid`` does (Clarke, Pailañir, Athey &
Imbens 2023); units of other cohorts are left out of a cohort's fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.did._synth_panel import Panel, panel_matrix, plain
from evalkit.did._synth_weights import Method, Weights, fit_weights
from evalkit.errors import EstimationError

__all__ = ["CohortFit", "SyntheticFit", "cohort_estimates", "overall", "synthetic_fit"]


@dataclass(frozen=True)
class CohortFit:
    """The fit of one adoption cohort.

    Attributes
    ----------
    start : int
        Column index of the cohort's first treated period.
    treated : numpy.ndarray
        Row indices of its treated units.
    omega : numpy.ndarray
        Unit weights over the panel's never-treated units.
    lam : numpy.ndarray
        Time weights over the periods before ``start``.
    tau : float
        The cohort's estimate.
    weight : float
        Its share of treated unit-periods (the weight in the overall estimate).
    """

    start: int
    treated: np.ndarray
    omega: np.ndarray
    lam: np.ndarray
    tau: float
    weight: float


@dataclass(frozen=True)
class SyntheticFit:
    """A fitted synthetic control, synthetic DiD or DiD on a balanced panel.

    Attributes
    ----------
    method : {"synthetic_did", "synthetic_control", "did"}
        The estimator.
    panel : Panel
        The outcome matrix and adoption periods.
    cohorts : tuple of CohortFit
        One fit per adoption cohort.
    att : float
        The estimate: cohort estimates weighted by treated unit-periods.
    eta_omega : float or None
        The unit-weight regularisation multiplier used (None: the default).
    """

    method: Method
    panel: Panel
    cohorts: tuple[CohortFit, ...]
    att: float
    eta_omega: float | None

    @property
    def n_treated(self) -> int:
        """Number of treated units."""
        return int((self.panel.adoption >= 0).sum())

    def unit_weights(self) -> pd.DataFrame:
        """Return the comparison units' weights (cohort weights averaged), largest first.

        Returns
        -------
        pandas.DataFrame
            Columns ``unit, weight``.
        """
        omega = sum(c.weight * c.omega for c in self.cohorts)
        units = [self.panel.units[i] for i in self.panel.controls]
        frame = pd.DataFrame({"unit": units, "weight": np.asarray(omega, dtype=float)})
        return frame.sort_values(["weight", "unit"], ascending=[False, True], ignore_index=True)

    def time_weights(self) -> pd.DataFrame:
        """Return the pre-treatment periods' weights (cohort weights averaged).

        Returns
        -------
        pandas.DataFrame
            Columns ``time, weight``, in period order (zero for synthetic control).
        """
        weights = np.zeros(len(self.panel.times))
        for c in self.cohorts:
            weights[: c.start] += c.weight * c.lam
        last = max(c.start for c in self.cohorts)
        return pd.DataFrame({"time": list(self.panel.times[:last]), "weight": weights[:last]})

    def trajectories(self) -> pd.DataFrame:
        """Return the mean treated outcome and its synthetic comparison per period and cohort.

        The synthetic series is the unit-weighted comparison shifted so that its
        time-weighted pre-period mean equals the treated one (for synthetic control,
        with no time weights, it is not shifted), as R ``synthdid``'s plot draws it.

        Returns
        -------
        pandas.DataFrame
            Columns ``cohort`` (first treated period), ``time``, ``treated``,
            ``synthetic``, ``post`` (bool).
        """
        y, controls = self.panel.y, self.panel.controls
        parts = []
        for c in self.cohorts:
            treated = y[c.treated].mean(axis=0)
            synthetic = c.omega @ y[controls]
            shift = (treated[: c.start] - synthetic[: c.start]) @ c.lam
            parts.append(
                pd.DataFrame(
                    {
                        "cohort": self.panel.times[c.start],
                        "time": list(self.panel.times),
                        "treated": treated,
                        "synthetic": synthetic + shift,
                        "post": np.arange(len(treated)) >= c.start,
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)


def cohort_estimates(
    panel: Panel,
    method: Method,
    start: int,
    treated: np.ndarray,
    excluded: np.ndarray,
    eta_omega: float | None = None,
) -> Weights:
    """Fit one cohort for a batch of assignments (the real one, or placebos).

    Parameters
    ----------
    panel : Panel
        The panel.
    method : {"synthetic_did", "synthetic_control", "did"}
        The estimator.
    start : int
        Column index of the first treated period.
    treated : numpy.ndarray
        D × n₁ treated row indices per assignment.
    excluded : numpy.ndarray
        D × k positions among the never-treated units each assignment may not use.
    eta_omega : float, optional
        Unit-weight regularisation multiplier (default: the reference's).

    Returns
    -------
    Weights
        Weights and estimates per assignment.
    """
    if start < 2:
        raise EstimationError(
            f"the cohort starting in period {plain(panel.times[start])!r} has {start} period(s) "
            "before it; synthetic estimators need at least two"
        )
    return fit_weights(panel.y, start, panel.controls, treated, excluded, method, eta_omega)


def _shares(panel: Panel) -> dict[int, float]:
    n_periods = len(panel.times)
    cells = {a: float(((panel.adoption == a).sum()) * (n_periods - a)) for a in panel.cohorts}
    total = sum(cells.values())
    return {a: v / total for a, v in cells.items()}


def synthetic_fit(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str | None,
    time: str | None,
    treated: str | None = None,
    cohort: str | None = None,
    method: Method = "synthetic_did",
    eta_omega: float | None = None,
) -> SyntheticFit:
    """Fit synthetic DiD, synthetic control or DiD on a balanced panel.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit and period.
    outcome, unit, time : str
        Outcome, unit and period columns.
    treated : str, optional
        0/1 treatment per row (1 from a unit's start on).
    cohort : str, optional
        First treated period per unit (0 or empty: never treated). Exclusive with ``treated``.
    method : {"synthetic_did", "synthetic_control", "did"}
        The estimator.
    eta_omega : float, optional
        Overrides the unit-weight regularisation multiplier η_ω (ζ_ω = η_ω σ);
        default (N₁T₁)^¼ for synthetic DiD and 10⁻⁶ for synthetic control.

    Returns
    -------
    SyntheticFit
        The fit.

    Raises
    ------
    EstimationError
        Bad columns, an unbalanced panel, a cohort with fewer than two pre-periods.
    """
    panel = panel_matrix(
        data, outcome=outcome, unit=unit, time=time, treated=treated, cohort=cohort
    )
    shares = _shares(panel)
    fits = []
    for start in panel.cohorts:
        rows = np.flatnonzero(panel.adoption == start)
        w = cohort_estimates(
            panel, method, start, rows[None, :], np.zeros((1, 0), dtype=int), eta_omega
        )
        fits.append(
            CohortFit(
                start=start,
                treated=rows,
                omega=w.omega[0],
                lam=w.lam[0],
                tau=float(w.tau[0]),
                weight=shares[start],
            )
        )
    att = float(sum(f.weight * f.tau for f in fits))
    return SyntheticFit(
        method=method, panel=panel, cohorts=tuple(fits), att=att, eta_omega=eta_omega
    )


def overall(fit: SyntheticFit, per_cohort: Sequence[np.ndarray]) -> np.ndarray:
    """Combine per-cohort estimates (one array per cohort, same length) with the fit's weights."""
    return np.sum(
        [c.weight * np.asarray(t) for c, t in zip(fit.cohorts, per_cohort, strict=True)], axis=0
    )

"""Helpers shared by the coefficient and event-study results: option checks, analytic rows."""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from evalkit.did._data import Prepared
from evalkit.did.notes import Note
from evalkit.errors import EstimationError
from evalkit.spec import MIN_SIDE_ANALYTIC

__all__ = [
    "MIN_SIDE_ANALYTIC",
    "WildWeights",
    "analytic_row",
    "check_choice",
    "few_treated_default",
    "few_treated_note",
    "quiet_coefs",
    "t_df",
]

WildWeights = Literal["rademacher", "webb"]


def few_treated_default(treated: int, comparison: int, threshold: int = 5) -> str:
    """Return the default inference of the 2×2/TWFE/event-study family for a design.

    Randomization inference over clusters (``"permutation"``) when fewer than
    ``max(threshold, MIN_SIDE_ANALYTIC)`` clusters are treated or are comparison
    clusters; else cluster-robust ``"analytic"`` inference. Randomization inference is exact
    whenever the clusters are exchangeable, and where the number of assignments is too
    small for any p-value below alpha the result says so (an unbounded interval and a
    note) instead of giving an interval. Conley–Taber is asymptotic in the number of
    comparison clusters and over-rejected (8–12 %) with 4–12 of them in the harness, so
    it is offered, not chosen.

    Parameters
    ----------
    treated, comparison : int
        Treated and comparison clusters.
    threshold : int
        The few-clusters threshold (``few_treated_threshold``).

    Returns
    -------
    str
        ``"permutation"`` or ``"analytic"``.
    """
    few = min(treated, comparison) < max(threshold, MIN_SIDE_ANALYTIC)
    return "permutation" if few else "analytic"


def check_choice(name: str, value: object, allowed: Any) -> None:
    """Raise an EstimationError listing the allowed values when ``value`` is not one of them."""
    choices = get_args(allowed)
    if value not in choices:
        raise EstimationError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}"
        )


def quiet_coefs(model: Any) -> tuple[pd.Series, pd.Series]:
    """Coefficients and standard errors, without pyfixest's 0/0 warning on a zero SE."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"pyfixest\..*")
        return model.coef(), model.se()


def analytic_row(
    model: Any,
    term: str,
    alpha: float,
    strict: bool = True,
    *,
    fitted: tuple[pd.Series, pd.Series, float] | None = None,
) -> dict[str, Any]:
    """Return the tidy row of ``term`` with the fit's analytic standard error and t interval.

    Parameters
    ----------
    model : pyfixest.estimation.Feols
        The fit.
    term : str
        Coefficient name.
    alpha : float
        1 − confidence level.
    strict : bool
        Raise when the standard error is zero or missing (else NaN statistics).
    fitted : tuple of (Series, Series, float), optional
        The fit's ``quiet_coefs(model)`` and ``t_df(model)``, when a caller reads many
        terms of one fit (an event study's rows): each is then taken once, not per term.

    Returns
    -------
    dict
        ``estimate, std_error, statistic, p_value, conf_low, conf_high``.
    """
    coefs, ses, df = fitted if fitted is not None else (*quiet_coefs(model), t_df(model))
    coef, se = float(coefs[term]), float(ses[term])
    if strict and not (np.isfinite(se) and se > 0):
        raise EstimationError(
            "the outcome has no variation left once the model's fixed effects and controls are "
            "taken out (the standard error is zero); there is no effect to estimate"
        )
    tstat = coef / se if se > 0 else math.nan
    if not np.isfinite(tstat):
        return {
            "estimate": coef,
            "std_error": se,
            "statistic": math.nan,
            "p_value": math.nan,
            "conf_low": math.nan,
            "conf_high": math.nan,
        }
    # SciPy is imported by the regression estimators that call this, not by the module:
    # `evalkit did` with Callaway–Sant'Anna runs without it (see evalkit.did._distributions)
    from scipy import special

    crit = special.stdtrit(df, 1 - alpha / 2)
    return {
        "estimate": coef,
        "std_error": se,
        "statistic": tstat,
        "p_value": float(2 * special.stdtr(df, -abs(tstat))),
        "conf_low": coef - crit * se,
        "conf_high": coef + crit * se,
    }


def t_df(model: Any) -> float:
    """Degrees of freedom of the fit's t-statistics (G − 1 under clustering)."""
    return float(getattr(model, "_df_t", None) or max(int(model._N) - len(model.coef()), 1))


def few_treated_note(prep: Prepared, threshold: int) -> Note:
    """Explain in plain words why randomization inference is the default with few clusters."""
    k = prep.n_treated_clusters
    return Note(
        "few_treated_permutation",
        {
            "treated": k,
            "comparison": prep.n_clusters - k,
            "clusters": prep.n_clusters,
            "threshold": max(threshold, MIN_SIDE_ANALYTIC),
        },
    )

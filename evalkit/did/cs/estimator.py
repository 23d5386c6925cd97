"""Callaway & Sant'Anna (2021) difference-in-differences with staggered treatment timing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalkit.did.cs import _inference as inf_
from evalkit.did.cs._aggregate import Cohorts
from evalkit.did.cs._attgt import group_time
from evalkit.did.cs._data import COHORT_RULE, prepare
from evalkit.did.cs._result import CsResult
from evalkit.did.cs._summary import Bootstrap, Units, summarise
from evalkit.errors import EstimationError

__all__ = ["callaway_santanna"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "control": ("never", "notyet"),
    "method": ("dr", "ipw", "reg"),
    "base_period": ("varying", "universal"),
    "boot_weights": ("mammen", "rademacher"),
}


def _check_choice(name: str, value: Any) -> None:
    allowed = _CHOICES[name]
    if value not in allowed:
        raise EstimationError(
            f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}"
        )


def _check_options(
    anticipation: Any, n_boot: Any, alpha: Any, min_e: Any, max_e: Any, balance_e: Any
) -> None:
    if not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise EstimationError(f"anticipation={anticipation!r}: use a whole number ≥ 0")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise EstimationError(f"n_boot={n_boot!r}: use a whole number ≥ 2 (e.g. 999)")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise EstimationError(f"alpha={alpha!r}: use a number between 0 and 1 (e.g. 0.05)")
    for name, v in (("min_e", min_e), ("max_e", max_e), ("balance_e", balance_e)):
        if v is not None and not isinstance(v, (int, float, np.integer)):
            raise EstimationError(f"{name}={v!r}: use a whole number or None")
    if balance_e is not None and balance_e < 0:
        raise EstimationError(f"balance_e={balance_e!r}: use a whole number ≥ 0 or None")
    if min_e is not None and max_e is not None and min_e > max_e:
        raise EstimationError(f"min_e={min_e!r} is larger than max_e={max_e!r}")


def callaway_santanna(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str | None,
    time: str,
    cohort: str,
    control: Literal["never", "notyet"] = "never",
    method: Literal["dr", "ipw", "reg"] = "dr",
    covariates: Sequence[str] = (),
    base_period: Literal["varying", "universal"] = "varying",
    anticipation: int = 0,
    panel: bool = True,
    allow_unbalanced_panel: bool = False,
    cluster: str | None = None,
    bootstrap: bool = False,
    n_boot: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
    min_e: int | None = None,
    max_e: int | None = None,
    balance_e: int | None = None,
    boot_weights: Literal["mammen", "rademacher"] = "mammen",
) -> CsResult:
    """Estimate group-time average treatment effects and their aggregations.

    Implements Callaway & Sant'Anna (2021, J. Econometrics 225(2)) as R ``did``
    (``att_gt`` + ``aggte``) does, validated against R ``did`` on ``mpdta``.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data: one row per unit and period (panel) or per observation
        (repeated cross-sections).
    outcome : str
        Outcome column (numeric). Rows with a missing outcome are dropped with a warning.
    unit : str or None
        Unit id column (any type, e.g. strings). None only with ``panel=False``.
    time : str
        Period column (numeric, e.g. year or month number).
    cohort : str
        Cohort column: the first period in which the unit is treated; 0 or empty
        means never treated. It must be the same on every row of a unit.
    control : {"never", "notyet"}
        Comparison group: never-treated units, or units not yet treated
        (including never-treated) in the periods compared.
    method : {"dr", "ipw", "reg"}
        Doubly robust (Sant'Anna & Zhao 2020), normalised inverse probability
        weighting, or outcome regression.
    covariates : sequence of str
        Numeric covariates (values at the base period are used for panels).
    base_period : {"varying", "universal"}
        Varying: pre-treatment cells compare consecutive periods. Universal:
        every cell compares with the last period before treatment.
    anticipation : int
        Periods before the cohort's first treated period in which effects may
        already occur; the base period moves back by this many periods.
    panel : bool
        Whether rows of a unit are linked over time. ``False`` estimates with
        the repeated cross-section estimators.
    allow_unbalanced_panel : bool
        Keep units not observed in every period; they are then estimated with
        the repeated cross-section estimators and influence functions summed per
        unit (as R ``did``). Otherwise such units are dropped with a warning.
    cluster : str or None
        Cluster column for standard errors (units are always clusters; a
        coarser cluster must contain whole units).
    bootstrap : bool
        Multiplier bootstrap standard errors and simultaneous (uniform) bands
        instead of analytic standard errors and pointwise intervals.
    n_boot : int
        Bootstrap draws.
    seed : int
        Seed of the bootstrap (same seed, same result).
    alpha : float
        1 − confidence level.
    min_e, max_e : int or None
        Event-time window of the dynamic aggregation (``max_e`` also caps the
        other aggregations, as in R).
    balance_e : int or None
        Dynamic aggregation only over cohorts observed at least ``balance_e``
        periods after treatment.
    boot_weights : {"mammen", "rademacher"}
        Multiplier distribution (R ``did`` uses Mammen's).

    Returns
    -------
    CsResult
        ATT(g, t) cells, the four aggregations with overall values, the Wald
        pre-test and the inference details.

    Raises
    ------
    EstimationError
        Bad options or data: missing columns, treatment timing that changes
        within a unit, duplicate unit-period rows, no treated or no comparison units.
    """
    for name, value in (
        ("control", control),
        ("method", method),
        ("base_period", base_period),
        ("boot_weights", boot_weights),
    ):
        _check_choice(name, value)
    _check_options(anticipation, n_boot, alpha, min_e, max_e, balance_e)
    covs = (covariates,) if isinstance(covariates, str) else tuple(covariates)
    prepared, notes = prepare(
        data,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covs,
        cluster=cluster,
        panel=panel,
        allow_unbalanced_panel=allow_unbalanced_panel,
        anticipation=int(anticipation),
    )
    gt = group_time(
        prepared,
        control=control,
        method=method,
        base_period=base_period,
        anticipation=int(anticipation),
    )
    notes = [*notes, *gt.skipped]
    if gt.att.size == 0:
        reasons = "; ".join(n.text for n in gt.skipped)
        raise EstimationError(f"no ATT(g, t) could be estimated: {reasons}")
    coh = Cohorts.of(prepared.unit_cohort)
    clus = prepared.unit_cluster
    if gt.cohort_if is not None and clus is None:
        mom = inf_.Moments.of_cohorts(gt.cohort_if)
    else:
        mom = inf_.Moments.of(gt.influence(), coh.code, coh.values.size, clus)
    detail: dict[str, Any] = {
        "control": control,
        "method": method,
        "base_period": base_period,
        "anticipation": int(anticipation),
        "panel": bool(panel),
        "allow_unbalanced_panel": bool(allow_unbalanced_panel),
        "covariates": list(covs),
        "cluster": cluster,
        "cohort_rule": COHORT_RULE,
    }
    units = Units(prepared.periods.astype(float), prepared.n_obs, prepared.unit_cohort, clus)
    return summarise(
        gt,
        coh,
        mom,
        units,
        notes=notes,
        detail=detail,
        alpha=alpha,
        bootstrap=Bootstrap(bootstrap, int(n_boot), int(seed), boot_weights),
        window=(min_e, max_e, balance_e),
    )

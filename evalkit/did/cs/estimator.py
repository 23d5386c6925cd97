"""Callaway & Sant'Anna (2021) difference-in-differences with staggered treatment timing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from evalkit.did.cs import _inference as inf_
from evalkit.did.cs._aggregate import Cohorts
from evalkit.did.cs._attgt import GroupTime, group_time
from evalkit.did.cs._data import COHORT_RULE, CsData, prepare
from evalkit.did.cs._result import CsResult
from evalkit.did.cs._summary import Bootstrap, Units, summarise
from evalkit.did.notes import Note
from evalkit.errors import EstimationError
from evalkit.spec import (
    BASE_PERIODS,
    CONTROLS,
    FEW_TREATED_THRESHOLD,
    METHODS,
    BasePeriod,
    Control,
    Method,
)

__all__ = ["CsFit", "CsOptions", "callaway_santanna", "fit_callaway_santanna"]

BootWeights = Literal["mammen", "rademacher"]

#: The allowed values: the analysis choices are the Spec's declarations.
_CHOICES: dict[str, tuple[str, ...]] = {
    "control": CONTROLS,
    "method": METHODS,
    "base_period": BASE_PERIODS,
    "boot_weights": get_args(BootWeights),
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


@dataclass(frozen=True)
class CsOptions:
    """Every choice of one Callaway–Sant'Anna estimate, declared once with its default.

    The fields are the keyword arguments of :func:`callaway_santanna` (see there).
    """

    outcome: str
    unit: str | None
    time: str
    cohort: str
    control: Control = "never"
    method: Method = "dr"
    covariates: tuple[str, ...] = ()
    base_period: BasePeriod = "varying"
    anticipation: int = 0
    panel: bool = True
    allow_unbalanced_panel: bool = False
    cluster: str | None = None
    bootstrap: bool = False
    n_boot: int = 999
    seed: int = 0
    alpha: float = 0.05
    min_e: int | None = None
    max_e: int | None = None
    balance_e: int | None = None
    boot_weights: BootWeights = "mammen"

    @classmethod
    def of(cls, **given: Any) -> CsOptions:
        """Return checked options; an unknown name is an :class:`EstimationError`."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise EstimationError(
                f"unknown option(s) {', '.join(unknown)} for callaway_santanna; "
                f"allowed: {', '.join(names)}"
            )
        covs = given.get("covariates", ())
        given["covariates"] = (covs,) if isinstance(covs, str) else tuple(covs)
        options = cls(**given)
        for name in _CHOICES:
            _check_choice(name, getattr(options, name))
        _check_options(
            options.anticipation,
            options.n_boot,
            options.alpha,
            options.min_e,
            options.max_e,
            options.balance_e,
        )
        return options

    def settings(self) -> dict[str, Any]:
        """Return the choices that re-estimate the cells and aggregations (for permutation)."""
        keys = ("control", "method", "base_period", "min_e", "max_e", "balance_e")
        return {**{k: getattr(self, k) for k in keys}, "anticipation": int(self.anticipation)}


_DEFAULT = CsOptions(outcome="", unit=None, time="", cohort="")


@dataclass(frozen=True)
class CsFit:
    """The prepared data and ATT(g, t) cells of one estimate, before its inference.

    :meth:`summarise` aggregates them with analytic or bootstrap inference, and
    :func:`evalkit.did.cs._randomization.with_permutation` permutes cohorts over
    the same prepared data, so no inference prepares or fits the data again.
    """

    options: CsOptions
    data: CsData
    gt: GroupTime
    cohorts: Cohorts
    moments: inf_.Moments
    notes: tuple[Note, ...]
    detail: Mapping[str, Any] = field(repr=False)

    def summarise(
        self, bootstrap: bool | None = None, few_treated: int = FEW_TREATED_THRESHOLD
    ) -> CsResult:
        """Return the result; ``bootstrap`` overrides the options' choice of inference.

        Fewer treated clusters than ``few_treated`` get a note on the analytic intervals.
        """
        o = self.options
        on = o.bootstrap if bootstrap is None else bootstrap
        data = self.data
        units = Units(data.periods.astype(float), data.n_obs, data.unit_cohort, data.unit_cluster)
        return summarise(
            self.gt,
            self.cohorts,
            self.moments,
            units,
            notes=list(self.notes),
            detail=dict(self.detail),
            alpha=o.alpha,
            bootstrap=Bootstrap(on, int(o.n_boot), int(o.seed), o.boot_weights),
            window=(o.min_e, o.max_e, o.balance_e),
            few_treated=few_treated,
        )


def fit_callaway_santanna(data: pd.DataFrame, options: CsOptions) -> CsFit:
    """Prepare the data and estimate every ATT(g, t) cell (see :func:`callaway_santanna`).

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, as for :func:`callaway_santanna`.
    options : CsOptions
        The estimate's choices (:meth:`CsOptions.of`).

    Returns
    -------
    CsFit
        The cells and their influence-function moments; ``summarise()`` gives the result.

    Raises
    ------
    EstimationError
        Bad data (see :func:`callaway_santanna`), or no cell that can be estimated.
    """
    o = options
    prepared, notes = prepare(
        data,
        outcome=o.outcome,
        unit=o.unit,
        time=o.time,
        cohort=o.cohort,
        covariates=o.covariates,
        cluster=o.cluster,
        panel=o.panel,
        allow_unbalanced_panel=o.allow_unbalanced_panel,
        anticipation=int(o.anticipation),
    )
    gt = group_time(
        prepared,
        control=o.control,
        method=o.method,
        base_period=o.base_period,
        anticipation=int(o.anticipation),
    )
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
        "control": o.control,
        "method": o.method,
        "base_period": o.base_period,
        "anticipation": int(o.anticipation),
        "panel": bool(o.panel),
        "allow_unbalanced_panel": bool(o.allow_unbalanced_panel),
        "covariates": list(o.covariates),
        "cluster": o.cluster,
        "cohort_rule": COHORT_RULE,
    }
    return CsFit(o, prepared, gt, coh, mom, (*notes, *gt.skipped), detail)


def callaway_santanna(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str | None,
    time: str,
    cohort: str,
    control: Control = _DEFAULT.control,
    method: Method = _DEFAULT.method,
    covariates: Sequence[str] = _DEFAULT.covariates,
    base_period: BasePeriod = _DEFAULT.base_period,
    anticipation: int = _DEFAULT.anticipation,
    panel: bool = _DEFAULT.panel,
    allow_unbalanced_panel: bool = _DEFAULT.allow_unbalanced_panel,
    cluster: str | None = _DEFAULT.cluster,
    bootstrap: bool = _DEFAULT.bootstrap,
    n_boot: int = _DEFAULT.n_boot,
    seed: int = _DEFAULT.seed,
    alpha: float = _DEFAULT.alpha,
    min_e: int | None = _DEFAULT.min_e,
    max_e: int | None = _DEFAULT.max_e,
    balance_e: int | None = _DEFAULT.balance_e,
    boot_weights: BootWeights = _DEFAULT.boot_weights,
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
    given = dict(locals())
    del given["data"]
    return fit_callaway_santanna(data, CsOptions.of(**given)).summarise()

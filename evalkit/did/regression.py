"""The regression estimators: 2×2 DiD, static TWFE and the TWFE event study (pyfixest ``feols``).

Each function takes a :class:`~evalkit.did._data.Prepared` frame and returns
the pyfixest fit plus a :class:`~evalkit.did.inference.LinearDesign` that the
resampling inference methods refit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.did._common import quiet_coefs
from evalkit.did._data import CLUSTER, COHORT, COHORT_RULE, GROUP, POST, TIME, UNIT, D, Prepared, Y
from evalkit.did._fwl import Residualizer
from evalkit.did.inference import LinearDesign
from evalkit.errors import EstimationError

__all__ = ["Fit", "event_design", "event_study", "feols", "twfe", "two_by_two", "two_way_formula"]


#: Convergence tolerance of pyfixest's alternating projections (two or more absorbed
#: effects). Its default, 1e-6, stops where the floating-point path of the run happens
#: to put it, so the Sun–Abraham rows and the imputation pre-test differed in the sixth
#: digit with the number of BLAS/numba threads and from run to run; 1e-12 converges
#: to the same solution whatever the path.
FIXEF_TOL = 1e-12


def feols(formula: str, frame: pd.DataFrame, vcov: Any) -> Any:
    """Run :func:`pyfixest.feols`, silencing only pyfixest's own pandas deprecation noise.

    Parameters
    ----------
    formula : str
        pyfixest formula.
    frame : pandas.DataFrame
        Data.
    vcov : str or dict
        pyfixest vcov specification.

    Returns
    -------
    pyfixest.estimation.Feols
        The fit.
    """
    import pyfixest as pf
    from pyfixest.demeaners import MapDemeaner

    # pyfixest's own notices (and pandas' inplace deprecation inside it) say nothing
    # about these data; what does, evalkit returns as notes on the result
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"pyfixest\..*")
        warnings.filterwarnings("ignore", message=r".*inplace keyword.*")
        try:
            return pf.feols(
                formula,
                data=frame,
                vcov=vcov,
                fixef_rm="none",
                demeaner=MapDemeaner(fixef_tol=FIXEF_TOL),
            )
        except (ValueError, np.linalg.LinAlgError) as exc:
            why = " ".join(str(exc).split())
            raise EstimationError(f"the regression cannot be estimated: {why}") from exc


@dataclass(frozen=True)
class Fit:
    """A pyfixest fit and the design its treatment coefficient can be resampled from."""

    model: Any
    term: str
    design: LinearDesign | None


def pyfixest_vcov(vcov: str) -> Any:
    """Translate evalkit's vcov names into pyfixest's."""
    return {"iid": "iid", "hetero": "hetero", "cluster": {"CRV1": CLUSTER}}[vcov]


def _cluster_roles(prep: Prepared, pattern: np.ndarray) -> np.ndarray | None:
    """Per-cluster pattern code (0 = comparison) when the pattern is constant in every cluster."""
    f = prep.frame
    by = pd.DataFrame({"c": f[CLUSTER].to_numpy(), "p": pattern}).groupby("c")["p"]
    if (by.nunique() > 1).any():
        return None
    return by.first().sort_index().to_numpy()


def two_by_two(prep: Prepared, vcov: str) -> Fit:
    """2×2 DiD: ``y ~ group + post + group:post (+ covariates)`` by OLS.

    Parameters
    ----------
    prep : Prepared
        Frame with ``_grp`` and ``_post`` (or a single treated cohort).
    vcov : {"iid", "hetero", "cluster"}
        Analytic variance.

    Returns
    -------
    Fit
        The fit (coefficient ``_d``) and its resampling design.
    """
    f = prep.frame.copy()
    if not prep.has_post:
        if not prep.has_cohort:
            raise EstimationError("the 2x2 estimator needs treated= with post=, or cohort=")
        cohorts = sorted(set(f.loc[f[COHORT] > 0, COHORT]))
        if len(cohorts) != 1:
            raise EstimationError(
                f"the 2x2 estimator needs one treated cohort; found {len(cohorts)} "
                f"({COHORT_RULE}); use estimator='twfe' or 'callaway_santanna'"
            )
        f[GROUP] = (f[COHORT] > 0).astype(float)
        f[POST] = (f[TIME] >= cohorts[0]).astype(float)
        f[D] = f[GROUP] * f[POST]
    for col, what in ((GROUP, "treated group"), (POST, "post period")):
        if f[col].nunique() < 2:
            raise EstimationError(f"the 2x2 needs rows both in and out of the {what}")
    covs = list(prep.covariates)
    formula = f"{Y} ~ {GROUP} + {POST} + {D}" + "".join(f" + {c}" for c in covs)
    model = feols(formula, f, pyfixest_vcov(vcov))
    nuisance = np.column_stack([np.ones(len(f)), f[POST].to_numpy(), *(f[c] for c in covs)])
    grp_roles = _cluster_roles(prep, f[GROUP].to_numpy())
    cl = f[CLUSTER].to_numpy()
    post = f[POST].to_numpy()

    def pattern(r: int) -> np.ndarray:
        return np.column_stack([np.ones(len(post)), post])

    design = LinearDesign(
        y=f[Y].to_numpy(),
        regressors=f[[GROUP, D]].to_numpy(dtype=float),
        residualizer=Residualizer((), nuisance),
        cluster=cl,
        role=None if grp_roles is None else grp_roles.astype(int),
        pattern=pattern,
    )
    return Fit(model, D, design)


def two_way_formula(frame: pd.DataFrame, terms: list[str]) -> str:
    """Build ``y ~ terms`` with unit and period effects: one factor absorbed, one as dummies.

    pyfixest 0.60 builds its fixed-effects formula from a Python ``set``, so with two
    absorbed factors the order of its alternating projections follows the per-process
    string-hash seed (PYTHONHASHSEED) and standard errors differ at ~1e-6 between runs;
    a tighter ``fixef_tol`` narrows but never removes the difference. With one absorbed
    factor the demeaning is one exact projection, the same in every process. The factor
    with fewer levels (usually the period) enters as ``C(...)`` dummies: the same model,
    the same coefficients and the same small-sample correction (a factor not nested in
    the clusters counts towards k either way). The dummies come first, so that when a
    term of interest is collinear with the two-way effects, pyfixest drops that term
    (as it did when both factors were absorbed), not a dummy.

    Parameters
    ----------
    frame : pandas.DataFrame
        Prepared frame with ``_unit`` and ``_t``.
    terms : list of str
        Regressors (treatment or event-time indicators, then covariates).

    Returns
    -------
    str
        E.g. ``"_y ~ C(_t) + _d | _unit"``.
    """
    if frame[TIME].nunique() <= frame[UNIT].nunique():
        dummies, absorbed = TIME, UNIT
    else:
        dummies, absorbed = UNIT, TIME
    return f"{Y} ~ C({dummies}) + " + " + ".join(terms) + f" | {absorbed}"


def _require_panel(prep: Prepared, what: str) -> None:
    if not (prep.has_unit and prep.has_time):
        raise EstimationError(f"the {what} estimator needs unit= and time=")


def _require_switch(prep: Prepared, what: str) -> None:
    """Raise when no unit's treatment changes over time (it is then a unit fixed effect)."""
    if not (prep.frame.groupby(UNIT)[D].nunique() > 1).any():
        raise EstimationError(
            f"the {what} estimator cannot separate the treatment from the unit fixed effects: "
            "the treatment is the same in every period of each unit (no unit is observed both "
            "before and after its start), so it is collinear with the fixed effects; include "
            "periods before the start of at least one treated unit"
        )


def _require_term(model: Any, term: str, what: str) -> None:
    """Raise when pyfixest dropped the treatment term as collinear with the fixed effects."""
    if term not in quiet_coefs(model)[0].index:
        raise EstimationError(
            f"the {what} estimator cannot separate the treatment from the unit and period fixed "
            "effects and covariates (the treatment indicator is collinear with them), so there "
            "is no effect to estimate on these data"
        )


def twfe(prep: Prepared, vcov: str) -> Fit:
    """Fit static two-way fixed effects: ``y ~ D (+ covariates) | unit + time``.

    Parameters
    ----------
    prep : Prepared
        Panel frame with unit and time.
    vcov : {"iid", "hetero", "cluster"}
        Analytic variance.

    Returns
    -------
    Fit
        The fit (coefficient ``_d``) and its resampling design.
    """
    _require_panel(prep, "twfe")
    f = prep.frame
    if f[D].nunique() < 2:
        raise EstimationError("the treatment indicator has no variation (all 0 or all 1)")
    _require_switch(prep, "twfe")
    covs = list(prep.covariates)
    formula = two_way_formula(f, [D, *covs])
    model = feols(formula, f, pyfixest_vcov(vcov))
    _require_term(model, D, "twfe")
    t = f[TIME].to_numpy()
    cl = f[CLUSTER].to_numpy()
    roles: np.ndarray | None = None
    levels: list[int] = []
    if prep.has_cohort:
        per = _cluster_roles(prep, f[COHORT].to_numpy())
        if per is not None:
            levels = sorted({int(v) for v in per if v > 0})
            code = {c: i + 1 for i, c in enumerate(levels)}
            roles = np.array([code.get(int(v), 0) for v in per], dtype=int)

    def pattern(r: int) -> np.ndarray:
        return (t >= levels[r - 1]).astype(float)[:, None]

    nuisance = f[covs].to_numpy(dtype=float) if covs else np.empty((len(f), 0))
    design = LinearDesign(
        y=f[Y].to_numpy(),
        regressors=f[[D]].to_numpy(dtype=float),
        residualizer=Residualizer((f[UNIT].to_numpy(), pd.factorize(t)[0]), nuisance),
        cluster=cl,
        role=roles,
        pattern=pattern,
    )
    return Fit(model, D, design)


def event_time_terms(
    prep: Prepared, min_e: int | None, max_e: int | None
) -> tuple[pd.DataFrame, list[int]]:
    """Add relative-time indicators (reference −1, binned end points) to a copy of the frame.

    Parameters
    ----------
    prep : Prepared
        Panel frame with cohorts.
    min_e, max_e : int or None
        Bin event times at or below ``min_e`` (at or above ``max_e``) into one indicator.

    Returns
    -------
    frame : pandas.DataFrame
        Copy with columns ``_e_m3``, ``_e_p0`` ... for each estimated event time.
    event_times : list of int
        The event times estimated (−1 excluded), in order.
    """
    f = prep.frame.copy()
    g = f[COHORT].to_numpy()
    rel = _relative_time(f[TIME].to_numpy(), g, min_e, max_e)
    treated = g > 0
    if (min_e is not None and min_e > -1) or (max_e is not None and max_e < 0):
        raise EstimationError("min_e must be ≤ -1 and max_e ≥ 0 (the reference period is -1)")
    times = sorted({int(e) for e in rel[treated]} - {-1})
    for e in times:
        f[_name(e)] = (treated & (rel == e)).astype(float)
    return f, times


def _name(e: int) -> str:
    return f"_e_m{-e}" if e < 0 else f"_e_p{e}"


def event_study(
    prep: Prepared, vcov: str, min_e: int | None, max_e: int | None
) -> tuple[Any, list[int]]:
    """TWFE event study: ``y ~ sum_e 1[t - g = e] (+ covariates) | unit + time``, e ≠ −1.

    Parameters
    ----------
    prep : Prepared
        Panel frame with cohorts (cohort= or an absorbing treated= indicator).
    vcov : {"iid", "hetero", "cluster"}
        Analytic variance.
    min_e, max_e : int or None
        Binned end points.

    Returns
    -------
    model : pyfixest.estimation.Feols
        The fit.
    event_times : list of int
        Estimated event times (reference −1 left out).
    """
    _require_panel(prep, "event_study")
    if not prep.has_cohort:
        raise EstimationError(
            "the event study needs cohort= or a treated= indicator that stays on once on "
            f"({COHORT_RULE})"
        )
    f, times = event_time_terms(prep, min_e, max_e)
    if not times:
        raise EstimationError(f"no treated unit has event times other than -1 ({COHORT_RULE})")
    _require_switch(prep, "event_study")
    covs = list(prep.covariates)
    formula = two_way_formula(f, [*(_name(e) for e in times), *covs])
    model = feols(formula, f, pyfixest_vcov(vcov))
    return model, times


def _relative_time(
    t: np.ndarray, g: np.ndarray, min_e: int | None, max_e: int | None
) -> np.ndarray:
    rel = np.where(g > 0, t - g, np.iinfo(np.int64).min)
    treated = g > 0
    if min_e is not None:
        rel = np.where(treated & (rel < min_e), min_e, rel)
    if max_e is not None:
        rel = np.where(treated & (rel > max_e), max_e, rel)
    return rel


def event_design(
    prep: Prepared, times: list[int], min_e: int | None, max_e: int | None
) -> LinearDesign:
    """Resampling design of the event study: one regressor per event time in ``times``.

    Parameters
    ----------
    prep : Prepared
        Panel frame with cohorts.
    times : list of int
        Event times kept in the fit (reference −1 excluded).
    min_e, max_e : int or None
        Binned end points, as in :func:`event_study`.

    Returns
    -------
    LinearDesign
        With cluster roles when every cluster has one cohort (else ``role`` is None).
    """
    f = prep.frame
    t = f[TIME].to_numpy()
    cl = f[CLUSTER].to_numpy()
    per = _cluster_roles(prep, f[COHORT].to_numpy())
    roles: np.ndarray | None = None
    levels: list[int] = []
    if per is not None:
        levels = sorted({int(v) for v in per if v > 0})
        code = {c: i + 1 for i, c in enumerate(levels)}
        roles = np.array([code.get(int(v), 0) for v in per], dtype=int)

    def dummies(g: np.ndarray) -> np.ndarray:
        rel = _relative_time(t, g, min_e, max_e)
        # one comparison against every event time (as fast as one column, not one per time)
        return (rel[:, None] == np.asarray(times, dtype=np.int64)[None, :]).astype(float)

    def pattern(r: int) -> np.ndarray:
        return dummies(np.full(len(t), levels[r - 1]))

    covs = list(prep.covariates)
    nuisance = f[covs].to_numpy(dtype=float) if covs else np.empty((len(f), 0))
    return LinearDesign(
        y=f[Y].to_numpy(),
        regressors=dummies(f[COHORT].to_numpy()),
        residualizer=Residualizer((f[UNIT].to_numpy(), pd.factorize(t)[0]), nuisance),
        cluster=cl,
        role=roles,
        pattern=pattern,
    )

"""Fit once, infer many: a fitted model and the inference applied to it.

As in linearmodels' model / results / covariance split, :func:`fit` prepares the
data and fits the model once; ``infer(method)`` then gives the result under any
inference the design allows (cluster-robust, wild bootstrap, randomization
inference, Conley–Taber; for Callaway–Sant'Anna analytic, multiplier bootstrap
or cohort permutation) without preparing or fitting again. The main estimate of
a report and the inference methods shown beside it are one fit.
:func:`evalkit.did.estimate` is ``fit(...).infer()`` for these estimators.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import EllipsisType
from typing import TYPE_CHECKING, Any

import pandas as pd

from evalkit.did._common import MIN_SIDE_ANALYTIC, few_treated_default
from evalkit.did._data import Prepared, anticipate, prepare
from evalkit.did._event_sensitivity import SENSITIVITY_OPTIONS
from evalkit.did.cs._result import CsResult
from evalkit.did.cs.estimator import CsFit, CsOptions, fit_callaway_santanna
from evalkit.did.notes import Note, Notes
from evalkit.did.results import DidResult
from evalkit.errors import EstimationError
from evalkit.spec import SYNTHETIC_INFERENCE, Inference, Spec, as_spec

if TYPE_CHECKING:
    from evalkit.did.regression import Fit

__all__ = ["FITTED_ESTIMATORS", "CallawaySantAnnaFit", "RegressionFit", "fit", "fits_apart"]

#: The estimators whose fit and inference are separate steps; the event studies and
#: the synthetic estimators infer inside their estimate (see :func:`evalkit.did.estimate`).
FITTED_ESTIMATORS: tuple[str, ...] = ("2x2", "twfe", "bacon", "callaway_santanna")

#: Tuning options of the 2×2/TWFE family's resampling inference and event studies.
REGRESSION_OPTIONS = frozenset(
    {
        "weights",
        "n_boot",
        "n_perm",
        "n_sim",
        "max_enumerate",
        "ferman_pinto",
        "min_e",
        "max_e",
        "leads",
        "horizons",
        *SENSITIVITY_OPTIONS,
    }
)
#: Callaway–Sant'Anna's permutation options (the rest are :class:`CsOptions`).
_CS_PERMUTATION = {"n_perm": 999, "max_enumerate": 1000}

AsSpecified = EllipsisType


def fits_apart(spec: Spec) -> bool:
    """Whether :func:`fit` takes ``spec``: its estimator fits apart from its inference.

    Conformal inference for TWFE refits on every placebo period, so like the synthetic
    estimators it infers inside its estimate.
    """
    return spec.estimator in FITTED_ESTIMATORS and spec.inference not in SYNTHETIC_INFERENCE


@dataclass(frozen=True)
class RegressionFit:
    """A 2×2, TWFE or Bacon fit, ready for any inference.

    Attributes
    ----------
    spec : Spec
        The choices it was fitted with (``spec.inference`` is what :meth:`infer` uses
        when not told otherwise).
    prep : Prepared
        The prepared rows.
    fit : Fit
        The pyfixest model and the design its coefficient is resampled from.
    vcov : str
        The variance used for the analytic row.
    components : pandas.DataFrame or None
        Bacon's 2×2 components.
    """

    spec: Spec
    prep: Prepared
    fit: Fit
    vcov: str
    components: pd.DataFrame | None = None

    def infer(
        self, inference: Inference | AsSpecified | None = ..., *, notes: Notes | None = None
    ) -> DidResult:
        """Return the result under ``inference`` (default: the spec's).

        Parameters
        ----------
        inference : str or None, optional
            A method of :data:`evalkit.spec.INFERENCES` that this estimator offers, or
            None for the few-treated rule; omitted: ``spec.inference``.
        notes : Notes, optional
            Receives the notes made before resampling (kept if resampling fails).

        Returns
        -------
        DidResult
            Equal to ``estimate(..., inference=inference)`` on the same data.
        """
        # the regression family (pyfixest, SciPy) loads when it is used: see fit()
        from evalkit.did._coefficient import coefficient_result

        spec = self.spec if inference is ... else self.spec.with_(inference=inference)
        return coefficient_result(spec, self.prep, self.fit, self.vcov, self.components, notes)


@dataclass(frozen=True)
class CallawaySantAnnaFit:
    """Callaway–Sant'Anna's cells and moments, ready for any of its inferences.

    Attributes
    ----------
    spec : Spec
        The choices it was fitted with.
    fit : CsFit
        Prepared data, ATT(g, t) cells and influence-function moments.
    permutation : dict
        ``n_perm`` and ``max_enumerate`` of cohort permutation.
    """

    spec: Spec
    fit: CsFit
    permutation: dict[str, int]

    def infer(self, inference: Inference | AsSpecified | None = ...) -> CsResult:
        """Return the result under ``inference`` (default: the spec's).

        ``"analytic"`` (influence function), ``"bootstrap"``/``"wild"`` (multiplier
        bootstrap, uniform bands), ``"permutation"`` (cohorts permuted over clusters),
        or None: analytic unless fewer than ``few_treated_threshold`` (at least
        :data:`~evalkit.did._common.MIN_SIDE_ANALYTIC`) clusters are treated or
        comparison, then permutation with a note saying why. Every note is on the
        result, so unlike :meth:`RegressionFit.infer` it takes no note sink.
        """
        chosen = self.spec.inference if inference is ... else inference
        if chosen not in (None, "analytic", "bootstrap", "wild", "permutation"):
            raise EstimationError(
                f"inference={chosen!r} is not available for callaway_santanna; allowed: "
                "'analytic', 'bootstrap', 'permutation'"
            )
        on = True if chosen in ("bootstrap", "wild") else None
        threshold = self.spec.few_treated_threshold
        result = self.fit.summarise(bootstrap=on, few_treated=threshold)
        k, g = result.n_treated_clusters, result.n_clusters
        # One rule for every estimator: influence-function intervals over-rejected a true
        # null 7-11 % with 6 treated of 18 municipalities in the harness, as CR1 does for TWFE.
        default = chosen is None and few_treated_default(k, g - k, threshold) != "analytic"
        if not (chosen == "permutation" or default):
            return result
        return self._permuted(result, default)

    def _permuted(self, result: CsResult, default: bool) -> CsResult:
        from evalkit.did.cs._randomization import with_permutation

        k, g = result.n_treated_clusters, result.n_clusters
        threshold = self.spec.few_treated_threshold
        # The permutation p-values replace the warning that the analytic intervals are unreliable.
        notes = [n for n in result.notes if n.code != "cs_few_treated_clusters"]
        if default:
            facts = {"treated": k, "comparison": g - k, "clusters": g}
            facts["threshold"] = max(threshold, MIN_SIDE_ANALYTIC)
            notes.insert(0, Note("cs_few_treated_permutation", facts))
        try:
            out = with_permutation(
                self.fit,
                result,
                **self.permutation,
                seed=self.spec.seed,
                alpha=self.spec.alpha,
                notes=notes,
            )
        except EstimationError as exc:
            if not default:
                raise
            note = Note("cs_permutation_failed", {"reason": str(exc)})
            return replace(result, notes=(*result.notes, note))
        if default or k < threshold:
            rows_note = Note("cs_rows_descriptive", {"treated": k})
            out = replace(out, notes=(*out.notes, rows_note))
        return out


def fit(
    data: pd.DataFrame,
    spec: Spec | None = None,
    *,
    outcome: str,
    unit: str | None = None,
    time: str | None = None,
    cohort: str | None = None,
    treated: str | None = None,
    post: str | None = None,
    notes: Notes | None = None,
    **choices: Any,
) -> RegressionFit | CallawaySantAnnaFit:
    """Prepare the data and fit the model of ``spec``, leaving the inference for later.

    Parameters
    ----------
    data, spec, outcome, unit, time, cohort, treated, post, notes, **choices
        As for :func:`evalkit.did.estimate`; the estimator is one of
        :data:`FITTED_ESTIMATORS`.

    Returns
    -------
    RegressionFit or CallawaySantAnnaFit
        ``infer()`` gives the spec's result, ``infer(method)`` another inference.

    Raises
    ------
    EstimationError
        Bad options or data, or an estimator that infers inside its estimate.
    """
    spec = as_spec(spec, choices)
    design: dict[str, Any] = {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort}
    if spec.estimator == "callaway_santanna":
        return _fit_cs(data, spec, **design)
    if not fits_apart(spec):
        what = f"inference {spec.inference!r}" if spec.inference else repr(spec.estimator)
        raise EstimationError(
            f"fit() takes the estimators {', '.join(FITTED_ESTIMATORS)}; {what} "
            "infers inside its estimate: use estimate()"
        )
    # Imported here, not with the module: `evalkit did` with Callaway–Sant'Anna is a short
    # process, and the regression family's imports (pyfixest, SciPy) would be a third of it.
    from evalkit.did.bacon import bacon_decomposition
    from evalkit.did.regression import twfe, two_by_two

    prep, vcov = regression_data(data, spec, **design, treated=treated, post=post)
    if notes is not None:
        notes.add(*prep.notes)
    model = two_by_two(prep, vcov) if spec.estimator == "2x2" else twfe(prep, vcov)
    components = bacon_decomposition(prep) if spec.estimator == "bacon" else None
    return RegressionFit(spec, prep, model, vcov, components)


def regression_data(data: pd.DataFrame, spec: Spec, **design: Any) -> tuple[Prepared, str]:
    """Check the regression estimators' options, prepare the data, choose the variance."""
    unknown = set(spec.options) - REGRESSION_OPTIONS
    if unknown:
        raise EstimationError(
            f"unknown option(s) {', '.join(sorted(unknown))} for estimator {spec.estimator!r}; "
            f"allowed: {', '.join(sorted(REGRESSION_OPTIONS))}"
        )
    event_studies = ("event_study", "sun_abraham", "imputation")
    if spec.estimator not in event_studies and any(
        spec.options.get(o) is not None for o in SENSITIVITY_OPTIONS
    ):
        raise EstimationError(
            "the sensitivity analysis (sensitivity=, bounds=) needs an event study "
            "(estimator='event_study', 'sun_abraham', 'imputation' or 'callaway_santanna'); "
            f"got {spec.estimator!r}"
        )
    prep = prepare(data, **design, covariates=spec.covariates, cluster=spec.cluster)
    prep = anticipate(prep, spec.anticipation)
    vcov = spec.vcov
    if vcov is None:
        vcov = "cluster" if (prep.has_unit or prep.cluster_given) else "hetero"
    return prep, vcov


def _fit_cs(
    data: pd.DataFrame,
    spec: Spec,
    *,
    outcome: str,
    unit: str | None,
    time: str | None,
    cohort: str | None,
) -> CallawaySantAnnaFit:
    if cohort is None or time is None:
        raise EstimationError(
            "callaway_santanna needs cohort= (the first treated period of each unit; 0 or "
            "empty means never treated) and time="
        )
    if any(spec.options.get(o) is not None for o in SENSITIVITY_OPTIONS):
        raise EstimationError(
            "the sensitivity analysis of Callaway–Sant'Anna runs on its estimate: "
            "use estimate(..., sensitivity=...)"
        )
    tuning = {k: v for k, v in spec.options.items() if k not in SENSITIVITY_OPTIONS}
    permutation = {k: int(tuning.pop(k, v)) for k, v in _CS_PERMUTATION.items()}
    if spec.event_window is not None:
        tuning.setdefault("min_e", spec.event_window[0])
        tuning.setdefault("max_e", spec.event_window[1])
    options = CsOptions.of(
        **tuning,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        control=spec.control,
        method=spec.method,
        base_period=spec.base_period,
        anticipation=spec.anticipation,
        covariates=spec.covariates,
        cluster=spec.cluster,
        seed=spec.seed,
        alpha=spec.alpha,
    )
    return CallawaySantAnnaFit(spec, fit_callaway_santanna(data, options), permutation)

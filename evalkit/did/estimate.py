"""The entry point :func:`estimate`: check options, run an estimator, choose honest inference."""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.did._common import MIN_SIDE_ANALYTIC, few_treated_default
from evalkit.did._event_sensitivity import SENSITIVITY_OPTIONS
from evalkit.did.cs._result import CsResult
from evalkit.did.cs._sensitivity import with_sensitivity
from evalkit.did.fitted import RegressionFit, fit, fits_apart, regression_data
from evalkit.did.notes import Notes
from evalkit.errors import EstimationError
from evalkit.spec import (
    SYNTHETIC_ESTIMATORS,
    SYNTHETIC_INFERENCE,
    Estimator,
    Inference,
    Spec,
    Vcov,
    as_spec,
)

__all__ = [
    "MIN_SIDE_ANALYTIC",
    "Estimator",
    "Inference",
    "Spec",
    "Vcov",
    "estimate",
    "few_treated_default",
]


def estimate(
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
) -> Any:
    """Estimate a difference-in-differences effect.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per unit and period (or per respondent for a 2×2 on
        repeated cross-sections).
    spec : Spec, optional
        The analysis choices (:class:`evalkit.spec.Spec`). Without it, give
        them as keywords (``estimator="twfe"``, ``control=...``, see the Spec's
        fields); keywords that are no Spec field are tuning options.
    outcome : str
        Outcome column (rows with a missing outcome are dropped, and the result
        carries a note that counts them).
    unit, time : str, optional
        Unit id (strings work) and period columns. Periods are numbers, or any
        sortable values (dates, ``"2025-10"``) counted in positions.
    cohort : str, optional
        First treated period of each unit, in the time column's units; 0 or empty
        means never treated. Exclusive with ``treated``.
    treated : str, optional
        Treatment indicator per row (1 when that unit is treated in that period);
        with ``post`` it is the group indicator and the treatment is ``treated × post``.
    post : str, optional
        Post-period indicator (2×2).
    notes : Notes, optional
        A collector that receives every note as it arises, so that a caller keeps
        what was noted before an estimate failed; on success it holds the result's
        notes.
    **choices
        Spec fields when ``spec`` is not given: ``estimator`` (required; one of
        :data:`evalkit.spec.ESTIMATORS`), ``control``, ``method``,
        ``base_period``, ``anticipation``, ``covariates``, ``cluster``, ``vcov``,
        ``inference``, ``few_treated_threshold``, ``alpha``, ``event_window``,
        ``seed``. Inference: default analytic, unless there are few clusters
        (:func:`few_treated_default`: fewer than 10, or ``few_treated_threshold`` if
        larger, treated or comparison clusters); then randomization inference
        (``"permutation"``), with a note saying why; for Callaway–Sant'Anna fewer than
        ``few_treated_threshold`` treated clusters (units when there is no cluster).
        When the treatment does not switch on per cluster, Conley–Taber and then the
        wild bootstrap are tried. Other keywords are tuning
        options: 2×2, TWFE and event study ``weights`` ("rademacher"/"webb"),
        ``n_boot`` (9999), ``n_perm`` (1999), ``n_sim`` (1999), ``max_enumerate``
        (20000), ``ferman_pinto`` (True), event study ``min_e``/``max_e``,
        ``sensitivity`` ("relative_magnitudes"/"smoothness": HonestDiD robust
        intervals, see :func:`evalkit.did.sensitivity`; also for Sun–Abraham),
        ``bounds`` (Mbar or M values), ``sensitivity_target`` ("mean" of the
        post-period effects, default, or "first"); imputation ``leads`` (5) and
        ``horizons`` (True: every event time; False: the overall effect only);
        Callaway–Sant'Anna ``n_perm`` (999), ``max_enumerate`` (1000), ``panel``,
        ``bootstrap``/``n_boot``, ``balance_e``, ... The synthetic estimators
        (``synthetic_did``, ``synthetic_control``, ``triple_differences``; balanced
        panel, ``treated`` or ``cohort``) take ``inference`` ``"placebo"`` (default),
        ``"conformal"`` (one start date) or ``"jackknife"`` (more than one treated
        unit), and options ``n_placebo``, ``grid``, ``eta_omega``; triple
        differences also ``subgroup`` and ``base`` (see :mod:`evalkit.did.synthetic`).
        TWFE also takes ``"conformal"`` on a balanced panel with one start date.

    Returns
    -------
    DidResult or CsResult
        A frozen result with ``tidy()``, ``summary()``, ``to_dict()``, ``_repr_html_()``.
        Its ``notes`` are every warning of this estimate (dropped rows, one-unit
        cohorts, few treated clusters, coarse inference), as codes with values and
        English text (``warnings``); no Python warning is issued.

    Raises
    ------
    EstimationError
        Bad options or data (the message names the column, unit or rows).
    """
    spec = as_spec(spec, choices)
    sink = Notes() if notes is None else notes
    design = {"cohort": cohort, "treated": treated, "post": post}
    result = _estimate(data, spec, sink, outcome=outcome, unit=unit, time=time, **design)
    sink.add(*result.notes)
    return result


def _estimate(
    data: pd.DataFrame,
    spec: Spec,
    sink: Notes,
    *,
    outcome: str,
    unit: str | None,
    time: str | None,
    cohort: str | None,
    treated: str | None,
    post: str | None,
) -> Any:
    """Run the estimator of ``spec``; ``sink`` gets the notes that arise before a failure."""
    # Each estimator's module is imported when it runs, so that a command that runs one
    # (`evalkit did`, a short process) does not load the others and SciPy with them.
    columns = {"outcome": outcome, "unit": unit, "time": time}
    if spec.estimator in SYNTHETIC_ESTIMATORS or (
        spec.estimator == "twfe" and spec.inference == "conformal"
    ):
        from evalkit.did._synth_result import synthetic_result

        if post is not None:  # it was ignored, and the group indicator read as the treatment
            raise EstimationError(
                f"{spec.estimator} takes the treatment per row: give treated= as 1 in a unit's "
                "periods from its start on (group x post), or cohort=; post= is for the 2x2"
            )

        return synthetic_result(
            data, spec, outcome=outcome, unit=unit, time=time, treated=treated, cohort=cohort
        )
    if spec.inference in SYNTHETIC_INFERENCE:
        raise EstimationError(
            f"inference={spec.inference!r} is for the synthetic estimators "
            f"({', '.join(SYNTHETIC_ESTIMATORS)}; twfe also offers 'conformal'); estimator "
            f"{spec.estimator!r} offers 'analytic', 'bootstrap', 'wild', 'permutation', "
            "'conley_taber'"
        )
    design: dict[str, Any] = {**columns, "cohort": cohort, "treated": treated, "post": post}
    if spec.estimator == "callaway_santanna":
        asked = {o: spec.options[o] for o in SENSITIVITY_OPTIONS if spec.options.get(o) is not None}
        rest = {k: v for k, v in spec.options.items() if k not in SENSITIVITY_OPTIONS}
        result = fit(data, spec.with_(options=rest), **design).infer()
        if not asked or not isinstance(result, CsResult):
            return result
        threshold = spec.few_treated_threshold
        return with_sensitivity(result, asked, seed=spec.seed, few_treated_threshold=threshold)
    if fits_apart(spec):
        fitted = fit(data, spec, notes=sink, **design)
        if isinstance(fitted, RegressionFit):
            return fitted.infer(notes=sink)
        return fitted.infer()
    prep, chosen_vcov = regression_data(data, spec, **design)
    sink.add(*prep.notes)
    if spec.estimator == "event_study":
        from evalkit.did._event import event_study_result

        return event_study_result(prep, chosen_vcov, spec)
    from evalkit.did._modern import modern_result

    return modern_result(prep, spec)

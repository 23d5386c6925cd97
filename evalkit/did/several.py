"""One 2×2 or TWFE fit, its result under several inference methods.

A report shows the few-treated inference next to cluster-robust and the wild
bootstrap (issue #7's robustness section). Calling :func:`~evalkit.did.estimate`
once per method prepares the data and fits the same model each time; here the
data are prepared and the model fitted once, and only the inference differs.
Each result equals what ``estimate(..., inference=method)`` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd

from evalkit.did._common import check_choice
from evalkit.did.estimate import Inference, Vcov, _coefficient_result, _regression_data
from evalkit.did.regression import twfe, two_by_two
from evalkit.did.results import DidResult
from evalkit.errors import EstimationError

__all__ = ["estimate_inferences"]


def estimate_inferences(
    data: pd.DataFrame,
    *,
    inferences: Sequence[Inference],
    outcome: str,
    estimator: Literal["2x2", "twfe"],
    unit: str | None = None,
    time: str | None = None,
    cohort: str | None = None,
    treated: str | None = None,
    post: str | None = None,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    vcov: Vcov | None = None,
    seed: int = 0,
    alpha: float = 0.05,
    few_treated_threshold: int = 5,
    **options: Any,
) -> dict[str, DidResult]:
    """Fit a 2×2 or TWFE model once and infer with each method in ``inferences``.

    Parameters
    ----------
    data : pandas.DataFrame
        As for :func:`evalkit.did.estimate`.
    inferences : sequence of str
        Methods: ``analytic``, ``bootstrap``/``wild``, ``permutation``, ``conley_taber``.
    outcome, estimator, unit, time, cohort, treated, post, covariates, cluster, vcov, seed, \
alpha, few_treated_threshold, **options
        As for :func:`evalkit.did.estimate` (``estimator`` is ``2x2`` or ``twfe``).

    Returns
    -------
    dict
        Method → :class:`~evalkit.did.results.DidResult`, in the order given.

    Raises
    ------
    EstimationError
        Bad options or data, or a method this design cannot use.
    """
    if estimator not in ("2x2", "twfe"):
        raise EstimationError(
            f"estimate_inferences takes estimator '2x2' or 'twfe'; got {estimator!r}"
        )
    for method in inferences:
        check_choice("inference", method, Inference)
    if vcov is not None:
        check_choice("vcov", vcov, Vcov)
    if not 0 < alpha < 1:
        raise EstimationError(f"alpha must be between 0 and 1; got {alpha!r}")
    if isinstance(covariates, str):
        covariates = (covariates,)
    prep, chosen_vcov = _regression_data(
        data,
        estimator,
        options,
        vcov,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        treated=treated,
        post=post,
        covariates=covariates,
        cluster=cluster,
    )
    fit = two_by_two(prep, chosen_vcov) if estimator == "2x2" else twfe(prep, chosen_vcov)
    return {
        method: _coefficient_result(
            estimator,
            prep,
            fit,
            chosen_vcov,
            method,
            seed,
            alpha,
            few_treated_threshold,
            dict(options),
            None,
        )
        for method in inferences
    }

"""One 2×2 or TWFE fit, its result under several inference methods.

A report shows the few-treated inference next to cluster-robust and the wild
bootstrap (issue #7's robustness section). Calling :func:`~evalkit.did.estimate`
once per method prepares the data and fits the same model each time; here the
data are prepared and the model fitted once, and only the inference differs.
Each result equals what ``estimate(..., inference=method)`` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from evalkit.did.estimate import _coefficient_result, _regression_data
from evalkit.did.regression import twfe, two_by_two
from evalkit.did.results import DidResult
from evalkit.errors import EstimationError
from evalkit.spec import Inference, Spec, as_spec

__all__ = ["estimate_inferences"]


def estimate_inferences(
    data: pd.DataFrame,
    spec: Spec | None = None,
    *,
    inferences: Sequence[Inference],
    outcome: str,
    unit: str | None = None,
    time: str | None = None,
    cohort: str | None = None,
    treated: str | None = None,
    post: str | None = None,
    **choices: Any,
) -> dict[str, DidResult]:
    """Fit a 2×2 or TWFE model once and infer with each method in ``inferences``.

    Parameters
    ----------
    data : pandas.DataFrame
        As for :func:`evalkit.did.estimate`.
    spec : Spec, optional
        The analysis choices (estimator ``2x2`` or ``twfe``); its ``inference`` is
        replaced by each of ``inferences``. Without it, give the choices as keywords.
    inferences : sequence of str
        Methods: ``analytic``, ``bootstrap``/``wild``, ``permutation``, ``conley_taber``.
    outcome, unit, time, cohort, treated, post, **choices
        As for :func:`evalkit.did.estimate`.

    Returns
    -------
    dict
        Method → :class:`~evalkit.did.results.DidResult`, in the order given.

    Raises
    ------
    EstimationError
        Bad options or data, or a method this design cannot use.
    """
    choices.pop("inference", None)
    spec = as_spec(spec, choices)
    if spec.estimator not in ("2x2", "twfe"):
        raise EstimationError(
            f"estimate_inferences takes estimator '2x2' or 'twfe'; got {spec.estimator!r}"
        )
    specs = {method: spec.with_(inference=method) for method in inferences}
    prep, chosen_vcov = _regression_data(
        data, spec, outcome=outcome, unit=unit, time=time, cohort=cohort, treated=treated, post=post
    )
    fit = two_by_two(prep, chosen_vcov) if spec.estimator == "2x2" else twfe(prep, chosen_vcov)
    return {m: _coefficient_result(s, prep, fit, chosen_vcov, None) for m, s in specs.items()}

"""Inference on one regression coefficient: CR1, wild bootstrap, randomization, Conley–Taber.

The 2×2, TWFE and Bacon estimates are one coefficient of a fitted model
(:class:`evalkit.did.regression.Fit`); this module turns a fit into a result under
the chosen inference, or under the few-treated rule when none is chosen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evalkit.did import inference as inf
from evalkit.did._common import (
    WildWeights,
    analytic_row,
    check_choice,
    few_treated_default,
    few_treated_note,
    t_df,
)
from evalkit.did._data import Prepared
from evalkit.did.conley_taber import conley_taber
from evalkit.did.notes import Note, Notes
from evalkit.did.regression import Fit
from evalkit.did.results import DidResult, tidy_frame
from evalkit.did.wild import wild_bootstrap
from evalkit.errors import EstimationError
from evalkit.spec import Spec

__all__ = ["coefficient_result"]


def coefficient_result(
    spec: Spec,
    prep: Prepared,
    fit: Fit,
    vcov: str,
    components: pd.DataFrame | None,
    sink: Notes | None = None,
) -> DidResult:
    """Infer on ``fit`` as ``spec`` says; ``sink`` gets the notes made before it resamples."""
    row = analytic_row(fit.model, fit.term, spec.alpha)
    k, threshold = prep.n_treated_clusters, spec.few_treated_threshold
    chosen, messages = _first_choice(spec, prep, vcov)
    if sink is not None:
        sink.add(*messages)
    detail: dict[str, Any] = {"vcov": vcov, "df": t_df(fit.model)}
    outcome: inf.InferenceOutcome | None = None
    notes: list[Note] = []
    if chosen != "analytic" and spec.inference is None:
        chosen, outcome, notes = _few_treated_fallback(fit, spec)
    elif chosen != "analytic":
        outcome = _resample(chosen, fit, spec.seed, spec.alpha, spec.options)
        if outcome is None:
            raise EstimationError(
                f"inference={chosen!r} needs a treatment that starts at the same period for "
                "every row of a cluster; use inference='wild' or 'analytic'"
            )
    if chosen == "wild" and k < threshold:
        notes.append(Note("wild_unreliable", {"treated": k}))
    if outcome is not None:
        notes.extend(outcome.messages)
        detail = {**outcome.detail, "analytic_se": row["std_error"], "vcov": vcov}
        row.update(p_value=outcome.p_value, conf_low=outcome.ci_low, conf_high=outcome.ci_high)
        if chosen in ("permutation", "conley_taber"):
            row.update(std_error=math.nan, statistic=math.nan)
    row["term"] = "ATT" if spec.estimator != "2x2" else "ATT (group × post)"
    return DidResult(
        estimator=spec.estimator,
        att=row["estimate"],
        se=row["std_error"],
        ci_low=row["conf_low"],
        ci_high=row["conf_high"],
        p_value=row["p_value"],
        n_obs=len(prep.frame),
        n_units=prep.n_units,
        n_clusters=prep.n_clusters,
        n_treated_clusters=k,
        inference=chosen,
        alpha=spec.alpha,
        notes=(*messages, *notes),
        table=tidy_frame([row]),
        inference_detail=detail,
        extra=_components_extra(components, row["estimate"]),
    )


def _first_choice(spec: Spec, prep: Prepared, vcov: str) -> tuple[str, list[Note]]:
    """Return the inference to try first and the notes on the data and on that choice.

    Without a registered inference, few treated (or comparison) clusters choose
    permutation inference; registered analytic inference with few treated clusters
    gets a note that its intervals are too narrow.
    """
    k, threshold = prep.n_treated_clusters, spec.few_treated_threshold
    messages: list[Note] = list(prep.notes)
    few = prep.has_unit or prep.cluster_given
    few = few and few_treated_default(k, prep.n_clusters - k, threshold) != "analytic"
    chosen = spec.inference or ("permutation" if few else "analytic")
    if chosen == "bootstrap":
        chosen = "wild"
    if spec.inference is None and few:
        messages.append(few_treated_note(prep, threshold))
    elif chosen == "analytic" and vcov == "cluster" and k < threshold:
        messages.append(Note("few_treated_cr1", {"treated": k, "clusters": prep.n_clusters}))
    return chosen, messages


def _few_treated_fallback(
    fit: Fit, spec: Spec
) -> tuple[str, inf.InferenceOutcome | None, list[Note]]:
    """Try permutation, then Conley–Taber, then the wild bootstrap; analytic when none runs.

    Returns the method that ran, its outcome (None: analytic) and why the others did not.
    """
    notes: list[Note] = []
    for method in ("permutation", "conley_taber", "wild"):
        try:
            outcome = _resample(method, fit, spec.seed, spec.alpha, spec.options)
        except EstimationError as exc:
            notes.append(Note("inference_failed", {"method": method, "reason": str(exc)}))
            continue
        if outcome is not None:
            return method, outcome, notes
        notes.append(Note("conley_taber_needs_common_start"))
    notes.append(Note("no_few_treated_inference"))
    return "analytic", None, notes


def _components_extra(components: pd.DataFrame | None, estimate: float) -> dict[str, Any]:
    """Return the Bacon components for the result, checked to add up to the TWFE estimate."""
    if components is None:
        return {}
    total = float((components["weight"] * components["estimate"]).sum())
    if not np.isclose(total, estimate, rtol=1e-6, atol=1e-8):
        raise EstimationError("internal check failed: Bacon components do not add up to TWFE")
    return {"components": components.to_dict("records")}


def _resample(
    chosen: str, fit: Fit, seed: int, alpha: float, options: Mapping[str, Any]
) -> inf.InferenceOutcome | None:
    design = fit.design
    if design is None:
        return None
    if chosen == "wild":
        weights = options.get("weights", "rademacher")
        check_choice("weights", weights, WildWeights)
        return wild_bootstrap(
            design, weights=weights, n_boot=int(options.get("n_boot", 9999)), seed=seed, alpha=alpha
        )
    if design.role is None:
        return None
    if chosen == "permutation":
        return inf.randomization(
            design,
            n_perm=int(options.get("n_perm", 1999)),
            max_enumerate=int(options.get("max_enumerate", 20_000)),
            seed=seed,
            alpha=alpha,
        )
    return conley_taber(
        design,
        ferman_pinto=bool(options.get("ferman_pinto", True)),
        n_sim=int(options.get("n_sim", 1999)),
        max_enumerate=int(options.get("max_enumerate", 20_000)),
        seed=seed,
        alpha=alpha,
    )

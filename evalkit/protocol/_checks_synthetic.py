"""Checks of the synthetic estimators, triple differences and their inference in a protocol.

Each message says when the registered choice applies, so that ``protocol check``
explains the choice instead of only refusing it:

* ``synthetic_control`` / ``synthetic_did``: one or a few pilot municipalities with
  a long pre-period and comparison municipalities whose weighted average can track
  the pilot before the start; no covariates.
* ``triple_differences``: a registered subgroup inside the municipalities (those
  turning 18 during the pilot against slightly younger and older); shocks that hit
  a whole municipality in a month cancel.
* ``placebo``: p-values in steps of 1/(comparison units + 1); it can reject at
  alpha only with at least 1/alpha − 1 comparison units.
* ``conformal``: one start month; p-values in steps of 1/(months), so it needs at
  least 1/alpha months, and, with a level in the model (all but synthetic control), a
  pre-period longer than the post-period; it is what makes a single pilot
  municipality testable.
* ``jackknife``: only with more than one pilot municipality.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from evalkit.spec import SYNTHETIC_ESTIMATORS, SYNTHETIC_INFERENCE

__all__ = ["check_synthetic"]


def _months(p: Mapping[str, Any], first: str = "pre", last: str = "post") -> int | None:
    """Months from the start of ``periods.<first>`` to the end of ``periods.<last>``."""
    periods = p.get("periods") or {}
    try:
        begin = str((periods.get(first) or {})["start"])
        end = str((periods.get(last) or {})["end"])
        y0, m0 = (int(x) for x in begin.split("-")[:2])
        y1, m1 = (int(x) for x in end.split("-")[:2])
    except (KeyError, TypeError, ValueError):
        return None
    return (y1 * 12 + m1) - (y0 * 12 + m0) + 1


def check_synthetic(p: Mapping[str, Any], errors: list[str], warnings: list[str]) -> None:
    """Append errors and warnings about the synthetic estimators and their inference."""
    a = p.get("analysis") or {}
    estimator, inference = a.get("estimator"), a.get("inference")
    units = p.get("units") or {}
    treated = [t for t in units.get("treated") or [] if isinstance(t, Mapping)]
    n_treated = len({t.get("unit") for t in treated})
    n_comparison = len(units.get("comparison") or [])
    starts = {str(t.get("start")) for t in treated}
    # Out-of-range alphas (10**400 overflows float()) are reported by the field check.
    raw_alpha = a.get("alpha")
    alpha = float(raw_alpha) if isinstance(raw_alpha, float | int) and 0 < raw_alpha < 1 else 0.05
    if inference in SYNTHETIC_INFERENCE and estimator not in SYNTHETIC_ESTIMATORS:
        if not (estimator == "twfe" and inference == "conformal"):
            errors.append(
                f"analysis.inference: {inference!r} applies to synthetic_control, "
                "synthetic_did and triple_differences (and 'conformal' also to twfe); "
                f"{estimator!r} uses auto, analytic, bootstrap, wild, permutation or conley_taber"
            )
    if estimator in SYNTHETIC_ESTIMATORS:
        if inference not in (None, "auto", *SYNTHETIC_INFERENCE):
            errors.append(
                f"analysis.inference: {estimator} uses placebo (comparison municipalities "
                "pretend to be the pilot), conformal (permutations of time; one start month) "
                f"or jackknife (more than one pilot municipality); got {inference!r}"
            )
        if a.get("covariates"):
            errors.append(
                f"analysis.covariates: {estimator} balances the pilot on its own pre-period "
                "outcomes and takes no covariates; remove them or use callaway_santanna"
            )
        cluster, unit = a.get("cluster"), (p.get("units") or {}).get("column")
        if cluster and cluster != unit:
            warnings.append(
                f"analysis.cluster: {estimator} compares whole {unit} units, and its "
                f"inference ({inference}) does not use {cluster!r}; only the event study beside "
                "it clusters on it"
            )
        lead = (p.get("units") or {}).get("anticipation_months")
        if lead:  # the estimator refuses it, so every estimate would be missing
            errors.append(
                f"units.anticipation_months: {estimator} takes no anticipation ({lead} "
                "registered): it balances the pilot on its own pre-period outcomes; set 0 and "
                "start the pilot units' start months earlier instead"
            )
    if estimator == "triple_differences":
        names = {s.get("id") for s in (p.get("population") or {}).get("subgroups") or []}
        if a.get("subgroup") not in names:
            errors.append(
                "analysis.subgroup: triple_differences compares a subgroup inside each "
                "municipality (e.g. those turning 18 during the pilot) with the rest; name one "
                f"of population.subgroups ({', '.join(sorted(map(str, names))) or 'none declared'})"
            )
    _check_inference(
        inference, estimator, n_treated, n_comparison, starts, alpha, p, errors, warnings
    )


def _check_inference(
    inference: Any,
    estimator: Any,
    n_treated: int,
    n_comparison: int,
    starts: set[str],
    alpha: float,
    p: Mapping[str, Any],
    errors: list[str],
    warnings: list[str],
) -> None:
    if inference == "jackknife" and n_treated < 2:
        errors.append(
            "analysis.inference: the jackknife applies only with more than one pilot "
            "municipality (leaving out the only one leaves nothing to estimate); use placebo "
            "or conformal"
        )
    if inference == "conformal":
        if len(starts) > 1:
            errors.append(
                "analysis.inference: conformal inference permutes time around one start month; "
                f"the pilot units start in {', '.join(sorted(starts))}; use placebo"
            )
        months = _months(p)
        if months is not None and 1 / months > alpha:
            warnings.append(
                f"analysis.inference: impossible at alpha = {alpha:g} with this design: "
                f"conformal p-values come in steps of 1/{months} months = {1 / months:.3f}; "
                f"it needs at least {math.ceil(1 / alpha)} months"
            )
        pre = _months(p, "pre", "pre")
        post = months - pre if months is not None and pre is not None else None
        if estimator != "synthetic_control" and pre is not None and post is not None:
            if pre <= post:  # the level absorbs a wrong effect (see _synth_inference.conformal)
                warnings.append(
                    f"analysis.inference: impossible at alpha = {alpha:g} with this design: "
                    f"with a pre-period of {pre} months, not longer than the post-period "
                    f"({post}), conformal inference on {estimator} cannot reject an effect "
                    "however large; lengthen the pre-period or use synthetic_control"
                )
    if inference in ("placebo", "auto") and estimator in SYNTHETIC_ESTIMATORS and n_treated:
        smallest = 1 / (math.comb(n_comparison, n_treated) + 1) if n_comparison else 1.0
        if smallest > alpha:
            warnings.append(
                f"analysis.inference: impossible at alpha = {alpha:g} with this design: "
                f"placebo p-values with {n_comparison} comparison municipalities come in steps "
                f"of {smallest:.3f}; use conformal (one start month) or add comparison units"
            )

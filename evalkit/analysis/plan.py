"""The one translation from a registered protocol to analysis specifications.

Every estimate the confirmatory analysis makes — the registered estimate of an
outcome and each robustness variant (event study, placebo in time, alternative
comparison group, subgroup, Bacon decomposition) — gets its
:class:`~evalkit.spec.Spec` here, and nowhere else. Which rows each estimate
uses is :mod:`evalkit.analysis.effects`' job; what is estimated on them is this
module's.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from evalkit.analysis.measures import UNIT
from evalkit.protocol.model import Protocol
from evalkit.spec import Control, Estimator, Spec

__all__ = ["VARIANTS", "Variant", "registered_spec"]

Variant = Literal[
    "main",
    "event_study",
    "placebo",
    "alternative_control",
    "subgroup",
    "bacon",
    "sensitivity",
    "imputation",
    "sun_abraham",
]
VARIANTS: tuple[str, ...] = get_args(Variant)

#: Estimators whose analytic variance the protocol fixes to cluster-robust (CR1).
_CLUSTER_ROBUST = ("2x2", "twfe")


def registered_spec(protocol: Protocol, variant: Variant = "main") -> Spec:
    """Return the specification of the registered estimate, or of one robustness variant.

    Parameters
    ----------
    protocol : Protocol
        The registered protocol.
    variant : {"main", "event_study", "placebo", "alternative_control", "subgroup", "bacon"}
        ``main`` and ``subgroup`` are the registered estimate (a subgroup differs in
        its rows only); ``event_study`` is the registered estimator's event study
        (Callaway–Sant'Anna's dynamic aggregation, otherwise the TWFE event study);
        ``placebo`` estimates a TWFE effect where a 2×2 or event study is registered
        (the placebo start needs a panel); ``alternative_control`` switches
        Callaway–Sant'Anna between never- and not-yet-treated comparison units (the
        other estimators change the rows instead); ``bacon`` decomposes TWFE;
        ``sensitivity`` is the registered HonestDiD analysis (``analysis.robustness``)
        on the Sun–Abraham event study where Callaway–Sant'Anna is registered and
        enough municipalities are treated, else on the TWFE event study (whose
        few-treated default, Conley–Taber, gives the placebo-based bounds);
        ``imputation`` and ``sun_abraham`` are the registered extra event studies
        (analytic inference: only their event times are used, and those are CR1 under
        any inference, so the overall effect's randomization inference would be wasted).

    Returns
    -------
    Spec
        Every field of the protocol's ``analysis:`` block and
        ``units.anticipation_months``, as the estimator takes them.
    """
    a = protocol.analysis
    estimator: Estimator = a.estimator
    if variant == "event_study":
        estimator = "callaway_santanna" if estimator == "callaway_santanna" else "event_study"
    elif variant == "placebo" and estimator in ("2x2", "event_study"):
        estimator = "twfe"
    elif variant == "bacon":
        estimator = "bacon"
    elif variant in ("imputation", "sun_abraham"):
        estimator = "imputation" if variant == "imputation" else "sun_abraham"
    elif variant == "sensitivity":
        few = len(protocol.units.treated) < a.few_treated_threshold
        estimator = (
            "sun_abraham" if a.estimator == "callaway_santanna" and not few else "event_study"
        )
    control: Control = a.control_group
    if variant == "alternative_control" and estimator == "callaway_santanna":
        control = "never" if control == "notyet" else "notyet"
    options: dict[str, object] = (
        {"allow_unbalanced_panel": True} if estimator == "callaway_santanna" else {}
    )
    check = a.robustness.sensitivity if a.robustness is not None else None
    if variant == "sensitivity" and check is not None:
        options = {
            "sensitivity": check.restriction,
            "bounds": list(check.bounds),
            "sensitivity_target": check.target,
        }
    # The extra event studies and the sensitivity run use only the event times (CR1 under
    # any inference), so they skip the overall effect's permutations; a registered
    # imputation or Sun–Abraham estimate takes the registered inference (e.g. permutation).
    modern = estimator in ("imputation", "sun_abraham") and variant != "main"
    return Spec(
        estimator=estimator,
        control=control,
        method=a.method,
        base_period=a.base_period,
        anticipation=protocol.units.anticipation_months,
        covariates=() if variant == "bacon" else a.covariates,
        cluster=cluster_column(protocol),
        vcov="cluster" if estimator in _CLUSTER_ROBUST else None,
        inference="analytic" if modern else _inference(a.inference, estimator),
        few_treated_threshold=a.few_treated_threshold,
        alpha=a.alpha,
        event_window=a.event_window,
        seed=a.seed,
        options=options,
    )


def _inference(registered: str, estimator: str) -> Any:
    """Return the registered inference, or None where a robustness variant cannot take it."""
    if registered == "auto":
        return None
    synthetic_only = registered in ("placebo", "jackknife") or (
        registered == "conformal" and estimator != "twfe"
    )
    synthetic = estimator in ("synthetic_control", "synthetic_did", "triple_differences")
    return None if synthetic_only and not synthetic else registered


def cluster_column(protocol: Protocol) -> str:
    """Return the analysis frame's column of the registered cluster.

    The unit column (``units.column``, the default) is the frame's own unit code;
    another registered column of the outcome panel is used as it is.
    """
    cluster = protocol.analysis.cluster
    return UNIT if cluster in (None, "", protocol.units.column) else cluster

"""The analysis specification: what one difference-in-differences estimate is, declared once.

:class:`Spec` is a frozen, typed value (estimator, comparison group, method,
base period, anticipation, covariates, cluster, variance, inference,
few-treated threshold, alpha, event window, seed and estimator-specific
tuning options). Every allowed value is a ``Literal`` declared here; the lists
that the CLI (``evalkit did``), ``protocol check`` and the estimators' run-time
checks use are derived from these declarations with :func:`typing.get_args`.

The specification is the ``did`` layer's value (``evalkit.did.Spec``), kept in
a leaf module beside :mod:`evalkit.errors`: it imports nothing from evalkit but
the exception tree, so every layer, the protocol's checks and the CLI's
argument parser included, reads the allowed values from it without importing
an estimator (importing ``evalkit.did`` takes about a second; this module, none).

To add an estimator, add its name to :data:`Estimator` (and, when it is a
diagnostic rather than an estimate a protocol may register, to
:data:`DIAGNOSTICS`); ``protocol check`` and ``evalkit did --estimator``
accept it from then on, and :func:`evalkit.did.estimate` must dispatch it.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, get_args

from evalkit.errors import EstimationError

__all__ = [
    "BASE_PERIODS",
    "CONTROLS",
    "CORRECTIONS",
    "DIAGNOSTICS",
    "ESTIMATORS",
    "FEW_TREATED_METHODS",
    "FEW_TREATED_THRESHOLD",
    "INFERENCES",
    "INFERENCE_COMPARED",
    "METHODS",
    "MIN_SIDE_ANALYTIC",
    "MULTIPLE_TESTING",
    "READ_BY",
    "REGISTRABLE_ESTIMATORS",
    "REGISTRABLE_INFERENCES",
    "RESTRICTIONS",
    "ROBUSTNESS_EVENT_STUDIES",
    "SENSITIVITY_TARGETS",
    "SPEC_FIELDS",
    "SYNTHETIC_ESTIMATORS",
    "SYNTHETIC_INFERENCE",
    "VCOVS",
    "BasePeriod",
    "Control",
    "Estimator",
    "Inference",
    "Method",
    "MultipleTesting",
    "RegisteredInference",
    "Restriction",
    "SensitivityTarget",
    "Spec",
    "Vcov",
    "as_spec",
    "unread",
]

Estimator = Literal[
    "2x2",
    "twfe",
    "event_study",
    "callaway_santanna",
    "bacon",
    "synthetic_control",
    "synthetic_did",
    "triple_differences",
    "imputation",
    "sun_abraham",
]
Control = Literal["never", "notyet"]
Method = Literal["dr", "ipw", "reg"]
BasePeriod = Literal["varying", "universal"]
Vcov = Literal["iid", "hetero", "cluster"]
Inference = Literal[
    "analytic",
    "bootstrap",
    "wild",
    "permutation",
    "conley_taber",
    "placebo",
    "conformal",
    "jackknife",
]
MultipleTesting = Literal["holm", "bonferroni", "bh", "none"]
#: HonestDiD restrictions on how far parallel trends may fail (Rambachan & Roth 2023).
Restriction = Literal["relative_magnitudes", "smoothness"]
#: The effect a sensitivity analysis is about: mean of the post periods, or the first.
SensitivityTarget = Literal["mean", "first"]
#: A protocol's ``inference``: ``auto`` lets the few-treated rule choose (``Spec.inference=None``).
RegisteredInference = Literal["auto", Inference]

ESTIMATORS: tuple[str, ...] = get_args(Estimator)
CONTROLS: tuple[str, ...] = get_args(Control)
METHODS: tuple[str, ...] = get_args(Method)
BASE_PERIODS: tuple[str, ...] = get_args(BasePeriod)
VCOVS: tuple[str, ...] = get_args(Vcov)
INFERENCES: tuple[str, ...] = get_args(Inference)
MULTIPLE_TESTING: tuple[str, ...] = get_args(MultipleTesting)
RESTRICTIONS: tuple[str, ...] = get_args(Restriction)
SENSITIVITY_TARGETS: tuple[str, ...] = get_args(SensitivityTarget)
#: The estimators that compare the pilot with a weighted or differenced comparison of
#: units (:mod:`evalkit.did.synthetic`), and the inference methods they offer.
SYNTHETIC_ESTIMATORS: tuple[str, ...] = ("synthetic_control", "synthetic_did", "triple_differences")
SYNTHETIC_INFERENCE: tuple[str, ...] = ("placebo", "conformal", "jackknife")
#: Heterogeneity-robust event studies a protocol may show beside the registered one.
ROBUSTNESS_EVENT_STUDIES: tuple[str, ...] = ("imputation", "sun_abraham")

#: Estimators whose registered inference the evaluation sets beside the other inferences
#: on the same fit (``robustness.inference_comparison`` of the bundle).
INFERENCE_COMPARED: tuple[str, ...] = ("2x2", "twfe")
#: Estimators that decompose or diagnose rather than estimate a registered effect.
DIAGNOSTICS: tuple[str, ...] = ("bacon",)
#: The estimators a protocol may register.
REGISTRABLE_ESTIMATORS: tuple[str, ...] = tuple(e for e in ESTIMATORS if e not in DIAGNOSTICS)
REGISTRABLE_INFERENCES: tuple[str, ...] = get_args(RegisteredInference)
#: Multiple-testing names → ``statsmodels.stats.multitest.multipletests`` methods.
CORRECTIONS: Mapping[str, str | None] = {
    "holm": "holm",
    "bonferroni": "bonferroni",
    "bh": "fdr_bh",
    "none": None,
}
#: Fewer treated clusters than this switch the default inference to a few-treated method.
FEW_TREATED_THRESHOLD = 5
#: Largest seed: every seed evalkit takes (``Spec.seed``, the protocol's ``analysis.seed``,
#: ``power.seed`` and ``demo.seed``, the commands' ``--seed``) fits numpy's legacy
#: ``RandomState`` and R's ``set.seed`` as well as ``default_rng``, so a registered seed can
#: be replayed in other software, and no JSON reader rounds it (2**53 would).
SEED_MAX = 2**32 - 1
#: Most random draws of one kind (power simulations per effect, placebo assignments): more
#: gain nothing in precision and run for hours.
MAX_DRAWS = 100_000
#: Cluster-robust (CR1) t-tests need at least this many treated AND comparison
#: clusters: in the size-and-coverage harness, 6 treated against 8-20 comparison
#: municipalities of unequal size rejected a true null 8.5-12 % of the time at 5 %.
#: The default (``auto``) inference uses ``max(few_treated_threshold, MIN_SIDE_ANALYTIC)``.
MIN_SIDE_ANALYTIC = 10
#: The estimators each few-treated resampling method runs for (randomization over the
#: assignment of cohorts to clusters also for Callaway–Sant'Anna, imputation and
#: Sun–Abraham; Conley–Taber needs the regression's residuals).
FEW_TREATED_METHODS: Mapping[str, tuple[str, ...]] = {
    "permutation": (
        "2x2",
        "twfe",
        "event_study",
        "callaway_santanna",
        "imputation",
        "sun_abraham",
    ),
    "conley_taber": ("2x2", "twfe", "event_study"),
}

_REGRESSION: tuple[str, ...] = ("2x2", "twfe", "event_study", "bacon")
_NOT_SYNTHETIC: tuple[str, ...] = tuple(e for e in ESTIMATORS if e not in SYNTHETIC_ESTIMATORS)
#: Choices that only some estimators read: choice → (the estimators that read it, why the
#: others cannot, and the inferences with which it is read; None: any). TWFE with
#: conformal inference is fitted as the synthetic estimators are, and reads what they
#: read. ``evalkit did`` refuses a choice its estimator would not read (:func:`unread`)
#: rather than ignoring it; ``alpha``, ``inference`` and ``anticipation`` are checked by
#: the estimators themselves.
READ_BY: Mapping[str, tuple[tuple[str, ...], str, tuple[str | None, ...] | None]] = {
    "control": (
        ("callaway_santanna",),
        "only Callaway-Sant'Anna chooses between never and not-yet treated comparisons",
        None,
    ),
    "method": (
        ("callaway_santanna",),
        "only Callaway-Sant'Anna has a doubly robust, IPW or regression estimate",
        None,
    ),
    "base_period": (
        ("callaway_santanna",),
        "only Callaway-Sant'Anna's pre-treatment effects have a base period",
        None,
    ),
    "covariates": (
        ("2x2", "twfe", "event_study", "callaway_santanna"),
        "the synthetic estimators balance on pre-period outcomes, and bacon, imputation and "
        "sun_abraham are computed without covariates here",
        None,
    ),
    "cluster": (
        _NOT_SYNTHETIC,
        "its inference (placebo, conformal, jackknife) permutes or leaves out whole units, so "
        "the unit is the cluster; aggregate the data to the cluster and give it as the unit",
        None,
    ),
    "vcov": (
        _REGRESSION,
        "it chooses the regression's analytic variance; callaway_santanna, imputation and "
        "sun_abraham have their own cluster-robust variance, the synthetic estimators none",
        None,
    ),
    "few_treated_threshold": (
        _NOT_SYNTHETIC,
        "its inference does not switch with the number of treated units (placebo unless "
        "another is asked for)",
        None,
    ),
    "seed": (
        ESTIMATORS,
        "its inference draws nothing at random (analytic inference; conformal inference "
        "tries a fixed grid of effects on every time-ordered permutation, jackknife leaves "
        "out each unit once)",
        # unset: the few-treated rule may choose permutation or wild, which draw
        (None, "bootstrap", "wild", "permutation", "conley_taber", "placebo"),
    ),
    "subgroup": (("triple_differences",), "only triple differences compares subgroups", None),
    "base": (
        ("triple_differences",),
        "it chooses the estimator applied to triple differences' subgroup differences",
        None,
    ),
    "n_placebo": (
        ("synthetic_control", "synthetic_did", "triple_differences"),
        "only placebo inference of the synthetic estimators draws placebo assignments",
        (None, "placebo"),
    ),
    "sensitivity": (
        ("event_study", "sun_abraham", "callaway_santanna"),
        "the sensitivity analysis needs an event study's coefficients and their covariance",
        None,
    ),
}

#: Choices that an option reads whatever the inference: a sensitivity analysis draws its
#: HonestDiD critical values (and, with few treated, its placebos) from the seed, also
#: beside analytic inference.
_READ_WITH_OPTION: Mapping[str, str] = {"seed": "sensitivity"}

_CHOICES: Mapping[str, tuple[str, ...]] = {
    "estimator": ESTIMATORS,
    "control": CONTROLS,
    "method": METHODS,
    "base_period": BASE_PERIODS,
    "vcov": VCOVS,
    "inference": INFERENCES,
}


@dataclass(frozen=True)
class Spec:
    """One estimate's analysis choices (the data's columns are given apart).

    Attributes
    ----------
    estimator : {"2x2", "twfe", "event_study", "callaway_santanna", "bacon", \
"synthetic_control", "synthetic_did", "triple_differences", "imputation", "sun_abraham"}
        The estimator.
    control : {"never", "notyet"}
        Comparison group (Callaway–Sant'Anna).
    method : {"dr", "ipw", "reg"}
        Doubly robust, inverse probability weighting or outcome regression (Callaway–Sant'Anna).
    base_period : {"varying", "universal"}
        Base period of the pre-treatment group-time effects (Callaway–Sant'Anna).
    anticipation : int
        Periods before the first treated period in which units may already react:
        they count as treated, and the event study's reference period is
        ``-1 - anticipation``. Needs ``cohort=``; a 2×2 with ``treated=`` and
        ``post=`` takes its indicator as given (leave the anticipation periods
        out of its pre-period rows).
    covariates : tuple of str
        Covariate columns.
    cluster : str or None
        Cluster column; None clusters on the unit.
    vcov : {"iid", "hetero", "cluster"} or None
        Analytic variance; None chooses cluster-robust when there are units or clusters.
    inference : {"analytic", "bootstrap", "wild", "permutation", "conley_taber", "placebo", \
"conformal", "jackknife"} or None
        None chooses analytic, or a few-treated method below ``few_treated_threshold``
        (placebo for the synthetic estimators); placebo, conformal and jackknife are
        the synthetic estimators' (conformal also TWFE's on a balanced panel).
    few_treated_threshold : int
        Fewer treated clusters than this count as few.
    alpha : float
        1 − confidence level.
    event_window : (int, int) or None
        First and last event time of the event study (end points binned, or for
        Callaway–Sant'Anna the dynamic aggregation limited to them).
    seed : int
        Seed of every random draw (bootstrap, permutation, Conley–Taber).
    options : mapping
        Estimator-specific tuning (``n_boot``, ``weights``, ``n_perm``, ``n_sim``,
        ``max_enumerate``, ``ferman_pinto``, Callaway–Sant'Anna's ``panel``, ...).
    """

    estimator: Estimator
    control: Control = "never"
    method: Method = "dr"
    base_period: BasePeriod = "varying"
    anticipation: int = 0
    covariates: tuple[str, ...] = ()
    cluster: str | None = None
    vcov: Vcov | None = None
    inference: Inference | None = None
    few_treated_threshold: int = FEW_TREATED_THRESHOLD
    alpha: float = 0.05
    event_window: tuple[int, int] | None = None
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value is None and name in ("vcov", "inference"):
                continue
            if value not in allowed:
                raise EstimationError(
                    f"{name} must be one of {', '.join(repr(c) for c in allowed)}; got {value!r}"
                )
        covariates = self.covariates
        if isinstance(covariates, str):
            covariates = (covariates,)
        object.__setattr__(self, "covariates", tuple(covariates))
        object.__setattr__(self, "options", dict(self.options))
        if self.event_window is not None:
            object.__setattr__(self, "event_window", _window(self.event_window))
        _check_number("anticipation", self.anticipation, low=0)
        _check_number("few_treated_threshold", self.few_treated_threshold, low=1)
        _check_number("seed", self.seed, low=0, high=SEED_MAX)
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
            raise EstimationError(f"alpha must be between 0 and 1; got {alpha!r}")

    def __repr__(self) -> str:
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.name != "estimator" and getattr(self, f.name) != _DEFAULTS.get(f.name)
        ]
        return f"Spec({', '.join([repr(self.estimator), *changed])})"

    def to_dict(self) -> dict[str, Any]:
        """Return every field as JSON-friendly values (the bundle's ``spec`` record)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["covariates"] = list(self.covariates)
        out["event_window"] = None if self.event_window is None else list(self.event_window)
        out["options"] = dict(self.options)
        return out

    def with_(self, **changes: Any) -> Spec:
        """Return a copy with ``changes`` (checked as a new spec is)."""
        return replace(self, **changes)


_DEFAULTS: dict[str, Any] = {
    "control": "never",
    "method": "dr",
    "base_period": "varying",
    "anticipation": 0,
    "covariates": (),
    "cluster": None,
    "vcov": None,
    "inference": None,
    "few_treated_threshold": FEW_TREATED_THRESHOLD,
    "alpha": 0.05,
    "event_window": None,
    "seed": 0,
    "options": {},
}
SPEC_FIELDS: tuple[str, ...] = ("estimator", *_DEFAULTS)


def _check_number(name: str, value: object, *, low: int, high: int | None = None) -> None:
    number = (
        int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else None
    )
    if number is None or number < low or (high is not None and number > high):
        within = f"≥ {low}" if high is None else f"from {low} to {high}"
        raise EstimationError(f"{name} must be a whole number {within}; got {value!r}")


def _window(value: Sequence[int]) -> tuple[int, int]:
    try:
        low, high = (int(v) for v in value)
    except (TypeError, ValueError):
        raise EstimationError(
            f"event_window must be two whole numbers (first, last event time); got {value!r}"
        ) from None
    if not low <= -1 <= 0 <= high:
        raise EstimationError(
            f"event_window must run from an event time ≤ -1 to one ≥ 0; got ({low}, {high})"
        )
    return low, high


def unread(spec: Spec) -> list[tuple[str, str]]:
    """Return the choices of ``spec`` that its estimator would not read, with the reason.

    A choice counts as made when a field differs from its default (``covariates``:
    any) or an option of :data:`READ_BY` is set.

    Parameters
    ----------
    spec : Spec
        The specification.

    Returns
    -------
    list of (str, str)
        ``(choice, why)`` for every choice :data:`READ_BY` does not allow here.
    """
    reader = spec.estimator
    if reader == "twfe" and spec.inference == "conformal":
        reader = "synthetic_did"  # the equal-weight DiD of the synthetic estimators
    out = []
    for name, (readers, why, inferences) in READ_BY.items():
        if name in _DEFAULTS:
            made = getattr(spec, name) != _DEFAULTS[name]
        else:
            made = spec.options.get(name) is not None
        read = reader in readers and (
            inferences is None
            or spec.inference in inferences
            or bool(spec.options.get(_READ_WITH_OPTION.get(name, "")))
        )
        if made and not read:
            out.append((name, why))
    return out


def as_spec(spec: Spec | None, choices: Mapping[str, Any]) -> Spec:
    """Return ``spec``, or build one from keyword choices; the rest become ``options``.

    Parameters
    ----------
    spec : Spec or None
        A ready specification; then ``choices`` may hold tuning options only.
    choices : mapping
        Spec fields (``estimator=...``, ``control=...``) and tuning options.

    Returns
    -------
    Spec
        The checked specification.

    Raises
    ------
    EstimationError
        A missing estimator, a value that is not allowed, or a spec field given
        both in ``spec`` and as a keyword.
    """
    given = {k: v for k, v in choices.items() if k in SPEC_FIELDS and k != "options"}
    rest = {k: v for k, v in choices.items() if k not in given}
    rest = {**dict(rest.pop("options", None) or {}), **rest}
    if spec is not None:
        if given:
            raise EstimationError(
                f"{', '.join(sorted(given))} given both in spec= and as keyword(s); "
                "give them in the spec (Spec.with_(...))"
            )
        return replace(spec, options={**spec.options, **rest}) if rest else spec
    if "estimator" not in given:
        raise EstimationError(
            f"estimator= is required; allowed: {', '.join(repr(e) for e in ESTIMATORS)}"
        )
    if given.get("covariates") is None:
        given.pop("covariates", None)
    return Spec(**given, options=rest)

"""The protocol as frozen dataclasses, and :func:`load_protocol` / :func:`check_protocol`."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evalkit.errors import ProtocolError
from evalkit.protocol._yaml import read_yaml
from evalkit.spec import (
    BasePeriod,
    Control,
    Estimator,
    Method,
    MultipleTesting,
    RegisteredInference,
    Restriction,
    SensitivityTarget,
)

__all__ = [
    "Analysis",
    "CheckReport",
    "DataSource",
    "Deviation",
    "Hypothesis",
    "Outcome",
    "Periods",
    "Population",
    "PowerSettings",
    "Protocol",
    "Robustness",
    "SensitivityCheck",
    "Subgroup",
    "Throughput",
    "TreatedUnit",
    "Units",
    "Window",
    "check_protocol",
    "load_protocol",
]

Text = str | Mapping[str, str]


def text_in(text: Text | None, lang: str = "nl") -> str:
    """Return a text in ``lang`` (a plain text is the same in every language)."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    return text.get(lang) or next(iter(text.values()), "")


@dataclass(frozen=True)
class Window:
    """A window of months, both ends included (``YYYY-MM``)."""

    start: str
    end: str


@dataclass(frozen=True)
class TreatedUnit:
    """A pilot unit and the first month of its pilot."""

    unit: str
    start: str
    label: str | None = None


@dataclass(frozen=True)
class Units:
    """Pilot and comparison units."""

    level: str
    column: str
    treated: tuple[TreatedUnit, ...]
    comparison: tuple[str, ...]
    anticipation_months: int


@dataclass(frozen=True)
class Periods:
    """Pre, intervention and (optional) post windows."""

    pre: Window
    intervention: Window
    post: Window | None


@dataclass(frozen=True)
class Subgroup:
    """A pre-specified subgroup (e.g. young people turning 18 during the pilot)."""

    id: str
    label: Text
    definition: str
    source: str = "outcome_panel"


@dataclass(frozen=True)
class Population:
    """Age range, inclusion and exclusion rules, subgroups."""

    age_min: int
    age_max: int
    inclusion: tuple[str, ...]
    exclusion: tuple[str, ...]
    subgroups: tuple[Subgroup, ...]
    description: Text | None = None


@dataclass(frozen=True)
class Outcome:
    """One pre-registered outcome measure."""

    id: str
    label: Text
    domain: str
    role: str
    type: str
    source: str
    definition: str
    expected_direction: str
    smallest_effect: float
    filter: str | None = None
    unit: Text | None = None
    description: Text | None = None

    def label_in(self, lang: str = "nl") -> str:
        """Return the label in ``lang``."""
        return text_in(self.label, lang)


@dataclass(frozen=True)
class Hypothesis:
    """A confirmatory hypothesis about one outcome."""

    id: str
    outcome: str
    direction: str
    text: Text
    subgroup: str | None = None


@dataclass(frozen=True)
class SensitivityCheck:
    """A registered HonestDiD sensitivity analysis: restriction, bounds, target effect."""

    restriction: Restriction
    bounds: tuple[float, ...]
    target: SensitivityTarget


@dataclass(frozen=True)
class Robustness:
    """Robustness checks declared in advance (sensitivity, other event studies)."""

    sensitivity: SensitivityCheck | None
    event_studies: tuple[str, ...]


@dataclass(frozen=True)
class Analysis:
    """The pre-registered analysis."""

    estimator: Estimator
    control_group: Control
    method: Method
    base_period: BasePeriod
    covariates: tuple[str, ...]
    cluster: str
    inference: RegisteredInference
    few_treated_threshold: int
    alpha: float
    multiple_testing: MultipleTesting
    event_window: tuple[int, int] | None
    seed: int
    subgroup: str | None = None
    robustness: Robustness | None = None


@dataclass(frozen=True)
class PowerSettings:
    """Settings of the power simulation."""

    n_sims: int
    effects: tuple[float, ...] | None
    target_power: float
    icc: float | None
    serial_correlation: float | None
    base_rates: Mapping[str, float]
    persons_per_unit: int | None
    seed: int
    results: tuple[Mapping[str, Any], ...] | None = None


@dataclass(frozen=True)
class Throughput:
    """Settings of the throughput-time analysis; None leaves the analysis's own default.

    Attributes
    ----------
    reference_date : str or None
        Cases still open on this date (``YYYY-MM-DD``) are censored; None: the latest event.
    out_of_sight_days, liberation_day, norms, caseload_benchmark
        As registered, or None when the protocol does not set them.
    """

    reference_date: str | None = None
    out_of_sight_days: int | None = None
    liberation_day: Literal["always", "lustrum", "never"] | None = None
    norms: Mapping[str, Any] | None = None
    caseload_benchmark: tuple[int, ...] | None = None


@dataclass(frozen=True)
class DataSource:
    """A data source: schema kind, its version, the files, the columns used, overlap rule."""

    kind: str
    schema_version: int
    files: tuple[str, ...]
    columns: tuple[str, ...] | None = None
    overlap: Literal["refuse", "keep_latest", "keep_both"] = "refuse"


@dataclass(frozen=True)
class Deviation:
    """A change to a registered protocol, with its reason."""

    date: str
    field: str
    old: Any
    new: Any
    reason: Text

    def to_dict(self) -> dict[str, Any]:
        """Return the record ``date, field, old, new, reason`` (reason in its given form)."""
        return {
            "date": self.date,
            "field": self.field,
            "old": copy.deepcopy(self.old),
            "new": copy.deepcopy(self.new),
            "reason": copy.deepcopy(self.reason),
        }


@dataclass(frozen=True, eq=False)
class Protocol:
    """A valid, loaded protocol. Build it with :func:`load_protocol`.

    Attributes
    ----------
    path : pathlib.Path or None
        The file it was read from.
    id : str
        The protocol id (names the results folder).
    warnings : tuple of str
        Questionable but allowed choices, each naming its field path.
    expected_persons : int or None
        ``sample_size.persons``: the expected number of young people, if registered.
    """

    path: Path | None
    id: str
    metadata: Mapping[str, Any]
    intervention: Text
    population: Population
    units: Units
    periods: Periods
    outcomes: tuple[Outcome, ...]
    hypotheses: tuple[Hypothesis, ...]
    analysis: Analysis
    data_sources: tuple[DataSource, ...]
    disclosure_threshold: int
    deviations: tuple[Deviation, ...]
    power: PowerSettings
    demo: Mapping[str, Any] | None
    throughput: Throughput = field(default_factory=Throughput)
    expected_persons: int | None = None
    warnings: tuple[str, ...] = ()
    _canonical: Mapping[str, Any] = field(default_factory=dict, repr=False)
    _explicit: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return (
            f"Protocol(id={self.id!r}, estimator={self.analysis.estimator!r}, "
            f"outcomes={len(self.outcomes)}, treated={len(self.units.treated)})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical mapping (every field, defaults filled in, JSON-friendly)."""
        return copy.deepcopy(dict(self._canonical))

    def content(self) -> dict[str, Any]:
        """Return the fields as written (normalised, no defaults), without ``deviations``."""
        return copy.deepcopy({k: v for k, v in self._explicit.items() if k != "deviations"})

    @property
    def primary_outcomes(self) -> tuple[Outcome, ...]:
        """The primary outcomes, in protocol order."""
        return tuple(o for o in self.outcomes if o.role == "primary")

    @property
    def secondary_outcomes(self) -> tuple[Outcome, ...]:
        """The secondary outcomes, in protocol order."""
        return tuple(o for o in self.outcomes if o.role == "secondary")

    @property
    def treated_units(self) -> tuple[str, ...]:
        """Codes of the pilot units."""
        return tuple(t.unit for t in self.units.treated)

    @property
    def comparison_units(self) -> tuple[str, ...]:
        """Codes of the comparison units."""
        return self.units.comparison

    @property
    def cohorts(self) -> dict[str, str]:
        """Pilot start month (``YYYY-MM``) per treated unit."""
        return {t.unit: t.start for t in self.units.treated}

    @property
    def pilot_start(self) -> str:
        """The earliest pilot start month (``YYYY-MM``)."""
        return min(t.start for t in self.units.treated)

    @property
    def is_staggered(self) -> bool:
        """Whether treated units start in different months."""
        return len({t.start for t in self.units.treated}) > 1

    @property
    def registry(self) -> str | None:
        """The external registration (OSF, AEA id or DOI), if any."""
        return self.metadata.get("registry")

    @property
    def synthetic_data(self) -> bool:
        """Whether the protocol runs on synthetic data (the schema's default: False)."""
        return bool(self.metadata.get("synthetic_data"))

    @property
    def languages(self) -> tuple[str, ...]:
        """Report languages."""
        return tuple(self.metadata.get("languages") or ("nl", "en"))

    def title(self, lang: str = "nl") -> str:
        """Return the title in ``lang``."""
        return text_in(self.metadata.get("title"), lang)

    def outcome(self, outcome_id: str) -> Outcome:
        """Return the outcome with this id.

        Raises
        ------
        ProtocolError
            When there is none.
        """
        for o in self.outcomes:
            if o.id == outcome_id:
                return o
        raise ProtocolError(
            f"protocol {self.id!r} has no outcome {outcome_id!r}; "
            f"outcomes: {', '.join(o.id for o in self.outcomes)}"
        )

    def subgroup(self, subgroup_id: str) -> Subgroup:
        """Return the subgroup with this id.

        Raises
        ------
        ProtocolError
            When there is none.
        """
        for s in self.population.subgroups:
            if s.id == subgroup_id:
                return s
        raise ProtocolError(f"protocol {self.id!r} has no subgroup {subgroup_id!r}")


@dataclass(frozen=True)
class CheckReport:
    """Result of :func:`check_protocol`: errors block use, warnings do not.

    Attributes
    ----------
    errors : list of str
        Each names the field path and what is allowed.
    warnings : list of str
        Questionable but allowed choices.
    """

    errors: list[str]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        """Whether there are no errors."""
        return not self.errors

    def __repr__(self) -> str:
        return f"CheckReport(errors={len(self.errors)}, warnings={len(self.warnings)})"


def check_protocol(path: Path | str) -> CheckReport:
    """Check a protocol file and return every error and warning at once.

    Parameters
    ----------
    path : path
        The protocol YAML file.

    Returns
    -------
    CheckReport
        ``errors`` and ``warnings``, each naming its field path.
    """
    from evalkit.protocol._build import analyse
    from evalkit.protocol._paths import check_source_paths

    try:
        raw = read_yaml(path)
    except ProtocolError as exc:
        return CheckReport(errors=[str(exc)], warnings=[])
    _, errors, warnings = analyse(raw, Path(path))
    errors = [*errors, *check_source_paths(raw, Path(path))]
    return CheckReport(errors=errors, warnings=warnings)


def load_protocol(path: Path | str) -> Protocol:
    """Read, check and return a protocol.

    Parameters
    ----------
    path : path
        The protocol YAML file.

    Returns
    -------
    Protocol
        The frozen protocol; ``protocol.warnings`` lists questionable choices.

    Raises
    ------
    ProtocolError
        With every problem in ``problems``, each naming its field path and what is allowed.
    """
    from evalkit.protocol._build import analyse
    from evalkit.protocol._paths import check_source_paths

    path = Path(path)
    raw = read_yaml(path)
    protocol, errors, _ = analyse(raw, path)
    errors = [*errors, *check_source_paths(raw, path)]
    if errors or protocol is None:
        raise ProtocolError(f"{path}: {len(errors)} problem(s) in the protocol", errors)
    return protocol

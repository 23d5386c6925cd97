"""The synthetic pilot design: who, where, when, how often, and the true effects."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, get_args

from evalkit.errors import EvalkitError, ProtocolError
from evalkit.synth._months import parse_month

Generator = Literal["pilot", "staggered", "debt_programme"]
GENERATORS: tuple[str, ...] = get_args(Generator)

# Outcomes with their own latent process (the effect acts on these); ``enrolled`` and
# ``employed`` follow from ``neet`` and are affected through it.
LATENT_OUTCOMES: tuple[str, ...] = (
    "problematic_debt",
    "social_assistance",
    "homeless",
    "neet",
    "early_school_leaving",
    "independent_living",
)
DERIVED_OUTCOMES: tuple[str, ...] = ("enrolled", "employed", "startkwalificatie")
PANEL_OUTCOMES: tuple[str, ...] = LATENT_OUTCOMES + DERIVED_OUTCOMES

# General-population mean rates over ages 16-27 (the age curves in ``_outcomes`` are
# scaled to these). Sources of the orders of magnitude: CBS StatLine (NEET ~4 %,
# bijstand < 27 ~2 %), BKR/NVVK (registered problematic debt 5-8 % of young adults),
# CBS dak- en thuislozen (< 0.5 %).
DEFAULT_BASE_RATES: Mapping[str, float] = MappingProxyType(
    {
        "problematic_debt": 0.07,
        "social_assistance": 0.02,
        "homeless": 0.0025,
        "neet": 0.04,
        "early_school_leaving": 0.015,
        "independent_living": 0.30,
    }
)
# Rate ratio of the praktijkonderwijs / VSO / mbo-entree population against the general one.
DEFAULT_RATE_RATIOS: Mapping[str, float] = MappingProxyType(
    {
        "problematic_debt": 3.0,
        "social_assistance": 4.0,
        "homeless": 5.0,
        "neet": 3.5,
        "early_school_leaving": 4.0,
        "independent_living": 0.8,
    }
)

THROUGHPUT_STEPS: tuple[str, ...] = (
    "first_conversation",
    "application",
    "decision",
    "plan",
    "start",
)

_CODE_RE = re.compile(r"^GM\d{4}$")


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclasses.dataclass(frozen=True)
class PilotDesign:
    """A synthetic pilot: municipalities, treatment starts, population and effects.

    Parameters
    ----------
    generator : {'pilot', 'staggered', 'debt_programme'}
        Which kind of pilot (also decides the questionnaire waves and case mix).
    municipalities : tuple of str
        CBS-like codes ``GM9001``...; the 9xxx range never clashes with real municipalities.
    treated_starts : mapping of str to str
        Start month ('YYYY-MM') per treated municipality; the others are never treated.
    first_month, last_month : str
        The panel window ('YYYY-MM').
    n_persons : int
        Young people aged 16-27 alive in the panel at any one time (all municipalities).
    vulnerable_share : float
        Share drawn from praktijkonderwijs / VSO / mbo-entree (higher base rates).
    base_rates : mapping of str to float
        General-population mean rate per latent outcome over ages 16-27.
    rate_ratios : mapping of str to float
        Rate ratio of the vulnerable population per latent outcome.
    effects : mapping of str to float
        True effect per outcome on the probability scale (additive, from the start month).
    icc : float
        Share of latent variance between municipalities (intra-cluster correlation).
    shock_sd : float
        Standard deviation of municipality-by-month shocks on the latent (probit) scale.
    person_share : float
        Share of a person's latent variance that is a permanent random effect.
    ar1 : float
        Month-to-month autocorrelation of the rest of the person's latent variance.
    anticipation_months : int
        Months before the start in which the effect already acts.
    turning_18_multiplier : float
        The effect is this many times larger for young people who turn 18 in the
        first three months of their municipality's pilot (the 18-/18+ transition).
    throughput_effect_days : float
        Mean change (days) from registration to start of support in treated
        municipalities after their start (negative = faster).
    throughput_to : str
        The step the throughput effect is stated for: days from registration to
        'first_conversation', 'application', 'decision', 'plan' or 'start'.
    zrm_effect : float
        Mean change of ZRM item scores (points) at the last follow-up in the pilot group.
    n_cases : int
        Cases in the case-event file (all municipalities).
    questionnaire_n : int
        Respondents per group (pilot, comparison) at T0.
    waves : tuple of str
        Questionnaire waves, e.g. ``('T0', 'T3m')``.
    post_window : tuple of str, optional
        The protocol's post window (first, last month) for the truth file.
    """

    generator: Generator = "pilot"
    municipalities: tuple[str, ...] = tuple(f"GM{9001 + i}" for i in range(12))
    treated_starts: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: _frozen({"GM9001": "2025-10"})
    )
    first_month: str = "2024-01"
    last_month: str = "2026-06"
    n_persons: int = 3000
    vulnerable_share: float = 0.12
    base_rates: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: _frozen(DEFAULT_BASE_RATES)
    )
    rate_ratios: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: _frozen(DEFAULT_RATE_RATIOS)
    )
    effects: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: _frozen(
            {
                "problematic_debt": -0.02,
                "neet": -0.015,
                "early_school_leaving": -0.005,
                "homeless": -0.001,
            }
        )
    )
    icc: float = 0.01
    shock_sd: float = 0.03
    person_share: float = 0.5
    ar1: float = 0.95
    anticipation_months: int = 0
    turning_18_multiplier: float = 1.0
    throughput_effect_days: float = -14.0
    throughput_to: str = "start"
    zrm_effect: float = 0.3
    n_cases: int = 1200
    questionnaire_n: int = 150
    waves: tuple[str, ...] = ("T0", "T3m")
    post_window: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        for name in ("treated_starts", "base_rates", "rate_ratios", "effects"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "municipalities", tuple(self.municipalities))
        object.__setattr__(self, "waves", tuple(self.waves))
        problems = self._problems()
        if problems:
            raise EvalkitError("invalid synthetic design: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        problems: list[str] = []
        if self.generator not in GENERATORS:
            problems.append(f"generator {self.generator!r} is not one of {', '.join(GENERATORS)}")
        bad = [m for m in self.municipalities if not _CODE_RE.match(str(m))]
        if bad:
            problems.append(f"municipality codes must look like GM0000, got {bad}")
        if len(set(self.municipalities)) != len(self.municipalities):
            problems.append("municipality codes must be unique")
        first = parse_month(self.first_month, "first_month")
        last = parse_month(self.last_month, "last_month")
        if last < first + 2:
            problems.append("last_month must be at least two months after first_month")
        for unit, start in self.treated_starts.items():
            if unit not in self.municipalities:
                problems.append(f"treated unit {unit} is not among the municipalities")
            s = parse_month(start, f"start of {unit}")
            if not first < s <= last:
                problems.append(
                    f"start {start} of {unit} is not after {self.first_month} "
                    f"and within the panel (to {self.last_month})"
                )
        if not self.treated_starts:
            problems.append("at least one treated municipality is needed")
        if len(self.treated_starts) >= len(self.municipalities) and self.generator != "staggered":
            problems.append("at least one comparison municipality is needed")
        if not 0.0 <= self.turning_18_multiplier <= 10.0:
            problems.append(
                f"turning_18_multiplier must lie in [0, 10], got {self.turning_18_multiplier}"
            )
        if self.throughput_to not in THROUGHPUT_STEPS:
            problems.append(
                f"throughput_to {self.throughput_to!r} is not one of {', '.join(THROUGHPUT_STEPS)}"
            )
        if self.n_persons < 50:
            problems.append("n_persons must be at least 50")
        for name in ("vulnerable_share", "icc", "person_share", "ar1"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                problems.append(f"{name} must lie in [0, 1), got {value}")
        for outcome, rate in self.base_rates.items():
            if outcome not in LATENT_OUTCOMES or not 0.0 < rate < 1.0:
                problems.append(
                    f"base rate {outcome}={rate}: outcome must be one of "
                    f"{', '.join(LATENT_OUTCOMES)} and the rate in (0, 1)"
                )
        for outcome, effect in self.effects.items():
            if outcome not in LATENT_OUTCOMES or not -1.0 < effect < 1.0:
                problems.append(
                    f"effect {outcome}={effect}: outcome must be one of "
                    f"{', '.join(LATENT_OUTCOMES)} and the effect in (-1, 1)"
                )
        bad_waves = [w for w in self.waves if w not in ("T0", "T3m", "T6m", "T12m")]
        if bad_waves or not self.waves or self.waves[0] != "T0":
            problems.append(f"waves must start with T0 and use T3m/T6m/T12m, got {self.waves}")
        return problems

    def __repr__(self) -> str:
        starts = sorted(set(self.treated_starts.values()))
        return (
            f"PilotDesign({self.generator!r}, {len(self.municipalities)} municipalities, "
            f"{len(self.treated_starts)} treated from {', '.join(starts)}, "
            f"{self.first_month}..{self.last_month}, n_persons={self.n_persons})"
        )

    # -- derived ------------------------------------------------------------------------

    @property
    def month_range(self) -> tuple[int, int]:
        """First and last month as month indices."""
        return parse_month(self.first_month), parse_month(self.last_month)

    @property
    def start_index(self) -> dict[str, int]:
        """Start month index per treated municipality."""
        return {u: parse_month(s) for u, s in self.treated_starts.items()}

    def to_dict(self) -> dict[str, Any]:
        """Return the design as plain JSON-able values.

        Returns
        -------
        dict
            Every field, mappings as dicts, tuples as lists.
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Mapping):
                value = dict(sorted(value.items()))
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def replace(self, **changes: Any) -> PilotDesign:
        """Return a copy with some fields changed (validated again).

        Parameters
        ----------
        **changes
            Field values to change.

        Returns
        -------
        PilotDesign
            The new design.
        """
        return dataclasses.replace(self, **changes)

    def overall_rate(self, outcome: str) -> float:
        """Return the expected rate of a latent outcome over the whole population mix.

        ``base_rates`` are general-population rates; the praktijkonderwijs / VSO /
        entree share has ``rate_ratios`` times that. This is the mix of the two
        (ignoring the 0.95 cap).

        Parameters
        ----------
        outcome : str
            A latent outcome.

        Returns
        -------
        float
            ``base * (1 - share + share * ratio)``.
        """
        if outcome not in LATENT_OUTCOMES:
            raise EvalkitError(f"{outcome!r} is not one of {', '.join(LATENT_OUTCOMES)}")
        base = self.base_rates.get(outcome, DEFAULT_BASE_RATES[outcome])
        ratio = self.rate_ratios.get(outcome, 1.0)
        share = self.vulnerable_share
        return float(base * (1.0 - share + share * ratio))

    def with_overall_rates(self, rates: Mapping[str, float]) -> PilotDesign:
        """Return a copy whose population-wide rates equal ``rates``.

        Use this when a protocol states the rate of its whole target population
        (e.g. for power): the general-population base rate is solved from the mix.

        Parameters
        ----------
        rates : mapping of str to float
            Wanted overall rate per latent outcome.

        Returns
        -------
        PilotDesign
            The design with adjusted ``base_rates``.
        """
        base = dict(self.base_rates)
        share = self.vulnerable_share
        for outcome, rate in rates.items():
            if outcome not in LATENT_OUTCOMES:
                raise EvalkitError(f"{outcome!r} is not one of {', '.join(LATENT_OUTCOMES)}")
            ratio = self.rate_ratios.get(outcome, 1.0)
            base[outcome] = float(rate) / (1.0 - share + share * ratio)
        return self.replace(base_rates=base)

    @classmethod
    def preset(cls, generator: str) -> PilotDesign:
        """Return the default design of a generator.

        Parameters
        ----------
        generator : {'pilot', 'staggered', 'debt_programme'}
            Which kind of pilot.

        Returns
        -------
        PilotDesign
            The default design.
        """
        if generator not in GENERATORS:
            raise EvalkitError(f"unknown generator {generator!r}; allowed: {', '.join(GENERATORS)}")
        return cls(**_PRESETS[generator])

    @classmethod
    def from_protocol(cls, protocol: Mapping[str, Any]) -> PilotDesign:
        """Build the design from a raw protocol YAML mapping.

        Reads ``units.treated`` (``[{unit, start}]``), ``units.comparison``,
        ``units.anticipation_months``, ``periods.pre.start``, ``periods.post``, the
        outcomes and the ``demo:`` block (``generator``, optional ``n_persons`` and
        ``effects`` ``{outcome_id: value}``). An effect on an outcome whose definition is
        a bare panel column acts on that column; an effect on a ``case_events`` or
        ``duration`` outcome sets ``throughput_effect_days``; on a ``questionnaire``
        outcome it sets ``zrm_effect``.

        Parameters
        ----------
        protocol : mapping
            The protocol as read by ``yaml.safe_load``.

        Returns
        -------
        PilotDesign
            The design whose units and periods match the protocol.

        Raises
        ------
        ProtocolError
            Naming every field that cannot be used.
        """
        from evalkit.synth._protocol import design_fields_from_protocol

        fields, problems = design_fields_from_protocol(protocol)
        if problems:
            raise ProtocolError("the protocol cannot drive the demo generator", problems)
        try:
            return cls(**fields)
        except EvalkitError as exc:
            raise ProtocolError(str(exc), [str(exc)]) from exc


_PRESETS: dict[str, dict[str, Any]] = {
    "pilot": {"turning_18_multiplier": 2.0},
    "staggered": {
        "generator": "staggered",
        "municipalities": tuple(f"GM{9001 + i}" for i in range(10)),
        "treated_starts": {
            "GM9001": "2024-10",
            "GM9002": "2024-10",
            "GM9003": "2025-01",
            "GM9004": "2025-04",
            "GM9005": "2025-07",
            "GM9006": "2025-10",
        },
        "vulnerable_share": 0.5,
        "effects": {"neet": -0.02, "early_school_leaving": -0.01},
        "throughput_effect_days": -21.0,
        "n_cases": 1500,
    },
    "debt_programme": {
        "generator": "debt_programme",
        "municipalities": tuple(f"GM{9001 + i}" for i in range(6)),
        "treated_starts": {"GM9001": "2025-04"},
        "vulnerable_share": 0.3,
        "effects": {"problematic_debt": -0.03, "social_assistance": -0.005},
        "throughput_effect_days": -20.0,
        "zrm_effect": 0.4,
        "n_cases": 1200,
        "waves": ("T0", "T3m", "T6m"),
    },
}

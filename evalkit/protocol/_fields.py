"""The protocol format (``evalkit_protocol: 1``) as a declarative field specification.

Every field, its type, whether it is required, its default and allowed values.
``protocols/TEMPLATE.yaml`` documents the same fields for people.
"""

from __future__ import annotations

from evalkit.protocol._spec import Field
from evalkit.spec import (
    BASE_PERIODS,
    CONTROLS,
    FEW_TREATED_THRESHOLD,
    MAX_DRAWS,
    METHODS,
    MULTIPLE_TESTING,
    REGISTRABLE_ESTIMATORS,
    REGISTRABLE_INFERENCES,
    RESTRICTIONS,
    ROBUSTNESS_EVENT_STUDIES,
    SEED_MAX,
    SENSITIVITY_TARGETS,
)

__all__ = [
    "CONTROL_GROUPS",
    "DOMAINS",
    "ESTIMATORS",
    "GENERATORS",
    "INFERENCE",
    "PROTOCOL_SPEC",
    "SOURCES",
]

#: Largest ``power.persons_per_unit``. The power simulation builds one person-month panel
#: at a time, measured at about 155 bytes per person-month on top of ~0.1-0.45 GB for the
#: interpreter and libraries (demo protocol, 12 units, 30 months: 5,000 per unit 0.68 GB
#: peak, 20,000 per unit 1.5 GB). 10,000 per unit keeps such a design near 1 GB and a
#: 25-unit one under 2 GB, and is more young people per municipality than a pilot of this
#: kind reaches; 10**9 tried to allocate 114 GiB and failed with a traceback.
MAX_PERSONS_PER_UNIT = 10_000

GM_PATTERN = r"^GM\d{4}$"
GM_HINT = "a CBS municipality code 'GM' followed by four digits (e.g. GM0363)"
DOMAINS = ("debts", "dropout", "housing", "work", "other")
ROLES = ("primary", "secondary")
TYPES = ("binary", "count", "continuous", "duration")
DIRECTIONS = ("increase", "decrease")
HYPOTHESIS_DIRECTIONS = ("increase", "decrease", "two_sided")
# The analysis block's allowed values are the analysis specification's (evalkit.spec).
ESTIMATORS = REGISTRABLE_ESTIMATORS
CONTROL_GROUPS = CONTROLS
INFERENCE = REGISTRABLE_INFERENCES
SOURCES = ("outcome_panel", "case_events", "questionnaire")
GENERATORS = ("pilot", "staggered", "debt_programme")
LEVELS = ("municipality", "school", "region", "neighbourhood")

_ID = r"^[a-z][a-z0-9_]*$"
_ID_HINT = "an id of lower-case letters, digits and underscores, starting with a letter"


def _f(kind: str, **kw: object) -> Field:
    return Field(kind, **kw)  # type: ignore[arg-type]


def _window(doc: str, required: bool = True) -> Field:
    return _f(
        "record",
        required=required,
        doc=doc,
        fields={
            "start": _f("month", required=True, doc="first month, YYYY-MM"),
            "end": _f("month", required=True, doc="last month, YYYY-MM"),
        },
    )


_OUTCOME = _f(
    "record",
    fields={
        "id": _f("str", required=True, pattern=_ID, pattern_hint=_ID_HINT, doc="outcome id"),
        "label": _f("text", required=True, per_language=True, doc="label in nl and en"),
        "domain": _f("str", required=True, allowed=DOMAINS, doc="life domain"),
        "role": _f("str", required=True, allowed=ROLES, doc="primary or secondary"),
        "type": _f("str", required=True, allowed=TYPES, doc="kind of measure"),
        "source": _f("str", required=True, allowed=SOURCES, doc="data schema of the columns"),
        "definition": _f("expr", required=True, doc="expression over the source's columns"),
        "filter": _f("expr", doc="rows that count (expression), e.g. wave in ['T0', 'T6m']"),
        "expected_direction": _f("str", required=True, allowed=DIRECTIONS),
        "smallest_effect": _f(
            "number", required=True, minimum=0, doc="smallest effect that matters (outcome units)"
        ),
        "unit": _f("text", doc="unit of the outcome, e.g. days or percentage points"),
        "description": _f("text", doc="what the measure means"),
    },
)

_SUBGROUP = _f(
    "record",
    fields={
        "id": _f("str", required=True, pattern=_ID, pattern_hint=_ID_HINT),
        "label": _f("text", required=True, per_language=True),
        "definition": _f("expr", required=True, doc="expression selecting the subgroup"),
        "source": _f("str", allowed=SOURCES, default="outcome_panel"),
    },
)

_HYPOTHESIS = _f(
    "record",
    fields={
        "id": _f("str", required=True),
        "outcome": _f("str", required=True, doc="id of an outcome"),
        "direction": _f("str", required=True, allowed=HYPOTHESIS_DIRECTIONS),
        "text": _f("text", required=True, per_language=True),
        "subgroup": _f("str", doc="id of a subgroup (otherwise the whole population)"),
    },
)

_DEVIATION = _f(
    "record",
    fields={
        "date": _f("date", required=True, doc="date of the decision, YYYY-MM-DD"),
        "field": _f("str", required=True, doc="field path, e.g. outcomes[neet].smallest_effect"),
        "old": _f("any", doc="registered value"),
        "new": _f("any", doc="new value"),
        "reason": _f("text", required=True, doc="why the plan changed"),
    },
)

PROTOCOL_SPEC = _f(
    "record",
    fields={
        "evalkit_protocol": _f("int", required=True, allowed=(1,), doc="format version, 1"),
        "id": _f(
            "str",
            required=True,
            pattern=r"^[a-z0-9][a-z0-9_-]*$",
            pattern_hint="an id of lower-case letters, digits, '-' and '_'",
        ),
        "metadata": _f(
            "record",
            required=True,
            fields={
                "title": _f("text", required=True, per_language=True),
                "pilot": _f("str", required=True, doc="name of the pilot"),
                "organisations": _f("list", required=True, min_items=1, item=_f("str")),
                "contact_role": _f("str", required=True, doc="role (not name) of the contact"),
                "languages": _f(
                    "list", min_items=1, default=["nl", "en"], item=_f("str", allowed=("nl", "en"))
                ),
                "planned_report_date": _f("date", required=True),
                "modelled_on": _f("text", doc="the real practice this protocol is modelled on"),
                "registry": _f("str", doc="external registration: OSF or AEA id, DOI or URL"),
                "synthetic_data": _f("bool", default=False),
            },
        ),
        "intervention": _f(
            "text", required=True, per_language=True, doc="what the pilot does, in a few sentences"
        ),
        "context": _f("text", doc="the setting and why the pilot exists"),
        "population": _f(
            "record",
            required=True,
            fields={
                "description": _f("text"),
                "age_min": _f("int", default=16, minimum=0, maximum=120),
                "age_max": _f("int", default=27, minimum=0, maximum=120),
                "inclusion": _f("list", default=[], item=_f("expr")),
                "exclusion": _f("list", default=[], item=_f("expr")),
                "subgroups": _f("list", default=[], item=_SUBGROUP),
            },
        ),
        "units": _f(
            "record",
            required=True,
            fields={
                "level": _f("str", allowed=LEVELS, default="municipality"),
                "column": _f("str", default="municipality", doc="column holding the unit"),
                "treated": _f(
                    "list",
                    required=True,
                    min_items=1,
                    item=_f(
                        "record",
                        fields={
                            "unit": _f("str", required=True),
                            "start": _f("month", required=True, doc="first pilot month"),
                            "label": _f("str"),
                        },
                    ),
                ),
                "comparison": _f("list", default=[], item=_f("str")),
                "anticipation_months": _f("int", default=0, minimum=0, maximum=24),
            },
        ),
        "periods": _f(
            "record",
            required=True,
            fields={
                "pre": _window("months before the pilot"),
                "intervention": _window("the pilot months"),
                "post": _window("months after the pilot"),
            },
        ),
        "outcomes": _f("list", required=True, min_items=1, item=_OUTCOME),
        "hypotheses": _f("list", default=[], item=_HYPOTHESIS),
        "analysis": _f(
            "record",
            required=True,
            fields={
                "estimator": _f("str", required=True, allowed=ESTIMATORS),
                "control_group": _f("str", allowed=CONTROL_GROUPS, default="never"),
                "method": _f("str", allowed=METHODS, default="dr"),
                "base_period": _f("str", allowed=BASE_PERIODS, default="varying"),
                "covariates": _f("list", default=[], item=_f("str")),
                "cluster": _f("str", doc="cluster column; default: units.column"),
                "inference": _f("str", allowed=INFERENCE, default="auto"),
                "subgroup": _f(
                    "str",
                    doc="triple_differences: id of the population subgroup the pilot targets",
                ),
                "few_treated_threshold": _f("int", default=FEW_TREATED_THRESHOLD, minimum=1),
                "alpha": _f("number", default=0.05, minimum=0.001, maximum=0.5),
                "multiple_testing": _f("str", allowed=MULTIPLE_TESTING, default="holm"),
                "event_window": _f(
                    "record",
                    fields={"min": _f("int", required=True), "max": _f("int", required=True)},
                ),
                "seed": _f("int", default=1, minimum=0, maximum=SEED_MAX),
                "robustness": _f(
                    "record",
                    doc="robustness checks of the primary outcomes, declared in advance",
                    fields={
                        "sensitivity": _f(
                            "record",
                            doc="HonestDiD: how far parallel trends may fail before the "
                            "conclusion changes",
                            fields={
                                "restriction": _f("str", required=True, allowed=RESTRICTIONS),
                                "bounds": _f(
                                    "list",
                                    required=True,
                                    min_items=1,
                                    item=_f("number", minimum=0),
                                    doc="values of Mbar (relative_magnitudes) or M (smoothness)",
                                ),
                                # no defaults in this block: a protocol without it keeps its
                                # registered content (and hash) unchanged
                                "target": _f(
                                    "str",
                                    allowed=SENSITIVITY_TARGETS,
                                    doc="mean of the post periods (when absent) or first",
                                ),
                            },
                        ),
                        "event_studies": _f(
                            "list",
                            item=_f("str", allowed=ROBUSTNESS_EVENT_STUDIES),
                            doc="heterogeneity-robust event studies beside the registered one",
                        ),
                    },
                ),
            },
        ),
        "missing_data": _f("text", doc="how missing data are handled"),
        "exclusions": _f("list", default=[], item=_f("text")),
        "sample_size": _f(
            "record",
            fields={
                "persons": _f("int", minimum=1, doc="expected number of young people"),
                "note": _f("text"),
            },
        ),
        "power": _f(
            "record",
            fields={
                "n_sims": _f("int", default=200, minimum=1, maximum=MAX_DRAWS),
                "effects": _f(
                    "list",
                    item=_f("number"),
                    doc="effect sizes to simulate (outcome units); default: multiples "
                    "of smallest_effect",
                ),
                "target_power": _f("number", default=0.8, minimum=0.5, maximum=0.99),
                "icc": _f(
                    "number",
                    minimum=0,
                    maximum=0.99,
                    doc="intra-cluster correlation (municipality share); default: the generator's",
                ),
                "serial_correlation": _f(
                    "number",
                    minimum=0,
                    maximum=0.99,
                    doc="month-to-month correlation within a person; default: the generator's",
                ),
                "base_rates": _f(
                    "map",
                    default={},
                    item=_f("number", minimum=0),
                    doc="baseline mean per outcome id",
                ),
                "persons_per_unit": _f(
                    "int",
                    minimum=5,
                    maximum=MAX_PERSONS_PER_UNIT,
                    doc="simulated young people per municipality",
                ),
                "results": _f(
                    "list",
                    item=_f("map", item=_f("any")),
                    doc="power table (outcome, effect, power, mde, n_sims) stored for the report",
                ),
                "seed": _f("int", default=20240101, minimum=0, maximum=SEED_MAX),
            },
        ),
        "throughput": _f(
            "record",
            doc="settings of the throughput-time (doorlooptijden) analysis",
            fields={
                "reference_date": _f("date", doc="cases still open on this date are censored"),
                "out_of_sight_days": _f("int", minimum=1, doc="follow-up for 'out of sight'"),
                "liberation_day": _f(
                    "str",
                    allowed=("always", "lustrum", "never"),
                    doc="5 May as a holiday for working-day norms: always (Algemene termijnenwet "
                    "art. 3, the default) or lustrum (collective-agreement rule)",
                ),
                "norms": _f("map", item=_f("any"), doc="norms by name, overriding the defaults"),
                "caseload_benchmark": _f(
                    "list",
                    item=_f("int", minimum=0),
                    doc="reasonable caseload per coach [low, high]",
                ),
            },
        ),
        "pseudonym_scope": _f(
            "str",
            pattern=r"^[a-z0-9][a-z0-9_-]*$",
            pattern_hint="'protocol' or a scope name of lower-case letters, digits, '-' and '_'",
            doc="pseudonym key scope of this protocol's data: 'protocol' (its own id, so its "
            "pseudonyms cannot be joined with any other pilot's), or a name shared by the "
            "protocols that may be linked; absent: the session's scope (EVALKIT_PSEUDONYM_SCOPE, "
            "default 'project')",
        ),
        "data_sources": _f(
            "list",
            required=True,
            min_items=1,
            item=_f(
                "record",
                fields={
                    "kind": _f("str", required=True, allowed=SOURCES),
                    "schema_version": _f("int", required=True, minimum=1),
                    "files": _f("list", required=True, min_items=1, item=_f("str")),
                    "description": _f("text"),
                    "columns": _f(
                        "list",
                        item=_f("str"),
                        doc="the columns the analysis uses (default: derived from the protocol)",
                    ),
                    "overlap": _f(
                        "str",
                        allowed=("refuse", "keep_latest", "keep_both"),
                        doc="rows whose key is already stored from another of these files",
                    ),
                },
            ),
        ),
        "reporting": _f(
            "record",
            fields={
                # above 100 even a whole small pilot's counts would be hidden: a typo
                "disclosure_threshold": _f("int", default=10, minimum=1, maximum=100),
                "documents": _f("list", item=_f("str")),
            },
        ),
        "deviations": _f("list", default=[], item=_DEVIATION),
        "demo": _f(
            "record",
            fields={
                "generator": _f("str", required=True, allowed=GENERATORS),
                "seed": _f("int", required=True, minimum=0, maximum=SEED_MAX),
                "out": _f("str", required=True),
                "n_persons": _f(
                    "int",
                    minimum=50,
                    maximum=100_000,
                    doc="young people in the synthetic panel (the national generator is for more)",
                ),
                "effects": _f(
                    "map",
                    item=_f("number"),
                    doc="true synthetic effect per outcome id (shares, days or ZRM points)",
                ),
            },
        ),
    },
)

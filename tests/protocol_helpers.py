"""Shared builders for the protocol tests: a small valid protocol written to a folder."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

BASE: dict[str, Any] = {
    "evalkit_protocol": 1,
    "id": "small",
    "metadata": {
        "title": {"nl": "Kleine test", "en": "Small test"},
        "pilot": "Testpilot",
        "organisations": ["Gemeente Test"],
        "contact_role": "Onderzoeker",
        "languages": ["nl", "en"],
        "planned_report_date": "2026-04-30",
        "synthetic_data": True,
    },
    "intervention": {"nl": "Een coach per jongere.", "en": "One coach per young person."},
    "population": {
        "age_min": 16,
        "age_max": 27,
        "inclusion": ["age >= 16 and age <= 27"],
        "subgroups": [
            {
                "id": "turning_18",
                "label": {"nl": "Wordt 18", "en": "Turns 18"},
                "definition": "turns_18_between('2025-10', '2025-12')",
            }
        ],
    },
    "units": {
        "level": "municipality",
        "column": "municipality",
        "treated": [{"unit": "GM9001", "start": "2025-10"}],
        "comparison": ["GM9002", "GM9003", "GM9004", "GM9005"],
        "anticipation_months": 0,
    },
    "periods": {
        "pre": {"start": "2025-01", "end": "2025-09"},
        "intervention": {"start": "2025-10", "end": "2025-12"},
        "post": {"start": "2026-01", "end": "2026-03"},
    },
    "outcomes": [
        {
            "id": "neet",
            "label": {"nl": "NEET", "en": "NEET"},
            "domain": "work",
            "role": "primary",
            "type": "binary",
            "source": "outcome_panel",
            "definition": "neet",
            "expected_direction": "decrease",
            "smallest_effect": 0.01,
        },
        {
            "id": "homeless",
            "label": {"nl": "Dakloos", "en": "Homeless"},
            "domain": "housing",
            "role": "secondary",
            "type": "binary",
            "source": "outcome_panel",
            "definition": "homeless",
            "expected_direction": "decrease",
            "smallest_effect": 0.002,
        },
    ],
    "hypotheses": [
        {
            "id": "H1",
            "outcome": "neet",
            "direction": "decrease",
            "text": {"nl": "Minder NEET.", "en": "Less NEET."},
        }
    ],
    "analysis": {
        "estimator": "twfe",
        "control_group": "never",
        "cluster": "municipality",
        "inference": "analytic",
        "few_treated_threshold": 1,
        "alpha": 0.05,
        "multiple_testing": "holm",
        "seed": 1,
    },
    "missing_data": "Missing months stay missing.",
    "data_sources": [
        {"kind": "outcome_panel", "schema_version": 1, "files": ["data/raw/small/panel.csv"]}
    ],
    "reporting": {"disclosure_threshold": 10},
}


def protocol_dict(**changes: Any) -> dict[str, Any]:
    """Return a deep copy of the base protocol with top-level fields replaced.

    The data source's schema version is the current one of ``data_schemas/``.
    """
    from evalkit.protocol._schemas import load_schemas

    data = copy.deepcopy(BASE)
    data["data_sources"][0]["schema_version"] = load_schemas()["outcome_panel"].version
    data.update(copy.deepcopy(changes))
    return data


def write_protocol(folder: Path, data: dict[str, Any], name: str = "small.yaml") -> Path:
    """Write a protocol mapping as YAML and return its path."""
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path

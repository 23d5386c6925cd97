"""The pre-registered evaluation protocol: model, checks, registration, deviations.

A protocol (YAML, ``evalkit_protocol: 1``) fixes before the data arrive what the
confirmatory analysis will be. :func:`load_protocol` reads and checks it,
:func:`register` locks it, :func:`verify_for_analysis` refuses changes that are not
declared as deviations. The power simulation of the declared design runs the
estimators, so it lives above them: :func:`evalkit.analysis.power.simulate_power`.
"""

from __future__ import annotations

from evalkit.protocol.model import (
    Analysis,
    CheckReport,
    DataSource,
    Deviation,
    Hypothesis,
    Outcome,
    Periods,
    Population,
    PowerSettings,
    Protocol,
    Subgroup,
    TreatedUnit,
    Units,
    Window,
    check_protocol,
    load_protocol,
)
from evalkit.protocol.registration import (
    Difference,
    Lock,
    Registration,
    Status,
    lock_path,
    read_lock,
    register,
    registered_before_data,
    status,
    verify_for_analysis,
)

__all__ = [
    "Analysis",
    "CheckReport",
    "DataSource",
    "Deviation",
    "Difference",
    "Hypothesis",
    "Lock",
    "Outcome",
    "Periods",
    "Population",
    "PowerSettings",
    "Protocol",
    "Registration",
    "Status",
    "Subgroup",
    "TreatedUnit",
    "Units",
    "Window",
    "check_protocol",
    "load_protocol",
    "lock_path",
    "read_lock",
    "register",
    "registered_before_data",
    "status",
    "verify_for_analysis",
]

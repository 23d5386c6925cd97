"""Run protocols end to end: demo data, ingest, analyze, report (layer 2: knows paths)."""

from __future__ import annotations

from evalkit.pipeline.paths import ProtocolPaths, paths_for
from evalkit.pipeline.steps import (
    analyze_protocol,
    ingest_protocol,
    make_demo_data,
    report_protocol,
    run_protocols,
)

__all__ = [
    "ProtocolPaths",
    "analyze_protocol",
    "ingest_protocol",
    "make_demo_data",
    "paths_for",
    "report_protocol",
    "run_protocols",
]

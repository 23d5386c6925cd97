"""``evalkit ingest KIND FILE...``: validate and store data files in the DuckDB store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="validate data files and store them (rejected rows go to quarantine)",
        description="Read each FILE as KIND, validate every row against data_schemas/KIND.yaml, "
        "store accepted rows and quarantine rejected ones, in one transaction per file. "
        "A file already ingested (same sha256) is skipped.",
    )
    parser.add_argument("kind", metavar="KIND", help="outcome_panel, questionnaire or case_events")
    parser.add_argument("files", metavar="FILE", type=Path, nargs="+", help="data files")
    parser.add_argument(
        "--store", type=Path, default=Path("build/evalkit.duckdb"), help="DuckDB store file"
    )
    parser.add_argument("--sheet", default=None, help="XLSX sheet name (default: the first sheet)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.ingest._cli_support import run_ingest

    return run_ingest(args)

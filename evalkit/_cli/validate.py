"""``evalkit validate KIND FILE``: a dry run of the ingest checks; nothing is stored."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a data file against its schema without storing anything",
        description="Read FILE as KIND, check every row against data_schemas/KIND.yaml and "
        "summarise what would be accepted and rejected. Nothing is stored.",
    )
    parser.add_argument("kind", metavar="KIND", help="outcome_panel, questionnaire or case_events")
    parser.add_argument("file", metavar="FILE", type=Path, help="CSV, XLSX, SAV, DTA or Parquet")
    parser.add_argument("--sheet", default=None, help="XLSX sheet name (default: the first sheet)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--out", type=Path, default=None, help="write failures.csv to this folder")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.ingest._cli_support import run_validate

    return run_validate(args)

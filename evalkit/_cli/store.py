"""``evalkit store status``: what the DuckDB store holds."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "store",
        help="show what the data store holds",
        description="Inspect the DuckDB store: tables, ingested files and quarantined rows.",
    )
    parser.add_argument(
        "action",
        choices=["status", "log", "quarantine"],
        help="status: rows per table; log: every ingested file; quarantine: rejected rows",
    )
    parser.add_argument("--kind", default=None, help="only this kind (quarantine)")
    parser.add_argument(
        "--store", type=Path, default=Path("build/evalkit.duckdb"), help="DuckDB store file"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.ingest._cli_support import run_store

    return run_store(args)

"""``evalkit run PROTOCOL...``: demo data, ingest, analyze and report, with progress."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evalkit._cli.report import add_render_options


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run protocols end to end: demo data, ingest, analyze, report",
        description="For each protocol: generate its synthetic data when it has a demo block "
        "and the files are missing, ingest its data sources, analyze, and render its reports. "
        "This is what `make report` runs.",
    )
    p.add_argument("protocols", type=Path, nargs="+", help="protocol YAML files")
    add_render_options(p, documents=("evaluation", "summary"))
    p.add_argument(
        "--store", type=Path, default=None, help="DuckDB store (default build/evalkit.duckdb)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="re-analyse even when the protocol, its data and the code are unchanged",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.pipeline import run_protocols
    from evalkit.pipeline.progress import RichProgress

    with RichProgress() as progress:
        written = run_protocols(
            args.protocols,
            langs=args.lang,
            documents=args.documents,
            build=args.build,
            store=args.store,
            progress=progress,
            force=args.force,
        )
    progress.summarise(written)
    return 0

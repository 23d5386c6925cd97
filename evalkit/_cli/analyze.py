"""``evalkit analyze PROTOCOL``: run the registered analysis and write the results bundle."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evalkit._cli._output import echo


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "analyze",
        help="run a protocol's analysis on the ingested data and write the results bundle",
        description="Run the confirmatory analysis a protocol registers (plus throughput and "
        "questionnaire measures) on the data in the store, and write build/<id>/results.json.",
    )
    p.add_argument("protocol", type=Path, help="protocol YAML file")
    p.add_argument(
        "--store", type=Path, default=None, help="DuckDB store (default build/evalkit.duckdb)"
    )
    p.add_argument("--build", type=Path, default=Path("build"), help="build folder (default build)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.pipeline import analyze_protocol, paths_for

    paths = paths_for(args.protocol, build=args.build, store=args.store)
    bundle = analyze_protocol(paths)
    echo(bundle)
    return 0

"""``evalkit store status|log|quarantine``: what the DuckDB store holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evalkit._cli._output import echo, echo_json


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "store",
        help="show what the data store holds",
        description="Inspect the DuckDB store: rows per kind, ingested files, quarantined rows.",
    )
    parser.add_argument(
        "action",
        choices=["status", "log", "quarantine"],
        help="status: totals per kind; log: every ingested file; quarantine: rejected rows",
    )
    parser.add_argument("--kind", default=None, help="only this kind (quarantine)")
    parser.add_argument(
        "--store", type=Path, default=Path("build/evalkit.duckdb"), help="DuckDB store file"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.ingest import Store

    with Store(args.store, read_only=True) as store:
        if args.action == "status":
            frame = store.status()
            frame["stored_rows"] = [store.stored_rows(k) for k in frame["kind"]]
        elif args.action == "log":
            frame = store.ingest_log()
        else:
            frame = store.quarantine(args.kind)
    if args.json:
        records = json.loads(frame.to_json(orient="records", date_format="iso"))
        echo_json(records, ensure_ascii=False, separators=(",", ":"))
        return 0
    echo(f"store: {args.store}")
    if args.action == "status" and frame.empty:
        echo("  nothing ingested yet")
        return 0
    shown = frame.drop(columns=["content"], errors="ignore")
    echo(shown.to_string(index=False, max_colwidth=90) if len(shown) else "  (none)")
    return 0

"""``evalkit ingest KIND FILE...``: validate and store data files in the DuckDB store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evalkit._cli._output import echo


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="validate data files and store them (rejected rows go to quarantine)",
        description="Read each FILE as KIND, validate every row against data_schemas/KIND.yaml, "
        "store accepted rows and quarantine rejected ones, in one transaction per file. "
        "A file already ingested (same sha256) is skipped. Exit 0 when every file could be "
        "read (even with rejected rows), 1 when a file itself is unusable.",
    )
    parser.add_argument("kind", metavar="KIND", help="outcome_panel, questionnaire or case_events")
    parser.add_argument("files", metavar="FILE", type=Path, nargs="+", help="data files")
    parser.add_argument(
        "--store", type=Path, default=Path("build/evalkit.duckdb"), help="DuckDB store file"
    )
    parser.add_argument("--sheet", default=None, help="XLSX sheet name (default: the first sheet)")
    parser.add_argument(
        "--columns",
        default=None,
        metavar="A,B,...",
        help="only these columns (and the keys) must be in the file: the ones the analysis uses",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per file")
    parser.add_argument(
        "--scope",
        default=None,
        help="pseudonym scope (pilot or project; default EVALKIT_PSEUDONYM_SCOPE or 'project')",
    )
    parser.add_argument(
        "--overlap",
        default="refuse",
        choices=("refuse", "keep_latest", "keep_both"),
        help="rows whose key is already stored from another file: reject them (default), "
        "replace the stored rows, or keep both",
    )
    parser.set_defaults(handler=run)


def needs_of(columns: str | None) -> list[str] | None:
    """Return ``--columns A,B`` as a list (None when not given)."""
    if columns is None:
        return None
    return [c.strip() for c in columns.split(",") if c.strip()]


def usage_kind(kind: str, command: str) -> int | None:
    """Return exit code 2 with a usage message when ``kind`` is unknown, else None."""
    from evalkit.ingest import KINDS
    from evalkit.ingest._privacy import mask_bsns

    if kind in KINDS:
        return None
    # The KIND is echoed to help with a typo, masked: a file name or BSN typed in its place
    # (arguments in the wrong order) must not reach the terminal or a CI log.
    message = f"unknown KIND {mask_bsns(kind)!r}; allowed: {', '.join(KINDS)}"
    echo(f"evalkit {command}: {message}", err=True)
    return 2


def run(args: argparse.Namespace) -> int:
    from evalkit.errors import IngestError
    from evalkit.ingest import ingest_files

    bad_kind = usage_kind(args.kind, "ingest")
    if bad_kind is not None:
        return bad_kind
    code = 0
    for path in args.files:
        try:
            reports = ingest_files(
                args.kind,
                [path],
                store_path=args.store,
                sheet=args.sheet,
                scope=args.scope,
                overlap=args.overlap,
                needs=needs_of(args.columns),
            )
        except IngestError as exc:
            echo(f"evalkit ingest: {exc}", err=True)
            code = 1
            continue
        for report in reports:
            if args.json:
                report.write_json(sys.stdout)  # failures streamed, not built as one list
            else:
                echo(report.to_text())
    if not args.json and code == 0:
        echo(f"store: {args.store}")
    return code

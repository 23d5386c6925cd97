"""``evalkit validate KIND FILE``: a dry run of the ingest checks; nothing is stored."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evalkit._cli._output import echo


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a data file against its schema without storing anything",
        description="Read FILE as KIND, check every row against data_schemas/KIND.yaml and "
        "summarise what would be accepted and rejected. Nothing is stored. Exit 0 when the "
        "file could be read (even with rejected rows), 1 when the file itself is unusable.",
    )
    parser.add_argument("kind", metavar="KIND", help="outcome_panel, questionnaire or case_events")
    parser.add_argument("file", metavar="FILE", type=Path, help="CSV, XLSX, SAV, DTA or Parquet")
    parser.add_argument("--sheet", default=None, help="XLSX sheet name (default: the first sheet)")
    parser.add_argument(
        "--columns",
        default=None,
        metavar="A,B,...",
        help="only these columns (and the keys) must be in the file: the ones the analysis uses",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/failures.csv (all failures)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit._cli.ingest import needs_of, usage_kind
    from evalkit.ingest import validate_file

    bad_kind = usage_kind(args.kind, "validate")
    if bad_kind is not None:
        return bad_kind
    report = validate_file(args.kind, args.file, sheet=args.sheet, needs=needs_of(args.columns))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        target = args.out / "failures.csv"
        with target.open("w", encoding="utf-8", newline="") as out:
            for i, batch in enumerate(report.failure_set.batches()):
                batch.assign(file=report.file).to_csv(out, index=False, header=i == 0)
            if len(report.failure_set) == 0:
                report.failures.assign(file=report.file).to_csv(out, index=False)
    if args.json:
        report.write_json(sys.stdout)
    else:
        echo(report.to_text())
        if args.out is not None:
            echo(f"all {len(report.failure_set)} failures written to {target}")
    return 0

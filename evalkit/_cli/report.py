"""``evalkit report PROTOCOL``: render the reports of a protocol from its results bundle."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evalkit._cli._output import echo

DOCUMENTS = ("evaluation", "monitor", "summary")
LANGS = ("nl", "en")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="render a protocol's reports (HTML) from its results bundle",
        description="Render reports/*.qmd for a protocol's results bundle into one "
        "self-contained HTML file each, with quarto when on PATH, else evalkit's own engine.",
    )
    p.add_argument("protocol", type=Path, help="protocol YAML file")
    add_render_options(p, documents=("evaluation",))
    p.set_defaults(handler=run)


def add_render_options(p: Any, *, documents: tuple[str, ...]) -> None:
    """Add ``--lang``, ``--documents`` (with these defaults) and ``--build`` to a parser."""
    p.add_argument(
        "--lang", nargs="+", choices=LANGS, default=["nl"], help="languages (default nl)"
    )
    p.add_argument(
        "--documents",
        nargs="+",
        choices=DOCUMENTS,
        default=list(documents),
        help=f"documents to render (default {' '.join(documents)})",
    )
    p.add_argument("--build", type=Path, default=Path("build"), help="build folder (default build)")


def run(args: argparse.Namespace) -> int:
    from evalkit.pipeline import paths_for, report_protocol

    paths = paths_for(args.protocol, build=args.build)
    for path in report_protocol(paths, langs=args.lang, documents=args.documents):
        echo(path)
    return 0

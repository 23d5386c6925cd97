"""``evalkit protocol check|register|status|power FILE``: the pre-registered protocol."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Attach ``evalkit protocol`` and its actions to the command line."""
    parser = subparsers.add_parser(
        "protocol",
        help="check, register, compare or power-simulate an evaluation protocol",
        description="Check, register, compare or power-simulate an evaluation protocol.",
    )
    parser.add_argument("action", choices=["check", "register", "status", "power"])
    parser.add_argument("file", help="the protocol YAML file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.errors import ProtocolError

    raise ProtocolError(f"'evalkit protocol {args.action}' is being built; not available yet")

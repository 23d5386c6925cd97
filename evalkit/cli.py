"""The ``evalkit`` command: parse arguments, call one function, print.

Each sub-command lives in a small module under :mod:`evalkit._cli` with two
functions, ``add_parser(subparsers)`` and ``run(args) -> int``. Heavy libraries
are imported inside ``run`` only, so ``evalkit --help`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from evalkit import __version__
from evalkit.errors import EvalkitError

__all__ = ["main"]

# Sub-command modules in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "demo",
    "protocol",
    "validate",
    "ingest",
    "store",
    "analyze",
    "did",
    "report",
    "run",
    "national",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every sub-command attached.

    Returns
    -------
    argparse.ArgumentParser
        The parser of the ``evalkit`` command.
    """
    parser = argparse.ArgumentParser(
        prog="evalkit",
        description="Pre-registered difference-in-differences evaluations of youth pilots.",
    )
    parser.add_argument("--version", action="version", version=f"evalkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"evalkit._cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Exit codes: 0 ok, 1 the input or protocol is wrong, 2 usage error, 130 interrupted,
    141 the reader of the output went away.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.handler(args)
    except EvalkitError as exc:
        print(f"evalkit {args.command}: {exc}", file=sys.stderr)
        for problem in getattr(exc, "problems", []) or []:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("evalkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_gone()
    return code


def _reader_gone() -> int:
    """Stop quietly when the reader of stdout has gone (``evalkit store log | head``).

    Python ignores SIGPIPE, so the closed pipe arrives as an exception; stdout is pointed
    at the null device so that the interpreter's last flush does not raise it again. The
    exit code is the shell's for a command ended by SIGPIPE (128 + 13).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

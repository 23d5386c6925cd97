"""The ``evalkit`` command: parse arguments, call one function, print.

Each sub-command lives in a small module under :mod:`evalkit._cli` with two
functions, ``add_parser(subparsers)`` and ``run(args) -> int``. Heavy libraries
are imported inside ``run`` only, so ``evalkit --help`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

from evalkit import __version__
from evalkit._cli._memory import turn_off_huge_pages
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
    parser = _Parser(
        prog="evalkit",
        description="Pre-registered difference-in-differences evaluations of youth pilots.",
    )
    parser.add_argument("--version", action="version", version=f"evalkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"evalkit._cli.{name}")
        module.add_parser(sub)
    return parser


class _Parser(argparse.ArgumentParser):
    """The argument parser, whose usage errors mask BSNs in the arguments they echo.

    argparse repeats a bad argument (``invalid choice: '999999990'``); arguments typed in
    the wrong order put a BSN or a file name there, and the message goes to the terminal.
    Sub-command parsers are made by the same class.
    """

    def error(self, message: str) -> NoReturn:
        """Print the usage and the message with BSNs masked; exit with code 2."""
        from evalkit.ingest._privacy import mask_bsns  # only on a usage error: --help stays light

        super().error(mask_bsns(message))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Exit codes: 0 ok, 1 the input or protocol is wrong, 2 usage error, 130 interrupted
    (Ctrl-C), 141 the reader of the output went away, 143 terminated (SIGTERM).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code.
    """
    turn_off_huge_pages()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    previous = _stop_on_sigterm()
    try:
        code: int = args.handler(args)
    except EvalkitError as exc:
        _complain(args.command, str(exc), getattr(exc, "problems", []) or [])
        return 1
    except Terminated:
        print("evalkit: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("evalkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except OSError as exc:
        # a folder or file the system refuses (--out on a read-only place, a file where
        # a folder is expected): one line naming the path, not a traceback
        where = f"{exc.filename}: " if exc.filename is not None else ""
        _complain(args.command, f"{where}{exc.strerror or exc}", [])
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return code


def _complain(command: str, message: str, problems: Sequence[object]) -> None:
    """Print a user error to stderr with BSNs masked.

    Messages name the paths the user typed, and a path can be a BSN typed in the wrong
    place (``evalkit analyze 999999990``); the terminal must not show it.
    """
    from evalkit.ingest._privacy import mask_bsns  # only on an error: --help stays light

    print(mask_bsns(f"evalkit {command}: {message}"), file=sys.stderr)
    for problem in problems:
        print(mask_bsns(f"  - {problem}"), file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwind like Ctrl-C, so that worker processes and kernels stop too.

    A KeyboardInterrupt, so that every ``with`` block that stops its workers on Ctrl-C
    (:class:`~evalkit.pipeline.analysts.Analysts`, the render kernels) does the same here.
    """


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def _stop_on_sigterm() -> Any:
    """Turn SIGTERM into :class:`Terminated` while a command runs; return the old handler.

    Python's default for SIGTERM ends the process at once, so the analysis workers and
    the fork server of ``evalkit run`` lived on after it. Only the main thread may set a
    handler; elsewhere (a command run from a thread) SIGTERM keeps its default.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


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

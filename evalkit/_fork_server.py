"""The fork server's first preload: Ctrl-C ends it, and the workers it forks, quietly.

Ctrl-C in a terminal sends SIGINT to every process of the run, the fork server and the
analysis workers included. Python's default turns it into a ``KeyboardInterrupt``, which
each of them printed as a traceback: the fork server while it still imported the
analysis stack (its own handler, which ignores SIGINT, comes only after its preload),
an idle worker while it waited for a task. The run itself (the parent) already stops
them all on Ctrl-C (:class:`~evalkit.pipeline.analysts.Analysts`), so here SIGINT ends
such a process at once and silently (exit code 130). SIGINT is not ignored: a worker must
still stop, and the server still stops preloading (ignoring it left the run waiting).

The run starts the server inside :func:`starting`, which marks the environment for it
alone (:data:`MARK`) and holds SIGINT blocked while it is spawned; the server inherits the
blocked signal, so a Ctrl-C during its interpreter's own start-up waits until this module,
its first preload, has installed the quiet handler and unblocks it. The server keeps the
handler for the workers it forks. A spawned worker (where there is no fork server) calls
:func:`quiet_on_interrupt` when it starts. Imported anywhere else, the module changes
nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from typing import NoReturn

__all__ = ["MARK", "quiet_on_interrupt", "starting"]

#: Environment variable set only while the fork server is started.
MARK = "EVALKIT_FORK_SERVER"


def quiet_on_interrupt() -> None:
    """Let SIGINT end this process at once with exit code 130, printing nothing."""
    signal.signal(signal.SIGINT, _leave)


def _leave(signum: int, frame: object) -> NoReturn:
    # os._exit, not SystemExit: an exception would be printed by whatever catches it
    # (concurrent.futures logs one raised in a worker's initializer with its traceback),
    # and unwinding could wait on a lock; the run ends these processes anyway, and a
    # bundle is written to a temporary file and renamed, never left half-written
    os._exit(128 + signal.SIGINT)


@contextlib.contextmanager
def starting() -> Iterator[None]:
    """Start the fork server inside this block: marked, and with SIGINT held for it.

    The calling thread blocks SIGINT for the moment the server is spawned (the server
    inherits the mask); a Ctrl-C meanwhile is not lost: it is delivered here when the
    block ends, and the run stops as usual.
    """
    os.environ[MARK] = "1"
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        os.environ.pop(MARK, None)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


if os.environ.pop(MARK, None) == "1":  # the fork server, preloading
    quiet_on_interrupt()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

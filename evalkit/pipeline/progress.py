"""Progress of ``evalkit run`` per protocol and step, shown with rich."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

__all__ = ["NullProgress", "ProgressSink", "RichProgress"]


class ProgressSink(Protocol):
    """Receives the steps of a run: ``step(protocol_id, name)`` then ``done(detail)``."""

    def step(self, protocol_id: str, name: str) -> None:
        """Announce that ``name`` starts for ``protocol_id``."""

    def done(self, detail: str = "") -> None:
        """Announce that the last announced step finished."""

    def note(self, message: str) -> None:
        """Show what the current step is doing now."""

    def finished(self, protocol_id: str, name: str, seconds: float, detail: str = "") -> None:
        """Report a step that ran in the background (thread-safe)."""

    def note_waiting(self, n_jobs: int) -> None:
        """Say that the run now waits for ``n_jobs`` background renders."""

    def failed(self, protocol_id: str, message: str) -> None:
        """Report that a protocol's background work (analysis or report) failed."""


class NullProgress:
    """A progress sink that shows nothing (for tests and library use)."""

    def step(self, protocol_id: str, name: str) -> None:
        """Ignore a step."""

    def done(self, detail: str = "") -> None:
        """Ignore a step's end."""

    def note(self, message: str) -> None:
        """Ignore a note."""

    def finished(self, protocol_id: str, name: str, seconds: float, detail: str = "") -> None:
        """Ignore a background step."""

    def note_waiting(self, n_jobs: int) -> None:
        """Ignore the wait."""

    def failed(self, protocol_id: str, message: str) -> None:
        """Ignore a failure (the caller raises it)."""


def _masked(text: str) -> str:
    """Mask BSNs: a protocol id, a file name or a message can hold one, as in every output."""
    from evalkit.ingest._privacy import mask_bsns

    return mask_bsns(text)


class RichProgress:
    """Print one line per finished step with its duration, and a spinner while it runs."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)
        self._status: Any = None
        self._current: tuple[str, str, float] | None = None
        self._start = time.perf_counter()

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_status()
        if exc is not None and self._current is not None:
            pid, name, _ = self._current
            self.console.print(_masked(f"[red]✗[/red] [bold]{pid}[/bold] {name}"))

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def step(self, protocol_id: str, name: str) -> None:
        """Start a step and show a spinner for it."""
        self._stop_status()
        self._current = (protocol_id, name, time.perf_counter())
        self._status = self.console.status(_masked(f"[bold]{protocol_id}[/bold] {name} …"))
        self._status.start()

    def note(self, message: str) -> None:
        """Show what the current step is doing now (next to its spinner)."""
        if self._status is not None and self._current is not None:
            self._status.update(
                _masked(f"[bold]{self._current[0]}[/bold] {self._current[1]} … {message}")
            )

    def done(self, detail: str = "") -> None:
        """Finish the current step with its duration and an optional detail."""
        self._stop_status()
        if self._current is None:
            return
        pid, name, started = self._current
        took = time.perf_counter() - started
        extra = f" — {detail}" if detail else ""
        self.console.print(
            _masked(f"[green]✓[/green] [bold]{pid}[/bold] {name} ({took:.1f} s){extra}")
        )
        self._current = None

    def finished(self, protocol_id: str, name: str, seconds: float, detail: str = "") -> None:
        """Print a step that ran in a background thread (rich's console is thread-safe)."""
        extra = f" — {detail}" if detail else ""
        self.console.print(
            _masked(f"[green]✓[/green] [bold]{protocol_id}[/bold] {name} ({seconds:.1f} s){extra}")
        )

    def note_waiting(self, n_jobs: int) -> None:
        """Show a spinner while the background renders finish."""
        self._stop_status()
        if n_jobs:
            self._status = self.console.status(
                f"analysing and rendering in the background ({n_jobs} protocol(s)) …"
            )
            self._status.start()

    def failed(self, protocol_id: str, message: str) -> None:
        """Print a protocol whose background analysis or report failed."""
        self._stop_status()
        self.console.print(_masked(f"[red]✗[/red] [bold]{protocol_id}[/bold] {message}"))

    def summarise(self, written: Sequence[Path]) -> None:
        """Print the paths written and the total time."""
        self._stop_status()
        total = time.perf_counter() - self._start
        self.console.print(_masked(f"\n[bold]Done in {total:.1f} s.[/bold] Written:"))
        for path in written:
            print(_masked(str(path)))

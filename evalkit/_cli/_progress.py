"""Progress lines for long steps: rows per second, time left, and peak memory and disk."""

from __future__ import annotations

import resource
import time
from pathlib import Path

from evalkit._cli._output import echo


def peak_memory_mb() -> float:
    """Return this process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def disk_mb(path: Path) -> float:
    """Return the size of a file or of every file under a folder, in MiB."""
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


class Progress:
    """Print ``label: done/total units (rate/s, ETA)`` to stderr at most every ``every`` s.

    Parameters
    ----------
    label : str
        What is being done.
    total : int
        Expected units (persons, rows); 0 when unknown (no ETA then).
    unit : str
        Name of the unit in the line.
    every : float
        Seconds between lines.
    """

    def __init__(self, label: str, total: int, unit: str = "rows", every: float = 2.0) -> None:
        self.label, self.total, self.unit, self.every = label, total, unit, every
        self.started = time.perf_counter()
        self._last = 0.0

    def __call__(self, done: int, rows: int | None = None) -> None:
        """Report that ``done`` units are finished (``rows`` written so far, optional)."""
        now = time.perf_counter()
        if now - self._last < self.every and done < self.total:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if self.total and rate > 0 else 0.0
        extra = f", {rows:,} rows ({rows / elapsed:,.0f} rows/s)" if rows is not None else ""
        share = f"/{self.total:,}" if self.total else ""
        echo(
            f"  {self.label}: {done:,}{share} {self.unit} ({rate:,.0f}/s{extra}), "
            f"about {eta:,.0f} s left",
            err=True,
            flush=True,
        )

    def summary(self, disk: Path | None = None) -> str:
        """Return the closing line: elapsed time, peak memory and (optionally) disk use."""
        text = (
            f"{self.label}: {time.perf_counter() - self.started:,.1f} s, "
            f"peak memory {peak_memory_mb():,.0f} MiB"
        )
        if disk is not None:
            text += f", disk {disk_mb(disk):,.1f} MiB"
        return text

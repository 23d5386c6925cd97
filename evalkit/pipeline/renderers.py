"""Render protocols' reports in background threads while the next protocol is analysed.

Each worker thread owns one Jupyter kernel (a separate process), so rendering
runs on another core than the analysis in the main thread, and the kernel's
imports are paid once per worker, not once per document.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Renderers"]

_STOP = object()

#: What every report document imports first; loaded in each kernel when it starts.
WARM_UP_MODULES = (
    "evalkit.report.context",
    "evalkit.report.sections_front",
    "evalkit.report.sections_results",
    "evalkit.report.sections_measures",
    "evalkit.report.figures",
    "plotnine",
)


class Renderers:
    """A small pool of render threads, one kernel each; use as a context manager.

    Parameters
    ----------
    workers : int
        Number of render threads (and kernels).
    render : callable
        ``render(job, session) -> list[Path]`` renders one job with a kernel session.
    """

    def __init__(self, workers: int, render: Callable[[Any, Any], list[Path]]) -> None:
        self._render = render
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, name=f"evalkit-render-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        self._started = False

    def __repr__(self) -> str:
        return f"Renderers(workers={len(self._threads)})"

    def __enter__(self) -> Renderers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:  # the run failed or was interrupted: render nothing more
            self._drop_queued()
        self.close()

    def start(self) -> None:
        """Start the threads and their kernels now (and import the report code in them).

        Called early when reports will surely be rendered, so that the kernels start
        while the main thread is still making data, on the otherwise idle core.
        """
        if not self._started:
            for thread in self._threads:
                thread.start()
            self._started = True

    def submit(self, job: Any) -> Future[list[Path]]:
        """Queue a job; its future holds the paths written (or the error raised)."""
        self.start()
        future: Future[list[Path]] = Future()
        self._jobs.put((job, future))
        return future

    def close(self) -> None:
        """Let the queued jobs finish, then stop every thread and its kernel."""
        if not self._started:
            return
        for _ in self._threads:
            self._jobs.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._started = False

    def _drop_queued(self) -> None:
        """Cancel the jobs no thread has taken yet (a document being rendered finishes)."""
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                item[1].cancel()

    def _work(self) -> None:
        try:
            self._serve()
        finally:
            _close_thread_event_loop()

    def _serve(self) -> None:
        from evalkit.report.engine import KernelSession

        with KernelSession() as session:
            try:
                session.warm_up(*WARM_UP_MODULES)
            except Exception:
                pass
            while True:
                item = self._jobs.get()
                if item is _STOP:
                    return
                job, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(self._render(job, session))
                except BaseException as exc:  # handed to the main thread through the future
                    future.set_exception(exc)


def _close_thread_event_loop() -> None:
    """Close the asyncio loop the Jupyter client made for this thread.

    ``jupyter_core.utils.run_sync`` gives each thread its own event loop and leaves it
    open when the thread ends; its self-pipe sockets then surface as ResourceWarnings
    whenever the garbage collector finds them, in whatever code runs at that moment.
    """
    from jupyter_core.utils import ensure_event_loop

    loop = ensure_event_loop()  # this thread's loop (a fresh one if it never made one)
    if not loop.is_running():
        loop.close()
    asyncio.set_event_loop(None)

"""Compute protocols' bundles in worker processes while the main thread ingests the next one.

The store (DuckDB) has one writer: the main thread. It reads a protocol's inputs
(:func:`~evalkit.pipeline.assemble.load_inputs`), hands them to a worker process
and goes on with the next protocol's demo data and ingest. The computation is
pure, so it gives the same bundle in any process; the workers run in parallel
with each other and with the report kernels.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from evalkit.pipeline.assemble import BundleInputs

__all__ = [
    "Analysts",
    "compute_and_write",
    "done_future",
    "gather",
    "one_thread_per_child",
    "then",
]

T = TypeVar("T")
U = TypeVar("U")


#: Thread pools of numerical libraries, limited to one thread in each child process.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)

#: Fixed in each child process so that a bundle is the same from run to run: with
#: Python's per-process random string hashing, the Sun–Abraham and imputation event
#: studies (fitted by pyfixest) moved in their last digits between two runs on the same
#: data (about 1e-14, and up to 1e-8 in the sensitivity bounds built on them).
HASH_SEED = ("PYTHONHASHSEED", "0")


@contextlib.contextmanager
def one_thread_per_child() -> Iterator[None]:
    """Start child processes (workers, kernels) with one BLAS/OpenMP/numba thread each.

    A run's parallelism is its processes: with two workers, two kernels and the
    main process on two cores, each library's own thread pool would oversubscribe
    the cores, and idle BLAS threads spin: the analysis took 3 to 7 times its
    CPU time that way. They also get a fixed string-hash seed (``HASH_SEED``).
    Variables the user has set are kept.
    """
    wanted = {**dict.fromkeys(THREAD_VARIABLES, "1"), HASH_SEED[0]: HASH_SEED[1]}
    added = [name for name in wanted if name not in os.environ]
    for name in added:
        os.environ[name] = wanted[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


#: What a worker imports before its first protocol arrives (pyfixest loads its estimation
#: code on first use). Where the platform can fork, the workers are forked from one
#: server process that imported these once (about 3 s of CPU, paid once instead of once
#: per worker); elsewhere each spawned worker imports them in :func:`_warm_up`.
ANALYSIS_STACK = (
    "evalkit.pipeline.analysts",
    "evalkit.pipeline.steps",
    "evalkit.analysis.effects",
    "evalkit.did.regression",
    # estimate() imports each estimator when it first runs (a one-estimator command
    # loads no others); a worker runs them all, so the server holds them for it
    "evalkit.did._coefficient",
    "evalkit.did._event",
    "evalkit.did._modern",
    "evalkit.did._synth_result",
    "evalkit.did.bacon",
    "evalkit.did.honest",
    "evalkit.did.imputation",
    "evalkit.did.sun_abraham",
    "evalkit.report.bundle",
    "evalkit.report.plan_file",
    "pyfixest.estimation",
)


def _warm_up() -> None:
    """Import the analysis stack when a worker starts, before its first protocol arrives.

    Then every object there is (the modules, a few hundred thousand) is moved out of
    the garbage collector's reach (``gc.freeze``): they live as long as the worker, yet
    each full collection walked them all again, and a bundle's computation triggers
    several (statsmodels' Holm correction calls ``gc.collect()`` itself). The five
    bundles of ``make report`` spent 1.3 s of CPU in full collections, 0.2 s frozen.
    Objects made later are collected as before.
    """
    import gc
    import importlib

    from evalkit._fork_server import quiet_on_interrupt
    from evalkit.did._fwl import compile_sweeps

    quiet_on_interrupt()  # a spawned worker; one forked by the server has it already

    for module in ANALYSIS_STACK:
        importlib.import_module(module)
    compile_sweeps()
    gc.freeze()


def _worker_context() -> multiprocessing.context.BaseContext:
    """Return how workers start: forked from a server holding the analysis stack, else spawned.

    Not plain fork: the parent runs render and progress threads. The fork server is a
    fresh single-threaded process, started here (once per parent process) with the
    children's settings of :func:`one_thread_per_child`, which every worker forked from
    it inherits: its string-hash seed and its libraries' thread pools are theirs.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver, resource_tracker

    from evalkit._fork_server import starting

    context = multiprocessing.get_context("forkserver")
    # first the module that makes Ctrl-C end the server and its workers without a traceback
    context.set_forkserver_preload(["evalkit._fork_server", *ANALYSIS_STACK])
    # the resource tracker, which the server's start starts first, unblocks SIGINT in this
    # thread once it is spawned: start it before SIGINT is held for the server
    resource_tracker.ensure_running()
    with one_thread_per_child(), starting():
        forkserver.ensure_running()
    return context


#: Pools open in this process: the fork server is shared, so only the last one to close
#: stops it (a worker whose server has gone counts as dead to its pool).
_OPEN_POOLS = [0]
_POOLS_LOCK = threading.Lock()


def _stop_fork_server(interrupted: bool = False) -> None:
    """Stop the fork server and wait for it, once the workers it forked have ended.

    Left running, it would end only after this process, as an orphan: its CPU and the
    workers' (which it waits for) would then reach no one that measures this command
    (``/usr/bin/time``, the pipeline benchmark), and a process would outlive the run.
    multiprocessing stops it only at exit; ``ForkServer._stop`` is the method its own
    tests use to stop it earlier, so it is called when present. The next pool starts a
    new server. After an interruption (``interrupted``), what the server forks while
    it is waited for is ended too (:func:`_ending_stragglers`).
    """
    from multiprocessing import forkserver

    with _POOLS_LOCK:
        _OPEN_POOLS[0] -= 1
        if _OPEN_POOLS[0] > 0:
            return
    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if not callable(stop):
        return
    if not interrupted:
        stop()
        return
    with _ending_stragglers():
        stop()


@contextlib.contextmanager
def _ending_stragglers() -> Iterator[None]:
    """End the fork server's children over and over while the block runs.

    Ctrl-C or SIGTERM can cut the run off while a pool is starting a worker: the request
    has reached the fork server, which forks the worker a moment later, after the one
    look at its children in :func:`_end_fork_server_children`. That worker waits for a
    task that never comes and holds the server's "alive" pipe, so the wait for the
    server never ended (seen with SIGTERM 4 s into ``evalkit run``).
    """
    done = threading.Event()

    def end_until_done() -> None:
        while not done.wait(0.05):
            _end_fork_server_children()

    helper = threading.Thread(target=end_until_done, name="end-stragglers", daemon=True)
    helper.start()
    try:
        yield
    finally:
        done.set()
        helper.join()


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate a pool's workers, so that its shutdown does not wait for their tasks.

    The executor has no public way to do it before Python 3.14
    (``terminate_workers``); ``_processes`` is the mapping it keeps of its workers. A
    bundle is written to a temporary file and renamed, so a worker ended in the middle
    of its task leaves no half-written bundle.
    """
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):
            process.terminate()


def _end_fork_server_children() -> None:
    """Terminate what the fork server forked and still runs (Linux; elsewhere nothing).

    Each forked worker holds the fork server's "alive" pipe, so the server, and the
    wait for it in :func:`_stop_fork_server`, would last as long as any worker: one
    forked while the pool was being interrupted is not among the pool's processes.
    """
    from multiprocessing import forkserver

    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    if pid is None:
        return
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return
    for child in children:
        with contextlib.suppress(OSError):
            os.kill(int(child), signal.SIGTERM)


def compute_and_write(inputs: BundleInputs, bundle_path: Path) -> tuple[Path, float]:
    """Compute one bundle and write it, and its suppression plan (runs in a worker process).

    The plan (:mod:`evalkit.report.plan_file`) is made here once, so that the report
    kernels and the table exports of the release read it instead of each making it.

    Parameters
    ----------
    inputs : BundleInputs
        What :func:`~evalkit.pipeline.assemble.load_inputs` read.
    bundle_path : Path
        Where the bundle goes.

    Returns
    -------
    tuple of (Path, float)
        The bundle written and the seconds the computation took.
    """
    from evalkit.errors import EvalkitError
    from evalkit.pipeline.assemble import compute_bundle
    from evalkit.report.bundle import write_bundle
    from evalkit.report.plan_file import save_plan

    start = time.perf_counter()
    written = write_bundle(compute_bundle(inputs), bundle_path)
    with contextlib.suppress(EvalkitError):  # a plan that cannot be made fails in the report
        save_plan(written)
    return written, time.perf_counter() - start


class Analysts:
    """A pool of analysis worker processes, started on first use; a context manager.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    """

    def __init__(self, workers: int) -> None:
        self._workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"Analysts(workers={self._workers})"

    def __enter__(self) -> Analysts:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            interrupted = isinstance(exc, KeyboardInterrupt)  # Ctrl-C or SIGTERM
            if interrupted:  # stop the workers' tasks instead of waiting for them
                _end_workers(self._pool)
            self._pool.shutdown(wait=True, cancel_futures=exc is not None)
            if interrupted:
                _end_fork_server_children()
            self._pool = None
            _stop_fork_server(interrupted)

    def start(self) -> None:
        """Start every worker now, so their imports overlap the main thread's work."""
        pool = self._get_pool()
        for _ in range(self._workers):  # a spawn pool starts a worker per waiting task
            pool.submit(int)

    @property
    def started(self) -> bool:
        """Whether the worker processes run (so a job costs no start-up)."""
        return self._pool is not None

    def submit(self, inputs: BundleInputs, bundle_path: Path) -> Future[tuple[Path, float]]:
        """Queue one protocol's computation; the future holds the bundle path and seconds."""
        return self._get_pool().submit(compute_and_write, inputs, bundle_path)

    def run(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue any picklable call (e.g. making a protocol's demo data) on a worker."""
        return self._get_pool().submit(fn, *args)

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            with _POOLS_LOCK:
                _OPEN_POOLS[0] += 1
            self._pool = ProcessPoolExecutor(
                self._workers, mp_context=_worker_context(), initializer=_warm_up
            )
        return self._pool


def then(first: Future[T], step: Callable[[T], Future[U]]) -> Future[U]:
    """Chain futures: run ``step(result)`` when ``first`` is done; errors pass through.

    Parameters
    ----------
    first : Future
        The first job.
    step : callable
        Called with the first job's result (in whichever thread completes it);
        returns the future of the next job.

    Returns
    -------
    Future
        Completed with the next job's result, or the first error of the chain.
    """
    out: Future[U] = Future()

    def relay(inner: Future[U]) -> None:
        error = inner.exception()
        if error is not None:
            out.set_exception(error)
        else:
            out.set_result(inner.result())

    def start(done: Future[T]) -> None:
        error = done.exception()
        if error is not None:
            out.set_exception(error)
            return
        try:
            step(done.result()).add_done_callback(relay)
        except BaseException as exc:  # handed to whoever waits on ``out``
            out.set_exception(exc)

    first.add_done_callback(start)
    return out


def done_future(value: Any) -> Future[Any]:
    """Return a future that already holds ``value``."""
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def gather(futures: list[Future[T]]) -> Future[list[T]]:
    """Return a future of all results, in order; the first error (in order) if any fails.

    Parameters
    ----------
    futures : list of Future
        The jobs.

    Returns
    -------
    Future
        Completed when every job is done.
    """
    out: Future[list[T]] = Future()
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_done(_: Future[T]) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0]:
                return
        for future in futures:
            error = future.exception()
            if error is not None:
                out.set_exception(error)
                return
        out.set_result([future.result() for future in futures])

    if not futures:
        out.set_result([])
    for future in futures:
        future.add_done_callback(one_done)
    return out

"""Chaining the background steps of `evalkit run`: results and errors pass through."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from child_processes import run_and_list_children

from evalkit.errors import ProtocolError
from evalkit.pipeline.analysts import Analysts, done_future, gather, one_thread_per_child, then


def test_then_runs_the_next_step_with_the_result() -> None:
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(lambda: 20)
        chained = then(first, lambda x: pool.submit(lambda: x + 22))
        assert chained.result(timeout=10) == 42


def test_an_error_of_either_step_reaches_the_end_of_the_chain() -> None:
    def fail() -> int:
        raise ProtocolError("analysis of demo failed")

    with ThreadPoolExecutor(2) as pool:
        early = then(pool.submit(fail), lambda x: done_future(x))
        with pytest.raises(ProtocolError, match="analysis of demo failed"):
            early.result(timeout=10)
        late = then(done_future(1), lambda x: pool.submit(fail))
        with pytest.raises(ProtocolError, match="analysis of demo failed"):
            late.result(timeout=10)


def test_a_step_that_raises_instead_of_returning_a_future_fails_the_chain() -> None:
    def broken(_: int) -> Future[int]:
        raise ProtocolError("could not queue the report")

    with pytest.raises(ProtocolError, match="could not queue"):
        then(done_future(1), broken).result(timeout=10)


def test_gather_keeps_the_order_and_reports_the_first_error_in_order() -> None:
    import time

    def slow(x: int) -> int:
        time.sleep(0.05 * (3 - x))
        return x

    with ThreadPoolExecutor(3) as pool:
        assert gather([pool.submit(slow, i) for i in range(3)]).result(timeout=10) == [0, 1, 2]

        def fail(msg: str) -> int:
            raise ProtocolError(msg)

        mixed = gather([pool.submit(slow, 0), pool.submit(fail, "first"), pool.submit(fail, "2")])
        with pytest.raises(ProtocolError, match="first"):
            mixed.result(timeout=10)
    assert gather([]).result(timeout=1) == []


CHILD = "import os; print(hash('evalkit'), os.environ.get('OMP_NUM_THREADS'))"


def _child() -> str:
    run = [sys.executable, "-c", CHILD]
    return subprocess.run(run, capture_output=True, text=True, check=True).stdout


def test_children_hash_strings_alike_so_bundles_repeat(monkeypatch) -> None:
    # pyfixest's fits moved in their last digits with the per-process string hashing
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with one_thread_per_child():
        first, second = _child(), _child()
    assert first == second
    assert first.split()[1] == "1"


def test_a_hash_seed_the_user_set_is_kept(monkeypatch) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "random")
    with one_thread_per_child():
        assert os.environ["PYTHONHASHSEED"] == "random"


def test_the_main_process_reads_inputs_without_the_analysis_stack() -> None:
    # `evalkit run`'s main thread ingests and reads each protocol's inputs while worker
    # processes compute; importing the estimators there (scipy.stats, statsmodels,
    # pyfixest) cost it about 0.4 s CPU before its first ingest, on the critical path
    code = (
        "import sys\n"
        "import evalkit.pipeline.steps\n"
        "from evalkit.pipeline.assemble import load_inputs\n"
        "heavy = ('evalkit.analysis.effects', 'statsmodels', 'pyfixest', 'scipy.stats')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_present_demo_data_are_checked_without_importing_the_generator(tmp_path) -> None:
    # the main thread checks the first protocol's demo data before its first ingest
    data = tmp_path / "cases.csv"
    data.write_text("x\n1\n", encoding="utf-8")
    protocol = tmp_path / "p.yaml"
    protocol.write_text(
        "id: p\ndemo: {seed: 1}\n"
        f"data_sources:\n  - kind: case_events\n    files: [{data.as_posix()}]\n",
        encoding="utf-8",
    )
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from evalkit.pipeline.paths import paths_for\n"
        "from evalkit.pipeline.steps import make_demo_data\n"
        f"print(make_demo_data(paths_for(Path({str(protocol)!r}))))\n"
        "print(sorted(m for m in ('evalkit.synth', 'scipy.special') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "[]"]


def _parent_and_modules() -> tuple[int, int, bool]:
    return os.getpid(), os.getppid(), "pyfixest.estimation" in sys.modules


def _mapped(pid: int) -> str:
    with open(f"/proc/{pid}/maps", encoding="utf-8") as fh:
        return fh.read()


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the fork server's memory map in /proc"
)
def test_workers_are_forked_from_one_process_that_imported_the_analysis_stack() -> None:
    # each spawned worker imported pandas, scipy and pyfixest again (about 3 s of CPU
    # each); forked from one server that imported them, the workers pay that once
    with Analysts(2) as analysts:
        analysts.start()
        seen = [analysts.run(_parent_and_modules).result(timeout=120) for _ in range(4)]
        parents = {parent for _, parent, _ in seen}
        assert len(parents) == 1 and os.getpid() not in parents
        assert all(imported for _, _, imported in seen)
        server = parents.pop()
        assert "pyfixest" in _mapped(server) and "scipy" in _mapped(server)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lists children in /proc")
def test_no_process_of_the_pool_outlives_it() -> None:
    # the fork server is waited for when the pool closes, so that the workers' CPU is
    # counted for the command that ran them (``/usr/bin/time evalkit run``) and nothing
    # of the pool is left running; multiprocessing's resource tracker (a few ms of CPU)
    # lives until exit whatever the start method
    code = (
        "from evalkit.pipeline.analysts import Analysts\n"
        "with Analysts(2) as analysts:\n"
        "    analysts.start()\n"
        "    analysts.run(int).result(timeout=120)\n"
    )
    _, left = run_and_list_children(code, timeout=300)
    assert left == []


def _hash_and_threads() -> tuple[int, str | None]:
    return hash("evalkit"), os.environ.get("OMP_NUM_THREADS")


def test_forked_workers_hash_strings_alike_and_use_one_thread(monkeypatch) -> None:
    # the fork server is started with the children's settings, whoever starts the pool
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with Analysts(1) as analysts:
        first = analysts.run(_hash_and_threads).result(timeout=120)
    with one_thread_per_child():
        expected = _child().split()
    assert [str(first[0]), first[1]] == expected


def test_a_pool_closing_leaves_another_open_pool_working() -> None:
    # the fork server is shared by the pools of a process: the first to close must not
    # take it from the other, whose workers would then count as dead (and the pool hang
    # on close: hence a child process with a time limit)
    code = (
        "from evalkit.pipeline.analysts import Analysts\n"
        "with Analysts(1) as second:\n"
        "    with Analysts(1) as first:\n"
        "        print(first.run(int, '1').result(timeout=60))\n"
        "        print(second.run(int, '2').result(timeout=60))\n"
        "    print(second.run(int, '3').result(timeout=60))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=240
    )
    assert out.stdout.split() == ["1", "2", "3"], out.stderr[-500:]


def _frozen() -> int:
    import gc

    return gc.get_freeze_count()


def test_a_worker_keeps_its_imported_stack_out_of_the_garbage_collector() -> None:
    # full collections (statsmodels' Holm correction calls gc.collect() itself) walked
    # every object of pandas, scipy and pyfixest again; frozen after the warm-up they don't
    with Analysts(1) as analysts:
        frozen = analysts.run(_frozen).result(timeout=120)
    assert frozen > 100_000

"""Stopping `evalkit run` part-way: SIGTERM or Ctrl-C ends every process it started."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from child_processes import run_and_list_children

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
#: These tests read processes from /proc.
LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lists processes in /proc")


def _session_processes(sid: int) -> list[str]:
    """Command lines of the live processes of session ``sid`` (zombies excluded)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_text().replace("\0", " ")
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(cmd)
    return out


def _wait_for(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.2)
    return False


@LINUX
def test_sigterm_stops_the_run_with_its_workers(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "protocols").mkdir(parents=True)
    for file in (ROOT / "protocols").glob("demo.yaml*"):
        shutil.copy2(file, work / "protocols" / file.name)
    env = {
        **os.environ,
        "EVALKIT_PSEUDONYM_KEY": "stop-test-key-not-secret-5e2a9c71d4b8f036",
        "PYTHONHASHSEED": "0",
    }
    # stderr to a file: the report kernels inherit it, so a pipe would stay open (and a
    # read of it wait) until the last kernel has gone
    err_file = tmp_path / "stderr.txt"
    with err_file.open("w") as err_out:
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "evalkit",
                "run",
                "protocols/demo.yaml",
                "--documents",
                "summary",
            ],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err_out,
            start_new_session=True,
        )
    try:
        # a worker of the analysis pool (forked by the fork server) is at work
        busy = _wait_for(
            lambda: sum("forkserver" in c for c in _session_processes(run.pid)) >= 2, 120
        )
        assert busy, "the run never started its analysis workers"
        run.send_signal(signal.SIGTERM)
        # without the handler, the run ended at once but its workers and fork server
        # lived on; with one that waited for the fork server's workers, it never ended
        assert run.wait(timeout=60) == 143
        assert _wait_for(lambda: not _session_processes(run.pid), 30), _session_processes(run.pid)
        err = err_file.read_text()
        assert "evalkit: terminated" in err
        # no traceback of the command itself (a kernel cut off mid-reply may log one)
        assert "evalkit/cli.py" not in err and "evalkit/pipeline" not in err
        assert not (work / "build" / "demo" / "results.tmp").exists()
    finally:
        if run.poll() is None:
            run.kill()
        for _ in _session_processes(run.pid):
            os.killpg(run.pid, signal.SIGKILL)
            break


@LINUX
def test_an_interrupted_pool_ends_its_busy_workers_at_once() -> None:
    code = (
        "import time\n"
        "from evalkit.pipeline.analysts import Analysts\n"
        "start = time.monotonic()\n"
        "try:\n"
        "    with Analysts(2) as analysts:\n"
        "        busy = [analysts.run(time.sleep, 120) for _ in range(3)]\n"
        "        time.sleep(3)\n"
        "        raise KeyboardInterrupt\n"
        "except KeyboardInterrupt:\n"
        "    pass\n"
        "print(round(time.monotonic() - start))\n"
    )
    (seconds,), left = run_and_list_children(code, timeout=100)
    assert int(seconds) < 60  # the sleeping tasks were not waited for
    assert left == []


@LINUX
def test_stopping_after_an_interruption_ends_a_worker_forked_at_the_last_moment() -> None:
    """A worker start cut off by Ctrl-C or SIGTERM leaves a child that waits for ever.

    The fork server forks it after the pool has looked at the server's children; it
    holds the server's "alive" pipe, so the wait for the server never ended (a CI run
    of ``evalkit run`` hung after SIGTERM). Here the pool's own workers have ended, and
    a fork request is sent whose task never comes, as when the start is cut off.
    """
    code = (
        "import time\n"
        "from multiprocessing import forkserver\n"
        "from evalkit.pipeline import analysts\n"
        "pool = analysts.Analysts(1)\n"
        "pool.run(int).result()\n"
        "pool._pool.shutdown(wait=True)\n"
        "cut_off = forkserver._forkserver.connect_to_new_process([])\n"
        "start = time.monotonic()\n"
        "analysts._stop_fork_server(interrupted=True)\n"
        "print(round(time.monotonic() - start))\n"
    )
    (seconds,), left = run_and_list_children(code, timeout=120)
    assert int(seconds) < 10
    assert left == []


def test_a_failed_run_renders_no_queued_document() -> None:
    import threading

    from evalkit.pipeline.renderers import Renderers

    began = threading.Event()
    rendered: list[int] = []

    def render(job: int, session: object) -> list[Path]:
        began.set()
        time.sleep(1)
        rendered.append(job)
        return []

    futures = []
    with pytest.raises(KeyboardInterrupt), Renderers(1, render) as renderers:
        futures = [renderers.submit(i) for i in range(4)]
        assert began.wait(120)
        raise KeyboardInterrupt
    assert rendered == [0]  # the document in progress finishes; the queued ones do not run
    assert [f.cancelled() for f in futures] == [False, True, True, True]


def _forkserver_processes(sid: int) -> int:
    return sum("multiprocessing.forkserver" in c for c in _session_processes(sid))


@LINUX
@pytest.mark.parametrize(
    ("when", "processes"),
    [("the fork server is still importing", 1), ("the workers wait for work", 3)],
)
def test_ctrl_c_prints_no_traceback_of_the_fork_server_or_its_workers(
    tmp_path: Path, when: str, processes: int
) -> None:
    """Ctrl-C reaches every process of the run; the fork server and workers leave quietly.

    The fork server imports the analysis stack for seconds before it ignores SIGINT, and
    an idle worker waits on its queue: each printed a KeyboardInterrupt traceback.
    """
    work = tmp_path / "work"
    (work / "protocols").mkdir(parents=True)
    for file in (ROOT / "protocols").glob("demo.yaml*"):
        shutil.copy2(file, work / "protocols" / file.name)
    env = {
        **os.environ,
        "EVALKIT_PSEUDONYM_KEY": "stop-test-key-not-secret-5e2a9c71d4b8f036",
        "PYTHONHASHSEED": "0",
    }
    err_file = tmp_path / "stderr.txt"
    with err_file.open("w") as err_out:
        run = subprocess.Popen(
            [sys.executable, "-m", "evalkit", "run", "protocols/demo.yaml"],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err_out,
            start_new_session=True,
        )
    try:
        assert _wait_for(lambda: _forkserver_processes(run.pid) >= processes, 120), when
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert run.wait(timeout=60) == 130
        assert _wait_for(lambda: not _session_processes(run.pid), 30), _session_processes(run.pid)
        err = err_file.read_text()
        assert "evalkit: interrupted" in err
        for trace in ("multiprocessing", "ForkServerProcess", "concurrent/futures"):
            assert trace not in err, err
    finally:
        if run.poll() is None:
            run.kill()
        for _ in _session_processes(run.pid):
            os.killpg(run.pid, signal.SIGKILL)
            break

"""The ``evalkit`` command turns transparent huge pages off for itself and its children.

The switch is a speed measure (see ``evalkit/_cli/_memory.py``); what is tested here is
the join: the command sets it before any work, every process it starts inherits it,
and ``EVALKIT_HUGE_PAGES=1`` leaves the system's setting alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit._cli._memory import KEEP_VARIABLE

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists()
    or "THP_enabled" not in Path("/proc/self/status").read_text(),
    reason="needs Linux 5.0+ (THP_enabled in /proc/PID/status)",
)

# A fresh process (huge pages allowed again, whatever the test process has) runs the
# command; a child it starts then reports the flag it inherited.
_CHILD = """
import ctypes, subprocess, sys
assert ctypes.CDLL(None).prctl(41, 0, 0, 0, 0) == 0
from evalkit.cli import main
try:
    main(["--version"])
except SystemExit:
    pass
status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True).stdout
print([line for line in status.splitlines() if line.startswith("THP_enabled")][0])
"""


def _child_flag(keep: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != KEEP_VARIABLE}
    if keep is not None:
        env[KEEP_VARIABLE] = keep
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1].split(":")[1].strip()


def test_the_command_turns_huge_pages_off_for_the_processes_it_starts() -> None:
    assert _child_flag(None) == "0"
    assert _child_flag("0") == "0"


def test_the_user_can_keep_the_system_setting() -> None:
    setting = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if setting.exists() and "[never]" in setting.read_text():
        pytest.skip("huge pages are off on this machine: nothing to keep")
    assert _child_flag("1") == "1"

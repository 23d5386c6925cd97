"""Run Python code in a child process and list what that child leaves running (Linux).

The analysis pool's tests check that no worker or fork server outlives a pool; they
run the pool in a child process, whose own children ``/proc`` lists at its end.
multiprocessing's resource tracker lives until exit whatever happens, so it is left out.
"""

from __future__ import annotations

import subprocess
import sys

#: Appended to the child's code: prints one line per process the child still has.
PRINT_CHILDREN = (
    "import os as _os\n"
    "_pid = _os.getpid()\n"
    "for _child in open(f'/proc/{_pid}/task/{_pid}/children').read().split():\n"
    "    print('child:', open(f'/proc/{_child}/cmdline').read().replace(chr(0), ' '))\n"
)


def run_and_list_children(code: str, timeout: float) -> tuple[list[str], list[str]]:
    """Run ``code`` in a child Python; return its output lines and the children it left.

    The children are those still running at its end, the resource tracker excepted.
    """
    out = subprocess.run(
        [sys.executable, "-c", code + "\n" + PRINT_CHILDREN],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    lines = out.stdout.splitlines()
    printed = [line for line in lines if not line.startswith("child: ")]
    children = [line for line in lines if line.startswith("child: ")]
    return printed, [c for c in children if "resource_tracker" not in c]

"""Transparent huge pages off for the ``evalkit`` process and everything it starts.

Why: evalkit's work is many short-lived arrays (pandas columns, Arrow buffers, DuckDB
chunks) that are allocated, filled once and freed. NumPy and Arrow's mimalloc ask the
kernel for transparent huge pages (``madvise``), and the kernel then zeroes a whole
2 MiB page at the first touch of any byte in it. On the two-core virtual machine this
project is measured on, that zeroing (``perf``: ``clear_page_erms`` under
``do_huge_pmd_anonymous_page``) made the kernel's share of the CPU time large:
``evalkit analyze`` of the demo took 11.9 s user and 8.6 s system with huge pages,
10.6 s and 2.1 s without; ``make report`` 79–90 s against 71 s wall (README, "What
you get").

The flag is the kernel's own per-process switch (``prctl(PR_SET_THP_DISABLE)``): it is
inherited by forked and executed children (analysis workers, Jupyter kernels, pandoc),
so one call at the start of the command covers the whole run. It changes how memory is
mapped, never a result. ``EVALKIT_HUGE_PAGES=1`` keeps the system's setting, for a
machine where huge pages pay off.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["KEEP_VARIABLE", "turn_off_huge_pages"]

#: Set to 1 to keep the system's transparent-huge-page setting.
KEEP_VARIABLE = "EVALKIT_HUGE_PAGES"

# From <linux/prctl.h>.
_PR_SET_THP_DISABLE = 41


def turn_off_huge_pages() -> bool:
    """Turn transparent huge pages off for this process and the processes it starts.

    Returns
    -------
    bool
        True when the flag is set now; False off Linux, when the user keeps the
        system's setting (``EVALKIT_HUGE_PAGES=1``), or when the kernel refuses.
    """
    if not sys.platform.startswith("linux") or os.environ.get(KEEP_VARIABLE) == "1":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False

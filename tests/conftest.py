"""Shared fixtures: a real headless Chromium for the page tests.

The suite never installs system packages: Chromium comes from the machine's set-up
(README, "Development": ``apt-get install chromium``; ``.ci/run`` does it in CI).
Without it the page tests skip and say so.
"""

from __future__ import annotations

import pytest

from evalkit._cli._memory import turn_off_huge_pages

# The tests call the library in this process, not through the `evalkit` command, so
# they take the command's memory setting here: the suite then runs as users' commands
# do (and its kernels and workers inherit the setting).
turn_off_huge_pages()


def _chromium() -> str:
    from browser import find_chromium

    found = find_chromium()
    if not found:
        pytest.skip(
            "Chromium not found (looked at $CHROMIUM, /usr/bin/chromium and PATH); "
            "install it with `apt-get install chromium` or point $CHROMIUM at a binary"
        )
    return found


@pytest.fixture(scope="session")
def browser():
    pytest.importorskip("websocket", reason="websocket-client (dev extra) drives Chromium")
    from browser import Browser

    with Browser(_chromium()) as running:
        yield running

"""Shared fixtures: a real headless Chromium for the page tests.

The suite never installs system packages: Chromium comes from the machine's set-up
(README, "Development": ``apt-get install chromium``; ``.ci/run`` does it in CI).
Without it the page tests skip and say so.
"""

from __future__ import annotations

import pytest


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

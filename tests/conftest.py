"""Shared fixtures: a real headless Chromium for the page tests."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def _chromium() -> str:
    from evalkit.report.browser import find_chromium

    found = find_chromium()
    if found:
        return found
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=False,
            capture_output=True,
            env=env,
        )
        found = find_chromium()
    if not found:
        pytest.skip(
            "Chromium is not installed and could not be installed "
            "(needs root and apt-get: apt-get install chromium)"
        )
    return found


@pytest.fixture(scope="session")
def browser():
    pytest.importorskip("websocket", reason="websocket-client (dev extra) drives Chromium")
    from evalkit.report.browser import Browser

    with Browser(_chromium()) as running:
        yield running

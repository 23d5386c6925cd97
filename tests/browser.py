"""Check a rendered report in a real headless Chromium over the DevTools protocol.

Test tooling, not part of evalkit: the page tests load the HTML from disk,
record every network request the page attempts, every console error and
uncaught exception, whether every image decoded, and save a full-page
screenshot. Needs the ``websocket-client`` package (dev extra) and a Chromium
binary (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import ReportError

#: Where Debian's ``chromium`` package puts the binary; ``$CHROMIUM`` overrides.
_KNOWN = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

__all__ = ["A4_CONTENT_PX", "Browser", "PageCheck", "check_page", "find_chromium"]

#: Width of an A4 page inside the stylesheet's print margins (210 mm − 2 × 12 mm) in CSS
#: pixels (96 per inch): what a printed table must fit in.
A4_CONTENT_PX = round((210 - 2 * 12) / 25.4 * 96)

#: Measures the page laid out: its width, and per table its right edge and hidden overflow.
_LAYOUT_PROBE = (
    "JSON.stringify({page_width: window.innerWidth, "
    "document_width: document.documentElement.scrollWidth, "
    "tables: Array.from(document.querySelectorAll('table')).map(t => ({"
    "id: t.id, caption: t.caption ? t.caption.textContent : '', "
    "last_header: (Array.from(t.querySelectorAll('th')).pop() || {}).textContent"
    " || '', right: t.getBoundingClientRect().right, "
    "overflow: t.scrollWidth - t.clientWidth}))})"
)

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)


@dataclass(frozen=True)
class PageCheck:
    """What the browser saw while loading one page."""

    url: str
    network_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    lang: str = ""
    screenshot: Path | None = None

    @property
    def broken_images(self) -> list[dict[str, Any]]:
        """Images that did not decode (``naturalWidth == 0``)."""
        return [i for i in self.images if not i.get("naturalWidth")]

    def __repr__(self) -> str:
        return (
            f"PageCheck({self.url!r}, requests={len(self.network_requests)}, "
            f"errors={len(self.console_errors)}, images={len(self.images)})"
        )


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary (``$CHROMIUM``, Debian's path, ``PATH``), or ``None``."""
    override = os.environ.get("CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    for path in _KNOWN:
        if os.access(path, os.X_OK):
            return path
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class _Cdp:
    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise ReportError(f"Chromium: {method} failed: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        if any(e["method"] == method for e in self.events):
            return
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return
        raise ReportError(f"Chromium: no {method} within {timeout} s")

    def close(self) -> None:
        self.ws.close()


def _devtools_port(profile: Path, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_file.exists():
            text = port_file.read_text().split()
            if text:
                return int(text[0])
        if proc.poll() is not None:
            raise ReportError(f"Chromium exited with code {proc.returncode} before it started")
        time.sleep(0.05)
    raise ReportError("Chromium did not open its DevTools port")


def _end_process_group(proc: subprocess.Popen[bytes]) -> None:
    """Terminate Chromium and every helper process it started, then reap the main one."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            _wait_for_group_exit(proc.pid, timeout=5.0)
        return


def _wait_for_group_exit(pgid: int, timeout: float) -> None:
    """Wait until no process of group ``pgid`` is left, killing stragglers at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _remove_profile(folder: Path, attempts: int = 20) -> None:
    """Remove the temporary profile; a file written during removal is retried, not an error."""
    for _ in range(attempts):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.1)


class Browser:
    """A headless Chromium with one page, driven over the DevTools protocol.

    Use as a context manager and call :meth:`check` for each file; the browser
    starts once (fresh profile in a temporary folder) and is closed on exit.

    Parameters
    ----------
    chromium : str, optional
        Browser binary (default: found on PATH).
    width : int
        Viewport width in CSS pixels.
    """

    def __init__(self, chromium: str | None = None, width: int = 1200) -> None:
        binary = chromium or find_chromium()
        if binary is None:
            raise ReportError("no Chromium found on PATH (Debian: apt-get install chromium)")
        self.binary, self.width = binary, width
        self._tmp: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._cdp: _Cdp | None = None

    def __repr__(self) -> str:
        return f"Browser({self.binary!r}, running={self._proc is not None})"

    def __enter__(self) -> Browser:
        self._tmp = Path(tempfile.mkdtemp(prefix="evalkit-chromium-"))
        profile = self._tmp / "profile"
        cmd = [
            self.binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            f"--window-size={self.width},900",
            "about:blank",
        ]
        # A session of its own, so that closing ends Chromium's helper processes too:
        # they outlive the main process and keep writing into the profile otherwise.
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            port = _devtools_port(profile, self._proc)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
                targets = json.loads(resp.read())
            page = next(t for t in targets if t.get("type") == "page")
            self._cdp = _Cdp(page["webSocketDebuggerUrl"])
            for domain in ("Network", "Runtime", "Log", "Page"):
                self._cdp.call(f"{domain}.enable")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._cdp is not None:
            self._cdp.close()
            self._cdp = None
        if self._proc is not None:
            _end_process_group(self._proc)
            self._proc = None
        if self._tmp is not None:
            _remove_profile(self._tmp)
            self._tmp = None

    def check(self, html: Path, screenshot: Path | None = None) -> PageCheck:
        """Load ``html`` (as ``file://``) and report requests, errors and images.

        Parameters
        ----------
        html : Path
            The HTML file.
        screenshot : Path, optional
            Where to save a full-page PNG screenshot.

        Returns
        -------
        PageCheck
        """
        if self._cdp is None:
            raise ReportError("Browser used outside its 'with' block")
        return _run(self._cdp, Path(html).resolve().as_uri(), screenshot, self.width)

    def print_layout(self, html: Path) -> dict[str, Any]:
        """Lay ``html`` out as printed on A4 (print media, A4 content width) and measure it.

        Returns
        -------
        dict
            As :meth:`layout`, laid out in ``A4_CONTENT_PX``.
        """
        return self.layout(html, media="print", width=A4_CONTENT_PX, height=1123)

    def layout(self, html: Path, *, media: str, width: int, height: int) -> dict[str, Any]:
        """Lay ``html`` out for ``media`` ("screen" or "print") in a viewport and measure it.

        Returns
        -------
        dict
            ``page_width`` (the width laid out in), ``document_width`` (the widest content;
            more than ``page_width`` means Chromium would shrink the page or cut it off) and
            ``tables``: per table its ``id``, ``caption``, ``last_header`` (text of its last
            header cell), ``right`` (right edge) and ``overflow`` (content width beyond its
            box: hidden when printed, behind a scroll bar on screen).
        """
        if self._cdp is None:
            raise ReportError("Browser used outside its 'with' block")
        cdp = self._cdp
        cdp.call("Emulation.setEmulatedMedia", media=media)
        cdp.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        try:
            cdp.events.clear()
            cdp.call("Page.navigate", url=Path(html).resolve().as_uri())
            cdp.wait_for("Page.loadEventFired")
            value = cdp.call("Runtime.evaluate", expression=_LAYOUT_PROBE, returnByValue=True)
            return dict(json.loads(value["result"]["value"]))
        finally:
            cdp.call("Emulation.setEmulatedMedia", media="")
            cdp.call("Emulation.clearDeviceMetricsOverride")

    def print_pdf(self, html: Path, pdf: Path) -> Path:
        """Print ``html`` to ``pdf`` on A4 as Chromium's print dialogue would (no header/footer)."""
        if self._cdp is None:
            raise ReportError("Browser used outside its 'with' block")
        self._cdp.events.clear()
        self._cdp.call("Page.navigate", url=Path(html).resolve().as_uri())
        self._cdp.wait_for("Page.loadEventFired")
        data = self._cdp.call(
            "Page.printToPDF",
            preferCSSPageSize=True,
            printBackground=True,
            displayHeaderFooter=False,
        )["data"]
        pdf.parent.mkdir(parents=True, exist_ok=True)
        pdf.write_bytes(base64.b64decode(data))
        return pdf


def check_page(
    html: Path, screenshot: Path | None = None, *, chromium: str | None = None, width: int = 1200
) -> PageCheck:
    """Load one file in a fresh headless Chromium (see :class:`Browser`).

    Parameters
    ----------
    html : Path
        The HTML file (loaded as ``file://``).
    screenshot : Path, optional
        Where to save a full-page PNG screenshot.
    chromium : str, optional
        Browser binary (default: found on PATH).
    width : int
        Viewport width in CSS pixels.

    Returns
    -------
    PageCheck
        Network requests attempted (other than ``file:``/``data:``), console errors,
        image decode status, title and ``lang``.
    """
    with Browser(chromium, width) as browser:
        return browser.check(html, screenshot)


def _run(cdp: _Cdp, url: str, screenshot: Path | None, width: int) -> PageCheck:
    cdp.call("Emulation.clearDeviceMetricsOverride")
    cdp.events.clear()
    cdp.call("Page.navigate", url=url)
    cdp.wait_for("Page.loadEventFired")
    probe = (
        "JSON.stringify({title: document.title, lang: document.documentElement.lang, "
        "images: Array.from(document.images).map(i => ({src: i.src.slice(0, 40), "
        "complete: i.complete, naturalWidth: i.naturalWidth, alt: i.alt}))})"
    )
    info = json.loads(
        cdp.call("Runtime.evaluate", expression=probe, returnByValue=True)["result"]["value"]
    )
    shot = None
    if screenshot is not None:
        metrics = cdp.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics.get("contentSize") or {"height": 900}
        height = int(min(size["height"], 16000))
        cdp.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=max(height, 600),
            deviceScaleFactor=1,
            mobile=False,
        )
        data = cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(data))
        shot = screenshot
    requests, errors = [], []
    for e in cdp.events:
        method, params = e["method"], e.get("params", {})
        if method == "Network.requestWillBeSent":
            req_url = params.get("request", {}).get("url", "")
            if not req_url.startswith(("file:", "data:")):
                requests.append(req_url)
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(
                " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])
                )
            )
        elif method == "Runtime.exceptionThrown":
            errors.append(params.get("exceptionDetails", {}).get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", ""))
    return PageCheck(url, requests, errors, info["images"], info["title"], info["lang"], shot)

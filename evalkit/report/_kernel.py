"""Execute a notebook in a Jupyter kernel running this very Python (the project's venv).

The kernel spec is written to a private temporary folder, so rendering works on
a fresh clone without ``python -m ipykernel install`` and never picks up some
other ``python3`` kernel installed on the machine.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from evalkit.errors import ReportError

__all__ = ["KERNEL_ENV", "KernelSession", "execute_notebook"]

_KERNEL_NAME = "evalkit-python"
_LOG = logging.getLogger("evalkit.report.kernel")
_LOG.setLevel(logging.WARNING)  # nbclient logs every notebook at INFO

#: Environment of the report kernel: fixed hashing, headless matplotlib, no clock in outputs.
KERNEL_ENV = {
    "MPLBACKEND": "Agg",
    "PYTHONHASHSEED": "0",
    "SOURCE_DATE_EPOCH": "0",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


def _write_kernel_spec(root: Path) -> Path:
    spec_dir = root / "kernels" / _KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [
            sys.executable,
            "-Xfrozen_modules=off",
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ],
        "display_name": "evalkit (this Python)",
        "language": "python",
        "env": KERNEL_ENV,
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return root / "kernels"


class KernelSession:
    """One Jupyter kernel that runs several notebooks in turn (imports are paid once).

    Use as a context manager; each :meth:`execute` first changes the kernel's working
    directory to the document's folder. The kernel is shut down on exit.

    Parameters
    ----------
    timeout : int
        Seconds allowed per cell.
    """

    def __init__(self, timeout: int = 600) -> None:
        self.timeout = timeout
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._client: Any = None

    def __repr__(self) -> str:
        return f"KernelSession(running={self._client is not None})"

    def __enter__(self) -> KernelSession:
        self._tmp = tempfile.TemporaryDirectory(prefix="evalkit-kernel-")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._client is not None:
                self._client._cleanup_kernel()
        finally:
            self._client = None
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    def _new_client(self, nb: nbformat.NotebookNode, cwd: Path) -> Any:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager
        from nbclient import NotebookClient

        if self._tmp is None:
            raise ReportError("KernelSession used outside its 'with' block")
        root = Path(self._tmp.name)
        kernel_dirs = [str(_write_kernel_spec(root))]
        ipc = str(root / "ipc")

        class _Manager(KernelManager):  # nbclient owns (and cleans up) this manager
            def __init__(self, **kwargs: object) -> None:
                super().__init__(**kwargs)
                self.kernel_spec_manager = KernelSpecManager(kernel_dirs=kernel_dirs)
                self.transport = "ipc"
                self.ip = ipc

        return NotebookClient(
            nb,
            kernel_manager_class=_Manager,
            timeout=self.timeout,
            startup_timeout=300,
            log=_LOG,  # a busy machine (CI, shared cores) can be slow to start one
            kernel_name=_KERNEL_NAME,
            resources={"metadata": {"path": str(cwd)}},
        )

    def warm_up(self, *modules: str) -> None:
        """Start the kernel and import ``modules`` in it, before the first document arrives.

        The objects the kernel then holds (its modules, those imported) are frozen out of
        the garbage collector's reach (``gc.freeze``): they live as long as the kernel,
        and each full collection while the documents render walked them all again (20
        documents: 2.6 s of CPU in full collections, 1.4 s frozen).

        Parameters
        ----------
        *modules : str
            Modules the documents will import (e.g. ``evalkit.report.context``).
        """
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": _KERNEL_NAME, "language": "python"}
        imports = [f"import {m}" for m in modules]
        source = "\n".join([*imports, "import gc as _evalkit_gc", "_evalkit_gc.freeze()"])
        nb.cells.append(nbformat.v4.new_code_cell(source))
        self.execute(nb, Path.cwd(), where="kernel warm-up")

    def execute(
        self, nb: nbformat.NotebookNode, cwd: Path, *, where: str = "report"
    ) -> nbformat.NotebookNode:
        """Run every cell of ``nb`` with ``cwd`` as working directory; return a copy with outputs.

        Raises
        ------
        ReportError
            When a cell raises; the message names the cell (label or line) and the error.
        """
        from nbclient.exceptions import CellExecutionError

        nb = nbformat.from_dict(json.loads(json.dumps(nb)))
        chdir = nbformat.v4.new_code_cell(
            f"import os as _evalkit_os\n_evalkit_os.chdir({str(cwd)!r})\ndel _evalkit_os"
        )
        chdir["id"] = "evalkit-chdir"
        nb.cells.insert(0, chdir)
        if self._client is None:
            self._client = self._new_client(nb, cwd)
        else:
            self._client.nb = nb
        try:
            self._client.execute(cleanup_kc=False)
        except CellExecutionError as exc:
            raise ReportError(
                f"{where}: {_failing_cell(nb)} failed: {_last_line(str(exc))}"
            ) from exc
        except Exception as exc:  # kernel died, timeout, ...
            raise ReportError(
                f"{where}: the Jupyter kernel failed: {type(exc).__name__}: {exc}"
            ) from exc
        nb.cells.pop(0)
        return nb


def execute_notebook(
    nb: nbformat.NotebookNode,
    cwd: Path,
    *,
    timeout: int = 600,
    where: str = "report",
    session: KernelSession | None = None,
) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a kernel and return the executed notebook.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook to run (not modified).
    cwd : Path
        Working directory of the kernel.
    timeout : int
        Seconds allowed per cell.
    where : str
        Name of the document, used in error messages.
    session : KernelSession, optional
        A running session to reuse; default: a fresh kernel for this notebook.

    Returns
    -------
    nbformat.NotebookNode
        A copy of ``nb`` with outputs.

    Raises
    ------
    ReportError
        When a cell raises; the message names the cell (label or line) and the error.
    """
    if session is not None:
        return session.execute(nb, cwd, where=where)
    with KernelSession(timeout) as fresh:
        return fresh.execute(nb, cwd, where=where)


def _failing_cell(nb: nbformat.NotebookNode) -> str:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                meta = cell.get("metadata", {}).get("evalkit", {})
                return meta.get("where", "a code cell")
    return "a code cell"


def _last_line(message: str) -> str:
    import re

    clean = re.sub(r"\x1b\[[0-9;]*m", "", message)
    lines = [line for line in clean.strip().splitlines() if line.strip()]
    return lines[-1] if lines else clean

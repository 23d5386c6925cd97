"""Execute a notebook in a Jupyter kernel running this very Python (the project's venv).

The kernel spec is written to a private temporary folder, so rendering works on
a fresh clone without ``python -m ipykernel install`` and never picks up some
other ``python3`` kernel installed on the machine.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import nbformat

from evalkit.errors import ReportError

__all__ = ["KERNEL_ENV", "execute_notebook"]

_KERNEL_NAME = "evalkit-python"

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


def execute_notebook(
    nb: nbformat.NotebookNode, cwd: Path, *, timeout: int = 600, where: str = "report"
) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel and return the executed notebook.

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

    Returns
    -------
    nbformat.NotebookNode
        A copy of ``nb`` with outputs.

    Raises
    ------
    ReportError
        When a cell raises; the message names the cell (label or line) and the error.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    with tempfile.TemporaryDirectory(prefix="evalkit-kernel-") as tmp:
        kernel_dirs = [str(_write_kernel_spec(Path(tmp)))]
        ipc = str(Path(tmp) / "ipc")

        class _Manager(KernelManager):  # nbclient owns (and cleans up) this manager
            def __init__(self, **kwargs: object) -> None:
                super().__init__(**kwargs)
                self.kernel_spec_manager = KernelSpecManager(kernel_dirs=kernel_dirs)
                self.transport = "ipc"
                self.ip = ipc

        client = NotebookClient(
            nb,
            kernel_manager_class=_Manager,
            timeout=timeout,
            kernel_name=_KERNEL_NAME,
            resources={"metadata": {"path": str(cwd)}},
        )
        try:
            client.execute()
        except CellExecutionError as exc:
            cell = _failing_cell(nb)
            raise ReportError(f"{where}: {cell} failed: {_last_line(str(exc))}") from exc
        except Exception as exc:  # kernel died, timeout, ...
            raise ReportError(f"{where}: the Jupyter kernel failed: {exc}") from exc
    return nb


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

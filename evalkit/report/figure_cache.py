"""Figures drawn once per run: PNGs kept by what they are drawn from, shared by the kernels.

Drawing a figure (plotnine's build and matplotlib's draw) is most of a report
kernel's time, and protocols over the same data draw the same figures: in the
examples of ``make report`` six figures per language come out byte for byte the
same in two protocols. ``evalkit run`` makes one folder for the run
(:func:`run_figure_cache`) and names it in the environment its report kernels
inherit; a document's :class:`~evalkit.report.context.ReportContext` then looks a
figure up by a key made of its name, size and everything it is drawn from
(:func:`figure_key`), and draws and stores it only when it is not there. The
folder goes with the run, so a key never outlives the code that drew it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ENV", "FigureCache", "figure_key", "run_figure_cache"]

#: The environment variable naming the run's figure folder (read in the report kernels).
ENV = "EVALKIT_FIGURE_CACHE"
#: Raised when the key's layout changes.
_FORMAT = 1
_SCALARS = (type(None), bool, int, float, str)
_FRAMES = (pd.DataFrame, pd.Series, np.ndarray)


def _plain(value: Any) -> bool:
    """Tell whether a value is made only of data whose pickle holds all of its content."""
    if isinstance(value, (*_SCALARS, *_FRAMES)):
        return True
    if isinstance(value, tuple | list):
        return all(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, _SCALARS) and _plain(v) for k, v in value.items())
    return False


def figure_key(name: str, width: float, height: float, drawn_from: Any) -> str | None:
    """Return the cache key of a figure, or None when it cannot be keyed safely.

    Parameters
    ----------
    name : str
        The figure's name; two figures drawn from the same data differ in it.
    width, height : float
        Size in inches.
    drawn_from : object
        Everything the figure is drawn from (data frames, labels, language, ...), made
        of scalars, strings, tuples, lists, mappings, data frames, series and arrays.

    Returns
    -------
    str or None
        A sha256 hex digest of the pickled inputs; None for any other kind of value
        (a function or an object could carry state the pickle does not show).
    """
    if not _plain(drawn_from):
        return None
    try:
        data = pickle.dumps(
            (_FORMAT, str(name), float(width), float(height), drawn_from), protocol=5
        )
    except (pickle.PicklingError, TypeError, AttributeError, ValueError):
        return None
    return hashlib.sha256(data).hexdigest()


class FigureCache:
    """A folder of PNGs by key, shared by processes (each file is written whole, then renamed).

    Parameters
    ----------
    folder : Path or str
        The folder (it must exist).
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"FigureCache({str(self.folder)!r})"

    @classmethod
    def from_environment(cls) -> FigureCache | None:
        """Return the run's cache named by ``EVALKIT_FIGURE_CACHE``, or None outside a run."""
        folder = os.environ.get(ENV)
        return cls(folder) if folder and Path(folder).is_dir() else None

    def get(self, key: str) -> bytes | None:
        """Return the PNG stored under ``key``, or None."""
        try:
            return (self.folder / f"{key}.png").read_bytes()
        except OSError:
            return None

    def put(self, key: str, png: bytes) -> None:
        """Store a PNG under ``key``; a folder that cannot be written is left alone."""
        path = self.folder / f"{key}.png"
        tmp = path.with_name(f"{key}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(png)
            tmp.replace(path)  # readers in other kernels never see half a file
        except OSError:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def run_figure_cache() -> Iterator[Path]:
    """Make a figure folder for one run and name it in the environment of the processes it starts.

    Yields
    ------
    Path
        The folder; removed, and the variable restored, on exit.
    """
    before = os.environ.get(ENV)
    with tempfile.TemporaryDirectory(prefix="evalkit-figures-") as folder:
        os.environ[ENV] = folder
        try:
            yield Path(folder)
        finally:
            if before is None:
                os.environ.pop(ENV, None)
            else:
                os.environ[ENV] = before

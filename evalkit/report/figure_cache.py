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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ENV", "Digest", "FigureCache", "figure_key", "inputs_digest", "run_figure_cache"]

#: The environment variable naming the run's figure folder (read in the report kernels).
ENV = "EVALKIT_FIGURE_CACHE"
#: Raised when the key's layout changes.
_FORMAT = 2
_SCALARS = (type(None), bool, int, float, str)
_SCALAR_TYPES = frozenset(_SCALARS)
_FRAMES = (pd.DataFrame, pd.Series, np.ndarray)


def _plain(value: Any) -> bool:
    """Tell whether a value is made only of data whose pickle holds all of its content.

    The inputs of a section's figures hold thousands of bundle records, so the walk
    looks at the exact type first (one set lookup for a scalar) and takes the slower
    ``isinstance`` tests, which admit subclasses, only for the other values.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _SCALAR_TYPES:
            continue
        if kind is dict:
            if not _SCALAR_TYPES.issuperset(map(type, item)) and not all(
                isinstance(k, _SCALARS) for k in item
            ):
                return False
            stack.extend(v for v in item.values() if type(v) not in _SCALAR_TYPES)
        elif kind is list or kind is tuple:
            stack.extend(v for v in item if type(v) not in _SCALAR_TYPES)
        elif isinstance(item, (*_SCALARS, *_FRAMES)):
            continue
        elif isinstance(item, tuple | list):
            stack.extend(item)
        elif isinstance(item, Mapping):
            if not all(isinstance(k, _SCALARS) for k in item.keys()):
                return False
            stack.extend(item.values())
        else:
            return False
    return True


@dataclass(frozen=True)
class Digest:
    """The SHA-256 of a figure's inputs, made once for inputs several figures are drawn from.

    Pass it as a figure's ``drawn_from`` (see :func:`inputs_digest`): the key is then made
    from its 64 characters, not from pickling the inputs again for every figure.
    """

    sha256: str


def inputs_digest(drawn_from: Any) -> Digest | None:
    """Return the digest of a figure's inputs, or None when they cannot be keyed safely.

    Parameters
    ----------
    drawn_from : object
        Everything some figures are drawn from, as for :func:`figure_key`.

    Returns
    -------
    Digest or None
        :func:`figure_key` gives the same key for the digest as for the inputs themselves.
    """
    if isinstance(drawn_from, Digest):
        return drawn_from
    if not _plain(drawn_from):
        return None
    try:
        data = pickle.dumps((_FORMAT, drawn_from), protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError, ValueError):
        return None
    return Digest(hashlib.sha256(data).hexdigest())


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
        A :class:`Digest` of the inputs gives the same key as the inputs.
    """
    digest = inputs_digest(drawn_from)
    if digest is None:
        return None
    data = pickle.dumps(
        (_FORMAT, str(name), float(width), float(height), digest.sha256), protocol=5
    )
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

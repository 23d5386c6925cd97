"""The results bundle's one writer and reader: deterministic JSON with a version field.

The pipeline writes a bundle with :func:`write_bundle`; the reports read it with
:func:`read_bundle` (:func:`evalkit.report.load_bundle` is the same function).
:data:`BUNDLE_VERSION` is the one version constant; ``docs/bundle.md``
describes the content.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import ReportError

__all__ = ["BUNDLE_VERSION", "jsonable", "read_bundle", "write_bundle"]

BUNDLE_VERSION = 2


def jsonable(value: Any) -> Any:
    """Convert numpy, pandas and date values to plain JSON values (NaN → null).

    Parameters
    ----------
    value : Any
        A nested structure of dicts, lists, scalars and frames.

    Returns
    -------
    Any
        The same structure with only JSON types.
    """
    # A bundle is some hundred thousand values, most of them text, whole numbers and
    # finite floats already: those are told by their exact type in one test, instead of
    # after a dozen isinstance tests each (they give the same values, see below).
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [jsonable(r) for r in value.to_dict("records")]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    return value


def write_bundle(bundle: dict[str, Any], path: Path) -> Path:
    """Write a bundle as UTF-8 JSON, the same bytes for the same content.

    Parameters
    ----------
    bundle : dict
        The bundle (``bundle_version`` is set here).
    path : Path
        Where to write it; folders are created.

    Returns
    -------
    Path
        ``path``.
    """
    body = {
        "bundle_version": BUNDLE_VERSION,
        **{k: v for k, v in bundle.items() if k != "bundle_version"},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(jsonable(body), ensure_ascii=False, indent=1, allow_nan=False)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_bundle(path: Path | str) -> dict[str, Any]:
    """Read a bundle and check its version.

    Parameters
    ----------
    path : Path
        A ``results.json``.

    Returns
    -------
    dict
        The bundle.

    Raises
    ------
    ReportError
        When the file is missing, not JSON, or of another bundle version.
    """
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"results bundle not found: {path} (run `evalkit analyze` first)")
    try:
        bundle = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not a valid results bundle ({exc})") from None
    if not isinstance(bundle, dict):
        raise ReportError(f"{path}: a results bundle must be a JSON object")
    version = bundle.get("bundle_version")
    if version != BUNDLE_VERSION:
        raise ReportError(
            f"{path}: bundle_version {version!r} is not supported (this evalkit reads "
            f"version {BUNDLE_VERSION}); run `evalkit analyze` again to rewrite it"
        )
    return dict(bundle)

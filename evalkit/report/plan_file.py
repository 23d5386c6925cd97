"""The release's suppression plan saved beside its bundle, made once and read by every document.

A plan is a pure function of the bundle (:mod:`evalkit.report.plan`), but making it
takes about a second, and a release is rendered in several processes: two report
kernels (one per language) and the process that writes the CSV and XLSX exports.
``evalkit run`` saves the plan once, next to the bundle (``build/<id>/plan.json``),
when the bundle is written; each document and the exports read it instead of making
it again. The file records what it was made from — the bundle's sha256, the
threshold, the planner's source code and the pandas version — and is used only when
all of them still match; otherwise the plan is made afresh, as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit import __version__
from evalkit.report.plan import SuppressionPlan, bundle_threshold

__all__ = ["ensure_plan", "load_plan", "plan_path", "save_plan"]

#: Format of the plan file; raise it when the layout changes.
PLAN_FORMAT = 1
#: The modules a plan's content depends on (besides the bundle).
_PLANNER = ("plan.py", "plan_relations.py", "plan_rules.py", "plan_search.py", "disclosure.py")
_HERE = Path(__file__).resolve().parent


def plan_path(bundle_path: Path | str) -> Path:
    """Return where the plan of a bundle is saved: ``plan.json`` beside ``results.json``."""
    return Path(bundle_path).with_name("plan.json")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _made_from(bundle_bytes: bytes, threshold: int) -> dict[str, Any]:
    """Return what a plan is a function of: bundle, threshold, planner code, pandas."""
    code = hashlib.sha256()
    for name in _PLANNER:
        code.update(name.encode() + b"\0" + (_HERE / name).read_bytes())
    return {
        "format": PLAN_FORMAT,
        "bundle_sha256": _sha256(bundle_bytes),
        "threshold": int(threshold),
        "planner_sha256": code.hexdigest(),
        "evalkit_version": __version__,
        "pandas_version": pd.__version__,
    }


def _frame_json(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "index": [int(i) for i in frame.index],
        "columns": [str(c) for c in frame.columns],
        "data": frame.to_numpy(dtype=object).tolist(),
    }


def _frame(node: dict[str, Any]) -> pd.DataFrame:
    """Rebuild a status frame as the planner builds it (an object grid, then a DataFrame)."""
    index = [int(i) for i in node["index"]]
    columns = list(node["columns"])
    grid = np.full((len(index), len(columns)), "", dtype=object)
    for k, row in enumerate(node["data"]):
        grid[k, :] = row
    rows = pd.RangeIndex(len(index)) if index == list(range(len(index))) else pd.Index(index)
    return pd.DataFrame(grid, index=rows, columns=columns)


def save_plan(bundle_path: Path | str) -> Path:
    """Make the plan of the bundle at ``bundle_path`` and save it beside the bundle.

    The plan is made from the bundle as read back from its file, exactly as a
    document reads it.

    Parameters
    ----------
    bundle_path : Path or str
        A ``results.json``.

    Returns
    -------
    Path
        The plan file written (:func:`plan_path`).
    """
    from evalkit.report.bundle import read_bundle

    bundle_path = Path(bundle_path)
    raw = bundle_path.read_bytes()
    bundle = read_bundle(bundle_path)
    threshold = bundle_threshold(bundle)
    plan = SuppressionPlan.from_bundle(bundle, threshold)
    body = {
        "made_from": _made_from(raw, threshold),
        "statuses": {src: _frame_json(st) for src, st in plan.statuses.items()},
    }
    out = plan_path(bundle_path)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(body, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out)  # readers never see half a file
    return out


def load_plan(bundle_path: Path | str, threshold: int) -> SuppressionPlan | None:
    """Return the saved plan of the bundle at ``bundle_path``, or None when it does not apply.

    Parameters
    ----------
    bundle_path : Path or str
        The ``results.json`` the plan was made from.
    threshold : int
        The disclosure threshold the document uses.

    Returns
    -------
    SuppressionPlan or None
        The plan, when a plan file exists and was made from these very bundle bytes,
        this threshold, this planner code and this pandas version; else None (the
        caller makes the plan itself).
    """
    bundle_path = Path(bundle_path)
    path = plan_path(bundle_path)
    if not path.is_file() or not bundle_path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("made_from") != _made_from(bundle_path.read_bytes(), threshold):
            return None
        statuses = {src: _frame(node) for src, node in body["statuses"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # unreadable or from another layout: make the plan afresh
    return SuppressionPlan(int(threshold), statuses)


def ensure_plan(bundle_path: Path | str) -> Path:
    """Save the plan of a bundle unless the saved one was made from it (and this code).

    Parameters
    ----------
    bundle_path : Path or str
        A ``results.json``.

    Returns
    -------
    Path
        The plan file (:func:`plan_path`).
    """
    path = plan_path(bundle_path)
    try:
        made = json.loads(path.read_text(encoding="utf-8"))["made_from"]
        if made == _made_from(Path(bundle_path).read_bytes(), int(made["threshold"])):
            return path
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no plan yet, or an unreadable one: make it
    return save_plan(bundle_path)

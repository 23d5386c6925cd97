"""The release's suppression plan saved beside its bundle, made once and read by every document.

A plan is a pure function of the bundle (:mod:`evalkit.report.plan`), but making it
takes about a second, and a release is rendered in several processes: two report
kernels (one per language) and the process that writes the CSV and XLSX exports.
``evalkit run`` saves the plan once, next to the bundle (``build/<id>/plan.json``),
when the bundle is written; each document and the exports read it instead of making
it again. The file records what it was made from — the bundle's sha256, the
threshold, the earlier releases of the build (:mod:`evalkit.report.plan_prior`), the
planner's source code and the pandas version — and is used only when all of them
still match; otherwise the plan is made afresh, against the same earlier releases.
Saving a plan records its release in the build's ledger of releases.

The file also keeps the sha256 of the ledger as the recording left it. Each document
and export of a release checks its plan against the ledger; while the ledger's bytes
are those, this release is recorded in it behind the same earlier releases the plan
was made against, so the check hashes the file instead of parsing it (megabytes: the
tables of every release), and takes the delivery stamp from the bundle the caller has
already read instead of parsing the bundle's file again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit import __version__
from evalkit.report.plan import SuppressionPlan, bundle_sources, bundle_threshold
from evalkit.report.plan_prior import (
    PriorRelease,
    delivery_stamp,
    ledger_sha256,
    read_priors,
    record_release,
)

__all__ = ["ensure_plan", "load_plan", "plan_of", "plan_path", "save_plan"]

#: Format of the plan file; raise it when the layout changes.
PLAN_FORMAT = 2
#: The modules a plan's content depends on (besides the bundle).
_PLANNER = (
    "plan.py",
    "plan_prior.py",
    "plan_relations.py",
    "plan_rules.py",
    "plan_search.py",
    "disclosure.py",
)
_HERE = Path(__file__).resolve().parent


def plan_path(bundle_path: Path | str) -> Path:
    """Return where the plan of a bundle is saved: ``plan.json`` beside ``results.json``."""
    return Path(bundle_path).with_name("plan.json")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _made_from(bundle_bytes: bytes, threshold: int, priors: str) -> dict[str, Any]:
    """Return what a plan is a function of: bundle, threshold, earlier releases, code, pandas."""
    code = hashlib.sha256()
    for name in _PLANNER:
        code.update(name.encode() + b"\0" + (_HERE / name).read_bytes())
    return {
        "format": PLAN_FORMAT,
        "bundle_sha256": _sha256(bundle_bytes),
        "threshold": int(threshold),
        "priors_sha256": priors,
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
    document reads it, against the build's earlier releases; then this release is
    recorded in the build's ledger (:mod:`evalkit.report.plan_prior`).

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
    stamp = delivery_stamp(bundle)
    priors, digest, _ = read_priors(bundle_path, stamp)
    plan = SuppressionPlan.from_bundle(bundle, threshold, priors)
    # the release is recorded first, so that the plan can name the ledger it left; a
    # plan file missing after a failure in between is made again, against the same
    # earlier releases (they come before this one's entry)
    start = (bundle.get("settings") or {}).get("pilot_start")
    tables = bundle_sources(bundle)
    ledger = record_release(
        bundle_path, stamp, str(start) if start else None, tables, plan.statuses
    )
    body = {
        "made_from": _made_from(raw, threshold, digest),
        "ledger_sha256": ledger,
        "statuses": {src: _frame_json(st) for src, st in plan.statuses.items()},
    }
    out = plan_path(bundle_path)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(body, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out)  # readers never see half a file
    return out


def _applies(
    body: dict[str, Any],
    bundle_path: Path,
    threshold: int,
    bundle: dict[str, Any] | None = None,
) -> bool:
    """Tell whether a saved plan file's ``body`` is the plan of the bundle at ``bundle_path``.

    It is when it was made from these bundle bytes, this threshold, planner and pandas,
    against the releases the ledger now holds before this one, and the ledger holds this
    one. When the ledger is byte for byte the one the plan's saving left, all of that
    about the ledger holds by construction (:func:`save_plan` records the release in its
    place behind the releases the plan was made against), so only its hash is compared;
    else the ledger is read. ``bundle`` is the bundle as already read from
    ``bundle_path`` (for its delivery stamp), if the caller has it.
    """
    made = body["made_from"]
    raw = bundle_path.read_bytes()
    if body.get("ledger_sha256") is not None and body["ledger_sha256"] == ledger_sha256(
        bundle_path
    ):
        return bool(made == _made_from(raw, threshold, made["priors_sha256"]))
    stamp = delivery_stamp(bundle if bundle is not None else json.loads(raw))
    _, digest, recorded = read_priors(bundle_path, stamp)
    return recorded and made == _made_from(raw, threshold, digest)


def load_plan(
    bundle_path: Path | str, threshold: int, bundle: dict[str, Any] | None = None
) -> SuppressionPlan | None:
    """Return the saved plan of the bundle at ``bundle_path``, or None when it does not apply.

    Parameters
    ----------
    bundle_path : Path or str
        The ``results.json`` the plan was made from.
    threshold : int
        The disclosure threshold the document uses.
    bundle : dict, optional
        The bundle as the caller read it from ``bundle_path`` (default: parsed here
        when it is needed).

    Returns
    -------
    SuppressionPlan or None
        The plan, when a plan file exists and was made from these very bundle bytes,
        this threshold, these earlier releases, this planner code and this pandas
        version; else None (the caller makes the plan itself, see :func:`plan_of`).
    """
    bundle_path = Path(bundle_path)
    path = plan_path(bundle_path)
    if not path.is_file() or not bundle_path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if not _applies(body, bundle_path, threshold, bundle):
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
        body = json.loads(path.read_text(encoding="utf-8"))
        if _applies(body, Path(bundle_path), int(body["made_from"]["threshold"])):
            return path
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no plan yet, or an unreadable one: make it
    return save_plan(bundle_path)


def plan_of(bundle_path: Path | str, bundle: dict[str, Any], threshold: int) -> SuppressionPlan:
    """Return the release's plan: the saved one when it applies, else made and saved here.

    Whatever renders or exports a release goes through here, so every release given
    out is planned against the build's earlier ones and recorded in its ledger
    (``evalkit analyze`` followed by ``evalkit report`` as much as ``evalkit run``).
    Where the bundle's folder cannot be written, the plan is made against the earlier
    releases without being saved.

    Parameters
    ----------
    bundle_path : Path or str
        The bundle's ``results.json``.
    bundle : dict
        The bundle as read from it.
    threshold : int
        The disclosure threshold the document uses.

    Returns
    -------
    SuppressionPlan
        The plan.
    """
    plan = load_plan(bundle_path, threshold, bundle)
    if plan is not None:
        return plan
    if not Path(bundle_path).is_file():
        return SuppressionPlan.from_bundle(bundle, threshold)
    with contextlib.suppress(OSError):  # a read-only build: planned here, not saved
        save_plan(bundle_path)
        plan = load_plan(bundle_path, threshold, bundle)
    if plan is not None:
        return plan
    # another threshold than the bundle's (or nothing saved): against the same releases
    priors: list[PriorRelease] = read_priors(bundle_path, delivery_stamp(bundle))[0]
    return SuppressionPlan.from_bundle(bundle, threshold, priors)

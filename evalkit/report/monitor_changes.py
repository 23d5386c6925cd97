"""What changed since the previous monitor of the same protocol.

Each rendered monitor leaves a small history file beside its HTML
(``<stem>.monitor.history.json``): per data delivery, the monitor's key figures as
shown (suppressed values are stored as missing, so the file reveals nothing the monitor
did not). The next monitor compares its figures with the latest entry of a *different*
delivery, so rendering the same data twice compares with the same earlier monitor and
gives the same bytes.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.errors import ReportError
from evalkit.report.monitor_tables import (
    SOURCES,
    TableSpec,
    breaches_spec,
    norms_spec,
    registrations_spec,
    registrations_status,
    status,
)
from evalkit.report.plan import SuppressionPlan
from evalkit.report.plan_prior import delivery_stamp

__all__ = [
    "HISTORY_VERSION",
    "changes",
    "delivery_stamp",
    "history_path",
    "key_figures",
    "previous_entry",
    "read_history",
    "record_monitor",
]

HISTORY_VERSION = 1
#: Entries kept in a history file (a year of weekly monitors).
MAX_ENTRIES = 60
_GROUPS = ("pilot", "comparison")


def history_path(out_dir: Path, stem: str) -> Path:
    """Return the history file of a protocol's monitors: ``<stem>.monitor.history.json``."""
    return Path(out_dir) / f"{stem}.monitor.history.json"


def _shown_count(value: Any, threshold: int) -> int | None:
    """Return a count as a report shows it: missing when it is 1 to ``threshold - 1``."""
    if value is None or pd.isna(value):
        return None
    n = int(value)
    return None if 0 < n < threshold else n


def _records(bundle: Mapping[str, Any], part: str | None, name: str, *columns: str) -> pd.DataFrame:
    """Return a bundle table as a frame; empty when it is absent or lacks a needed column."""
    node = bundle.get(part) if part else bundle
    records = (node or {}).get(name) if isinstance(node, Mapping) else None
    frame = pd.DataFrame(records if isinstance(records, list) else [])
    return frame if set(columns) <= set(frame.columns) else pd.DataFrame()


def _figure(what: str, group: str | None, detail: str, kind: str, value: Any) -> dict[str, Any]:
    return {"what": what, "group": group, "detail": detail, "kind": kind, "value": value}


def _shown(
    spec: TableSpec, threshold: int, plan: SuppressionPlan | None = None, source: str | None = None
) -> pd.DataFrame | None:
    """Return a monitor table's values with every hidden cell missing (as the page shows)."""
    cells = status(spec, threshold, plan, source)
    frame = spec[0]
    return None if cells is None or frame is None else frame.mask(cells != "")


def _value(x: Any, kind: str) -> Any:
    if x is None or pd.isna(x):
        return None
    return int(x) if kind == "count" else float(x)


def _registrations(bundle: Mapping[str, Any], plan: SuppressionPlan) -> list[dict[str, Any]]:
    frame = registrations_spec(bundle)[0]
    if frame is None or len(frame) < 2:
        return []
    shown = frame.mask(registrations_status(bundle, frame, plan) != "")
    if len(shown) < 2:
        return []
    latest = shown.iloc[0]  # newest month first; the Σ row is last
    return [
        _figure(what, g, "", "count", _value(latest[f"{column}_{g}"], "count"))
        for g in _GROUPS
        for what, column in (("registrations_month", "n_registrations"), ("active", "n_active"))
        if f"{column}_{g}" in shown.columns
    ]


def _breaches(
    bundle: Mapping[str, Any], threshold: int, plan: SuppressionPlan
) -> list[dict[str, Any]]:
    spec = breaches_spec(bundle)
    shown = _shown(spec, threshold, plan, SOURCES["breaches"])
    if shown is None or spec[0] is None:
        return []
    totals = spec[0]["organisation"] == "all"
    return [
        _figure("past_norm", str(r["group"]), str(r["norm"]), "count", _value(v, "count"))
        for (_, r), v in zip(
            spec[0].loc[totals].iterrows(), shown.loc[totals, "n_past_norm"], strict=True
        )
    ]


def _norm_shares(
    bundle: Mapping[str, Any], threshold: int, plan: SuppressionPlan
) -> list[dict[str, Any]]:
    spec = norms_spec(bundle)
    shown = _shown(spec, threshold, plan, SOURCES["norms"])
    if shown is None or spec[0] is None or "share_within" not in shown.columns:
        return []
    during = spec[0]["period"] == "during"
    return [
        _figure("share_within", str(r["group"]), str(r["norm"]), "share", _value(v, "share"))
        for (_, r), v in zip(
            spec[0].loc[during].iterrows(), shown.loc[during, "share_within"], strict=True
        )
    ]


def _outcomes(bundle: Mapping[str, Any], threshold: int) -> list[dict[str, Any]]:
    rows = _records(bundle, None, "trends", "outcome", "month", "group", "mean", "n")
    if rows.empty:
        return []
    primary = [
        e.get("outcome")
        for e in (bundle.get("confirmatory") or {}).get("effects") or []
        if e.get("role") == "primary"
    ]
    rows = rows.loc[rows["outcome"].isin(primary)] if primary else rows
    out = []
    for outcome, part in rows.groupby("outcome", sort=True):
        last = part.loc[part["month"].astype(str) == part["month"].astype(str).max()]
        for g in _GROUPS:
            row = last.loc[last["group"] == g]
            if row.empty:
                continue
            n = int(row["n"].iloc[0])
            value = None if 0 < n < threshold else float(row["mean"].iloc[0])
            out.append(_figure("outcome_mean", g, str(outcome), "mean", value))
    return out


def _respondents(bundle: Mapping[str, Any], threshold: int) -> list[dict[str, Any]]:
    rows = _records(bundle, "questionnaire", "response", "group", "wave", "n_responded")
    if rows.empty:
        return []
    rows = rows.loc[rows["group"].isin(_GROUPS)]
    rows = rows.assign(_g=rows["group"].map(_GROUPS.index)).sort_values(["_g"], kind="stable")
    return [
        _figure(
            "respondents",
            str(r.group),
            str(r.wave),
            "count",
            _shown_count(r.n_responded, threshold),
        )
        for r in rows.itertuples(index=False)
    ]


def key_figures(
    bundle: Mapping[str, Any], threshold: int, plan: SuppressionPlan | None = None
) -> list[dict[str, Any]]:
    """Collect a monitor's key figures as it shows them (suppressed values missing).

    Parameters
    ----------
    bundle : mapping
        The results bundle.
    threshold : int
        Disclosure threshold: counts 1 to ``threshold - 1`` and values computed from
        them are stored as missing.
    plan : SuppressionPlan, optional
        The release's suppression plan (computed from the bundle when not given): the
        registrations, breaches and norm shares hide what the plan hides in every
        document.

    Returns
    -------
    list of dict
        Records ``what`` (``registrations_month``, ``active``, ``past_norm``,
        ``share_within``, ``outcome_mean``, ``respondents``), ``group``, ``detail`` (a
        norm, outcome or wave), ``kind`` (``count``, ``share``, ``mean``) and ``value``.
    """
    plan = plan or SuppressionPlan.from_bundle(bundle, threshold)
    return [
        *_registrations(bundle, plan),
        *_breaches(bundle, threshold, plan),
        *_norm_shares(bundle, threshold, plan),
        *_outcomes(bundle, threshold),
        *_respondents(bundle, threshold),
    ]


def _key(figure: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(figure["what"]), str(figure.get("group")), str(figure.get("detail")))


def changes(
    current: Sequence[Mapping[str, Any]], previous: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Compare key figures with those of the previous monitor.

    Parameters
    ----------
    current, previous : sequence of mapping
        Figures from :func:`key_figures` (now, and as stored by the previous monitor).

    Returns
    -------
    list of dict
        One record per current figure, in its order: ``what, group, detail, kind,
        previous, current, change`` (``change`` missing where either value is missing).
    """
    before = {_key(f): f.get("value") for f in previous}
    out = []
    for f in current:
        old = before.get(_key(f))
        new = f.get("value")
        change = None if old is None or new is None else new - old
        out.append(
            {
                **{k: f.get(k) for k in ("what", "group", "detail", "kind")},
                "previous": old,
                "current": new,
                "change": change,
            }
        )
    return out


def read_history(path: Path) -> dict[str, Any]:
    """Read a history file; an empty history when there is none yet.

    Raises
    ------
    ReportError
        When the file exists but is not a monitor history (the message says which file).
    """
    if not path.is_file():
        return {"version": HISTORY_VERSION, "monitors": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(
            f"{path}: cannot read the monitor history ({exc}); delete it to start anew"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("monitors"), list):
        raise ReportError(f"{path}: not a monitor history file; delete it to start anew")
    return data


def previous_entry(history: Mapping[str, Any], stamp: str) -> dict[str, Any] | None:
    """Return the latest monitor of a different data delivery than ``stamp``, if any."""
    for entry in reversed(history.get("monitors") or []):
        if isinstance(entry, dict) and entry.get("stamp") != stamp:
            return entry
    return None


def record_monitor(path: Path, bundle: Mapping[str, Any], threshold: int) -> None:
    """Add (or replace) this delivery's key figures in the history file.

    Parameters
    ----------
    path : Path
        The history file (see :func:`history_path`).
    bundle : mapping
        The results bundle the monitor was rendered from.
    threshold : int
        Disclosure threshold (see :func:`key_figures`).
    """
    with _HISTORY_LOCK:  # the languages of one monitor are rendered by parallel threads
        _record(path, bundle, threshold)


def _record(path: Path, bundle: Mapping[str, Any], threshold: int) -> None:
    history = read_history(path)
    stamp = delivery_stamp(bundle)
    entry = {
        "stamp": stamp,
        "data_up_to": (bundle.get("monitoring") or {}).get("data_up_to") or {},
        "figures": key_figures(bundle, threshold),
    }
    monitors = [m for m in history["monitors"] if isinstance(m, dict) and m.get("stamp") != stamp]
    history = {
        "version": HISTORY_VERSION,
        "protocol_id": bundle.get("protocol_id"),
        "monitors": [*monitors, entry][-MAX_ENTRIES:],
    }
    # write then rename, through a temporary file of its own: a reader (or another process
    # rendering the same release) never sees half a file, and two writers never share one
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(json.dumps(history, indent=1, sort_keys=True) + "\n")
    os.replace(temp, path)


#: One writer of history files at a time within a process.
_HISTORY_LOCK = threading.Lock()

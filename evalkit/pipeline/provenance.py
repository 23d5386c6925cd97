"""Where a bundle's data and registration come from: files read, ingests, the lock's timing.

The bundle's ``data.sources`` (each file's ingest record and top rejection reasons)
and its ``registration`` (the lock verified and timed against the pilot, the data's
own months, the first ingest and the locks the store saw) are read here, for the
pilot bundle (:mod:`evalkit.pipeline.assemble`) and the national one alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.errors import ProtocolError
from evalkit.ingest import file_sha256
from evalkit.pipeline.columns import columns_used
from evalkit.pipeline.paths import ProtocolPaths
from evalkit.protocol import Protocol

__all__ = [
    "TOP_REASONS",
    "data_part",
    "iso_utc",
    "registration_of",
    "registration_record",
    "stored_sources",
]

#: How many rejection reasons per source the bundle keeps.
TOP_REASONS = 5


def iso_utc(value: Any) -> str | None:
    """Return a timestamp from the store as ISO 8601 in UTC (``2026-01-31T12:00:00Z``), or None."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def stored_sources(
    store: Any, protocol: Protocol
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Per source file: the ingest log row and its top rejection reasons; and sha256s per kind.

    Parameters
    ----------
    store : Store
        The open store.
    protocol : Protocol
        The protocol whose ``data_sources`` are looked up.

    Returns
    -------
    (list of dict, dict)
        One record per file (``rows_read`` None when not ingested) and kind -> sha256s.

    Raises
    ------
    ProtocolError
        When a source file does not exist.
    """
    log = store.ingest_log()
    quarantine = store.quarantine()
    rows: list[dict[str, Any]] = []
    shas: dict[str, list[str]] = {}
    for source in protocol.data_sources:
        kind = source.kind
        for file in source.files:
            if not Path(file).is_file():
                raise ProtocolError(f"data_sources ({kind}): file not found: {file}")
            sha = file_sha256(Path(file))
            shas.setdefault(kind, []).append(sha)
            hit = log.loc[log["sha256"] == sha]
            entry: dict[str, Any] = {"kind": kind, "file": str(file), "sha256": sha}
            if hit.empty:
                entry.update(
                    {"rows_read": None, "accepted": None, "rejected": None, "top_reasons": []}
                )
                rows.append(entry)
                continue
            first = hit.sort_values("ingested_at").iloc[0]
            entry.update(
                {
                    "bytes": int(first["bytes"]),
                    "rows_read": int(first["rows_read"]),
                    "accepted": int(first["accepted"]),
                    "rejected": int(first["rejected"]),
                    "ingested_at": iso_utc(first["ingested_at"]),
                    "schema_version": int(first["schema_version"]),
                }
            )
            q = (
                quarantine.loc[quarantine["_source_sha256"] == sha]
                if "_source_sha256" in quarantine
                else quarantine.iloc[0:0]
            )
            if not q.empty:
                top = q.groupby(["rule", "column"], dropna=False).size().reset_index(name="n")
                top = top.sort_values(
                    ["n", "rule", "column"], ascending=[False, True, True], kind="mergesort"
                )
                entry["top_reasons"] = top.head(TOP_REASONS).to_dict("records")
            else:
                entry["top_reasons"] = []
            rows.append(entry)
    return rows, shas


def registration_of(
    paths: ProtocolPaths,
    store: Any,
    shas: Mapping[str, list[str]],
    protocol: Protocol,
    tables: Mapping[str, pd.DataFrame | None],
) -> dict[str, Any]:
    """Return the registration record, timed against the pilot's and the data's own months.

    Parameters
    ----------
    paths : ProtocolPaths
        The protocol's paths (its lock sits beside the protocol file).
    store : Store
        The open store (ingest times and the lock seals it saw).
    shas : mapping
        sha256s of the protocol's files per kind (:func:`stored_sources`).
    protocol : Protocol
        The typed protocol.
    tables : mapping
        The stored tables per kind, for the data's latest months.

    Returns
    -------
    dict
        The bundle's ``registration`` (:func:`registration_record`).
    """
    first = store.first_ingest_time("outcome_panel", shas.get("outcome_panel") or None)
    return registration_record(
        paths.protocol,
        protocol,
        first_ingest_at=iso_utc(first),
        data_months=_latest_months(tables),
        witness=_lock_witness(paths, store, protocol.id),
    )


def registration_record(
    protocol_file: Path,
    protocol: Protocol,
    *,
    first_ingest_at: str | None,
    data_months: list[str],
    witness: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a bundle's ``registration``: the lock's record timed against pilot and data.

    Parameters
    ----------
    protocol_file : Path
        The protocol file (its lock sits beside it).
    protocol : Protocol
        The typed protocol.
    first_ingest_at : str or None
        First ingest of the outcome data (ISO, UTC), None when the store keeps no time.
    data_months : list of str
        ``YYYY-MM`` of the latest month in each ingested source.
    witness : mapping, optional
        The store's record of the locks it saw (:func:`_lock_witness`); without one
        (a store that records no seals) nothing counts as replaced.

    Returns
    -------
    dict
        The record docs/bundle.md describes under ``registration``.

    Raises
    ------
    ProtocolError
        When the registration is violated (``verify_for_analysis``).
    """
    from evalkit.protocol import verify_for_analysis
    from evalkit.protocol.registration import lock_path
    from evalkit.protocol.timing import git_added_at, registration_timing

    registration = verify_for_analysis(protocol_file)
    info = dict(registration.to_dict())
    info["first_data_ingest_at"] = first_ingest_at
    info.update(witness or {"lock_seal": None, "lock_seals_seen": [], "lock_replaced_at": None})
    periods = protocol.periods
    timing = registration_timing(
        registered_at=registration.registered_at,
        git_added=git_added_at(lock_path(protocol_file)) if registration.registered_at else None,
        pilot_start=min(t.start for t in protocol.units.treated),
        first_post_month=(periods.post or periods.intervention).start,
        data_months=data_months,
        first_ingest_at=first_ingest_at,
        lock_replaced_at=info["lock_replaced_at"],
    )
    info.update(timing)
    info["registry"] = protocol.registry
    return info


def _lock_witness(paths: ProtocolPaths, store: Any, protocol_id: str) -> dict[str, Any]:
    """Compare the lock with the locks the store saw at this protocol's ingests.

    A lock other than the present one seen at an earlier ingest means the present
    one was put in place after that: the registration counts from then
    (``lock_replaced_at``), whatever time the lock itself states.
    """
    from evalkit.protocol.registration import read_lock

    lock = read_lock(paths.protocol)
    seal = None if lock is None else lock.seal
    seen = store.lock_seals(protocol_id)
    others = [moment for other, moment in seen if other != seal]
    return {
        "lock_seal": seal,
        "lock_seals_seen": [{"seal": other, "seen_at": iso_utc(moment)} for other, moment in seen],
        "lock_replaced_at": iso_utc(max(others)) if others and seal is not None else None,
    }


def _latest_months(tables: Mapping[str, pd.DataFrame | None]) -> list[str]:
    """``YYYY-MM`` of the latest dated row of each ingested table."""
    columns = {"outcome_panel": "month", "case_events": "event_date", "questionnaire": "admin_date"}
    out = []
    for kind, column in columns.items():
        table = tables.get(kind)
        if table is not None and column in table and table[column].notna().any():
            out.append(pd.Timestamp(pd.to_datetime(table[column]).max()).strftime("%Y-%m"))
    return out


def data_part(protocol: Protocol, sources: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the bundle's ``data`` part: the sources read and the columns each kind used.

    Parameters
    ----------
    protocol : Protocol
        The protocol.
    sources : list of dict
        One record per source file (its ingest report).

    Returns
    -------
    dict
        ``sources`` and ``columns_used`` (kind → columns).
    """
    kinds = sorted({s.kind for s in protocol.data_sources})
    return {"sources": sources, "columns_used": {k: columns_used(protocol, k) for k in kinds}}

"""Assemble a protocol's results bundle from the store (see docs/bundle.md).

The analysis code (``evalkit.analysis``, with scipy, statsmodels and pyfixest) is
imported where a bundle is computed, not with this module: ``evalkit run``'s main
process only reads inputs (:func:`load_inputs`) while worker processes compute.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from evalkit import __version__
from evalkit.errors import ProtocolError
from evalkit.ingest import file_sha256, keyed_labels, load_key
from evalkit.pipeline.columns import columns_used
from evalkit.pipeline.paths import ProtocolPaths
from evalkit.protocol import Protocol
from evalkit.protocol.model import Throughput

__all__ = [
    "BundleInputs",
    "assemble_bundle",
    "compute_bundle",
    "limitations",
    "load_inputs",
    "registration_record",
]

#: How many rejection reasons per source the bundle keeps.
TOP_REASONS = 5


def _iso(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _sources(store: Any, protocol: Protocol) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Per source file: the ingest log row and its top rejection reasons; and sha256s per kind."""
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
                    "ingested_at": _iso(first["ingested_at"]),
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


def _registration(
    paths: ProtocolPaths,
    store: Any,
    shas: Mapping[str, list[str]],
    protocol: Protocol,
    tables: Mapping[str, pd.DataFrame | None],
) -> dict[str, Any]:
    """Return the registration record, timed against the pilot's and the data's own months."""
    first = store.first_ingest_time("outcome_panel", shas.get("outcome_panel") or None)
    return registration_record(
        paths.protocol,
        protocol,
        first_ingest_at=_iso(first),
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
        "lock_seals_seen": [{"seal": other, "seen_at": _iso(moment)} for other, moment in seen],
        "lock_replaced_at": _iso(max(others)) if others and seal is not None else None,
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


def limitations(
    protocol: Protocol,
    sources: list[dict[str, Any]],
    registration: Mapping[str, Any],
    power: list[dict[str, Any]] | None,
    events: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Facts that limit what the results can say, as codes the report's translation table words.

    ``events`` (the case events, when the protocol has them) adds how many events fall
    after the throughput reference date: the analysis leaves those out.
    """
    from evalkit.analysis.intervals import events_after
    from evalkit.analysis.windows import parse_month

    out: list[dict[str, Any]] = []
    n_treated = len(protocol.units.treated)
    n_clusters = n_treated + len(protocol.units.comparison)
    if n_treated < protocol.analysis.few_treated_threshold:
        out.append(
            {
                "code": "few_treated_clusters",
                "values": {"n_treated": n_treated, "n_clusters": n_clusters},
            }
        )
    post = protocol.periods.post or protocol.periods.intervention
    post_months = (
        parse_month(post.end).to_period("M") - parse_month(post.start).to_period("M")
    ).n + 1
    if post_months < 12:
        out.append({"code": "short_post_period", "values": {"months": int(post_months)}})
    smallest = {o.id: o.smallest_effect for o in protocol.outcomes}
    for row in power or []:
        target = smallest.get(str(row.get("outcome")))
        effect, pw = row.get("effect"), row.get("power")
        if target is None or effect is None or pw is None or abs(abs(effect) - abs(target)) > 1e-12:
            continue
        if pw < 0.8:
            values = {
                "outcome": row["outcome"],
                "power": pw,
                "mde": row.get("mde"),
                "smallest_effect": target,
            }
            out.append({"code": "power_below_target", "values": values})
    read = sum(s.get("rows_read") or 0 for s in sources)
    rejected = sum(s.get("rejected") or 0 for s in sources)
    if read and rejected / read > 0.01:
        out.append(
            {"code": "data_quality", "values": {"rejected_share": rejected / read, "n": rejected}}
        )
    if registration.get("status") == "not_registered":
        out.append({"code": "not_pre_registered", "values": {}})
    elif registration.get("retrospective"):
        months = registration.get("months_after_pilot_start")
        out.append({"code": "retrospective_registration", "values": {"months": months}})
    elif registration.get("registered_before_data") is False:
        out.append({"code": "registered_after_data", "values": {}})
    if protocol.synthetic_data:
        out.append({"code": "synthetic_data", "values": {}})
    if events is not None and not events.empty:
        reference = _reference_date(events, protocol)
        late = events_after(events, reference)
        if late:
            values = {"n_events": late, "reference_date": reference.isoformat()}
            out.append({"code": "events_after_reference", "values": values})
    return out


def _power(paths: ProtocolPaths, protocol: Protocol) -> list[dict[str, Any]] | None:
    """Power figures from `evalkit protocol power` (build/<id>/power.json) or the protocol's own."""
    stored = paths.build / paths.protocol_id / "power.json"
    if stored.is_file():
        data = json.loads(stored.read_text(encoding="utf-8"))
        return list(data.get("rows", data) if isinstance(data, dict) else data)
    registered = protocol.power.results
    return [dict(row) for row in registered] if registered else None


def _reference_date(events: pd.DataFrame, protocol: Protocol) -> dt.date:
    configured = protocol.throughput.reference_date
    if configured:
        return pd.Timestamp(configured).date()
    return pd.Timestamp(events["event_date"].max()).date()


def _pilot_starts(protocol: Protocol) -> dict[str, dt.date]:
    from evalkit.analysis.windows import parse_month

    return {t.unit: parse_month(t.start).date() for t in protocol.units.treated}


def _registered(settings: Throughput, *names: str) -> dict[str, Any]:
    """Return the throughput settings the protocol sets (the analysis keeps its own defaults)."""
    return {n: getattr(settings, n) for n in names if getattr(settings, n) is not None}


def _case_intervals(events: pd.DataFrame | None, protocol: Protocol) -> pd.DataFrame | None:
    """Return every case's throughput intervals, as the throughput tables and breaches use them.

    Computed once per bundle and handed to both (:func:`_throughput`, :func:`_monitoring`):
    they take the same events, reference date, pilot starts, comparison units and
    calendar. None without case events.
    """
    if events is None or events.empty:
        return None
    from evalkit.analysis.intervals import case_intervals, prepare_events

    reference = _reference_date(events, protocol)
    return case_intervals(
        prepare_events(events, reference),
        reference_date=reference,
        pilot_starts=_pilot_starts(protocol),
        comparison_units=list(protocol.units.comparison),
        **_registered(protocol.throughput, "liberation_day"),
    )


def _throughput(
    events: pd.DataFrame | None, protocol: Protocol, intervals: pd.DataFrame | None
) -> dict[str, Any]:
    if events is None or events.empty:
        return {}
    from evalkit.analysis.throughput import throughput_tables

    settings = _registered(
        protocol.throughput, "norms", "out_of_sight_days", "caseload_benchmark", "liberation_day"
    )
    return dict(
        throughput_tables(
            events,
            reference_date=_reference_date(events, protocol),
            pilot_starts=_pilot_starts(protocol),
            comparison_units=list(protocol.units.comparison),
            intervals=intervals,
            **settings,
        )
    )


def _questionnaire(
    responses: pd.DataFrame | None, instruments: Mapping[str, Any] | None
) -> dict[str, Any]:
    if responses is None or responses.empty or instruments is None:
        return {}
    from evalkit.analysis.questionnaire import questionnaire_tables

    return dict(questionnaire_tables(responses, instruments=instruments))


def _monitoring(inputs: BundleInputs, intervals: pd.DataFrame | None) -> dict[str, Any]:
    """Registrations and active cases per month, and completeness of every source."""
    from evalkit.analysis.breaches import current_breaches
    from evalkit.analysis.monitoring import completeness_table, data_up_to, registrations_table

    tables = {"outcome_panel": inputs.panel}
    for kind, table in (("case_events", inputs.events), ("questionnaire", inputs.responses)):
        if table is not None:
            tables[kind] = table
    protocol = inputs.protocol
    pilot = list(protocol.treated_units)
    events = inputs.events
    has_events = events is not None and not events.empty
    reference = _reference_date(events, protocol) if has_events else None
    breaches: list[dict[str, Any]] = []
    if has_events and reference is not None:
        breaches = current_breaches(
            events,
            reference_date=reference,
            pilot_starts=_pilot_starts(protocol),
            comparison_units=list(protocol.units.comparison),
            intervals=intervals,
            **_registered(protocol.throughput, "norms", "liberation_day"),
        )
    return {
        "data_up_to": data_up_to(
            panel=inputs.panel, events_reference=reference, responses=inputs.responses
        ),
        "registrations": registrations_table(events, pilot_units=pilot) if has_events else [],
        "breaches": breaches,
        "completeness": completeness_table(tables),
    }


def _label_coaches(events: pd.DataFrame | None, scope: str | None) -> pd.DataFrame | None:
    """Replace coach ids by keyed labels before any table is computed from them.

    The store keeps the ids an organisation delivered; every bundle table, report and
    export sees only ``coach 3f9a2c``-style labels made with the scope's pseudonym key.
    """
    if events is None or "coach_id" not in events.columns or events["coach_id"].isna().all():
        return events
    key = load_key(scope)
    return events.assign(coach_id=keyed_labels(events["coach_id"], key=key, kind="coach"))


@dataclass(frozen=True)
class BundleInputs:
    """Everything a bundle is computed from, read from the store and the files.

    Plain data (picklable), so the computation can run in another process while
    the store takes the next protocol's data.
    """

    protocol_id: str
    protocol: Protocol
    code_commit: str | None
    sources: list[dict[str, Any]]
    registration: dict[str, Any]
    panel: pd.DataFrame
    events: pd.DataFrame | None
    responses: pd.DataFrame | None
    instruments: dict[str, Any] | None
    power: list[dict[str, Any]] | None
    exploratory_specs: list[dict[str, Any]]


def load_inputs(paths: ProtocolPaths, *, code_commit: str | None = None) -> BundleInputs:
    """Read what a protocol's bundle needs from the store and the protocol's files.

    Parameters
    ----------
    paths : ProtocolPaths
        The protocol's paths.
    code_commit : str, optional
        The git commit of the code, recorded for traceability.

    Returns
    -------
    BundleInputs
        The inputs of :func:`compute_bundle`.

    Raises
    ------
    ProtocolError
        When the protocol is invalid, its registration is violated, or its data
        are not in the store.
    """
    from evalkit.ingest import Store
    from evalkit.protocol import load_protocol

    protocol = load_protocol(paths.protocol)
    if not paths.store.is_file():
        raise ProtocolError(
            f"{paths.store}: no store yet; ingest the protocol's data sources first"
        )
    with Store(paths.store) as store:
        sources, shas = _sources(store, protocol)
        missing = [s["file"] for s in sources if s.get("rows_read") is None]
        if missing:
            raise ProtocolError(
                f"data not ingested yet: {', '.join(missing)} (run `evalkit ingest` first)"
            )
        panel = store.table("outcome_panel", sha256s=shas.get("outcome_panel", []))
        tables = {
            kind: store.table(kind, sha256s=shas[kind]) if kind in shas else None
            for kind in ("case_events", "questionnaire")
        }
        registration = _registration(
            paths, store, shas, protocol, {"outcome_panel": panel, **tables}
        )
    instruments = None
    if tables["questionnaire"] is not None:
        schema = Path(__file__).resolve().parents[2] / "data_schemas" / "questionnaire.yaml"
        instruments = yaml.safe_load(schema.read_text(encoding="utf-8"))["instruments"]
    return BundleInputs(
        protocol_id=paths.protocol_id,
        protocol=protocol,
        code_commit=code_commit,
        sources=sources,
        registration=registration,
        panel=panel,
        events=_label_coaches(tables["case_events"], paths.scope),
        responses=tables["questionnaire"],
        instruments=instruments,
        power=_power(paths, protocol),
        exploratory_specs=_exploratory_specs(paths),
    )


def compute_bundle(inputs: BundleInputs) -> dict[str, Any]:
    """Compute everything a protocol's reports show, as one bundle (no I/O).

    Parameters
    ----------
    inputs : BundleInputs
        From :func:`load_inputs`.

    Returns
    -------
    dict
        The bundle (see docs/bundle.md).

    Notes
    -----
    BLAS runs on one thread here: a multi-threaded BLAS splits sums by its thread
    count, so the last digits of estimates would depend on the machine's cores and
    on whether the bundle is computed by ``evalkit analyze`` or in a worker of
    ``evalkit run``. The matrices are small; one thread costs nothing measurable.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _compute(inputs)


def _compute(inputs: BundleInputs) -> dict[str, Any]:
    from evalkit.analysis.descriptives import balance_table, trend_table
    from evalkit.analysis.effects import confirmatory_analysis
    from evalkit.analysis.exploratory import exploratory_analysis
    from evalkit.analysis.measures import build_analysis_frame
    from evalkit.analysis.sources import source_frames

    protocol = inputs.protocol
    af = build_analysis_frame(inputs.panel, protocol)
    outcome_ids = [o.id for o in protocol.outcomes if o.id in af.data.columns]
    sources = source_frames(
        protocol, af.windows, inputs.events, inputs.responses, inputs.instruments
    )
    analysis = confirmatory_analysis(af, protocol, sources)
    intervals = _case_intervals(inputs.events, protocol)
    # the bundle's protocol section is a plain mapping (JSON) of the typed protocol
    as_registered = protocol.to_dict()
    return {
        "evalkit_version": __version__,
        "protocol_id": inputs.protocol_id,
        "generated": {"code_commit": inputs.code_commit, "seed": protocol.analysis.seed},
        "protocol": as_registered,
        "registration": inputs.registration,
        "data": data_part(protocol, inputs.sources),
        "sample": {"flow": af.flow, "balance": balance_table(af, outcome_ids)},
        **analysis,
        "trends": trend_table(af, outcome_ids),
        "throughput": _throughput(inputs.events, protocol, intervals),
        "questionnaire": _questionnaire(inputs.responses, inputs.instruments),
        "monitoring": _monitoring(inputs, intervals),
        "power": inputs.power,
        "exploratory": exploratory_analysis(af, protocol, inputs.exploratory_specs),
        "limitations": limitations(
            protocol, inputs.sources, inputs.registration, inputs.power, inputs.events
        ),
        "settings": {
            "disclosure_threshold": protocol.disclosure_threshold,
            "languages": list(protocol.languages),
            "pilot_start": protocol.pilot_start,
        },
    }


def assemble_bundle(paths: ProtocolPaths, *, code_commit: str | None = None) -> dict[str, Any]:
    """Compute everything a protocol's reports show, from the store, as one bundle.

    Parameters
    ----------
    paths : ProtocolPaths
        The protocol's paths.
    code_commit : str, optional
        The git commit of the code, recorded for traceability.

    Returns
    -------
    dict
        The bundle (see docs/bundle.md).

    Raises
    ------
    ProtocolError
        When the protocol is invalid, its registration is violated, or its data
        are not in the store.
    """
    return compute_bundle(load_inputs(paths, code_commit=code_commit))


def _exploratory_specs(paths: ProtocolPaths) -> list[dict[str, Any]]:
    """Exploratory analyses for this protocol from ``analyses/*.yaml`` next to ``protocols/``."""
    folder = paths.protocol.resolve().parent
    while folder != folder.parent and not (folder / "analyses").is_dir():
        folder = folder.parent
    specs = []
    for file in sorted((folder / "analyses").glob("*.yaml")):
        spec = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        if spec.get("protocol") == paths.protocol_id:
            specs.append({**spec, "file": file.name})
    return specs

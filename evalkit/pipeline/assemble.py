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

from evalkit import __version__
from evalkit.errors import ProtocolError
from evalkit.ingest import keyed_labels, load_key
from evalkit.pipeline.paths import ProtocolPaths
from evalkit.pipeline.provenance import data_part, registration_of, stored_sources
from evalkit.protocol import Protocol
from evalkit.protocol._yaml import read_yaml, safe_load
from evalkit.protocol.model import Throughput

__all__ = [
    "BundleInputs",
    "assemble_bundle",
    "compute_bundle",
    "limitations",
    "load_inputs",
]


def limitations(
    protocol: Protocol,
    sources: list[dict[str, Any]],
    registration: Mapping[str, Any],
    power: list[dict[str, Any]] | None,
    events: pd.DataFrame | None = None,
    panel: pd.DataFrame | None = None,
    responses: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Facts that limit what the results can say, as codes the report's translation table words.

    ``events`` (the case events, when the protocol has them) adds how many events fall
    after the throughput reference date: the analysis leaves those out. ``panel`` (the
    outcome panel the analysis read) adds how many person-months it holds more than once:
    a source under overlap rule ``keep_both`` keeps every delivery of a key, and the
    analysis then counts that person-month once per delivery. ``events`` and
    ``responses`` (the questionnaire answers, long) add the same count for case events
    (by ``event_id``) and answers (by person, wave and item).
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
    if panel is not None and {"person_id", "month"} <= set(panel.columns):
        repeated = int(panel.duplicated(["person_id", "month"]).sum())
        if repeated:
            out.append({"code": "repeated_person_months", "values": {"n": repeated}})
    for code, frame, key in [
        ("repeated_case_events", events, ["event_id"]),
        ("repeated_questionnaire_answers", responses, ["person_id", "wave", "item"]),
    ]:
        if frame is not None and set(key) <= set(frame.columns):
            repeated = int(frame.duplicated(key).sum())
            if repeated:
                out.append({"code": code, "values": {"n": repeated}})
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
        sources, shas = stored_sources(store, protocol)
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
        registration = registration_of(
            paths, store, shas, protocol, {"outcome_panel": panel, **tables}
        )
    instruments = None
    if tables["questionnaire"] is not None:
        schema = Path(__file__).resolve().parents[2] / "data_schemas" / "questionnaire.yaml"
        instruments = safe_load(schema.read_text(encoding="utf-8"))["instruments"]
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
            protocol,
            inputs.sources,
            inputs.registration,
            inputs.power,
            inputs.events,
            inputs.panel,
            inputs.responses,
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
        # written by hand beside the protocols: read as a protocol is (repeated keys, size,
        # depth refused), and a file that is not a mapping is named, not a traceback
        spec = read_yaml(file) or {}
        if not isinstance(spec, dict):
            raise ProtocolError(f"{file}: expected a mapping of fields (protocol: ..., ...)")
        if spec.get("protocol") == paths.protocol_id:
            specs.append({**spec, "file": file.name})
    return specs

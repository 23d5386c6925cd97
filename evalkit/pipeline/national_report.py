"""The national protocol's results bundle, from its in-engine estimates (see docs/bundle.md).

``evalkit national estimate`` writes the estimates of every outcome (Callaway–
Sant'Anna, TWFE and the event study, computed inside DuckDB or Spark from grouped
sums). :func:`national_bundle` turns them into a version-2 results bundle, so the
national protocol's reports are rendered by the same documents, with the same
disclosure control, as any protocol's: the registration record and the limitations
are built by the functions :mod:`evalkit.pipeline.assemble` uses, the hypotheses and
their family by :func:`evalkit.analysis.family.hypothesis_rows`, the specification
by :func:`evalkit.analysis.plan.registered_spec`. The monthly means per group
(``trends``) come with the estimates, from the engine's grouped sums; one small query
on the store adds its ingest log (``data.sources``).

Of the robustness checks the bundle has the pre-trend test: for every primary outcome
the joint test of Callaway–Sant'Anna's pre-period event-time estimates that
``national estimate`` computed (:func:`evalkit.did.cs.event_time_pretest`). Parts the
national design does not have are absent (balance, the other robustness checks,
subgroups, throughput, questionnaires, monitoring, power); the documents say "not
available" for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.errors import EvalkitError
from evalkit.protocol.model import Protocol

__all__ = ["national_bundle", "national_sources", "national_trends"]

#: The column a validation rule checks (``<outcome>_present`` checks the outcome).
_RULE_COLUMNS = {"municipality_region": "municipality"}
#: Result keys that are not part of a bundle record (timings of one run).
_RUN_ONLY = ("seconds", "engine_seconds")
#: Parts of an estimate the bundle keeps elsewhere (event study, robustness).
_NOT_RESULT = ("event_time_rows", "pretrend_event_time")


def national_sources(store: Path, schema_version: int | None) -> list[dict[str, Any]]:
    """Return ``data.sources`` from the store's national ingest log and quarantine.

    Parameters
    ----------
    store : Path
        The DuckDB store ``evalkit national validate`` wrote.
    schema_version : int or None
        The protocol's registered schema version of the outcome panel.

    Returns
    -------
    list of dict
        One record per Parquet file (``ingested_at`` is null: the national log keeps
        no times), with its five most frequent rejection rules.
    """
    import duckdb

    if not store.is_file():
        raise EvalkitError(f"{store}: no national store (run `evalkit national validate` first)")
    con = duckdb.connect(str(store), read_only=True)
    try:
        log = con.execute(
            "SELECT file, sha256, rows_read, accepted, rejected FROM national_ingest_log "
            "ORDER BY file"
        ).fetchall()
        reasons = con.execute(
            "SELECT file, rule, count(*) AS n FROM national_quarantine GROUP BY file, rule "
            "ORDER BY file, n DESC, rule"
        ).fetchall()
    except duckdb.Error as exc:
        raise EvalkitError(
            f"{store}: no national ingest log ({exc}); run `evalkit national validate` first"
        ) from None
    finally:
        con.close()
    top: dict[str, list[dict[str, Any]]] = {}
    for file, rule, n in reasons:
        if len(top.setdefault(file, [])) < 5:
            column = _RULE_COLUMNS.get(rule, rule.removesuffix("_present"))
            top[file].append({"rule": rule, "column": column, "n": int(n)})
    return [
        {
            "kind": "outcome_panel",
            "file": file,
            "sha256": sha,
            "bytes": Path(file).stat().st_size if Path(file).is_file() else None,
            "rows_read": int(read),
            "accepted": int(accepted),
            "rejected": int(rejected),
            "ingested_at": None,
            "schema_version": schema_version,
            "top_reasons": top.get(file, []),
        }
        for file, sha, read, accepted, rejected in log
    ]


def national_trends(estimates: Mapping[str, Any], outcomes: Sequence[str]) -> list[dict[str, Any]]:
    """Return ``trends``: each outcome's monthly mean per group, from the engine's sums.

    Parameters
    ----------
    estimates : mapping
        The national estimates: per outcome, ``trends`` are the person-month means of
        ever-started (``pilot``) and never-started (``comparison``) regions per month,
        from the grouped sums the estimators used (no further pass over the rows).
    outcomes : sequence of str
        Outcome ids.

    Returns
    -------
    list of dict
        Records ``outcome, month, group, mean, n`` (``n`` person-months), sorted by
        outcome, group and month, as :func:`evalkit.analysis.descriptives.trend_table`
        gives for other protocols; none for an outcome estimated on the streamed path.
    """
    rows = [
        {"outcome": o, **r} for o in outcomes for r in (estimates.get(o) or {}).get("trends") or []
    ]
    return sorted(rows, key=lambda r: (outcomes.index(r["outcome"]), r["group"], r["month"]))


def _baseline(trends: Sequence[Mapping[str, Any]], outcome: str, protocol: Protocol) -> Any:
    """Return the pilot group's mean over the registered pre period (person-months)."""
    pre = protocol.periods.pre
    rows = [
        r
        for r in trends
        if r["outcome"] == outcome
        and r["group"] == "pilot"
        and str(pre.start)[:7] <= r["month"] <= str(pre.end)[:7]
    ]
    n = sum(r["n"] for r in rows)
    return sum(r["mean"] * r["n"] for r in rows) / n if n else None


def _effects(
    protocol: Protocol,
    estimates: Mapping[str, Any],
    trends: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One effect record per registered outcome: the registered estimator's national estimate."""
    from evalkit.analysis.effects import effect_record
    from evalkit.analysis.plan import registered_spec

    spec = registered_spec(protocol)
    rows = []
    for outcome in protocol.outcomes:
        found = (estimates.get(outcome.id) or {}).get(spec.estimator)
        result = None
        if isinstance(found, Mapping):
            result = {k: v for k, v in found.items() if k not in (*_RUN_ONLY, *_NOT_RESULT)}
        rows.append(
            effect_record(
                protocol,
                outcome,
                spec,
                result,
                error=None
                if result is not None
                else f"no national estimate of {spec.estimator} for this outcome",
                baseline=_baseline(trends, outcome.id, protocol),
            )
        )
    return rows


def _event_study(protocol: Protocol, estimates: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the registered event study's rows per primary outcome (no p-value, as elsewhere)."""
    from evalkit.analysis.plan import registered_spec

    estimator = registered_spec(protocol, "event_study").estimator
    rows: list[dict[str, Any]] = []
    for outcome in protocol.outcomes:
        if outcome.role != "primary":
            continue
        found = (estimates.get(outcome.id) or {}).get(estimator) or {}
        if found and "event_time_rows" not in found:
            raise EvalkitError(
                "the national estimates have no event-time rows (written by an older "
                "evalkit); run `evalkit national estimate` again"
            )
        for row in found.get("event_time_rows", []):
            rows.append({"outcome": outcome.id, **{k: v for k, v in row.items() if k != "p_value"}})
    return rows


def _flow(sources: Sequence[Mapping[str, Any]], estimates: Mapping[str, Any]) -> list[dict]:
    """Return person-months read, valid and analysed (persons: the view keeps no person ids)."""
    analysed = [
        int(v["rows"]) for v in estimates.values() if isinstance(v, Mapping) and "rows" in v
    ]
    steps = [
        ("rows_in_store", sum(s["rows_read"] for s in sources)),
        ("eligible", sum(s["accepted"] for s in sources)),
    ]
    if analysed:
        steps.append(("analysed", max(analysed)))
    return [{"step": s, "n_persons": None, "n_person_months": int(n)} for s, n in steps]


def _check_estimates(estimates: Mapping[str, Any], registration: Mapping[str, Any]) -> None:
    """Refuse estimates made under another version of the protocol than the registered one."""
    made = (estimates.get("protocol") or {}).get("sha256")
    if made != registration.get("sha256"):
        raise EvalkitError(
            "the national estimates were made with another version of the protocol "
            f"(sha256 {str(made)[:12]}…, now {str(registration.get('sha256'))[:12]}…); "
            "run `evalkit national estimate` again"
        )


def _pretrend(protocol: Protocol, estimates: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per primary outcome, the joint test of the pre-period event-time estimates.

    The registered estimator's test when it is Callaway–Sant'Anna (the record's
    ``pretrend_event_time``); otherwise, or when the estimate is missing, the row says
    why there is no test (``no_event_study``), as in every protocol's bundle.
    """
    rows = []
    for outcome in protocol.outcomes:
        if outcome.role != "primary":
            continue
        found = (estimates.get(outcome.id) or {}).get(protocol.analysis.estimator) or {}
        test = found.get("pretrend_event_time")
        if isinstance(test, Mapping):
            rows.append({"outcome": outcome.id, **test})
        else:
            rows.append(
                {
                    "outcome": outcome.id,
                    "test": "wald_pre_event_times_cs",
                    "statistic": None,
                    "p_value": None,
                    "valid": False,
                    "reason": "no_event_study",
                    "reason_values": {},
                }
            )
    return rows


def national_bundle(
    protocol_file: Path,
    estimates: Mapping[str, Any],
    *,
    store: Path,
    code_commit: str | None = None,
) -> dict[str, Any]:
    """Return the national protocol's results bundle (version 2, docs/bundle.md).

    Parameters
    ----------
    protocol_file : Path
        The registered national protocol.
    estimates : mapping
        The JSON ``evalkit national estimate --out`` wrote for this protocol.
    store : Path
        The DuckDB store of ``evalkit national validate`` (its ingest log).
    code_commit : str, optional
        The git commit of the code, recorded for traceability.

    Returns
    -------
    dict
        The bundle; its robustness checks are the pre-trend tests only; throughput,
        questionnaire, balance, subgroups, monitoring and power are absent or empty
        (the national design has none).

    Raises
    ------
    EvalkitError
        When the estimates belong to another version of the protocol, lack event-time
        rows, or the store has no national ingest log.
    """
    from evalkit.analysis.effects import confirmatory_part
    from evalkit.pipeline.assemble import limitations
    from evalkit.pipeline.provenance import data_part, registration_record
    from evalkit.protocol import load_protocol

    protocol = load_protocol(protocol_file)
    panel_sources = [s for s in protocol.data_sources if s.kind == "outcome_panel"]
    schema = panel_sources[0].schema_version if panel_sources else None
    outcomes = [o.id for o in protocol.outcomes if o.source == "outcome_panel"]
    trends = national_trends(estimates, outcomes)
    months = [r["month"] for r in trends]
    registration = registration_record(
        protocol_file,
        protocol,
        first_ingest_at=None,
        data_months=[max(months)] if months else [],
    )
    _check_estimates(estimates, registration)
    sources = national_sources(store, schema)
    effects = _effects(protocol, estimates, trends)
    return {
        "evalkit_version": __version__,
        "protocol_id": protocol.id,
        "generated": {"code_commit": code_commit, "seed": protocol.analysis.seed},
        "protocol": protocol.to_dict(),
        "registration": registration,
        "data": data_part(protocol, sources),
        "sample": {"flow": _flow(sources, estimates)},
        "confirmatory": confirmatory_part(protocol, effects, [], _event_study(protocol, estimates)),
        "robustness": {"pretrend": _pretrend(protocol, estimates)},
        "trends": trends,
        "power": None,
        "limitations": limitations(protocol, sources, registration, None),
        "settings": {
            "disclosure_threshold": protocol.disclosure_threshold,
            "languages": list(protocol.languages),
            "pilot_start": protocol.pilot_start,
            "scope": "national",
        },
    }


def report_national(
    protocol_file: Path,
    estimates_file: Path,
    *,
    store: Path,
    build: Path = Path("build"),
    langs: Sequence[str] = ("nl", "en"),
    documents: Sequence[str] = ("evaluation", "summary"),
    force: bool = False,
) -> tuple[list[Path], bool]:
    """Write the national protocol's bundle and render its reports (unless up to date).

    Parameters
    ----------
    protocol_file : Path
        The registered national protocol.
    estimates_file : Path
        The JSON of ``evalkit national estimate --out``.
    store : Path
        The DuckDB store of ``evalkit national validate``.
    build : Path
        The build folder: the bundle goes to ``<build>/<id>/results.json``, the reports
        to ``<build>/reports`` (as for every protocol).
    langs, documents : sequence of str
        What to render.
    force : bool
        Render even when the bundle, the documents and the code are unchanged.

    Returns
    -------
    (list of Path, bool)
        The bundle and every file written or kept, and whether the reports were rendered.

    Raises
    ------
    EvalkitError
        When the estimates are missing or stale, or rendering fails.
    """
    import json

    from evalkit.pipeline.fingerprint import (
        record_render,
        render_fingerprint,
        render_is_up_to_date,
    )
    from evalkit.pipeline.paths import paths_for
    from evalkit.pipeline.steps import _expected_outputs, _git_commit, report_protocol
    from evalkit.report.bundle import write_bundle
    from evalkit.report.render import REPORTS_DIR

    if not estimates_file.is_file():
        raise EvalkitError(
            f"{estimates_file}: no national estimates (run `evalkit national estimate --out`)"
        )
    estimates = json.loads(estimates_file.read_text(encoding="utf-8"))
    paths = paths_for(protocol_file, build=build)
    bundle = national_bundle(protocol_file, estimates, store=store, code_commit=_git_commit())
    write_bundle(bundle, paths.bundle)
    rendered = render_fingerprint(paths.bundle, REPORTS_DIR, langs, documents)
    expected = _expected_outputs(paths, langs, documents)
    if not force and render_is_up_to_date(paths.reports, paths.protocol_id, rendered, expected):
        return [paths.bundle, *expected], False
    written = report_protocol(paths, langs=langs, documents=documents)
    record_render(paths.reports, paths.protocol_id, rendered)
    return [paths.bundle, *written], True

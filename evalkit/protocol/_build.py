"""From a YAML mapping to a :class:`~evalkit.protocol.model.Protocol`: shape, checks, build."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.errors import ProtocolError
from evalkit.protocol._checks import run_checks
from evalkit.protocol._fields import PROTOCOL_SPEC
from evalkit.protocol._schemas import load_schemas
from evalkit.protocol._spec import validate, with_defaults
from evalkit.protocol.model import (
    Analysis,
    DataSource,
    Deviation,
    Hypothesis,
    Outcome,
    Periods,
    Population,
    PowerSettings,
    Protocol,
    Robustness,
    SensitivityCheck,
    Subgroup,
    Throughput,
    TreatedUnit,
    Units,
    Window,
    read_yaml,
)

__all__ = ["analyse", "deviations_sidecar", "normalise"]


def deviations_sidecar(path: Path) -> Path:
    """Return the sidecar file that may hold deviations: ``<file>.deviations.yaml``."""
    return path.with_name(path.name + ".deviations.yaml")


def normalise(raw: Any, errors: list[str] | None = None) -> dict[str, Any] | None:
    """Return the protocol's fields as written, normalised (dates as text), or None."""
    errors = [] if errors is None else errors
    if not isinstance(raw, Mapping):
        errors.append(
            "protocol: the file must be a mapping of fields (evalkit_protocol, id, metadata, ...), "
            f"got {type(raw).__name__}"
        )
        return None
    result = validate(raw, PROTOCOL_SPEC, "", errors)
    return result if isinstance(result, dict) else None


def _sidecar_deviations(path: Path | None, errors: list[str]) -> list[dict[str, Any]]:
    if path is None:
        return []
    sidecar = deviations_sidecar(path)
    if not sidecar.is_file():
        return []
    try:
        raw = read_yaml(sidecar)
    except ProtocolError as exc:
        errors.append(str(exc))
        return []
    if isinstance(raw, Mapping) and set(raw) == {"deviations"}:
        raw = raw["deviations"]
    spec = PROTOCOL_SPEC.fields["deviations"]
    checked = validate(raw, spec, f"deviations (in {sidecar.name})", errors)
    return [d for d in checked or [] if isinstance(d, dict)]


def analyse(raw: Any, path: Path | None) -> tuple[Protocol | None, list[str], list[str]]:
    """Check a raw protocol mapping; return the protocol (when valid), errors and warnings."""
    errors: list[str] = []
    warnings: list[str] = []
    explicit = normalise(raw, errors)
    if explicit is None:
        return None, errors, warnings
    deviations = [d for d in explicit.get("deviations") or [] if isinstance(d, dict)]
    deviations += _sidecar_deviations(path, errors)
    canonical = with_defaults(explicit, PROTOCOL_SPEC)
    canonical["deviations"] = deviations
    analysis = canonical.get("analysis")
    units = canonical.get("units")
    if isinstance(analysis, dict) and isinstance(units, dict) and not analysis.get("cluster"):
        analysis["cluster"] = units.get("column") or "municipality"
    try:
        schemas = load_schemas(path.parent if path is not None else None)
    except ProtocolError as exc:
        warnings.append(f"definitions not checked against the data schemas: {exc}")
        schemas = {}
    run_checks(canonical, schemas, errors, warnings)
    if errors:
        return None, errors, warnings
    return _build(canonical, explicit, path, warnings), errors, warnings


def _robustness(r: dict[str, Any] | None) -> Robustness | None:
    if not r:
        return None
    sens = r.get("sensitivity")
    return Robustness(
        sensitivity=None
        if not sens
        else SensitivityCheck(
            restriction=sens["restriction"],
            bounds=tuple(float(b) for b in sens["bounds"]),
            target=sens.get("target") or "mean",
        ),
        event_studies=tuple(r.get("event_studies") or ()),
    )


def _build(
    c: dict[str, Any], explicit: dict[str, Any], path: Path | None, warnings: list[str]
) -> Protocol:
    periods = c["periods"]
    post = periods.get("post")
    return Protocol(
        path=path,
        id=c["id"],
        metadata=c["metadata"],
        intervention=c["intervention"],
        population=_population(c["population"]),
        units=_units(c["units"]),
        periods=Periods(
            pre=Window(**periods["pre"]),
            intervention=Window(**periods["intervention"]),
            post=Window(**post) if post else None,
        ),
        outcomes=tuple(
            Outcome(**{**o, "smallest_effect": float(o["smallest_effect"])}) for o in c["outcomes"]
        ),
        hypotheses=tuple(Hypothesis(**h) for h in c["hypotheses"]),
        analysis=_analysis(c["analysis"]),
        data_sources=tuple(_data_source(s) for s in c["data_sources"]),
        disclosure_threshold=(c.get("reporting") or {}).get("disclosure_threshold") or 10,
        deviations=tuple(
            Deviation(
                date=d["date"],
                field=d["field"],
                old=d.get("old"),
                new=d.get("new"),
                reason=d["reason"],
            )
            for d in c["deviations"]
        ),
        power=_power(c.get("power") or {}),
        demo=c.get("demo"),
        throughput=_throughput(c.get("throughput")),
        expected_persons=(c.get("sample_size") or {}).get("persons"),
        warnings=tuple(warnings),
        _canonical=c,
        _explicit=explicit,
    )


def _population(pop: dict[str, Any]) -> Population:
    return Population(
        age_min=pop["age_min"],
        age_max=pop["age_max"],
        inclusion=tuple(pop["inclusion"]),
        exclusion=tuple(pop["exclusion"]),
        subgroups=tuple(Subgroup(**s) for s in pop["subgroups"]),
        description=pop.get("description"),
    )


def _units(units: dict[str, Any]) -> Units:
    return Units(
        level=units["level"],
        column=units["column"],
        treated=tuple(TreatedUnit(**t) for t in units["treated"]),
        comparison=tuple(units["comparison"]),
        anticipation_months=units["anticipation_months"],
    )


def _analysis(a: dict[str, Any]) -> Analysis:
    window = a.get("event_window")
    return Analysis(
        estimator=a["estimator"],
        control_group=a["control_group"],
        method=a["method"],
        base_period=a["base_period"],
        covariates=tuple(a["covariates"]),
        cluster=a["cluster"],
        inference=a["inference"],
        few_treated_threshold=a["few_treated_threshold"],
        alpha=float(a["alpha"]),
        multiple_testing=a["multiple_testing"],
        event_window=(window["min"], window["max"]) if window else None,
        seed=a["seed"],
        subgroup=a.get("subgroup"),
        robustness=_robustness(a.get("robustness")),
    )


def _data_source(s: dict[str, Any]) -> DataSource:
    return DataSource(
        kind=s["kind"],
        schema_version=s["schema_version"],
        files=tuple(s["files"]),
        columns=tuple(str(c) for c in s["columns"]) if s.get("columns") else None,
        overlap=s.get("overlap") or "refuse",
    )


def _power(power: dict[str, Any]) -> PowerSettings:
    return PowerSettings(
        n_sims=power.get("n_sims", 200),
        effects=tuple(float(e) for e in power["effects"]) if power.get("effects") else None,
        target_power=float(power.get("target_power", 0.8)),
        icc=_float_or_none(power.get("icc")),
        serial_correlation=_float_or_none(power.get("serial_correlation")),
        base_rates=dict(power.get("base_rates") or {}),
        persons_per_unit=power.get("persons_per_unit"),
        seed=power.get("seed", 20240101),
        results=tuple(power["results"]) if power.get("results") else None,
    )


def _throughput(t: dict[str, Any] | None) -> Throughput:
    t = t or {}
    benchmark = t.get("caseload_benchmark")
    return Throughput(
        reference_date=None if t.get("reference_date") is None else str(t["reference_date"]),
        out_of_sight_days=t.get("out_of_sight_days"),
        liberation_day=t.get("liberation_day"),
        norms=t.get("norms") or None,
        caseload_benchmark=tuple(benchmark) if benchmark else None,
    )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)

"""Checks across fields: the rules a valid YAML shape alone cannot express.

Each check appends messages ``"<field path>: <what is wrong>; <what is allowed>"``
to ``errors`` (the protocol cannot be used) or ``warnings`` (questionable).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from evalkit.protocol._checks_analysis import check_analysis, items_at
from evalkit.protocol._checks_synthetic import check_synthetic
from evalkit.protocol._fields import GM_HINT, GM_PATTERN
from evalkit.protocol._languages import check_languages
from evalkit.protocol._schemas import SchemaInfo
from evalkit.protocol.expressions import check_expression

__all__ = ["run_checks"]


def _month(text: str) -> int:
    year, month = text.split("-")
    return int(year) * 12 + int(month) - 1


def _fmt(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def run_checks(
    p: Mapping[str, Any], schemas: Mapping[str, SchemaInfo], errors: list[str], warnings: list[str]
) -> None:
    """Run every cross-field check on a protocol mapping with defaults filled in."""
    _check_ids(p, errors)
    check_languages(p, errors)
    _check_outcomes(p, schemas, errors, warnings)
    _check_hypotheses(p, errors, warnings)
    _check_periods_and_units(p, errors, warnings)
    check_analysis(p, schemas, errors, warnings)
    check_synthetic(p, errors, warnings)
    _check_population(p, schemas, errors, warnings)
    _check_sources(p, schemas, errors, warnings)
    _check_other(p, errors, warnings)


def _check_ids(p: Mapping[str, Any], errors: list[str]) -> None:
    for label, items in (
        ("outcomes", items_at(p, "outcomes")),
        ("hypotheses", items_at(p, "hypotheses")),
        ("population.subgroups", items_at(p, "population", "subgroups")),
    ):
        counts = Counter(i.get("id") for i in items if i.get("id"))
        for ident, n in counts.items():
            if n > 1:
                errors.append(
                    f"{label}[{ident}]: the id {ident!r} is used {n} times; ids must be unique"
                )


def _check_outcomes(
    p: Mapping[str, Any], schemas: Mapping[str, SchemaInfo], errors: list[str], warnings: list[str]
) -> None:
    outcomes = items_at(p, "outcomes")
    kinds = {s.get("kind") for s in items_at(p, "data_sources")}
    if outcomes and not any(o.get("role") == "primary" for o in outcomes):
        errors.append(
            "outcomes: no outcome has role 'primary'; the confirmatory analysis needs at "
            "least one (role: primary)"
        )
    for o in outcomes:
        path = f"outcomes[{o.get('id')}]"
        source = o.get("source")
        schema = schemas.get(source) if isinstance(source, str) else None
        if source and kinds and None not in kinds and source not in kinds:
            errors.append(
                f"{path}.source: {source!r} is not among the data_sources kinds "
                f"({', '.join(sorted(k for k in kinds if k))}); add it to data_sources"
            )
        if schema is not None:
            for key in ("definition", "filter"):
                if isinstance(o.get(key), str):
                    for problem in check_expression(
                        o[key], schema.columns, instruments=schema.instruments
                    ):
                        errors.append(f"{path}.{key}: {problem}")
        effect = o.get("smallest_effect")
        if o.get("type") == "binary" and isinstance(effect, int | float) and effect > 1:
            errors.append(
                f"{path}.smallest_effect: {effect} is more than 1, but a binary outcome is a "
                "share; give the effect as a proportion (0.02 = 2 percentage points)"
            )
        if isinstance(effect, int | float) and effect == 0:
            errors.append(f"{path}.smallest_effect: must be greater than 0")
        if o.get("type") == "duration" and source == "outcome_panel":
            warnings.append(
                f"{path}.type: a duration from the monthly outcome panel is unusual; "
                "throughput times come from case_events (days_between)"
            )


def _check_hypotheses(p: Mapping[str, Any], errors: list[str], warnings: list[str]) -> None:
    outcomes = {o.get("id"): o for o in items_at(p, "outcomes")}
    subgroups = {s.get("id") for s in items_at(p, "population", "subgroups")}
    tested: set[str] = set()
    for h in items_at(p, "hypotheses"):
        path = f"hypotheses[{h.get('id')}]"
        target = h.get("outcome")
        if target is None:
            continue
        if target not in outcomes:
            errors.append(
                f"{path}.outcome: unknown outcome {target!r}; outcomes: "
                f"{', '.join(str(k) for k in outcomes) or 'none'}"
            )
            continue
        tested.add(target)
        expected = outcomes[target].get("expected_direction")
        direction = h.get("direction")
        if direction in ("increase", "decrease") and expected and direction != expected:
            warnings.append(
                f"{path}.direction: {direction!r} but outcomes[{target}].expected_direction "
                f"is {expected!r}"
            )
        sub = h.get("subgroup")
        if sub is not None and sub not in subgroups:
            errors.append(
                f"{path}.subgroup: unknown subgroup {sub!r}; subgroups: "
                f"{', '.join(str(s) for s in subgroups) or 'none'}"
            )
        source = outcomes[target].get("source", "outcome_panel")
        if sub is not None and sub in subgroups and source != "outcome_panel":
            # subgroup effects are estimated on the outcome panel only: it would have none
            errors.append(
                f"{path}.subgroup: {sub!r} cannot be tested on {target!r}, an outcome from "
                f"{source}: subgroup effects are estimated on outcome_panel outcomes only"
            )
    for ident, o in outcomes.items():
        if o.get("role") == "primary" and ident not in tested and items_at(p, "hypotheses"):
            warnings.append(f"outcomes[{ident}]: primary outcome without a hypothesis")


def _check_periods_and_units(p: Mapping[str, Any], errors: list[str], warnings: list[str]) -> None:
    periods = p.get("periods") or {}
    windows: list[tuple[str, int, int]] = []
    for name in ("pre", "intervention", "post"):
        w = periods.get(name)
        if not isinstance(w, Mapping) or not w.get("start") or not w.get("end"):
            continue
        start, end = _month(w["start"]), _month(w["end"])
        if start > end:
            errors.append(
                f"periods.{name}: start {w['start']} is after end {w['end']}; "
                "windows run from start to end"
            )
        windows.append((name, start, end))
    for (a, _, a_end), (b, b_start, _) in itertools.pairwise(windows):
        if b_start <= a_end:
            errors.append(
                f"periods.{b}.start: {_fmt(b_start)} is not after periods.{a}.end "
                f"{_fmt(a_end)}; the windows must be in the order pre < intervention < post "
                "without overlap"
            )
    names = {name: (s, e) for name, s, e in windows}
    if "pre" in names and names["pre"][1] - names["pre"][0] < 1:
        warnings.append("periods.pre: a single pre-period month cannot show parallel pre-trends")

    units = p.get("units") or {}
    level = units.get("level", "municipality")
    treated = items_at(p, "units", "treated")
    comparison = [c for c in units.get("comparison") or [] if isinstance(c, str)]
    codes: list[str] = [str(t["unit"]) for t in treated if isinstance(t.get("unit"), str)]
    if level == "municipality":
        for code in codes:
            if not re.match(GM_PATTERN, code):
                errors.append(f"units.treated[{code}].unit: {code!r} is not {GM_HINT}")
        for code in comparison:
            if not re.match(GM_PATTERN, code):
                errors.append(f"units.comparison: {code!r} is not {GM_HINT}")
    for code, n in Counter(codes + comparison).items():
        if n > 1:
            where = (
                "both treated and comparison"
                if code in codes and code in comparison
                else ("listed twice")
            )
            errors.append(f"units: {code!r} is {where}; a unit belongs to one group once")
    anticipation = int(units.get("anticipation_months") or 0)
    for t in treated:
        begin = t.get("start")
        if not isinstance(begin, str):
            continue
        path = f"units.treated[{t.get('unit')}].start"
        m = _month(begin)
        if (
            "intervention" in names
            and not names["intervention"][0] <= m <= names["intervention"][1]
        ):
            s, e = names["intervention"]
            errors.append(
                f"{path}: {begin} lies outside periods.intervention ({_fmt(s)} to {_fmt(e)}); "
                "a pilot starts within the intervention window"
            )
        if "pre" in names and m - anticipation <= names["pre"][0]:
            errors.append(
                f"{path}: {begin} minus {anticipation} anticipation month(s) leaves no "
                f"pre-period month after periods.pre.start {_fmt(names['pre'][0])}"
            )
    control = (p.get("analysis") or {}).get("control_group")
    staggered = len({t.get("start") for t in treated}) > 1
    if treated and not comparison:
        if control == "never":
            errors.append(
                "units.comparison: no comparison units, but analysis.control_group is 'never'; "
                "add never-treated units or (staggered design) use control_group: notyet"
            )
        elif not staggered:
            errors.append(
                "units.comparison: no comparison units and every pilot unit starts in the same "
                "month: there is no control group"
            )


def _check_population(
    p: Mapping[str, Any], schemas: Mapping[str, SchemaInfo], errors: list[str], warnings: list[str]
) -> None:
    pop = p.get("population") or {}
    lo, hi = pop.get("age_min"), pop.get("age_max")
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        errors.append(f"population.age_min: {lo} is above population.age_max {hi}")
    panel = schemas.get("outcome_panel")
    if panel is not None:
        age = panel.columns.get("age") or {}
        if isinstance(lo, int) and isinstance(age.get("min"), int) and lo < age["min"]:
            warnings.append(
                f"population.age_min: {lo} is below the data's minimum age {age['min']}"
            )
        if isinstance(hi, int) and isinstance(age.get("max"), int) and hi > age["max"]:
            warnings.append(
                f"population.age_max: {hi} is above the data's maximum age {age['max']}"
            )
        for key in ("inclusion", "exclusion"):
            for i, rule in enumerate(pop.get(key) or []):
                if isinstance(rule, str):
                    for problem in check_expression(rule, panel.columns):
                        errors.append(f"population.{key}[{i}]: {problem}")
    for s in items_at(p, "population", "subgroups"):
        path = f"population.subgroups[{s.get('id')}]"
        schema = schemas.get(s.get("source") or "outcome_panel")
        if schema is not None and isinstance(s.get("definition"), str):
            for problem in check_expression(
                s["definition"], schema.columns, instruments=schema.instruments
            ):
                errors.append(f"{path}.definition: {problem}")


def _check_sources(
    p: Mapping[str, Any], schemas: Mapping[str, SchemaInfo], errors: list[str], warnings: list[str]
) -> None:
    seen: Counter[str] = Counter()
    for s in items_at(p, "data_sources"):
        kind = s.get("kind")
        if not isinstance(kind, str):
            continue
        seen[kind] += 1
        schema = schemas.get(kind)
        version = s.get("schema_version")
        if schema is not None and isinstance(version, int) and version > schema.version:
            errors.append(
                f"data_sources[{kind}].schema_version: {version}, but data_schemas/{kind}.yaml "
                f"is only version {schema.version}; update the schemas or use {schema.version}"
            )
        elif schema is not None and isinstance(version, int) and version < schema.version:
            warnings.append(
                f"data_sources[{kind}].schema_version: the protocol was written for version "
                f"{version}, data_schemas/{kind}.yaml is now version {schema.version}; check that "
                "the columns it uses still mean the same"
            )
    for kind, n in seen.items():
        if n > 1:
            errors.append(
                f"data_sources[{kind}]: listed {n} times; list all files of a kind in one entry"
            )


def _check_other(p: Mapping[str, Any], errors: list[str], warnings: list[str]) -> None:
    if not p.get("missing_data"):
        warnings.append(
            "missing_data: not stated; pre-registration checklists ask how missing data are handled"
        )
    power = p.get("power") or {}
    outcome_ids = {o.get("id") for o in items_at(p, "outcomes")}
    for key in power.get("base_rates") or {}:
        if key not in outcome_ids:
            errors.append(
                f"power.base_rates.{key}: unknown outcome; outcomes: "
                f"{', '.join(str(o) for o in outcome_ids)}"
            )
    effects = power.get("effects")
    if (
        isinstance(effects, list)
        and effects
        and not any(isinstance(e, int | float) and e > 0 for e in effects)
    ):
        errors.append("power.effects: needs at least one effect greater than 0")
    throughput = p.get("throughput") or {}
    for name, norm in (throughput.get("norms") or {}).items():
        path = f"throughput.norms.{name}"
        if norm is None:
            continue
        if not isinstance(norm, Mapping):
            errors.append(f"{path}: expected a mapping (interval, limit, unit, where, label)")
            continue
        unknown = sorted(set(norm) - {"interval", "limit", "unit", "where", "label"})
        if unknown:
            errors.append(
                f"{path}: unknown field(s) {', '.join(unknown)}; allowed: interval, limit, unit, "
                "where, label"
            )
        limit = norm.get("limit")
        if "limit" in norm and (
            not isinstance(limit, int | float) or isinstance(limit, bool) or limit < 0
        ):
            errors.append(f"{path}.limit: expected a number of 0 or more, got {limit!r}")
    bench = throughput.get("caseload_benchmark")
    if isinstance(bench, list) and (len(bench) != 2 or bench[0] > bench[1]):
        errors.append(
            f"throughput.caseload_benchmark: expected [low, high] with low <= high, got {bench}"
        )
    meta = p.get("metadata") or {}
    report = meta.get("planned_report_date")
    end = ((p.get("periods") or {}).get("intervention") or {}).get("end")
    if isinstance(report, str) and isinstance(end, str) and report[:7] <= end:
        warnings.append(
            f"metadata.planned_report_date: {report} is not after the intervention ends ({end})"
        )
    demo = p.get("demo")
    if isinstance(demo, Mapping):
        out = demo.get("out")
        if isinstance(out, str) and (out.startswith("/") or ".." in out.split("/")):
            errors.append(
                f"demo.out: {out!r} must be a folder inside the project (relative, no '..')"
            )
        starts = {t.get("start") for t in items_at(p, "units", "treated")}
        if demo.get("generator") == "staggered" and len(starts) == 1:
            warnings.append("demo.generator: 'staggered' but every pilot unit starts in one month")
        if demo.get("generator") == "pilot" and len(starts) > 1:
            warnings.append("demo.generator: 'pilot' makes one start month; use 'staggered'")

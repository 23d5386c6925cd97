"""Read the fields of a synthetic design from a raw protocol mapping (no protocol import)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.synth._design import _PRESETS, GENERATORS, LATENT_OUTCOMES, THROUGHPUT_STEPS
from evalkit.synth._months import format_month, parse_month

_IDENT_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_DAYS_RE = re.compile(r"""^\s*days_between\(\s*['"]registration['"]\s*,\s*['"](\w+)['"]\s*\)\s*$""")


def _days_to(definition: Any) -> str | None:
    match = _DAYS_RE.match(definition) if isinstance(definition, str) else None
    if match is None or match.group(1) not in THROUGHPUT_STEPS:
        return None
    return match.group(1)


def _get(mapping: Any, *path: str) -> Any:
    node = mapping
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _month(value: Any, field: str, problems: list[str]) -> str | None:
    try:
        return format_month(parse_month(value, field))
    except EvalkitError as exc:
        problems.append(str(exc))
        return None


def design_fields_from_protocol(protocol: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return keyword arguments for ``PilotDesign`` and the problems found.

    Parameters
    ----------
    protocol : mapping
        The raw protocol (``yaml.safe_load`` output).

    Returns
    -------
    tuple of (dict, list of str)
        The design fields (starting from the generator's preset) and every problem,
        each naming its field path.
    """
    problems: list[str] = []
    if not isinstance(protocol, Mapping):
        return {}, ["protocol: expected a mapping at the top level"]
    demo = protocol.get("demo") or {}
    if not isinstance(demo, Mapping):
        return {}, ["demo: expected a mapping"]
    generator = str(demo.get("generator", "pilot"))
    if generator not in GENERATORS:
        problems.append(f"demo.generator: {generator!r} is not one of {', '.join(GENERATORS)}")
        generator = "pilot"
    fields: dict[str, Any] = {"generator": generator, **_PRESETS[generator]}

    treated = _get(protocol, "units", "treated")
    starts: dict[str, str] = {}
    if not isinstance(treated, list) or not treated:
        problems.append("units.treated: expected a list of {unit, start}")
    else:
        for i, item in enumerate(treated):
            unit = _get(item, "unit")
            start = _get(item, "start")
            if unit is None or start is None:
                problems.append(f"units.treated[{i}]: needs both 'unit' and 'start'")
                continue
            month = _month(start, f"units.treated[{i}].start", problems)
            if month is not None:
                starts[str(unit)] = month
    comparison = _get(protocol, "units", "comparison") or []
    if not isinstance(comparison, list):
        problems.append("units.comparison: expected a list of municipality codes")
        comparison = []
    fields["treated_starts"] = starts
    fields["municipalities"] = tuple(dict.fromkeys([*starts, *map(str, comparison)]))
    anticipation = _get(protocol, "units", "anticipation_months")
    if anticipation is not None:
        fields["anticipation_months"] = int(anticipation)

    first = _get(protocol, "periods", "pre", "start")
    last = _get(protocol, "periods", "post", "end")
    if first is None:
        problems.append("periods.pre.start: missing")
    else:
        fields["first_month"] = _month(first, "periods.pre.start", problems)
    if last is None:
        problems.append("periods.post.end: missing")
    else:
        fields["last_month"] = _month(last, "periods.post.end", problems)
    post_start = _get(protocol, "periods", "post", "start")
    if post_start is not None and last is not None:
        ps = _month(post_start, "periods.post.start", problems)
        if ps is not None and fields.get("last_month"):
            fields["post_window"] = (ps, fields["last_month"])

    if demo.get("turning_18_multiplier") is not None:
        fields["turning_18_multiplier"] = float(demo["turning_18_multiplier"])
    if demo.get("n_persons") is not None:
        fields["n_persons"] = int(demo["n_persons"])
    effects = demo.get("effects")
    if effects is not None:
        if not isinstance(effects, Mapping):
            problems.append("demo.effects: expected a mapping {outcome_id: effect}")
        else:
            fields.update(_effects(protocol, effects, problems, LATENT_OUTCOMES))
    return fields, problems


def _effects(
    protocol: Mapping[str, Any],
    effects: Mapping[str, Any],
    problems: list[str],
    latent: tuple[str, ...],
) -> dict[str, Any]:
    outcomes = {
        str(o.get("id")): o
        for o in (protocol.get("outcomes") or [])
        if isinstance(o, Mapping) and o.get("id") is not None
    }
    panel: dict[str, float] = {}
    out: dict[str, Any] = {}
    for key, value in effects.items():
        path = f"demo.effects.{key}"
        try:
            number = float(value)
        except (TypeError, ValueError):
            problems.append(f"{path}: expected a number, got {value!r}")
            continue
        key = str(key)
        if key in latent:
            panel[key] = number
            continue
        if key in ("throughput", "throughput_days"):
            out["throughput_effect_days"] = number
            continue
        if key in ("zrm", "zrm_points"):
            out["zrm_effect"] = number
            continue
        outcome = outcomes.get(key)
        if outcome is None:
            problems.append(
                f"{path}: not a simulated column ({', '.join(latent)}), not 'throughput' or "
                "'zrm', and not an outcome id of this protocol"
            )
            continue
        source = str(outcome.get("source", "outcome_panel"))
        definition = outcome.get("definition")
        match = _IDENT_RE.match(definition) if isinstance(definition, str) else None
        if source == "case_events" or outcome.get("type") == "duration":
            step = _days_to(definition)
            if step is None:
                problems.append(
                    f"{path}: duration outcome {key!r} must be defined as "
                    f"days_between('registration', STEP) with STEP one of "
                    f"{', '.join(THROUGHPUT_STEPS)} for the generator to give it an effect"
                )
            elif "throughput_effect_days" in out:
                problems.append(
                    f"{path}: only one throughput effect can be simulated; "
                    f"already set by another duration outcome"
                )
            else:
                out["throughput_effect_days"] = number
                out["throughput_to"] = step
        elif source == "questionnaire":
            out["zrm_effect"] = number
        elif match is not None and match.group(1) in latent:
            panel[match.group(1)] = number
        else:
            problems.append(
                f"{path}: outcome {key!r} is not defined as one simulated column "
                f"({', '.join(latent)}); the generator cannot give it an effect"
            )
    if panel:
        out["effects"] = panel
    return out

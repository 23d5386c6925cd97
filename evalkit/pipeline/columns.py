"""Which columns of a data source a protocol uses, so ingest can accept a narrower export."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["columns_needed", "columns_used"]

_PANEL = "outcome_panel"


def _expressions(protocol: Mapping[str, Any]) -> list[str]:
    population = protocol.get("population") or {}
    out = [
        str(o["definition"])
        for o in protocol.get("outcomes") or []
        if o.get("source", _PANEL) == _PANEL and o.get("definition") is not None
    ]
    out += [str(rule) for rule in population.get("inclusion") or []]
    out += [str(g["definition"]) for g in population.get("subgroups") or [] if "definition" in g]
    return out


def columns_needed(protocol: Mapping[str, Any], kind: str) -> list[str] | None:
    """Return the columns of ``kind`` a protocol uses, or None for the schema's own list.

    A data source may list them itself (``data_sources[].columns``). For the outcome
    panel they are otherwise derived from the protocol: the key (person and month),
    the unit column, ``age`` when the population has an age band, and every column
    read by an outcome definition, an inclusion rule, a subgroup or a covariate.

    Parameters
    ----------
    protocol : mapping
        The protocol as read from YAML.
    kind : str
        The kind of data.

    Returns
    -------
    list of str or None
        Sorted canonical column names; None when the kind's schema decides.
    """
    from evalkit.ingest import load_schema
    from evalkit.protocol.expressions import names_used

    for source in protocol.get("data_sources") or []:
        if source.get("kind") == kind and source.get("columns"):
            return sorted({str(c) for c in source["columns"]})
    if kind != _PANEL:
        return None
    schema = load_schema(kind)
    population = protocol.get("population") or {}
    units = protocol.get("units") or {}
    analysis = protocol.get("analysis") or {}
    used = {*schema.key, str(units.get("column", "municipality"))}
    if population.get("age_min") is not None or population.get("age_max") is not None:
        used.add("age")
    for expr in _expressions(protocol):
        used |= names_used(expr)
    used |= {str(c) for c in analysis.get("covariates") or []}
    return sorted(used & set(schema.columns))


def columns_used(protocol: Mapping[str, Any], kind: str) -> list[str]:
    """Return the columns of ``kind`` an analysis of the protocol relies on (for the report).

    Parameters
    ----------
    protocol : mapping
        The protocol as read from YAML.
    kind : str
        The kind of data.

    Returns
    -------
    list of str
        :func:`columns_needed`, or else the columns the kind's schema requires.
    """
    from evalkit.ingest import load_schema

    needed = columns_needed(protocol, kind)
    if needed is not None:
        return needed
    schema = load_schema(kind)
    return sorted({*schema.key, *(n for n, c in schema.columns.items() if c.required)})

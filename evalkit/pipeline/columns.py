"""Which columns of a data source a protocol uses, so ingest can accept a narrower export."""

from __future__ import annotations

from evalkit.protocol import Protocol

__all__ = ["columns_needed", "columns_used"]

_PANEL = "outcome_panel"


def _expressions(protocol: Protocol) -> list[str]:
    population = protocol.population
    out = [o.definition for o in protocol.outcomes if o.source == _PANEL]
    out += list(population.inclusion)
    out += [g.definition for g in population.subgroups]
    return out


def columns_needed(protocol: Protocol, kind: str) -> list[str] | None:
    """Return the columns of ``kind`` a protocol uses, or None for the schema's own list.

    A data source may list them itself (``data_sources[].columns``). For the outcome
    panel they are otherwise derived from the protocol: the key (person and month),
    the unit column, ``age`` (the population's age band), and every column
    read by an outcome definition, an inclusion rule, a subgroup or a covariate.

    Parameters
    ----------
    protocol : Protocol
        The registered protocol.
    kind : str
        The kind of data.

    Returns
    -------
    list of str or None
        Sorted canonical column names; None when the kind's schema decides.
    """
    from evalkit.ingest import load_schema
    from evalkit.protocol.expressions import names_used

    for source in protocol.data_sources:
        if source.kind == kind and source.columns:
            return sorted(set(source.columns))
    if kind != _PANEL:
        return None
    schema = load_schema(kind)
    # a typed population always has an age band (the schema's defaults when not written)
    used = {*schema.key, protocol.units.column, "age"}
    for expr in _expressions(protocol):
        used |= names_used(expr)
    used |= set(protocol.analysis.covariates)
    return sorted(used & set(schema.columns))


def columns_used(protocol: Protocol, kind: str) -> list[str]:
    """Return the columns of ``kind`` an analysis of the protocol relies on (for the report).

    Parameters
    ----------
    protocol : Protocol
        The registered protocol.
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

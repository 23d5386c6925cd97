"""A CBS export's RIN pair: found among the headers and parsed into the identifier column.

CBS microdata name a person by two columns (``rinpersoons``, ``rinpersoon``) instead of
a BSN. A file that has both and no BSN column gets its schema's identifier column from
the pair; :mod:`evalkit.ingest._rin` checks and pseudonymises the pairs themselves.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.ingest._failures import Failures
from evalkit.ingest._readers import RawTable
from evalkit.ingest._rin import classify_rin
from evalkit.ingest._schema import Schema
from evalkit.ingest._text import header_key

__all__ = ["RIN_HEADERS", "RIN_PLACE", "RinPair", "parse_rin", "rin_pair"]

#: CBS exports name a person by two columns instead of a BSN (see :mod:`._rin`).
RIN_HEADERS = ("rinpersoons", "rinpersoon")
#: Stands for the RIN pair where a header is expected (never a real header: it has a NUL).
RIN_PLACE = "\x00rin"


@dataclass(frozen=True)
class RinPair:
    """The two headers of a RIN pair and the identifier column they fill."""

    source: str
    number: str
    column: str


def rin_pair(unmatched: Collection[str], schema: Schema, mapping: dict[str, str]) -> RinPair | None:
    """Return the file's RIN pair when it identifies persons instead of a BSN column.

    Parameters
    ----------
    unmatched : collection of str
        Headers that matched no column of the schema.
    schema : Schema
        The schema; its pseudonym column (``person_id``) is the one a RIN pair fills.
    mapping : dict
        Headers matched to columns.

    Returns
    -------
    RinPair or None
        None when the file has a BSN (or pseudonym) column, lacks either RIN header,
        or the schema has no identifier column.
    """
    ident = next((n for n, c in schema.columns.items() if c.type == "pseudonym"), None)
    if ident is None or ident in mapping.values():
        return None
    found = {header_key(h): h for h in unmatched}
    source, number = (found.get(header_key(h)) for h in RIN_HEADERS)
    if source is None or number is None:
        return None
    return RinPair(source, number, ident)


def parse_rin(
    table: RawTable, rin: RinPair, failures: Failures, key: bytes
) -> tuple[pd.Series, pd.Series]:
    """Check and pseudonymise the RIN pair: the identifier column's values and shown values.

    The pair is validated for its shape (one register letter, nine digits), never
    with the elfproef, and pseudonymised with its own prefix
    (:func:`evalkit.ingest.classify_rin`); an invalid pair is shown only as a keyed
    reference, so no raw number reaches a message or the quarantine.
    """
    ids = classify_rin(table.text(rin.source), table.text(rin.number), key=key)
    # Categorical, as a BSN column's pseudonyms: one small table plus codes (None: missing)
    pseudonym, shown = (
        pd.Series(pd.Categorical(ids[c].to_numpy(dtype=object)), index=ids.index)
        for c in ("pseudonym", "shown")
    )
    for rule in RIN_HEADERS:
        hit = (ids["rule"] == rule).to_numpy(dtype=bool, na_value=False)
        if hit.any():
            reasons = ids["reason"][hit].to_numpy()
            failures.add(np.flatnonzero(hit), rin.column, rule, shown[hit].to_numpy(), reasons)
    return pseudonym, shown

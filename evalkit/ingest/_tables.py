"""The store's table layouts: columns and SQL types of each table, and quoted names.

Kept apart from :mod:`_store` so that code writing SQL against the store (the clean
load, row building) names the same tables and columns without the store class.
"""

from __future__ import annotations

from evalkit.ingest._schema import SQL_TYPES, Schema

__all__ = [
    "CONTENT_COLUMNS",
    "LOG_COLUMNS",
    "QUARANTINE_COLUMNS",
    "QUESTIONNAIRE_COLUMNS",
    "SEAL_COLUMNS",
    "SOURCE_COLUMNS",
    "quoted",
    "table_columns",
]

LOG_COLUMNS = {
    "file": "VARCHAR",
    "sha256": "VARCHAR",
    "bytes": "BIGINT",
    "rows_read": "BIGINT",
    "accepted": "BIGINT",
    "rejected": "BIGINT",
    "kind": "VARCHAR",
    "schema_version": "INTEGER",
    "evalkit_version": "VARCHAR",
    "ingested_at": "TIMESTAMP",
    "pseudonym_scope": "VARCHAR",
    "overlap": "VARCHAR",
    # The overlap rule the file was stored under and the files (sha256, comma-separated)
    # whose stored keys it met: a file already stored is read under that rule by whoever
    # ingests it again, so a second protocol asking another rule must be told (_overlap).
    "overlap_rule": "VARCHAR",
    "overlap_with": "VARCHAR",
}
#: Which registration lock (its seal) the store saw for a protocol at an ingest, and when:
#: the store's own witness of the lock that held when the data arrived, so that a lock
#: replaced later (with a recomputed seal, outside git) does not pass for the original.
SEAL_COLUMNS = {"protocol_id": "VARCHAR", "seal": "VARCHAR", "seen_at": "TIMESTAMP"}
QUARANTINE_COLUMNS = {
    "kind": "VARCHAR",
    "file": "VARCHAR",
    "_source_sha256": "VARCHAR",
    "_row": "BIGINT",
    "column": "VARCHAR",
    "rule": "VARCHAR",
    "value": "VARCHAR",
    "message": "VARCHAR",
    "content": "VARCHAR",
    "content_k1": "UBIGINT",
    "content_k2": "UBIGINT",
}
#: Each distinct content of quarantined rows once, named by a 128-bit digest
#: (``content_k1, content_k2``); a quarantine row names its row's content so. Rows stored
#: before contents were kept apart have their text in ``quarantine.content`` instead.
CONTENT_COLUMNS = {"content_k1": "UBIGINT", "content_k2": "UBIGINT", "content": "VARCHAR"}
QUESTIONNAIRE_COLUMNS = {
    "person_id": "VARCHAR",
    "municipality": "VARCHAR",
    "group": "VARCHAR",
    "wave": "VARCHAR",
    "admin_date": "DATE",
    "mode": "VARCHAR",
    "instrument": "VARCHAR",
    "instrument_version": "VARCHAR",
    "item": "VARCHAR",
    "value": "DOUBLE",
    "missing_reason": "VARCHAR",
}
SOURCE_COLUMNS = {"_source_sha256": "VARCHAR", "_row": "BIGINT"}


def quoted(name: str) -> str:
    """Return a name quoted as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def table_columns(schema: Schema) -> dict[str, str]:
    """Return the stored columns of a kind with their SQL types.

    Parameters
    ----------
    schema : Schema
        The kind's schema.

    Returns
    -------
    dict
        Column name to SQL type, including ``_source_sha256`` and ``_row``.
    """
    if schema.kind == "questionnaire":
        return {**QUESTIONNAIRE_COLUMNS, **SOURCE_COLUMNS}
    return {**{n: SQL_TYPES[s.type] for n, s in schema.columns.items()}, **SOURCE_COLUMNS}

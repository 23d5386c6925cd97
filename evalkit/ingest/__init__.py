"""Read, check, pseudonymise and store the data files a pilot receives (layer 5).

``ingest_files`` validates every row of each file against ``data_schemas/KIND.yaml``
and stores accepted rows in a DuckDB file, rejected rows in its quarantine, in
one transaction per file; ``validate_file`` is the same check as a dry run;
``Store`` reads the store back; ``read_frame`` reads any supported file with
numbers and dates typed, for ad-hoc use.
"""

from __future__ import annotations

from evalkit.ingest._api import file_sha256, ingest_files, validate_file
from evalkit.ingest._pseudonym import elfproef, keyed_labels, load_key, pseudonymise
from evalkit.ingest._readers import read_frame, read_raw
from evalkit.ingest._reports import IngestReport, ValidationReport
from evalkit.ingest._rin import classify_rin
from evalkit.ingest._schema import KINDS, ColumnSpec, Instrument, Schema, load_schema
from evalkit.ingest._store import Store

__all__ = [
    "KINDS",
    "ColumnSpec",
    "IngestReport",
    "Instrument",
    "Schema",
    "Store",
    "ValidationReport",
    "classify_rin",
    "elfproef",
    "file_sha256",
    "ingest_files",
    "keyed_labels",
    "load_key",
    "load_schema",
    "pseudonymise",
    "read_frame",
    "read_raw",
    "validate_file",
]

"""What one file (or one chunk of it) puts in the store: accepted rows and quarantine rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.ingest._content import RowContents
from evalkit.ingest._overlap import Overlap
from evalkit.ingest._privacy import shown_path
from evalkit.ingest._schema import Schema
from evalkit.ingest._tables import table_columns
from evalkit.ingest._validate import Validated

__all__ = ["merged", "overlap_quarantine", "quarantine", "replace_keys", "stored_rows"]


def replace_keys(schema: Schema) -> tuple[str, ...]:
    return schema.long_key if schema.kind == "questionnaire" else schema.key


def merged(first: pd.DataFrame, second: pd.DataFrame, by: str) -> pd.DataFrame:
    if first.empty:
        return second.reset_index(drop=True)
    out = pd.concat([first, second.astype({by: "int64"})], ignore_index=True)
    return out.sort_values(by, kind="stable").reset_index(drop=True)


def overlap_quarantine(
    kind: str, path: Path, sha: str, found: Overlap
) -> tuple[pd.DataFrame, RowContents]:
    content = found.quarantine_content
    contents = RowContents.of_texts(np.array(list(content), dtype=np.int64), content.values())
    return _quarantine_rows(kind, path, sha, found.failures, contents), contents


def stored_rows(schema: Schema, validated: Validated, sha: str) -> pd.DataFrame:
    n = len(validated.data)
    keep = validated.accepted[:n]
    if validated.long is not None:
        long = validated.long
        long = long[keep[long["_pos"].to_numpy()]]
        out = long.drop(columns="_pos").assign(_row=validated.rows[long["_pos"].to_numpy()])
    else:
        out = validated.data[keep].assign(_row=validated.rows[:n][keep])
    out = out.assign(_source_sha256=sha)
    # A column the file lacks is left out: the insert names only the columns it gives,
    # and the store fills the others with NULL (as a column of nulls would), without
    # handing DuckDB a column of Python NA objects per chunk.
    return out[[c for c in table_columns(schema) if c in out]].reset_index(drop=True)


def quarantine(kind: str, path: Path, sha: str, validated: Validated) -> pd.DataFrame:
    if validated.failures.empty:
        return validated.failures
    return _quarantine_rows(kind, path, sha, validated.failures, validated.contents)


def _quarantine_rows(
    kind: str, path: Path, sha: str, failures: pd.DataFrame, contents: RowContents
) -> pd.DataFrame:
    """One quarantine row per failure, naming its row's content by digest."""
    at = pd.Index(contents.rows).get_indexer(failures["row"].to_numpy(dtype=np.int64))
    if (at < 0).any():
        raise ValueError("a failure's row has no quarantine content")
    n = len(failures)
    same = np.zeros(n, dtype=np.int8)  # one value for every row: handed over once, not n times
    return pd.DataFrame(
        {
            "kind": pd.Categorical.from_codes(same, [kind]),
            "file": pd.Categorical.from_codes(same, [shown_path(path)]),
            "_source_sha256": pd.Categorical.from_codes(same, [sha]),
            "_row": failures["row"].to_numpy(dtype=np.int64),
            "column": failures["column"],
            "rule": failures["rule"],
            "value": failures["value"],
            "message": failures["message"],
            "content_k1": contents.k1[at],
            "content_k2": contents.k2[at],
        }
    )

"""Read the column names of the data schemas (``data_schemas/*.yaml``) for checking definitions.

The protocol layer must not import :mod:`evalkit.ingest` (same layer), so it reads
the schema files itself with a safe YAML load (a key given twice refused) and uses
only what it needs: the schema's version, its canonical columns with their type and
allowed values, and (for questionnaires) the instrument items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from evalkit._yaml import load_unique, yaml_problem
from evalkit.errors import ProtocolError

__all__ = ["SchemaInfo", "find_schema_dir", "load_schemas"]

SCHEMA_KINDS: tuple[str, ...] = ("outcome_panel", "case_events", "questionnaire")


@dataclass(frozen=True)
class SchemaInfo:
    """What the protocol needs to know about one data schema.

    Attributes
    ----------
    kind : str
        The schema kind (file stem), e.g. ``outcome_panel``.
    version : int
        The schema's version number.
    columns : mapping of str to mapping
        Canonical column name to its spec (``type``, ``allowed``, ...), including
        questionnaire instrument items (type ``number``).
    instruments : mapping of str to tuple of str
        Questionnaire instrument name to its items (empty for other kinds).
    """

    kind: str
    version: int
    columns: Mapping[str, Mapping[str, Any]]
    instruments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def find_schema_dir(start: Path | str | None = None) -> Path:
    """Return the ``data_schemas`` folder that applies to a protocol.

    Looks in the folders above ``start`` (the protocol file), then above the
    current directory, then next to the installed package (editable install).

    Parameters
    ----------
    start : path, optional
        A file or folder to start looking from.

    Returns
    -------
    pathlib.Path
        The folder holding ``outcome_panel.yaml`` and the other schemas.

    Raises
    ------
    ProtocolError
        When no such folder exists.
    """
    candidates: list[Path] = []
    if start is not None:
        here = Path(start).resolve()
        candidates.extend([here, *here.parents])
    cwd = Path.cwd().resolve()
    candidates.extend([cwd, *cwd.parents])
    candidates.append(Path(__file__).resolve().parents[2])
    for folder in candidates:
        if (folder / "data_schemas" / "outcome_panel.yaml").is_file():
            return folder / "data_schemas"
    raise ProtocolError(
        "cannot find data_schemas/outcome_panel.yaml above the protocol file or the current "
        "folder; run evalkit from the project folder"
    )


@lru_cache(maxsize=8)
def _load(folder: str) -> dict[str, SchemaInfo]:
    schemas: dict[str, SchemaInfo] = {}
    for kind in SCHEMA_KINDS:
        path = Path(folder) / f"{kind}.yaml"
        if not path.is_file():
            continue
        try:
            raw = load_unique(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:  # a column or alias list written twice, too
            raise ProtocolError(yaml_problem(path, exc)) from exc
        columns: dict[str, Mapping[str, Any]] = dict(raw.get("columns") or {})
        instruments: dict[str, tuple[str, ...]] = {}
        for name, spec in (raw.get("instruments") or {}).items():
            items = tuple(spec.get("items") or ())
            instruments[name] = items
            for item in items:
                columns.setdefault(item, {"type": "number", "range": spec.get("range")})
        schemas[kind] = SchemaInfo(
            kind=kind,
            version=int(raw.get("version", 1)),
            columns=columns,
            instruments=instruments,
        )
    return schemas


def load_schemas(start: Path | str | None = None) -> dict[str, SchemaInfo]:
    """Return every data schema found, keyed by kind.

    Parameters
    ----------
    start : path, optional
        The protocol file (or any folder in the project).

    Returns
    -------
    dict of str to SchemaInfo
        ``outcome_panel``, ``case_events`` and ``questionnaire`` when present.
    """
    return _load(str(find_schema_dir(start)))

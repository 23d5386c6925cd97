"""Declarative data schemas (``data_schemas/KIND.yaml``): loading, checking, header matching."""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml

from evalkit._yaml import load_unique, yaml_problem
from evalkit.errors import IngestError
from evalkit.ingest._text import header_key, value_key

ColumnType = Literal[
    "string", "pseudonym", "category", "boolean", "integer", "number", "date", "month"
]
Kind = Literal["outcome_panel", "questionnaire", "case_events"]
KINDS: tuple[str, ...] = get_args(Kind)
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
RULE_TYPES = ("event_order", "one_value_per_group", "age", "exclusive")
MISSING_REASONS = ("not_asked", "unknown", "refused", "not_applicable")

SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "pseudonym": "VARCHAR",
    "category": "VARCHAR",
    "boolean": "BOOLEAN",
    "integer": "INTEGER",
    "number": "DOUBLE",
    "date": "DATE",
    "month": "DATE",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a schema: its type and the rules its values follow."""

    name: str
    type: ColumnType
    required: bool = False
    aliases: tuple[str, ...] = ()
    allowed: tuple[str, ...] | None = None
    value_aliases: Mapping[str, str] = field(default_factory=dict)
    pattern: str | None = None
    min: Any = None
    max: Any = None
    identifier: str | None = None
    not_future: bool = False

    def __repr__(self) -> str:
        return f"ColumnSpec({self.name!r}, {self.type}, required={self.required})"

    def lookup(self) -> dict[str, str]:
        """Map comparison keys of allowed values and their aliases to canonical values."""
        table = {value_key(v): str(v) for v in self.allowed or ()}
        table.update({value_key(k): str(v) for k, v in self.value_aliases.items()})
        return table


@dataclass(frozen=True)
class Instrument:
    """A questionnaire instrument: its items and their valid range."""

    name: str
    label: str
    version: str
    low: float
    high: float
    items: tuple[str, ...]
    reverse: tuple[str, ...] = ()
    not_applicable_code: int | None = None


@dataclass(frozen=True)
class Schema:
    """A parsed ``data_schemas/KIND.yaml``."""

    kind: str
    version: int
    description: str
    key: tuple[str, ...]
    columns: Mapping[str, ColumnSpec]
    rules: tuple[Mapping[str, Any], ...] = ()
    missing_codes: Mapping[int, str] = field(default_factory=dict)
    missing_labels: Mapping[str, str] = field(default_factory=dict)
    instruments: Mapping[str, Instrument] = field(default_factory=dict)
    long_columns: Mapping[str, ColumnSpec] = field(default_factory=dict)
    long_key: tuple[str, ...] = ()
    source: str = ""

    def __repr__(self) -> str:
        return f"Schema({self.kind!r}, version={self.version}, columns={len(self.columns)})"

    def header_keys(self) -> frozenset[str]:
        """Comparison keys of every header this kind accepts (names, aliases, items)."""
        names = [a for n, c in self.columns.items() for a in (n, *c.aliases)]
        names += [a for n, c in self.long_columns.items() for a in (n, *c.aliases)]
        names += [i for ins in self.instruments.values() for i in ins.items]
        return frozenset(header_key(n) for n in names)

    def item_instrument(self) -> dict[str, Instrument]:
        """Map every questionnaire item name to its instrument."""
        return {item: ins for ins in self.instruments.values() for item in ins.items}


def schema_dir() -> Path:
    """Return the folder schemas are read from.

    ``EVALKIT_SCHEMA_DIR`` when set, else ``./data_schemas`` when it exists, else
    the ``data_schemas`` folder of the evalkit source tree.

    Returns
    -------
    pathlib.Path
        The schema folder.
    """
    env = os.environ.get("EVALKIT_SCHEMA_DIR")
    if env:
        return Path(env)
    local = Path.cwd() / "data_schemas"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[2] / "data_schemas"


def check_kind(kind: str) -> str:
    """Return ``kind`` when it is a known kind of data, else raise.

    Parameters
    ----------
    kind : str
        The kind asked for.

    Returns
    -------
    str
        The same kind.

    Raises
    ------
    IngestError
        When the kind is unknown; the message lists the allowed kinds.
    """
    if kind not in KINDS:
        raise IngestError(f"unknown kind {kind!r}; allowed: {', '.join(KINDS)}")
    return kind


def load_schema(kind: str, directory: Path | None = None) -> Schema:
    """Load and check the schema of one kind of data.

    Parameters
    ----------
    kind : {"outcome_panel", "questionnaire", "case_events"}
        The kind of data.
    directory : pathlib.Path, optional
        Where the YAML files are; defaults to :func:`schema_dir`.

    Returns
    -------
    Schema
        The parsed schema.

    Raises
    ------
    IngestError
        When the kind is unknown or the schema file is invalid.
    """
    check_kind(kind)
    path = (directory or schema_dir()) / f"{kind}.yaml"
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=16)
def _load_cached(path_text: str, _mtime: int) -> Schema:
    path = Path(path_text)
    if not path.is_file():
        raise IngestError(f"{path}: schema file not found")
    try:
        # a column or its alias list written twice would silently replace the first
        raw = load_unique(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise IngestError(yaml_problem(path, exc)) from exc
    if not isinstance(raw, dict):
        raise IngestError(f"{path}: expected a mapping at the top level")
    where = str(path)
    columns = {n: _column(where, n, spec) for n, spec in (raw.get("columns") or {}).items()}
    long_columns = {
        n: _column(where, n, spec) for n, spec in (raw.get("long_columns") or {}).items()
    }
    key = tuple(raw.get("key") or ())
    for name in key:
        if name not in columns:
            raise IngestError(f"{where}: key column {name!r} is not among the columns")
    rules = tuple(raw.get("rules") or ())
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or rule.get("rule") not in RULE_TYPES:
            raise IngestError(
                f"{where}: rules[{i}].rule must be one of {', '.join(RULE_TYPES)}; got {rule!r}"
            )
    missing_codes = {}
    for code, reason in (raw.get("missing_codes") or {}).items():
        if reason not in MISSING_REASONS:
            raise IngestError(
                f"{where}: missing_codes.{code} = {reason!r}; allowed: {', '.join(MISSING_REASONS)}"
            )
        if code != "system":
            missing_codes[int(code)] = str(reason)
    missing_labels = {value_key(k): str(v) for k, v in (raw.get("missing_labels") or {}).items()}
    instruments = {
        n: _instrument(where, n, spec) for n, spec in (raw.get("instruments") or {}).items()
    }
    return Schema(
        kind=str(raw.get("kind", path.stem)),
        version=int(raw.get("version", 1)),
        description=str(raw.get("description", "")),
        key=key,
        columns=columns,
        rules=rules,
        missing_codes=missing_codes,
        missing_labels=missing_labels,
        instruments=instruments,
        long_columns=long_columns,
        long_key=tuple(raw.get("long_key") or ()),
        source=where,
    )


def _bound(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return date.fromisoformat(value)
    return value


def _column(where: str, name: str, spec: Any) -> ColumnSpec:
    if not isinstance(spec, dict):
        raise IngestError(f"{where}: columns.{name} must be a mapping")
    ctype = spec.get("type")
    if ctype not in get_args(ColumnType):
        raise IngestError(
            f"{where}: columns.{name}.type {ctype!r} is not one of "
            f"{', '.join(get_args(ColumnType))}"
        )
    allowed = spec.get("allowed")
    return ColumnSpec(
        name=name,
        type=cast(ColumnType, ctype),
        required=bool(spec.get("required", False)),
        aliases=tuple(str(a) for a in spec.get("aliases") or ()),
        allowed=tuple(str(a) for a in allowed) if allowed is not None else None,
        value_aliases={str(k): str(v) for k, v in (spec.get("value_aliases") or {}).items()},
        pattern=spec.get("pattern"),
        min=_bound(spec.get("min")),
        max=_bound(spec.get("max")),
        identifier=spec.get("identifier"),
        not_future=bool(spec.get("not_future", False)),
    )


def _instrument(where: str, name: str, spec: Any) -> Instrument:
    try:
        low, high = (float(x) for x in spec["range"])
        items = tuple(str(i) for i in spec["items"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IngestError(f"{where}: instruments.{name} needs range [low, high] and items") from exc
    code = spec.get("not_applicable_code")
    return Instrument(
        name=name,
        label=str(spec.get("label", name)),
        version=str(spec.get("version", "1")),
        low=low,
        high=high,
        items=items,
        reverse=tuple(str(i) for i in spec.get("reverse") or ()),
        not_applicable_code=int(code) if code is not None else None,
    )


def match_headers(
    headers: Sequence[str], specs: Mapping[str, ColumnSpec], *, file: str
) -> tuple[dict[str, str], list[str]]:
    """Map file headers to canonical column names.

    Parameters
    ----------
    headers : sequence of str
        The headers as found in the file.
    specs : mapping
        Canonical name to column spec (canonical names and aliases are tried).
    file : str
        The file name, for messages.

    Returns
    -------
    mapping : dict
        File header to canonical name, for the headers that matched.
    unmatched : list of str
        Headers that matched no column.

    Raises
    ------
    IngestError
        When two headers map to the same column.
    """
    keys: dict[str, str] = {}
    for name, spec in specs.items():
        for alias in (name, *spec.aliases):
            keys.setdefault(header_key(alias), name)
    pairs: list[tuple[str, str]] = []
    unmatched: list[str] = []
    for header in headers:
        canonical = keys.get(header_key(header))
        if canonical is None:  # a unit or hint in brackets: "Geslacht (M/V)", "Bedrag (EUR)"
            canonical = keys.get(header_key(_BRACKETS.sub("", header)))
        if canonical is None:
            unmatched.append(header)
            continue
        pairs.append((header, canonical))
    one_header_per_column(pairs, file=file)
    return dict(pairs), unmatched


def one_header_per_column(pairs: Iterable[tuple[str, str]], *, file: str) -> None:
    """Refuse two file headers that map to the same column (which one holds the data?).

    Parameters
    ----------
    pairs : iterable of (str, str)
        File header and the canonical column (or questionnaire item) it maps to.
    file : str
        The file name, for the message.

    Raises
    ------
    IngestError
        Naming the file, both headers, the column and the rule (``duplicate header``).
    """
    seen: dict[str, str] = {}
    for header, canonical in pairs:
        if canonical in seen:
            raise IngestError(
                f"{file}: duplicate header: columns {seen[canonical]!r} and {header!r} both map "
                f"to {canonical!r}; remove one or rename it"
            )
        seen[canonical] = header


def missing_required(
    mapping: Mapping[str, str],
    specs: Mapping[str, ColumnSpec],
    *,
    file: str,
    needs: Collection[str] | None = None,
) -> None:
    """Raise when a required column is absent, naming the headers it accepts.

    Parameters
    ----------
    mapping : mapping
        File header to canonical name.
    specs : mapping
        Canonical name to column spec.
    file : str
        The file name, for the message.
    needs : collection of str, optional
        The columns an analysis uses (plus the keys): only these must be present.
        Default: every column the schema marks required.

    Raises
    ------
    IngestError
        When at least one required column is missing, or ``needs`` names a column
        the schema does not know.
    """
    present = set(mapping.values())
    if needs is not None:
        unknown = sorted(set(needs) - set(specs))
        if unknown:
            raise IngestError(
                f"{file}: the analysis needs columns the schema does not know: {', '.join(unknown)}"
            )
    wanted = [n for n, s in specs.items() if (s.required if needs is None else n in needs)]
    absent = [specs[n] for n in wanted if n not in present]
    if absent:
        parts = [
            f"{s.name} (also accepted: {', '.join(s.aliases)})" if s.aliases else s.name
            for s in absent
        ]
        raise IngestError(f"{file}: required column missing: {'; '.join(parts)}")

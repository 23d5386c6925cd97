"""Field-by-field differences between a registered and a current protocol, and their coverage."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from evalkit.protocol._fields import PROTOCOL_SPEC
from evalkit.protocol._spec import item_key, with_defaults
from evalkit.protocol.model import Deviation

__all__ = ["Difference", "covered_by", "covers", "diff_protocols", "resolve"]

_ABSENT: Any = None


@dataclass(frozen=True)
class Difference:
    """One changed field: its path, the registered value and the current value."""

    path: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"field", "old", "new"}``."""
        return {"field": self.path, "old": self.old, "new": self.new}

    def describe(self) -> str:
        """Return one line saying what changed (lists: what was removed and added)."""
        if isinstance(self.old, list) and isinstance(self.new, list):
            removed = [v for v in self.old if v not in self.new]
            added = [v for v in self.new if v not in self.old]
            if (removed or added) and all(not isinstance(v, Mapping) for v in removed + added):
                parts = []
                if removed:
                    parts.append(f"removed {', '.join(map(str, removed))}")
                if added:
                    parts.append(f"added {', '.join(map(str, added))}")
                return f"{self.path}: {'; '.join(parts)}"
        if self.old is None:
            return f"{self.path}: added {_short(self.new)}"
        if self.new is None:
            return f"{self.path}: removed (was {_short(self.old)})"
        return f"{self.path}: registered {_short(self.old)}, now {_short(self.new)}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def resolve(deviations: Iterable[Deviation], differences: Iterable[Difference]) -> list[Deviation]:
    """Fill in a deviation's missing ``old``/``new`` from the change at exactly its field."""
    by_path = {d.path: d for d in differences}
    out = []
    for v in deviations:
        d = by_path.get(v.field.strip())
        if d is not None and (v.old is None or v.new is None):
            v = replace(
                v, old=d.old if v.old is None else v.old, new=d.new if v.new is None else v.new
            )
        out.append(v)
    return out


def _complete(content: Mapping[str, Any]) -> dict[str, Any]:
    full = with_defaults({k: v for k, v in content.items() if k != "deviations"}, PROTOCOL_SPEC)
    full.pop("deviations", None)
    analysis, units = full.get("analysis"), full.get("units")
    if isinstance(analysis, dict) and isinstance(units, dict) and not analysis.get("cluster"):
        analysis["cluster"] = units.get("column") or "municipality"
    return full


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    if not items or not all(isinstance(i, Mapping) for i in items):
        return None
    keys = [item_key(i, n) for n, i in enumerate(items)]
    if any(k.isdigit() for k in keys) or len(set(keys)) != len(keys):
        return None
    return dict(zip(keys, items, strict=True))


def _walk(old: Any, new: Any, path: str, out: list[Difference]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in list(old) + [k for k in new if k not in old]:
            _walk(old.get(key), new.get(key), f"{path}.{key}" if path else str(key), out)
        return
    if isinstance(old, list) and isinstance(new, list):
        a, b = _keyed(old), _keyed(new)
        if a is not None and b is not None:
            for key in list(a) + [k for k in b if k not in a]:
                _walk(a.get(key), b.get(key), f"{path}[{key}]", out)
            if list(a) != [k for k in b if k in a] and set(a) == set(b):
                out.append(Difference(f"{path} (order)", list(a), list(b)))
            return
    if old != new:
        out.append(Difference(path, old, new))


def diff_protocols(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Difference]:
    """Return every field that differs between two protocol contents (defaults filled in).

    Lists of records with ids (outcomes, hypotheses, subgroups, treated units, data
    sources) are compared item by item, so paths read ``outcomes[neet].smallest_effect``.
    """
    out: list[Difference] = []
    _walk(_complete(old), _complete(new), "", out)
    return out


def covers(field: str, path: str) -> bool:
    """Return whether a deviation for ``field`` covers a change at ``path`` (or inside it)."""
    field = field.strip()
    return (
        path == field
        or path.startswith(field + ".")
        or path.startswith(field + "[")
        or (path.startswith(field + " ("))
    )


def _same(a: Any, b: Any) -> bool:
    def norm(v: Any) -> str:
        return json.dumps(v, sort_keys=True, ensure_ascii=False, default=str)

    return a == b or norm(a) == norm(b) or str(a) == str(b)


def covered_by(
    differences: Iterable[Difference], deviations: Iterable[Deviation]
) -> tuple[list[Difference], list[str], list[str]]:
    """Return the differences no deviation covers, mismatched deviations, and unused ones.

    A deviation for field ``F`` covers a change at ``F`` and anything inside it
    (``outcomes[neet]`` covers ``outcomes[neet].smallest_effect``). When the deviation
    names the exact field, its ``old``/``new`` must match the registered and current values.
    """
    differences = list(differences)
    deviations = list(deviations)
    uncovered = [d for d in differences if not any(covers(v.field, d.path) for v in deviations)]
    problems: list[str] = []
    unused: list[str] = []
    for v in deviations:
        hits = [d for d in differences if covers(v.field, d.path)]
        if not hits:
            unused.append(v.field)
            continue
        exact = [d for d in hits if d.path == v.field.strip()]
        for d in exact:
            if v.new is not None and not _same(v.new, d.new):
                problems.append(
                    f"deviations: the entry for {v.field} says new = {v.new!r}, but the "
                    f"protocol now has {d.new!r}"
                )
            if v.old is not None and not _same(v.old, d.old):
                problems.append(
                    f"deviations: the entry for {v.field} says old = {v.old!r}, but the "
                    f"registered value is {d.old!r}"
                )
    return uncovered, problems, unused

"""A small declarative checker for nested YAML: types, required fields, allowed values.

It collects every problem (never stops at the first), each as ``"<field path>: <what is
wrong>; <what is allowed>"``, and returns the content normalised (dates and months
as ``YYYY-MM-DD``/``YYYY-MM`` text). Defaults are filled in by :func:`with_defaults`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Field", "item_key", "validate", "with_defaults"]

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MISSING = object()


@dataclass(frozen=True)
class Field:
    """Specification of one field.

    Attributes
    ----------
    kind : str
        ``str``, ``int``, ``number``, ``bool``, ``month``, ``date``, ``text`` (a text
        or a mapping of language code to text), ``expr``, ``any``, ``list``,
        ``record`` or ``map`` (free keys, values of ``item``).
    required : bool
        Whether the field must be present.
    default : object
        Value used when absent (``None``: no value).
    allowed : tuple, optional
        Allowed values (for ``str``).
    pattern : str, optional
        Regular expression a ``str`` must match, with ``pattern_hint`` explaining it.
    minimum, maximum : float, optional
        Bounds for ``int`` and ``number`` (inclusive).
    item : Field, optional
        Item spec for ``list`` and ``map``.
    fields : mapping of str to Field
        Field specs for ``record``.
    min_items : int
        Least number of items of a ``list``.
    per_language : bool
        A ``text`` the reports show in each language: one text per language of
        ``metadata.languages`` (checked by :mod:`evalkit.protocol._languages`).
    doc : str
        One-line explanation (used in messages and the template).
    """

    kind: str
    required: bool = False
    default: Any = None
    allowed: tuple[Any, ...] | None = None
    pattern: str | None = None
    pattern_hint: str = ""
    minimum: float | None = None
    maximum: float | None = None
    item: Field | None = None
    fields: Mapping[str, Field] = field(default_factory=dict)
    min_items: int = 0
    per_language: bool = False
    doc: str = ""


def item_key(value: Any, index: int) -> str:
    """Return how a list item is named in a field path: its id, unit or kind, else its index."""
    if isinstance(value, Mapping):
        for key in ("id", "unit", "kind"):
            if isinstance(value.get(key), str) and value[key]:
                return value[key]
    return str(index)


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (empty)"
    if isinstance(value, bool):
        return f"yes/no {value}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def validate(value: Any, spec: Field, path: str, errors: list[str]) -> Any:
    """Check ``value`` against ``spec``, append problems to ``errors``, return it normalised.

    Parameters
    ----------
    value : object
        The value from the YAML file.
    spec : Field
        What is allowed.
    path : str
        The field path used in messages (``analysis.alpha``, ``outcomes[neet].type``).
    errors : list of str
        Problems are appended here.

    Returns
    -------
    object
        The normalised value, or ``None`` when it is unusable.
    """
    check = _BY_KIND.get(spec.kind)
    if check is None:  # pragma: no cover - a bug in the spec
        raise ValueError(f"unknown field kind {spec.kind!r}")
    return check(value, spec, path, errors)


def _any(value: Any, spec: Field, path: str, errors: list[str]) -> Any:
    return _plain(value)


def _list(value: Any, spec: Field, path: str, errors: list[str]) -> list[Any] | None:
    if not isinstance(value, list):
        errors.append(f"{path}: expected a list, got {_type_name(value)}")
        return None
    if len(value) < spec.min_items:
        errors.append(f"{path}: needs at least {spec.min_items} item(s), got {len(value)}")
    item = spec.item or Field("any")
    return [validate(v, item, f"{path}[{item_key(v, i)}]", errors) for i, v in enumerate(value)]


def _map(value: Any, spec: Field, path: str, errors: list[str]) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        errors.append(f"{path}: expected a mapping (key: value), got {_type_name(value)}")
        return None
    item = spec.item or Field("any")
    return {str(k): validate(v, item, f"{path}.{k}", errors) for k, v in value.items()}


def _text(value: Any, spec: Field, path: str, errors: list[str]) -> Any:
    """Check a text, or one text per language (``{nl: ..., en: ...}``)."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, Mapping) and value:
        bad = [k for k, v in value.items() if not isinstance(v, str) or not v.strip()]
        unknown = [k for k in value if k not in ("nl", "en")]
        if unknown:
            errors.append(f"{path}: unknown language(s) {unknown}; allowed: nl, en")
        if bad:
            errors.append(f"{path}: the text for {bad} must be non-empty text")
        return {str(k): v for k, v in value.items()}
    errors.append(f"{path}: expected a text or {{nl: ..., en: ...}}, got {_type_name(value)}")
    return None


def _string(value: Any, spec: Field, path: str, errors: list[str]) -> str | None:
    """Check a non-empty text: one of the allowed values, or matching the pattern."""
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{path}: expected a text, got {_type_name(value)}")
        return None
    if spec.allowed is not None and value not in spec.allowed:
        close = difflib.get_close_matches(value, [str(a) for a in spec.allowed], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        errors.append(
            f"{path}: {value!r} is not allowed{hint}; allowed: "
            f"{', '.join(str(a) for a in spec.allowed)}"
        )
        return None
    if spec.pattern is not None and not re.match(spec.pattern, value):
        errors.append(f"{path}: {value!r} is not {spec.pattern_hint or spec.pattern}")
        return None
    return value


def _bool(value: Any, spec: Field, path: str, errors: list[str]) -> bool | None:
    if not isinstance(value, bool):
        errors.append(f"{path}: expected true or false, got {_type_name(value)}")
        return None
    return value


def _number(value: Any, spec: Field, path: str, errors: list[str]) -> int | float | None:
    """Check a whole number (``int``) or any number against bounds and allowed values."""
    ok = isinstance(value, int) if spec.kind == "int" else isinstance(value, int | float)
    if isinstance(value, bool) or not ok:
        want = "a whole number" if spec.kind == "int" else "a number"
        errors.append(f"{path}: expected {want}, got {_type_name(value)}")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        # NaN passes every < and > bound check silently, so refuse it by name.
        errors.append(f"{path}: expected a finite number, got {value}")
        return None
    if spec.minimum is not None and value < spec.minimum:
        errors.append(f"{path}: {value} is below the minimum {_bound(spec.minimum)}")
    if spec.maximum is not None and value > spec.maximum:
        errors.append(f"{path}: {value} is above the maximum {_bound(spec.maximum)}")
    if spec.allowed is not None and value not in spec.allowed:
        errors.append(
            f"{path}: {value} is not allowed; allowed: {', '.join(map(str, spec.allowed))}"
        )
        return None
    return value


def _bound(bound: float) -> str:
    """Write a bound as a person would: 4294967295, not 4.29497e+09."""
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _month(value: Any, spec: Field, path: str, errors: list[str]) -> str | None:
    if isinstance(value, dt.date):
        errors.append(
            f"{path}: expected a month 'YYYY-MM', got the date {value.isoformat()}; "
            "write the month only"
        )
        return None
    if not isinstance(value, str) or not _MONTH.match(value):
        errors.append(f"{path}: expected a month 'YYYY-MM', got {_type_name(value)}")
        return None
    return value


def _date(value: Any, spec: Field, path: str, errors: list[str]) -> str | None:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and _DATE.match(value):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    errors.append(f"{path}: expected a date 'YYYY-MM-DD', got {_type_name(value)}")
    return None


def _record(value: Any, spec: Field, path: str, errors: list[str]) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        errors.append(
            f"{path or 'protocol'}: expected a mapping of fields, got {_type_name(value)}"
        )
        return None
    out: dict[str, Any] = {}
    prefix = f"{path}." if path else ""
    for key, sub in value.items():
        key = str(key)
        if key not in spec.fields:
            close = difflib.get_close_matches(key, list(spec.fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            errors.append(
                f"{prefix}{key}: unknown field{hint}; allowed here: {', '.join(spec.fields)}"
            )
            continue
        out[key] = validate(sub, spec.fields[key], f"{prefix}{key}", errors)
    for key, sub_spec in spec.fields.items():
        if sub_spec.required and key not in value:
            what = f" ({sub_spec.doc})" if sub_spec.doc else ""
            errors.append(f"{prefix}{key}: required field is missing{what}")
    return out


def with_defaults(value: Any, spec: Field) -> Any:
    """Return ``value`` with every absent field that has a default filled in.

    Absent fields without a default stay absent (never ``None``), so readers can use
    ``mapping.get(key, default)``.
    """
    if spec.kind == "record" and isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, sub in spec.fields.items():
            if key in value and value[key] is not None:
                out[key] = with_defaults(value[key], sub)
            elif sub.default is not None:
                out[key] = with_defaults(_copy(sub.default), sub)
            elif sub.kind == "record" and not sub.required and _has_defaults(sub):
                out[key] = with_defaults({}, sub)
        return out
    if spec.kind == "list" and isinstance(value, list):
        item = spec.item or Field("any")
        return [with_defaults(v, item) for v in value]
    return value


def _has_defaults(spec: Field) -> bool:
    return any(f.default is not None for f in spec.fields.values())


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> Any:
    """Turn YAML values (dates) into JSON-friendly ones."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


#: How each kind of field is checked (``Field.kind``).
_BY_KIND: dict[str, Callable[[Any, Field, str, list[str]], Any]] = {
    "any": _any,
    "record": _record,
    "list": _list,
    "map": _map,
    "text": _text,
    "str": _string,
    "expr": _string,
    "bool": _bool,
    "int": _number,
    "number": _number,
    "month": _month,
    "date": _date,
}

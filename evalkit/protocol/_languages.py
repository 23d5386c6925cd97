"""Texts the reports show in each language: one per language in ``metadata.languages``.

The protocol format marks these fields ``per_language`` (:mod:`evalkit.protocol._fields`):
the title, the intervention, outcome and subgroup labels and the hypotheses' wording. A
report in English must not show the Dutch label, so with two languages each of them is a
mapping ``{nl: ..., en: ...}`` holding both; a plain text is enough only when the protocol
has one language. Other texts (``missing_data``, ``exclusions``) may stay plain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from evalkit.protocol._fields import PROTOCOL_SPEC
from evalkit.protocol._spec import Field, item_key

__all__ = ["check_languages", "languages"]


def languages(p: Mapping[str, Any]) -> list[str]:
    """Return the protocol's languages (``metadata.languages``; nl and en when absent)."""
    meta = p.get("metadata") or {}
    # A refused entry arrives here as None; naming it ("no text in None") misleads.
    langs = [lang for lang in meta.get("languages") or [] if isinstance(lang, str)]
    return langs or ["nl", "en"]


def check_languages(p: Mapping[str, Any], errors: list[str]) -> None:
    """Append an error for each per-language text that lacks one of the protocol's languages.

    Parameters
    ----------
    p : mapping
        The protocol.
    errors : list of str
        Problems are appended here, each naming its field path.
    """
    langs = languages(p)
    for path, text in _per_language(p, PROTOCOL_SPEC, ""):
        if isinstance(text, str) and len(langs) > 1:
            pairs = ", ".join(f"{lang}: ..." for lang in langs)
            errors.append(
                f"{path}: one text for every language; metadata.languages asks for "
                f"{', '.join(langs)}, so write {{{pairs}}}"
            )
        elif isinstance(text, Mapping):
            missing = [lang for lang in langs if lang not in text]
            if missing:
                errors.append(
                    f"{path}: no text in {', '.join(missing)}; metadata.languages asks for "
                    f"{', '.join(langs)}"
                )


def _per_language(value: Any, spec: Field, path: str) -> Iterator[tuple[str, Any]]:
    """Yield ``(field path, value)`` of every per-language text, named as the checker names it."""
    if spec.per_language:
        yield path, value
    elif spec.kind == "record" and isinstance(value, Mapping):
        prefix = f"{path}." if path else ""
        for key, sub in spec.fields.items():
            if key in value:
                yield from _per_language(value[key], sub, f"{prefix}{key}")
    elif spec.kind == "list" and isinstance(value, list) and spec.item is not None:
        for i, item in enumerate(value):
            yield from _per_language(item, spec.item, f"{path}[{item_key(item, i)}]")

"""Translate report labels, captions and sentences from the one table in translations.yaml.

Keys are stable identifiers; values are ``{"nl": ..., "en": ...}`` templates for
``str.format``. Column names, table names, rule codes and limitation codes that are
not in the table fall back to a readable version of the key, so a new bundle
field never breaks a report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evalkit.errors import ReportError
from evalkit.report.formatting import check_lang

__all__ = ["TEXT", "label", "t"]

#: The translation table, loaded from translations.yaml beside this module:
#: ``key -> {"nl": text, "en": text}``.
TEXT: dict[str, dict[str, str]] = yaml.safe_load(
    (Path(__file__).with_name("translations.yaml")).read_text(encoding="utf-8")
)


def t(key: str, lang: str, **values: Any) -> str:
    """Translate ``key`` into ``lang`` and fill in ``values``.

    Raises
    ------
    ReportError
        When the key is not in the table (a programming error in a report).
    """
    check_lang(lang)
    entry = TEXT.get(key)
    if entry is None:
        raise ReportError(f"no translation for {key!r}")
    return entry[lang].format(**values) if values else entry[lang]


def label(prefix: str, code: Any, lang: str) -> str:
    """Translate a code (column, rule, step, ...) with a readable fallback for unknown codes."""
    entry = TEXT.get(f"{prefix}.{code}")
    if entry is not None:
        return entry[check_lang(lang)]
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if prefix in ("col", "tab", "step") else text

"""Translate report labels, captions and sentences from the one table in translations.yaml.

Keys are stable identifiers; values are ``{"nl": ..., "en": ...}`` templates for
``str.format``, with one addition: ``{n:plural:maand|maanden}`` writes the word that
agrees with ``n`` (so a template says ``{n} {n:plural:maand|maanden}`` rather than
"maand(en)"). Column names, table names, rule codes and limitation codes that are
not in the table fall back to a readable version of the key, so a new bundle
field never breaks a report.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import yaml

from evalkit.errors import ReportError
from evalkit.report.formatting import check_lang

__all__ = ["TEXT", "fill", "label", "t"]

#: libyaml's safe loader where PyYAML has it: the table is read in every process that
#: writes report text (the run, each analysis worker, each report kernel), and the pure
#: Python loader takes about ten times as long on it (a quarter of a second each).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The translation table, loaded from translations.yaml beside this module:
#: ``key -> {"nl": text, "en": text}``.
TEXT: dict[str, dict[str, str]] = yaml.load(
    (Path(__file__).with_name("translations.yaml")).read_text(encoding="utf-8"), Loader=_LOADER
)


class _PluralFormatter(string.Formatter):
    """``str.format`` that also understands ``{n:plural:singular|plural}``."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec.startswith("plural:"):
            singular, _, plural = format_spec.removeprefix("plural:").partition("|")
            return singular if _is_one(value) else plural
        return super().format_field(value, format_spec)


_FORMATTER = _PluralFormatter()
_DIGITS = re.compile(r"[^0-9\-]")


def _is_one(value: Any) -> bool:
    """Whether a count, raw or already formatted ("1", "1.000" is not), is exactly one."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value == 1
    return _DIGITS.sub("", str(value)) == "1"


def fill(template: str, **values: Any) -> str:
    """Fill a translation template (``str.format`` plus ``{n:plural:one|more}``).

    Parameters
    ----------
    template : str
        The template.
    **values
        The placeholders' values.

    Returns
    -------
    str
        The sentence.
    """
    return _FORMATTER.format(template, **values) if values else template


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
    return fill(entry[lang], **values)


def label(prefix: str, code: Any, lang: str) -> str:
    """Translate a code (column, rule, step, ...) with a readable fallback for unknown codes."""
    entry = TEXT.get(f"{prefix}.{code}")
    if entry is not None:
        return entry[check_lang(lang)]
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if prefix in ("col", "tab", "step") else text

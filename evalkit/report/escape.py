"""Keep text from outside (protocol, data) text: in markdown, file names and CSV cells.

The documents go through pandoc's markdown with raw HTML on, so a protocol title
``<script>…</script>`` or an outcome label ``[x](javascript:…)`` would become live
markup. Every piece of outside text inserted into markdown goes through
:func:`md_escape` (a backslash before every ASCII punctuation character, which
pandoc's markdown turns back into that literal character); HTML the report builds
itself escapes with :func:`html.escape`. CSV cells follow OWASP's CSV-injection rule.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["csv_cell", "drop_bidi", "md_escape", "md_unescape", "safe_name"]

# pandoc markdown: "Any ASCII punctuation character may be backslash-escaped".
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")
#: OWASP "CSV Injection": cells starting with these are read as formulas by spreadsheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
#: Unicode's bidi embeddings, overrides and isolates: in a sentence, a right-to-left
#: override in a label turns the report's own words and numbers after it around on screen
#: ("p = 0,333" reads "333,0 = p"; the "Trojan Source" trick, CVE-2021-42574).
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def drop_bidi(text: str) -> str:
    """Return ``text`` without bidi embedding, override and isolate characters."""
    return _BIDI.sub("", text)


def md_escape(text: str) -> str:
    """Return ``text`` so that pandoc's markdown shows it literally (no markup, no HTML).

    Newlines become spaces: outside text must not start a new block (a heading, a list).
    Bidi embedding, override and isolate characters are dropped (they would reorder the
    rest of the sentence).
    """
    flat = " ".join(drop_bidi(str(text)).splitlines())
    return _PUNCT.sub(r"\\\1", flat)


def md_unescape(text: str) -> str:
    """Undo :func:`md_escape` for a place that takes plain text (a page title, a caption)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def csv_cell(value: Any) -> Any:
    """Neutralise a text cell a spreadsheet would run as a formula; numbers stay numbers.

    A text starting with ``= + - @``, tab or carriage return gets a leading single quote
    (OWASP's rule). A number (also a negative one) is returned unchanged.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_name(text: str, default: str = "table") -> str:
    """Return a file name made from outside text: letters, digits, ``_ . -`` only.

    Path separators and dots at either end are removed, so the name cannot leave its folder.
    """
    name = _UNSAFE.sub("_", str(text)).strip("._-")
    return name or default

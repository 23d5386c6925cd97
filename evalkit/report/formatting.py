"""Numbers, intervals, p-values and dates formatted per language (decimal comma in Dutch)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from evalkit.errors import ReportError

__all__ = [
    "LANGS",
    "check_lang",
    "fmt_ci",
    "fmt_count",
    "fmt_date",
    "fmt_num",
    "fmt_p",
    "fmt_pct",
    "fmt_set",
    "is_missing",
]

LANGS = ("nl", "en")
_SEP = {"nl": (",", "."), "en": (".", ",")}  # (decimal, thousands)
_MINUS = "\u2212"
_MONTHS = {
    "nl": [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
}


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise ``ReportError`` listing the allowed values."""
    if lang not in LANGS:
        raise ReportError(f"language {lang!r} is not supported; use one of {', '.join(LANGS)}")
    return lang


def is_missing(x: Any) -> bool:
    """Tell whether ``x`` is missing (``None``, NaN or an empty string)."""
    if x is None:
        return True
    if isinstance(x, float) and math.isnan(x):
        return True
    return isinstance(x, str) and not x.strip()


def _localise(text: str, lang: str) -> str:
    dec, thou = _SEP[check_lang(lang)]
    text = text.replace(",", "\0").replace(".", dec).replace("\0", thou)
    return text.replace("-", _MINUS)


def fmt_num(x: Any, lang: str, digits: int = 2, *, signed: bool = False) -> str:
    """Format a number with ``digits`` decimals, thousands separators and a real minus sign.

    Missing values give an en dash.
    """
    if is_missing(x):
        return "\u2013"
    value = float(x)
    if math.isinf(value):
        return ("-" if value < 0 else "") + "\u221e"
    if round(value, digits) == 0:
        value = 0.0  # no "-0,00"; and no sign: "+0,0" reads as a (small) increase
        signed = False
    text = f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    return _localise(text, lang)


def fmt_count(n: Any, lang: str) -> str:
    """Format a whole number (``1.234`` in Dutch, ``1,234`` in English)."""
    if is_missing(n):
        return "\u2013"
    return _localise(f"{int(n):,d}", lang)


def fmt_pct(share: Any, lang: str, digits: int = 1) -> str:
    """Format a share (0–1) as a percentage (``12,5%``)."""
    if is_missing(share):
        return "\u2013"
    return fmt_num(float(share) * 100, lang, digits) + "%"


def fmt_p(p: Any, lang: str) -> str:
    """Format a p-value: three decimals, ``< 0,001`` below that."""
    if is_missing(p):
        return "\u2013"
    if float(p) < 0.001:
        return "< " + fmt_num(0.001, lang, 3)
    return fmt_num(p, lang, 3)


def fmt_p_clause(p: Any, lang: str) -> str:
    """Write ``= 0,012`` or ``< 0,001``: what follows "p" in a sentence ("p < 0,001")."""
    shown = fmt_p(p, lang)
    return shown if shown.startswith(("<", ">")) else "= " + shown


def fmt_ci(low: Any, high: Any, lang: str, digits: int = 2) -> str:
    """Format an interval: ``[−0,05; 0,01]`` in Dutch, ``[−0.05, 0.01]`` in English."""
    if is_missing(low) or is_missing(high):
        return "\u2013"
    sep = "; " if lang == "nl" else ", "
    return f"[{fmt_num(low, lang, digits)}{sep}{fmt_num(high, lang, digits)}]"


def fmt_set(pieces: Sequence[Sequence[Any]], lang: str, digits: int = 2) -> str:
    """Format a confidence set of several pieces as a union: ``[−0,08; −0,01] ∪ [0,02; 0,06]``.

    Parameters
    ----------
    pieces : sequence of (low, high)
        The set's pieces in increasing order (one piece: an interval, as :func:`fmt_ci`).
    lang : str
        ``nl`` or ``en``.
    digits : int
        Decimals.

    Returns
    -------
    str
        The intervals joined by ``∪``.
    """
    if not pieces:
        return "\u2013"
    return " \u222a ".join(fmt_ci(low, high, lang, digits) for low, high in pieces)


def fmt_date(value: Any, lang: str, *, with_time: bool = False) -> str:
    """Format an ISO date or date-time (``3 februari 2026, 14:05 UTC``); months as ``YYYY-MM``."""
    if is_missing(value):
        return "\u2013"
    text = str(value)
    check_lang(lang)
    if len(text) == 7 and text[4] == "-":
        year, month = int(text[:4]), int(text[5:7])
        return f"{_MONTHS[lang][month - 1]} {year}"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    day = f"{moment.day} {_MONTHS[lang][moment.month - 1]} {moment.year}"
    if lang == "en":
        day = f"{moment.day} {_MONTHS[lang][moment.month - 1]} {moment.year}"
    if with_time and (len(text) > 10):
        zone = " UTC" if moment.utcoffset() is not None and not moment.utcoffset() else ""
        return f"{day}, {moment:%H:%M}{zone}"
    return day

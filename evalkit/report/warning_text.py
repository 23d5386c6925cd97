"""Estimator warnings in the report language, from the codes and values the bundle carries.

The estimators give every warning a stable code and its values (``warning_codes``
beside ``warnings`` in a result; see :mod:`evalkit.did.notes`). A report words each
one from ``w.<code>`` in the translation table, with its numbers formatted for the
language (decimal comma in Dutch). A warning without a code, or with a code the
table does not know (a bundle from another evalkit version), is shown as its
English text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from evalkit.report.disclosure import scrub
from evalkit.report.formatting import check_lang, fmt_count, fmt_num, fmt_pct
from evalkit.report.i18n import TEXT, fill, label

__all__ = ["FORMATS", "joined", "warning_text", "warning_texts"]

_MINUS = "\u2212"


def _number(value: Any, lang: str) -> str:
    """Write a period, cohort or small number without separators (``2005``, ``−5``, ``0,05``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    text = str(int(value)) if float(value).is_integer() else f"{value:g}"
    if lang == "nl":
        text = text.replace(".", ",")
    return text.replace("-", _MINUS)


def _numbers(value: Any, lang: str) -> str:
    items = value if isinstance(value, list) else [value]
    shown = [_number(v, lang) for v in items]
    whole = all(isinstance(v, int) or (isinstance(v, float) and v.is_integer()) for v in items)
    return ("; " if lang == "nl" and not whole else ", ").join(shown)


def _count(value: Any, lang: str) -> str:
    return fmt_count(value, lang) if isinstance(value, (int, float)) else str(value)


#: How each value of a warning is written, by its name; other names are shown as they are.
FORMATS: dict[str, Callable[[Any, str], str]] = {
    **dict.fromkeys(
        (
            "n",
            "total",
            "kept",
            "left_out",
            "treated",
            "clusters",
            "threshold",
            "comparison",
            "placebos",
            "assignments",
            "draws",
            "failed",
            "periods",
            "pre_periods",
            "post_periods",
            "anticipation",
            "outside",
        ),
        _count,
    ),
    "smallest": lambda v, lang: fmt_num(v, lang, 3),
    **dict.fromkeys(("value", "rmse", "spread"), lambda v, lang: fmt_num(v, lang, 3)),
    "alpha": _number,
    "level": lambda v, lang: fmt_pct(v, lang, 0),
    "size": lambda v, lang: fmt_pct(v, lang, 1),
    **dict.fromkeys(
        (
            *("cohorts", "cohort", "event_times", "first_period", "group", "time"),
            *("range_low", "range_high"),
        ),
        _numbers,
    ),
    "method": lambda v, lang: label("inf", v, lang),
    "outcome": lambda v, lang: str(v),
    "reason": lambda v, lang: str(v),
    "definition": lambda v, lang: str(v),
    "units": lambda v, lang: str(v),
}


def warning_text(entry: Any, lang: str) -> str | None:
    """Word one ``warning_codes`` entry in ``lang``; None when it cannot be worded.

    Parameters
    ----------
    entry : mapping or None
        ``{"code": ..., "values": {...}}`` as the estimators write it.
    lang : str
        ``nl`` or ``en``.

    Returns
    -------
    str or None
        The sentence, or None for a missing entry, an unknown code or values the
        sentence cannot be filled with.
    """
    check_lang(lang)
    if not isinstance(entry, Mapping) or not isinstance(entry.get("code"), str):
        return None
    template = TEXT.get(f"w.{entry['code']}")
    values = entry.get("values") or {}
    if template is None or not isinstance(values, Mapping):
        return None
    shown = {str(k): FORMATS.get(str(k), lambda v, _: str(v))(v, lang) for k, v in values.items()}
    try:
        return scrub(fill(template[lang], **shown))
    except (KeyError, IndexError, ValueError):
        return None


def warning_texts(warnings: Any, codes: Any, lang: str) -> list[str]:
    """Return a result's warnings in ``lang``, in order.

    Parameters
    ----------
    warnings : list of str, str or None
        The English texts (a list, or one string as the monitoring tables keep them).
    codes : list or None
        ``warning_codes``: one entry (or None) per warning, in the same order.
    lang : str
        ``nl`` or ``en``.

    Returns
    -------
    list of str
        One sentence per warning: from its code where it has one, else its English text.
    """
    if isinstance(warnings, list):
        texts = [str(w) for w in warnings]
    else:
        texts = [str(warnings)] if isinstance(warnings, str) and warnings.strip() else []
    entries = list(codes) if isinstance(codes, list) else []
    worded = [warning_text(e, lang) for e in entries]
    if entries and all(w is not None for w in worded) and len(entries) >= len(texts):
        return [w for w in worded if w is not None]  # every warning has a code
    if len(entries) != len(texts):
        return [scrub(t) for t in texts]  # cannot tell which code belongs to which text
    return [w if w is not None else scrub(t) for w, t in zip(worded, texts, strict=True)]


def joined(texts: list[str]) -> str:
    """Join warnings into one table cell: sentences one after the other, each closed by a stop."""
    return " ".join(t if t.endswith((".", "!", "?")) else t + "." for t in texts)

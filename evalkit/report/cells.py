"""How one cell of a report table is written: numbers, p-values, shares, codes, exports.

One format per quantity: counts with thousands separators, p-values as ``< 0,001``,
shares as percentages, a numeric column's decimals chosen once from all its values,
known codes in words, in the documents and in the exports alike (the exports keep
their canonical column names and a status's own detail). :mod:`evalkit.report.tables`
builds whole tables from these.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from evalkit.report.disclosure import is_count_column, scrub
from evalkit.report.escape import drop_bidi
from evalkit.report.formatting import fmt_count, fmt_date, fmt_num, fmt_p, fmt_pct, is_missing
from evalkit.report.i18n import TEXT, t
from evalkit.report.warning_text import joined

__all__ = [
    "Formatter",
    "code_label",
    "code_text",
    "column_formatter",
    "export_value",
    "format_cell",
    "is_p_column",
    "is_share",
    "localised",
    "pct_ci",
]

Formatter = Callable[[Any, str], str]
#: A status with a reason: ``not_estimable: the estimator's design is singular …``.
_STATUS = re.compile(r"^[a-z][a-z0-9_]*: ")
#: Columns that always show decimals, even for whole numbers.
_ESTIMATES = frozenset(
    {
        "estimate",
        "std_error",
        "conf_low",
        "conf_high",
        "att",
        "se",
        "mean",
        "sd",
        "std_diff",
        "statistic",
        "weight",
        "alpha",
        "baseline",
        "pilot_mean",
        "comparison_mean",
        "smallest_effect",
        "effect",
        "mde",
    }
)


def localised(value: Any, lang: str) -> Any:
    """Return the ``lang`` entry of a per-language mapping, else the value itself."""
    if isinstance(value, Mapping) and lang in value:
        return value[lang]
    return value


#: Quantities with a fixed number of decimals (the NPS is a whole score from -100 to 100;
#: throughput times and their bounds are days, whole or half from a Kaplan–Meier curve).
_DIGITS = {"nps": 0} | dict.fromkeys(
    ("median", "median_ci_low", "median_ci_high", "p80", "p80_ci_low", "p80_ci_high"), 1
)


def is_share(column: str) -> bool:
    """Tell whether a column holds shares (0–1), shown as percentages."""
    return (
        column.startswith("share")
        or column in ("rate", "power", "retention")
        or column.endswith(("_share", "_rate"))
    )


def is_p_column(column: str) -> bool:
    """Tell whether a column holds p-values (``p``, ``p_value``, ``p_adjusted``, ``wilcoxon_p``)."""
    return column == "p" or column.startswith("p_") or column.endswith("_p")


def column_formatter(column: str, values: pd.Series) -> Formatter | None:
    """One number format for a whole numeric column, chosen once from all its values.

    Counts, p-values and shares already have one format each (``format_cell``); other
    numbers would otherwise get decimals per value (``-25``, ``-22,0``, ``2,778`` in
    one column). Returns ``None`` where ``format_cell`` already decides per column.
    """
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    if is_count_column(column) or is_p_column(column) or is_share(column):
        return None
    nums = pd.to_numeric(values, errors="coerce").dropna()
    nums = nums[np.isfinite(nums)]
    if nums.empty:
        return None
    if column in _DIGITS:
        digits = _DIGITS[column]
    elif column.endswith(("_days", "_weeks", "_months")):
        digits = 1
    elif column not in _ESTIMATES and bool((nums == nums.round()).all()):
        digits = 0
    else:
        digits = 3 if float(nums.abs().max()) < 10 else 1

    def fmt(value: Any, lang: str) -> str:
        if not isinstance(value, numbers.Real) or isinstance(value, bool | np.bool_):
            return format_cell(column, value, lang)
        if is_missing(value):
            return "\u2013"
        return fmt_num(value, lang, digits)

    return fmt


def format_cell(column: str, value: Any, lang: str) -> str:
    """Default display of a value by its column name (counts, p-values, shares, text)."""
    value = localised(value, lang)
    if is_missing(value):
        return "\u2013"
    if isinstance(value, bool | np.bool_):
        return t("v.yes" if value else "v.no", lang)
    if isinstance(value, list):
        if column == "warnings":  # sentences, each closed by a stop
            return scrub(joined([str(v) for v in value])) or "\u2013"
        return scrub("; ".join(str(localised(v, lang)) for v in value)) or "\u2013"
    if isinstance(value, numbers.Real):
        if is_count_column(column) or column in ("rows_read", "accepted", "rejected", "bytes"):
            return fmt_count(value, lang)
        if is_p_column(column):
            return fmt_p(value, lang)
        if is_share(column):
            return fmt_pct(value, lang)
        number = float(value)
        if number.is_integer() and (abs(number) >= 10 or column not in _ESTIMATES):
            return fmt_count(number, lang)
        if column.endswith(("_days", "_weeks", "_months")):
            return fmt_num(number, lang, 1)
        return fmt_num(number, lang, 3 if abs(number) < 10 else 1)
    text = str(value)
    if column.endswith("_at"):
        return fmt_date(text, lang, with_time=True)
    # a known code (unit, scale, status, estimator …) in words, in the exports too
    return drop_bidi(scrub(str(code_text(text, lang)))).replace("\n", " ")


def pct_ci(low: Any, high: Any, lang: str) -> str:
    """Format the interval of a share in percentages (``[57,4%; 67,7%]``)."""
    sep = "; " if lang == "nl" else ", "
    return f"[{fmt_pct(low, lang)}{sep}{fmt_pct(high, lang)}]"


def code_text(value: Any, lang: str) -> Any:
    """Translate a cell that is a known code (``weeks``, ``not_estimable: …``), else keep it.

    Only exact codes of the translation table are replaced, so names and free text stay.
    A ``code: detail`` status becomes its code's translation: the detail is the
    estimator's own English message, which a Dutch table must not show (the exports
    keep it, and every code: they are data).
    """
    if not isinstance(value, str):
        return value
    code = value.split(":", 1)[0] if _STATUS.match(value) else value
    words = code_label(code, lang)
    return value if words is None else words


def code_label(value: str, lang: str) -> str | None:
    """Return the words for a cell that is exactly a known code, ``None`` for anything else.

    Parameters
    ----------
    value : str
        A cell's text (``debt_help``, ``weeks``, ``all``).
    lang : str
        ``"nl"`` or ``"en"``.

    Returns
    -------
    str or None
        The code's ``code.*``, ``v.*``, ``inf.*`` or ``kind.*`` entry of
        ``translations.yaml`` in ``lang``; ``None`` when the text is no code there.
    """
    for prefix in ("code", "v", "inf", "kind"):
        entry = TEXT.get(f"{prefix}.{value}")
        if entry is not None:
            return str(entry[lang])
    return None


#: Cell types :func:`export_value` returns unchanged (numbers and missing values).
_AS_IS = frozenset((float, int, bool, type(None)))


def export_value(value: Any, lang: str, codes: bool = True) -> Any:
    """Return a cell as the CSV/XLSX exports write it.

    Parameters
    ----------
    value : Any
        The bundle's cell.
    lang : str
        The export's language.
    codes : bool
        Write a cell that is exactly a known code in words (``debt_help`` ->
        "schuldhulp"), as the documents do; ``False`` for a column of names copied
        verbatim from the protocol or the data, which must stay as typed.

    Returns
    -------
    Any
        Numbers as they are, text scrubbed and in ``lang``.
    """
    if type(value) in _AS_IS:  # most cells: skip the slower Mapping test below
        return value
    value = localised(value, lang)
    if isinstance(value, list):
        return "; ".join(str(localised(v, lang)) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, str):
        # a reader of the Dutch workbook meets the same words as in the document; a
        # status's detail ("not_estimable: …") stays, it is the estimator's message
        words = code_label(value, lang) if codes else None
        return scrub(value if words is None else words)
    return value

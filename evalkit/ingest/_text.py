"""Text normalisation shared by header matching and value lookup, and cells as text."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from typing import Any

_SEPARATORS = re.compile(r"[\s_\-./()]+")


def header_key(name: object) -> str:
    """Return the comparison key of a column header.

    Headers match case-insensitively, without accents, and with spaces, hyphens,
    underscores, dots and brackets ignored: ``"Gemeente code"``, ``"gemeente_code"``
    and ``"GemeenteCode"`` all give ``"gemeentecode"``.

    Parameters
    ----------
    name : object
        The header as found in the file.

    Returns
    -------
    str
        The comparison key.
    """
    text = unicodedata.normalize("NFKD", str(name).replace("\ufeff", ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SEPARATORS.sub("", text.strip().lower())


def value_key(value: object) -> str:
    """Return the comparison key of a category value (same rules as :func:`header_key`).

    Parameters
    ----------
    value : object
        A cell value.

    Returns
    -------
    str
        The comparison key.
    """
    return header_key(value)


def cell_text(value: Any) -> str | None:
    """Return a typed cell (from XLSX, SAV, DTA) as the text validation parses.

    Parameters
    ----------
    value : object
        The cell: text, number, boolean, date, date-time, time or duration.

    Returns
    -------
    str or None
        Whole numbers without ``.0``, booleans as ``1``/``0``, dates as ``YYYY-MM-DD``
        (with `` HH:MM:SS`` when there is a time); ``None`` for empty or blank cells.
    """
    if isinstance(value, str):  # first: most cells are text
        return value if value.strip() else None
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d" if value.time() == dt.time() else "%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value)
    return text if text.strip() else None

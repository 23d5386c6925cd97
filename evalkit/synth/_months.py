"""Month arithmetic on integer month indices (``year * 12 + month - 1``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from evalkit.errors import EvalkitError

_MONTH_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})(?:-(\d{1,2}))?\s*$")


def parse_month(value: Any, field: str = "month") -> int:
    """Return the month index of ``value`` ('YYYY-MM', 'YYYY-MM-DD', a date or a datetime).

    Parameters
    ----------
    value : str or datetime.date
        The month to parse.
    field : str
        Field name used in the error message.

    Returns
    -------
    int
        ``year * 12 + month - 1``.

    Raises
    ------
    EvalkitError
        If the value is not a month.
    """
    if isinstance(value, dt.date):
        return value.year * 12 + value.month - 1
    match = _MONTH_RE.match(str(value))
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise EvalkitError(
            f"{field}: {value!r} is not a month; write it as 'YYYY-MM' (e.g. '2025-10')"
        )
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def format_month(index: int) -> str:
    """Return 'YYYY-MM' for a month index.

    Parameters
    ----------
    index : int
        Month index.

    Returns
    -------
    str
        The month as 'YYYY-MM'.
    """
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_start(index: int) -> dt.date:
    """Return the first day of a month index.

    Parameters
    ----------
    index : int
        Month index.

    Returns
    -------
    datetime.date
        The first day of that month.
    """
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(index: int) -> dt.date:
    """Return the last day of a month index.

    Parameters
    ----------
    index : int
        Month index.

    Returns
    -------
    datetime.date
        The last day of that month.
    """
    return month_start(index + 1) - dt.timedelta(days=1)

"""The Dutch calendar for norms in working days (werkdagen).

A working day is a Monday to Friday that is not a national holiday. The holidays
are those of the Algemene termijnenwet (art. 3): New Year's Day, Easter Monday,
Ascension Day, Whit Monday, Christmas Day and Boxing Day, King's Day, and 5 May
(Liberation Day) — every year, which is the default here because norms are legal
deadlines. Collective agreements (and most employers) give Liberation Day off only
in lustrum years (2020, 2025, 2030, ...): ``liberation_day="lustrum"``, which a
protocol chooses with ``throughput.liberation_day: lustrum``. Good Friday is not a
national holiday; it can be added.

King's Day is 27 April, or 26 April when the 27th is a Sunday (since 2014);
before 2014 Queen's Day was 30 April, or 29 April when the 30th was a Sunday.
Easter comes from :func:`dateutil.easter.easter` (Western, Gregorian).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal, get_args

import numpy as np
import pandas as pd
from dateutil.easter import easter

from evalkit.errors import EvalkitError

__all__ = ["LiberationDay", "add_working_days", "dutch_holidays", "working_days_between"]

LiberationDay = Literal["lustrum", "always", "never"]
_LIBERATION: tuple[str, ...] = get_args(LiberationDay)


def _check_liberation(liberation_day: str) -> None:
    if liberation_day not in _LIBERATION:
        raise EvalkitError(
            f"liberation_day={liberation_day!r} is not allowed; use one of {', '.join(_LIBERATION)}"
        )


def _kings_day(year: int) -> date:
    if year >= 2014:
        day = date(year, 4, 27)
    else:
        day = date(year, 4, 30)
    return day - timedelta(days=1) if day.weekday() == 6 else day


@lru_cache(maxsize=512)
def _holidays_of_year(year: int, liberation_day: str, good_friday: bool) -> dict[date, str]:
    e = easter(year)
    days = {
        date(year, 1, 1): "Nieuwjaarsdag",
        e + timedelta(days=1): "Tweede paasdag",
        e + timedelta(days=39): "Hemelvaartsdag",
        e + timedelta(days=50): "Tweede pinksterdag",
        _kings_day(year): "Koningsdag" if year >= 2014 else "Koninginnedag",
        date(year, 12, 25): "Eerste kerstdag",
        date(year, 12, 26): "Tweede kerstdag",
    }
    if good_friday:
        days[e - timedelta(days=2)] = "Goede vrijdag"
    if liberation_day == "always" or (liberation_day == "lustrum" and year % 5 == 0):
        days[date(year, 5, 5)] = "Bevrijdingsdag"
    return days


def dutch_holidays(
    years: Iterable[int],
    *,
    liberation_day: LiberationDay = "always",
    good_friday: bool = False,
) -> pd.DataFrame:
    """List the Dutch national holidays of some years.

    Parameters
    ----------
    years : iterable of int
        Calendar years.
    liberation_day : {"lustrum", "always", "never"}, default "always"
        When 5 May counts as a holiday.
    good_friday : bool, default False
        Count Good Friday as a holiday.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64) and ``name`` (Dutch name), sorted by date.
    """
    _check_liberation(liberation_day)
    rows = []
    for year in sorted(set(int(y) for y in years)):
        for day, name in _holidays_of_year(year, liberation_day, good_friday).items():
            rows.append((pd.Timestamp(day), name))
    out = pd.DataFrame(rows, columns=["date", "name"])
    return out.sort_values("date", ignore_index=True)


def _holiday_array(
    start: np.ndarray, end: np.ndarray, liberation_day: LiberationDay, good_friday: bool
) -> np.ndarray:
    valid = ~(np.isnat(start) | np.isnat(end))
    if not valid.any():
        return np.array([], dtype="datetime64[D]")
    lo = int(min(start[valid].min(), end[valid].min()).astype(object).year)
    hi = int(max(start[valid].max(), end[valid].max()).astype(object).year)
    days = dutch_holidays(range(lo, hi + 1), liberation_day=liberation_day, good_friday=good_friday)
    return days["date"].to_numpy().astype("datetime64[D]")


def _as_day_array(values) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[D]")


def working_days_between(
    start,
    end,
    *,
    liberation_day: LiberationDay = "always",
    good_friday: bool = False,
) -> np.ndarray:
    """Count working days after ``start`` up to and including ``end``.

    This is how Dutch norms count ("within 3 working days"): a request on Friday
    answered on the next Tuesday took 2 working days (Monday and Tuesday).

    Parameters
    ----------
    start, end : array-like of dates
        Equal-length sequences (date, datetime64 or strings). Missing values give NaN.
    liberation_day : {"lustrum", "always", "never"}, default "always"
        When 5 May counts as a holiday.
    good_friday : bool, default False
        Count Good Friday as a holiday.

    Returns
    -------
    numpy.ndarray
        Float array of counts (negative when ``end`` is before ``start``; NaN when missing).
    """
    _check_liberation(liberation_day)
    s = _as_day_array(start)
    e = _as_day_array(end)
    if s.shape != e.shape:
        raise EvalkitError(f"start and end differ in length ({s.size} vs {e.size})")
    out = np.full(s.shape, np.nan)
    ok = ~(np.isnat(s) | np.isnat(e))
    if ok.any():
        hol = _holiday_array(s, e, liberation_day, good_friday)
        # busday_count counts [begin, end): shift by one day to count (start, end].
        out[ok] = np.busday_count(s[ok] + 1, e[ok] + 1, holidays=hol)
    return out


def add_working_days(
    start: date,
    n: int,
    *,
    liberation_day: LiberationDay = "always",
    good_friday: bool = False,
) -> date:
    """Return the date that is ``n`` working days after ``start``.

    Parameters
    ----------
    start : datetime.date
        The starting day (not counted itself).
    n : int
        Number of working days (``n >= 0``).
    liberation_day : {"lustrum", "always", "never"}, default "always"
        When 5 May counts as a holiday.
    good_friday : bool, default False
        Count Good Friday as a holiday.

    Returns
    -------
    datetime.date
        The deadline: the ``n``-th working day after ``start``.
    """
    _check_liberation(liberation_day)
    if n < 0:
        raise EvalkitError(f"n must be zero or more working days, got {n}")
    s = np.datetime64(pd.Timestamp(start).date(), "D")
    end_guess = s + np.timedelta64(n * 2 + 30, "D")
    hol = _holiday_array(np.array([s]), np.array([end_guess]), liberation_day, good_friday)
    if n == 0:
        return pd.Timestamp(s).date()
    res = np.busday_offset(s, n, roll="forward", holidays=hol)
    if not np.is_busday(s, holidays=hol):
        # busday_offset rolls a non-working start forward first; the first working day counts
        res = np.busday_offset(s, n - 1, roll="forward", holidays=hol)
    return pd.Timestamp(res).date()

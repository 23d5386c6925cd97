"""Vectorised parsing of raw text cells into typed values.

Every parser works on the unique values of a column (a few thousand dates or
categories in a million rows) and maps the result back with the factorize codes,
so a million-row column costs one hash pass plus the work on its uniques.
Each returns the typed values and, per row, a message for cells that could not
be parsed (``None`` where the cell parsed or was empty).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

import numpy as np
import pandas as pd
from pandas.api.extensions import take

from evalkit.ingest._memo import ColumnMemo
from evalkit.ingest._text import value_key

__all__ = ["parse_boolean", "parse_category", "parse_dates", "parse_numbers", "parse_strings"]

TRUE = {"1", "1.0", "ja", "j", "true", "waar", "yes", "y", "t", "wel"}
FALSE = {"0", "0.0", "nee", "n", "false", "onwaar", "no", "f", "niet"}
# A time of day after a date must itself exist: 00:00 to 23:59(:59), not 25:61.
_TIME = r"(?:[ T](?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?)?"
_EXCEL_EPOCH = np.datetime64("1899-12-30")
Parsed = tuple[pd.Series, np.ndarray]


def _on_uniques(
    raw: pd.Series,
    fn: Callable[[pd.Series], tuple[np.ndarray | pd.api.extensions.ExtensionArray, np.ndarray]],
    memo: ColumnMemo | None = None,
) -> Parsed:
    if memo is not None:  # texts seen in earlier chunks are not parsed again
        codes, texts = memo.distinct(raw)
        values, messages = memo.parse(texts, fn) if texts else fn(pd.Series(texts, dtype="str"))
    else:
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
        values, messages = fn(pd.Series(uniques, dtype="str"))
    if isinstance(values, np.ndarray) and values.dtype == object:
        values = pd.array(values, dtype="str")  # text results: take on an Arrow array, not objects
    out = take(values, codes, allow_fill=True)
    msgs = np.concatenate([np.asarray(messages, dtype=object), np.array([None], dtype=object)])[
        codes
    ]
    return pd.Series(out, index=raw.index), msgs


def parse_strings(raw: pd.Series) -> Parsed:
    """Strip whitespace; empty cells become null.

    Parameters
    ----------
    raw : pandas.Series
        Raw text cells.

    Returns
    -------
    values : pandas.Series
        The stripped strings.
    messages : numpy.ndarray
        All ``None`` (any text is a string).
    """
    values = raw.str.strip()
    values = values.mask(values == "")
    return values, np.full(len(raw), None, dtype=object)


def parse_category(
    raw: pd.Series,
    lookup: Mapping[str, str],
    allowed: tuple[str, ...],
    memo: ColumnMemo | None = None,
) -> Parsed:
    """Map values and their aliases (any case, spaces/underscores alike) to canonical values.

    Parameters
    ----------
    raw : pandas.Series
        Raw text cells.
    lookup : mapping
        Comparison key to canonical value (see :meth:`ColumnSpec.lookup`).
    allowed : tuple of str
        The canonical values, listed in messages.
    memo : ColumnMemo, optional
        The column's parsed texts from earlier chunks of the file.

    Returns
    -------
    values, messages
        Canonical values and per-row messages for unknown values.
    """
    listing = ", ".join(allowed)

    def fn(u: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        vals = np.array([lookup.get(value_key(v)) for v in u], dtype=object)
        msgs = np.array(
            [
                None if v is not None else f"{raw_v!r} is not one of: {listing}"
                for v, raw_v in zip(vals, u, strict=True)
            ],
            dtype=object,
        )
        blank = np.array([str(v).strip() == "" for v in u], dtype=bool)
        msgs[blank] = None
        return vals, msgs

    return _on_uniques(raw, fn, memo)


def parse_boolean(raw: pd.Series, memo: ColumnMemo | None = None) -> Parsed:
    """Parse 1/0, ja/nee, j/n, true/false, yes/no, waar/onwaar (any case).

    Parameters
    ----------
    raw : pandas.Series
        Raw text cells.
    memo : ColumnMemo, optional
        The column's parsed texts from earlier chunks of the file.

    Returns
    -------
    values, messages
        A nullable boolean series and per-row messages.
    """

    def fn(u: pd.Series) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray]:
        keys = [str(v).strip().lower() for v in u]
        vals = pd.array(
            [True if k in TRUE else False if k in FALSE else None for k in keys], dtype="boolean"
        )
        msgs = np.array(
            [
                None
                if (k in TRUE or k in FALSE or k == "")
                else f"{v!r} is not a yes/no value (1/0, ja/nee)"
                for k, v in zip(keys, u, strict=True)
            ],
            dtype=object,
        )
        return vals, msgs

    return _on_uniques(raw, fn, memo)


def _to_numbers(u: pd.Series, decimal_comma: bool) -> pd.Series:
    """Normalise number texts to Python syntax and convert.

    With both separators the last one is the decimal mark (``1.234,50``, ``1,234.50``);
    a lone comma is decimal in decimal-comma files and in anything that is not a
    thousands group; a lone dot is a thousands separator only in decimal-comma files
    and only in thousands groups (``1.234``).
    """
    s = u.str.strip().str.replace(r"[\s\u00a0€%]", "", regex=True)
    comma = s.str.contains(",", regex=False)
    dot = s.str.contains(".", regex=False)
    both = comma & dot
    comma_last = s.str.rfind(",") > s.str.rfind(".")
    dutch = (both & comma_last) | (
        comma & ~dot & (decimal_comma | ~s.str.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+"))
    )
    if decimal_comma:
        dutch |= dot & ~comma & s.str.fullmatch(r"[-+]?\d{1,3}(?:\.\d{3})+")
    english = (both & ~comma_last) | (comma & ~dot & ~dutch)
    s = s.where(~dutch, s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    s = s.where(~english, s.str.replace(",", "", regex=False))
    return pd.to_numeric(s, errors="coerce")


def parse_numbers(
    raw: pd.Series, *, decimal_comma: bool, integer: bool = False, memo: ColumnMemo | None = None
) -> Parsed:
    """Parse numbers written with a decimal comma or point (and thousands separators).

    Parameters
    ----------
    raw : pandas.Series
        Raw text cells.
    decimal_comma : bool
        Whether the file writes decimals with a comma (Dutch Excel).
    integer : bool, default False
        Whether only whole numbers are valid.
    memo : ColumnMemo, optional
        The column's parsed texts from earlier chunks of the file.

    Returns
    -------
    values, messages
        Floats (or nullable integers) and per-row messages.
    """

    def fn(u: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        nums = _to_numbers(u, decimal_comma).to_numpy(dtype=float, na_value=np.nan).copy()
        blank = u.str.strip().eq("").to_numpy()
        bad = np.isnan(nums) & ~blank
        msgs = np.full(len(u), None, dtype=object)
        kind = "a whole number" if integer else "a number"
        for i in np.flatnonzero(bad):
            msgs[i] = f"{u.iloc[i]!r} is not {kind}"
        if integer:
            with np.errstate(invalid="ignore"):  # 'inf' % 1 is NaN: not whole, no warning
                frac = ~np.isnan(nums) & (np.mod(nums, 1) != 0)
            for i in np.flatnonzero(frac):
                msgs[i] = f"{u.iloc[i]!r} is not a whole number"
            nums[frac] = np.nan
        return nums, msgs

    values, messages = _on_uniques(raw, fn, memo)
    if integer:
        values = values.round().astype("Int64")
    return values, messages


def _years(two_or_four: pd.Series) -> pd.Series:
    y = pd.to_numeric(two_or_four, errors="coerce")
    short = two_or_four.str.len() == 2
    this = date.today().year % 100
    return y.where(~short, np.where(y <= this + 1, 2000 + y, 1900 + y))


def _assemble(year: pd.Series, month: pd.Series, day: pd.Series) -> np.ndarray:
    frame = pd.DataFrame({"year": year, "month": month, "day": day}).astype(float)
    ok = frame.notna().all(axis=1)
    out = np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[s]")
    if ok.any():
        sub = frame[ok]
        stamps = pd.to_datetime(sub.astype(int), errors="coerce")
        out[ok.to_numpy()] = stamps.to_numpy(dtype="datetime64[s]")
    return out


def parse_dates(raw: pd.Series, *, month: bool = False, memo: ColumnMemo | None = None) -> Parsed:
    """Parse Dutch and ISO dates, Excel serial numbers and (for months) year-month forms.

    Accepted: ``dd-mm-yyyy``, ``d-m-yyyy``, ``dd/mm/yyyy``, ``dd.mm.yyyy``, ``dd-mm-yy``,
    ``yyyy-mm-dd`` (optionally with a time), ``yyyymmdd`` and Excel serial numbers;
    months also ``mm-yyyy``, ``yyyy-mm``, ``yyyymm`` and ``2024M01``. Months are
    returned as the first day of the month.

    Parameters
    ----------
    raw : pandas.Series
        Raw text cells.
    month : bool, default False
        Parse as months (first day of the month).
    memo : ColumnMemo, optional
        The column's parsed texts from earlier chunks of the file.

    Returns
    -------
    values, messages
        ``datetime64[s]`` values and per-row messages.
    """
    expected = "mm-yyyy or dd-mm-yyyy" if month else "dd-mm-yyyy"

    def fn(u: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        s = u.str.strip()
        n = len(s)
        year = pd.Series(np.nan, index=s.index)
        mon = year.copy()
        day = year.copy()
        shaped = pd.Series(False, index=s.index)
        # ASCII digits only: Python's \d also matches Arabic-Indic and full-width digits,
        # which to_numeric cannot read (a traceback); such a date is rejected as not a date.
        forms: list[tuple[str, tuple[str, ...]]] = [
            (
                rf"^([0-9]{{1,2}})[-/.]([0-9]{{1,2}})[-/.]([0-9]{{4}}|[0-9]{{2}}){_TIME}$",
                ("d", "m", "y"),
            ),
            (rf"^([0-9]{{4}})[-/.]([0-9]{{1,2}})[-/.]([0-9]{{1,2}}){_TIME}$", ("y", "m", "d")),
            (r"^([0-9]{4})([0-9]{2})([0-9]{2})$", ("y", "m", "d")),
        ]
        if month:
            forms += [
                (r"^([0-9]{1,2})[-/.]([0-9]{4})$", ("m", "y")),
                (r"^([0-9]{4})[-/.][mM]?([0-9]{1,2})$", ("y", "m")),
                (r"^([0-9]{4})[mM]([0-9]{1,2})$", ("y", "m")),
                (r"^([0-9]{4})([0-9]{2})$", ("y", "m")),
            ]
        for pattern, order in forms:
            todo = ~shaped
            if not todo.any():
                break
            found = s[todo].str.extract(pattern)
            hit = found.notna().all(axis=1)
            if not hit.any():
                continue
            idx = found.index[hit]
            for col, part in enumerate(order):
                text = found.loc[hit, col]
                if part == "y":
                    year.loc[idx] = _years(text).to_numpy()
                elif part == "m":
                    mon.loc[idx] = pd.to_numeric(text).to_numpy()
                else:
                    day.loc[idx] = pd.to_numeric(text).to_numpy()
            if "d" not in order:
                day.loc[idx] = 1.0
            shaped.loc[idx] = True
        out = _assemble(year, mon, day)
        serial = ~shaped & s.str.fullmatch(r"[0-9]{1,5}(?:\.[0-9]+)?").fillna(False)
        if serial.any():
            days = pd.to_numeric(s[serial]).to_numpy()
            plausible = (days >= 1) & (days <= 73050)
            stamps = _EXCEL_EPOCH + np.floor(days).astype("int64").astype("timedelta64[D]")
            target = np.flatnonzero(serial.to_numpy())
            out[target[plausible]] = stamps[plausible].astype("datetime64[s]")
            shaped.iloc[target[plausible]] = True
        if month:
            valid = ~np.isnat(out)
            out[valid] = out[valid].astype("datetime64[M]").astype("datetime64[s]")
        msgs = np.full(n, None, dtype=object)
        blank = s.eq("").to_numpy()
        shaped_arr = shaped.to_numpy()
        nat = np.isnat(out)
        for i in np.flatnonzero(nat & ~blank):
            if shaped_arr[i]:
                msgs[i] = f"{u.iloc[i]!r} is not a real date"
            else:
                msgs[i] = (
                    f"{u.iloc[i]!r} is not a {'month' if month else 'date'} (expected {expected})"
                )
        return out, msgs

    return _on_uniques(raw, fn, memo)

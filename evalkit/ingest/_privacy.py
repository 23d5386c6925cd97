"""Masking BSNs in any text before it is written or printed.

A BSN can turn up where no identifier column is declared: in a file name
(``deelnemer_999999990.csv``), a free-text column (``Dossiernummer D-999999990``),
a misaligned row (the BSN in the municipality column), or the first line of a
headerless list. Every text that leaves ingest — messages, quarantine values and
row content, the ingest log, stored free text — passes through :func:`mask_bsns`,
which replaces each elfproef-valid nine-digit number (or eight digits, a BSN whose
leading zero a spreadsheet dropped), written with or without separators (spaces,
dots, hyphens, underscores, slashes), by ``[BSN]``.

Inside a longer run of digits (two BSNs run together, ``999999990999999990``, or a BSN
glued to other digits, ``12999999990``) every nine-digit window is tried, and every digit
that lies in a window passing the elfproef is masked. A random window passes with
probability about 1/11, so a run of ten or more digits that holds no BSN (a phone number
``0612345678``, an account number, a long amount) loses some of its digits in about
``(length - 8) / 11`` of cases: a deliberate choice, since such a run may always be two
numbers written together, and a masked digit of a phone number costs less than a shown
BSN. Tokens that pseudonymisation and masking themselves write (64-hex pseudonyms,
``[BSN:…]`` references) are left alone, so a quarantined row's pseudonym stays intact.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MASK", "mask_bsns", "mask_distinct", "mask_series", "shown_path"]

MASK = "[BSN]"
# Nine digits (any script's digits: full-width ones too) with at most one separator between
# two digits, not part of a longer digit run: 999999990, 999 999 990, 999.999.990,
# 9999-99-990, 999_999_990, 999/999/990, 999999990.0 (a number stored as a float); or eight
# digits in a row, a BSN whose leading zero a spreadsheet dropped (identifier columns pad it
# back, so text must too). Eight digits with separators are left alone: they are dates
# (31-02-2005), and a number that lost its zero has none.
# A run of ten or more digits is searched window by window (see the module docstring).
# Separators: what people and programs put between digit groups in any locale: space, dot,
# underscore, slash, hyphen, and also the thousands comma (999,999,990), the apostrophe
# (999'999'990), the non-breaking, figure, thin and narrow spaces that locale-aware formats
# write (999\u00a0999\u00a0990), the Unicode dashes and minus. A comma also catches Dutch
# exponent form: 9,99999990E+08 is the BSN 999999990 as a spreadsheet shows it.
_SEP = "[ ._/,'\\-\u00a0\u2007\u2009\u202f\u2010-\u2015\u2212]"
_CANDIDATE = re.compile(rf"(?<!\d)(?:\d(?:{_SEP}?\d){{8}}|\d{{8}})(?!\d)|\d{{10,}}")
# What pseudonymisation and masking write: never searched (a 64-hex pseudonym holds a run
# of eight or more decimal digits that passes the elfproef in about 3 % of cases).
_OURS = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{64}(?![0-9A-Za-z])|\[BSN:[0-9a-f]{12}\]")
# Every candidate holds eight digits with at most one separator between two: a cheaper
# first search (no lookbehind, no alternation) that most texts fail.
_PREFILTER = re.compile(rf"\d(?:{_SEP}?\d){{7}}")
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
# _OURS for Arrow (RE2 has no look-around): a reference, and a pseudonym with the character
# on each side that shows it is not part of a longer word (a match may miss the second of two
# pseudonyms one character apart: that text is then searched in full, never skipped wrongly).
_OURS_RE2 = (
    r"\[BSN:[0-9a-f]{12}\]",
    r"(^|[^0-9A-Za-z])[0-9a-f]{64}($|[^0-9A-Za-z])",
)


def _valid(digits: str) -> bool:
    total = sum(w * int(c) for w, c in zip(_WEIGHTS, digits.zfill(9), strict=True))
    return total % 11 == 0 and int(digits) != 0


def mask_bsns(text: str, key: bytes | None = None) -> str:
    """Replace every elfproef-valid nine-digit number in ``text`` by ``[BSN]``.

    Parameters
    ----------
    text : str
        Any text (a message, a cell, a file name).
    key : bytes, optional
        With a key, each BSN becomes ``[BSN:`` + 12 hex of its keyed hash + ``]``, so
        an identifier that holds a BSN (a case number ``D-999999990``) stays distinct
        and linkable without showing the number.

    Returns
    -------
    str
        The text with BSNs masked; unchanged when it holds none. In a run of ten or
        more digits, each stretch of digits covered by valid nine-digit windows is
        masked as one.
    """
    if _PREFILTER.search(text) is None:  # one pass in C; most texts hold no candidate
        return text
    pieces, start = [], 0
    for ours in _OURS.finditer(text):
        pieces += [_mask_piece(text[start : ours.start()], key), ours.group(0)]
        start = ours.end()
    pieces.append(_mask_piece(text[start:], key))
    return "".join(pieces)


def _reference(digits: str, key: bytes | None) -> str:
    """Return the mask of one BSN (or of a stretch of digits covered by BSNs)."""
    if key is None:
        return MASK
    return "[BSN:" + hmac.digest(key, b"in-text:" + digits.encode(), "sha256").hex()[:12] + "]"


def _mask_piece(text: str, key: bytes | None) -> str:
    """Mask the candidates of a text that holds no token of ours."""

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        digits = "".join(str(unicodedata.decimal(c)) for c in found if c.isdecimal())
        if len(digits) > 9:
            return _mask_run(found, digits, key)
        if not _valid(digits):
            return found
        return _reference(digits.zfill(9), key)  # the same person with or without the lost zero

    out, done, pos = [], 0, 0
    while (match := _CANDIDATE.search(text, pos)) is not None:
        found = match.group(0)
        masked = replace(match)
        if masked != found:
            out += [text[done : match.start()], masked]
            done = pos = match.end()
        elif len(found) > 9 and not found.isdecimal():
            # Nine digits in groups that are no BSN: a later group may start one, as in
            # 123.999.999.990; search again from the next character (the lookbehind keeps
            # a candidate from starting inside a group).
            pos = match.start() + 1
        else:
            pos = match.end()
    out.append(text[done:])
    return "".join(out)


def _mask_run(run: str, digits: str, key: bytes | None) -> str:
    """Mask every stretch of a long digit run that lies in an elfproef-valid window.

    Parameters
    ----------
    run : str
        The run as written (any script's digits).
    digits : str
        The same run in ASCII digits.
    key : bytes, optional
        Replace by keyed references (see :func:`mask_bsns`).

    Returns
    -------
    str
        The run with each maximal covered stretch replaced by one mask.
    """
    covered = np.zeros(len(digits), dtype=bool)
    for i in range(len(digits) - 8):
        if _valid(digits[i : i + 9]):
            covered[i : i + 9] = True
    if not covered.any():
        return run
    out, i = [], 0
    while i < len(digits):
        j = i
        while j < len(digits) and covered[j] == covered[i]:
            j += 1
        out.append(_reference(digits[i:j], key) if covered[i] else run[i:j])
        i = j
    return "".join(out)


def mask_series(values: pd.Series, key: bytes | None = None) -> pd.Series:
    """Mask BSNs in a column of texts, working on its unique values.

    Parameters
    ----------
    values : pandas.Series
        Texts (nulls allowed).
    key : bytes, optional
        Replace BSNs by keyed references (see :func:`mask_bsns`).

    Returns
    -------
    pandas.Series
        Same index and dtype family; BSNs replaced by ``[BSN]``.
    """
    if values.empty:
        return values
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = pd.Series(uniques, dtype="str")
    suspect = _may_hold_bsn(texts.array)  # Arrow-backed: handed to Arrow without a copy
    if not suspect.any():
        return values
    fixed = np.asarray(texts.to_numpy(dtype=object), dtype=object)
    fixed[suspect] = [mask_bsns(t, key) for t in fixed[suspect]]
    out = np.concatenate([fixed, np.array([None], dtype=object)])[codes]
    return pd.Series(out, index=values.index, dtype="str")


def mask_distinct(columns: list[Any]) -> list[Any]:
    """Mask BSNs in the distinct values of several columns, with one search for all of them.

    Each column comes back as ``mask_series(pd.Series(values)).array`` would give it: as
    it was when none of its values may hold a BSN, else as text with BSNs masked. The
    texts of all columns are searched in one pass (a chunk's rejected rows have a dozen
    columns of a few distinct values each: one search per column costs more than the
    values).

    Parameters
    ----------
    columns : list of array-like
        The distinct values of each column (no nulls, no repeats).

    Returns
    -------
    list of array-like
        The values of each column, masked.
    """
    import pyarrow as pa

    texts = [pd.Series(values, dtype="str") for values in columns]
    arrays = [pa.array(t.array, type=pa.large_string()) for t in texts]
    if not arrays or not sum(len(a) for a in arrays):
        return [pd.Series(values).array for values in columns]
    suspect = _may_hold_bsn(pa.concat_arrays(arrays))
    out = []
    start = 0
    for values, text in zip(columns, texts, strict=True):
        mine = suspect[start : start + len(text)]
        start += len(text)
        if not mine.any():
            out.append(pd.Series(values).array)
            continue
        fixed = np.asarray(text.to_numpy(dtype=object), dtype=object)
        fixed[mine] = [mask_bsns(t) for t in fixed[mine]]
        out.append(pd.Series(fixed, dtype="str").array)
    return out


def _may_hold_bsn(texts: Any) -> np.ndarray:
    """Return False for texts that :func:`mask_bsns` certainly leaves as they are.

    One pass of Arrow's regular expressions over all texts: the tokens masking never
    searches (64-hex pseudonyms, ``[BSN:…]`` references) are cut out, and what remains
    must hold eight digits (any script's) with at most one separator between two, as
    every candidate does. A text that passes still goes through :func:`mask_bsns`; a
    pseudonym beside a month (a duplicate key shown as ``pseudonym, 2025-01``) does not.

    Parameters
    ----------
    texts : array-like
        Texts (no nulls): a pandas string array or a NumPy array of str.

    Returns
    -------
    numpy.ndarray
        Boolean, True where the text may hold a BSN.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    left = pc.replace_substring_regex(pa.array(texts, type=pa.string()), _OURS_RE2[0], "#")
    left = pc.replace_substring_regex(left, _OURS_RE2[1], r"\1#\2")
    found = pc.match_substring_regex(left, rf"\p{{Nd}}(?:{_SEP}?\p{{Nd}}){{7}}")
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def shown_path(path: Path | str) -> str:
    """Return a file path as it may be stored and printed (BSNs in it masked).

    Parameters
    ----------
    path : pathlib.Path or str
        The path.

    Returns
    -------
    str
        The path text with BSNs masked.
    """
    return mask_bsns(str(path))

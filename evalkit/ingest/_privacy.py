"""Masking BSNs in any text before it is written or printed.

A BSN can turn up where no identifier column is declared: in a file name
(``deelnemer_999999990.csv``), a free-text column (``Dossiernummer D-999999990``),
a misaligned row (the BSN in the municipality column), or the first line of a
headerless list. Every text that leaves ingest — messages, quarantine values and
row content, the ingest log, stored free text — passes through :func:`mask_bsns`,
which replaces each elfproef-valid nine-digit number (or eight digits, a BSN whose
leading zero a spreadsheet dropped), written with or without separators (spaces,
dots, hyphens, underscores, slashes), by ``[BSN]``.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["MASK", "mask_bsns", "mask_series", "shown_path"]

MASK = "[BSN]"
# Nine digits (any script's digits: full-width ones too) with at most one separator between
# two digits, not part of a longer digit run: 999999990, 999 999 990, 999.999.990,
# 9999-99-990, 999_999_990, 999/999/990, 999999990.0 (a number stored as a float); or eight
# digits in a row, a BSN whose leading zero a spreadsheet dropped (identifier columns pad it
# back, so text must too). Eight digits with separators are left alone: they are dates
# (31-02-2005), and a number that lost its zero has none.
_CANDIDATE = re.compile(r"(?<!\d)(?:\d(?:[ ._/\-]?\d){8}|\d{8})(?!\d)")
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


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
        The text with BSNs masked; unchanged when it holds none.
    """
    if _CANDIDATE.search(text) is None:  # one pass in C; most texts hold no candidate
        return text

    def replace(match: re.Match[str]) -> str:
        digits = "".join(str(unicodedata.decimal(c)) for c in match.group(0) if c.isdecimal())
        if not _valid(digits):
            return match.group(0)
        if key is None:
            return MASK
        digits = digits.zfill(9)  # the same person with or without the lost zero
        return "[BSN:" + hmac.digest(key, b"in-text:" + digits.encode(), "sha256").hex()[:12] + "]"

    return _CANDIDATE.sub(replace, text)


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
    suspect = texts.str.count(r"\d").to_numpy() >= 8  # as many digits as the shortest BSN
    if not suspect.any():
        return values
    fixed = np.asarray(texts.to_numpy(dtype=object), dtype=object)
    fixed[suspect] = [mask_bsns(t, key) for t in fixed[suspect]]
    out = np.concatenate([fixed, np.array([None], dtype=object)])[codes]
    return pd.Series(out, index=values.index, dtype="str")


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

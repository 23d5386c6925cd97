"""Masking BSNs in any text before it is written or printed.

A BSN can turn up where no identifier column is declared: in a file name
(``deelnemer_999999990.csv``), a free-text column (``Dossiernummer D-999999990``),
a misaligned row (the BSN in the municipality column), or the first line of a
headerless list. Every text that leaves ingest — messages, quarantine values and
row content, the ingest log, stored free text — passes through :func:`mask_bsns`,
which replaces each elfproef-valid nine-digit number, written with or without
separators (spaces, dots, hyphens), by ``[BSN]``.
"""

from __future__ import annotations

import hmac
import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["MASK", "mask_bsns", "mask_series", "shown_path"]

MASK = "[BSN]"
# Nine digits with at most one separator between two digits, not part of a longer digit run:
# 999999990, 999 999 990, 999.999.990, 9999-99-990, 999999990.0 (a number stored as a float).
_CANDIDATE = re.compile(r"(?<![0-9])[0-9](?:[ .\-]?[0-9]){8}(?![0-9])")
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def _valid(digits: str) -> bool:
    total = sum(w * (ord(c) - 48) for w, c in zip(_WEIGHTS, digits, strict=True))
    return total % 11 == 0 and digits != "000000000"


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
        digits = re.sub(r"[^0-9]", "", match.group(0))
        if not _valid(digits):
            return match.group(0)
        if key is None:
            return MASK
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
    suspect = texts.str.count(r"[0-9]").to_numpy() >= 9
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

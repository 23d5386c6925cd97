"""Synthetic citizen service numbers (BSN) that pass the elfproef.

All numbers are nine digits starting with ``999``: the block that Dutch test
environments use for their test persons (for example 999993653), so a synthetic BSN is
recognisable as synthetic at a glance and is not meant to point at a real person.
"""

from __future__ import annotations

import numpy as np

SYNTHETIC_PREFIX = 999
_WEIGHTS = np.array([9, 8, 7, 6, 5, 4, 3, 2, -1], dtype=np.int64)


def elfproef(numbers: np.ndarray) -> np.ndarray:
    """Return which 9-digit numbers pass the BSN elfproef.

    The weighted digit sum ``9*d1 + 8*d2 + ... + 2*d8 - 1*d9`` must be divisible by 11
    (and not zero).

    Parameters
    ----------
    numbers : numpy.ndarray
        Integers (or digit strings) to check.

    Returns
    -------
    numpy.ndarray
        Booleans.
    """
    values = np.asarray(numbers).astype(np.int64)
    digits = (values[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    total = digits @ _WEIGHTS
    return (values >= 10**8) & (values < 10**9) & (total % 11 == 0) & (total != 0)


def synthetic_bsns(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` distinct synthetic BSNs (as 9-character strings) from the 999 block.

    Parameters
    ----------
    n : int
        How many.
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    numpy.ndarray
        Strings of nine digits, all passing the elfproef.
    """
    # the first eight digits fix the ninth: the weighted sum of the eight, modulo 11
    # (no valid number when that is 10)
    prefix = SYNTHETIC_PREFIX * 10**5 + np.arange(10**5, dtype=np.int64)
    digits = (prefix[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    check = (digits @ _WEIGHTS[:8]) % 11
    valid = (prefix * 10 + check)[check <= 9]
    if n > valid.shape[0]:
        raise ValueError(f"only {valid.shape[0]} synthetic BSNs exist, {n} asked")
    return rng.choice(valid, size=n, replace=False).astype(str)

"""CBS person numbers: ``RINPERSOONS`` (the register a number comes from) + ``RINPERSOON``.

In CBS microdata a person is the pair of a one-letter register code (``R`` for the
population register, other letters for other sources) and a nine-digit number. Unlike
a BSN the number carries no check digit, so it is validated for its shape only, never
with the elfproef. The pair is pseudonymised as BSNs are (HMAC-SHA256 with the same
key), with its own prefix so that a RIN and a BSN never share a pseudonym; an invalid
pair is only ever shown as a short keyed reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.ingest._pseudonym import _hmac_hex

__all__ = ["RIN_NUMBER_PATTERN", "RIN_SOURCE_PATTERN", "classify_rin"]

#: ``RINPERSOONS``: one capital letter.
RIN_SOURCE_PATTERN = r"[A-Z]"
#: ``RINPERSOON``: exactly nine digits (leading zeros kept).
RIN_NUMBER_PATTERN = r"[0-9]{9}"


def classify_rin(source: pd.Series, number: pd.Series, *, key: bytes) -> pd.DataFrame:
    """Check and pseudonymise RIN pairs, working on the distinct pairs.

    Parameters
    ----------
    source : pandas.Series
        ``RINPERSOONS`` texts.
    number : pandas.Series
        ``RINPERSOON`` texts (same index).
    key : bytes
        The HMAC key (:func:`evalkit.ingest.load_key`).

    Returns
    -------
    pandas.DataFrame
        Same index; ``pseudonym`` (null when invalid), ``shown`` (the pseudonym or ``#``
        and a 12-hex keyed reference), ``reason`` (null when valid) and ``rule``
        (``rinpersoons`` or ``rinpersoon``).
    """
    s = source.astype("string").str.strip().str.upper()
    n = number.astype("string").str.strip()
    n = n.where(~n.str.fullmatch(r"[0-9]{1,8}").fillna(False), n.str.zfill(9))
    pair = (s.fillna("") + ":" + n.fillna("")).astype(str)
    codes, uniques = pd.factorize(pair)
    u_s = pd.Series([p.split(":", 1)[0] for p in uniques], dtype="string")
    u_n = pd.Series([p.split(":", 1)[1] for p in uniques], dtype="string")
    ok_s = u_s.str.fullmatch(RIN_SOURCE_PATTERN).fillna(False).to_numpy(dtype=bool)
    ok_n = u_n.str.fullmatch(RIN_NUMBER_PATTERN).fillna(False).to_numpy(dtype=bool)
    reason = np.full(len(uniques), None, dtype=object)
    rule = np.full(len(uniques), None, dtype=object)
    reason[~ok_n] = "RINPERSOON is not nine digits"
    rule[~ok_n] = "rinpersoon"
    reason[~ok_s] = "RINPERSOONS is not one letter (the register code, e.g. R)"
    rule[~ok_s] = "rinpersoons"
    valid = ok_s & ok_n
    pseudonym = np.full(len(uniques), None, dtype=object)
    pseudonym[valid] = [_hmac_hex(key, "rin:" + p) for p in uniques[valid]]
    shown = pseudonym.copy()
    shown[~valid] = ["#" + _hmac_hex(key, "invalid-rin:" + p)[:12] for p in uniques[~valid]]
    return pd.DataFrame(
        {
            "pseudonym": pseudonym[codes],
            "shown": shown[codes],
            "reason": reason[codes],
            "rule": rule[codes],
        },
        index=source.index,
    )

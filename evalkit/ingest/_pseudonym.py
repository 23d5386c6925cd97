"""BSN checks (elfproef) and keyed pseudonymisation (HMAC-SHA256).

The key comes from ``EVALKIT_PSEUDONYM_KEY`` or from a key file outside the
repository (``EVALKIT_PSEUDONYM_KEY_FILE``, default ``~/.config/evalkit/pseudonym.key``),
created on first use with mode 0600. A raw BSN never leaves this module: callers
get pseudonyms, or for invalid values a short keyed reference.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import IngestError

__all__ = ["elfproef", "load_key", "pseudonymise"]

_WEIGHTS = np.array([9, 8, 7, 6, 5, 4, 3, 2, -1], dtype=np.int64)
DEFAULT_KEY_FILE = Path("~/.config/evalkit/pseudonym.key")


def elfproef(values: Iterable[str] | str) -> np.ndarray:
    """Check BSNs with the elfproef (the Dutch "eleven test").

    Nine digits, weights 9, 8, ..., 2 and -1, weighted sum divisible by 11, not all zeros.

    Parameters
    ----------
    values : str or iterable of str
        Candidate BSNs (exactly nine digit characters to pass).

    Returns
    -------
    numpy.ndarray of bool
        True where the value is a valid BSN.
    """
    arr = np.array([values] if isinstance(values, str) else list(values), dtype=object)
    ok = np.array([isinstance(v, str) and len(v) == 9 and v.isascii() and v.isdigit() for v in arr])
    result = np.zeros(len(arr), dtype=bool)
    if ok.any():
        raw = np.frombuffer("".join(arr[ok]).encode("ascii"), dtype=np.uint8).reshape(-1, 9)
        digits = raw.astype(np.int64) - 48
        total = digits @ _WEIGHTS
        result[ok] = (total % 11 == 0) & (digits.sum(axis=1) > 0)
    return result


def _in_repository(path: Path) -> bool:
    for parent in path.resolve().parents:
        if (parent / ".git").exists():
            return True
    return False


def load_key() -> bytes:
    """Return the pseudonymisation key, creating the key file on first use.

    Returns
    -------
    bytes
        The HMAC key.

    Raises
    ------
    IngestError
        When the key file would be inside a git repository, or cannot be read.
    """
    env = os.environ.get("EVALKIT_PSEUDONYM_KEY")
    if env:
        return env.encode("utf-8")
    path = Path(os.environ.get("EVALKIT_PSEUDONYM_KEY_FILE") or DEFAULT_KEY_FILE).expanduser()
    if _in_repository(path):
        raise IngestError(
            f"{path}: the pseudonym key file must live outside any git repository "
            "(set EVALKIT_PSEUDONYM_KEY_FILE to a path elsewhere)"
        )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the pseudonym key ({exc.strerror})") from exc
    if not key:
        raise IngestError(f"{path}: the pseudonym key file is empty")
    return key.encode("utf-8")


def _hmac_hex(key: bytes, text: str) -> str:
    return hmac.digest(key, text.encode("utf-8"), "sha256").hex()


def pseudonymise(values: Iterable[str] | str, *, key: bytes | None = None) -> list[str] | str:
    """Replace valid BSNs by their HMAC-SHA256 pseudonym (64 lower-case hex characters).

    Values that already are 64-hex pseudonyms pass unchanged (lower-cased). Spaces,
    dots and hyphens inside a BSN are ignored, and an 8-digit value (a leading zero
    lost by a spreadsheet) is padded to nine digits.

    Parameters
    ----------
    values : str or iterable of str
        BSNs or pseudonyms.
    key : bytes, optional
        The HMAC key; defaults to :func:`load_key`.

    Returns
    -------
    str or list of str
        The pseudonyms, in the shape of ``values``.

    Raises
    ------
    IngestError
        When a value is neither a valid BSN nor a pseudonym (without showing it).
    """
    single = isinstance(values, str)
    series = pd.Series([values] if single else list(values), dtype="str")
    result = classify_identifiers(series, key=key or load_key())
    bad = result["reason"].notna()
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise IngestError(
            f"value {first + 1}: {result['reason'].iloc[first]} "
            f"(reference {result['shown'].iloc[first]})"
        )
    out = result["pseudonym"].tolist()
    return out[0] if single else out


def classify_identifiers(values: pd.Series, *, key: bytes) -> pd.DataFrame:
    """Check and pseudonymise a column of identifiers, working on unique values.

    Parameters
    ----------
    values : pandas.Series
        Raw identifier texts (nulls allowed).
    key : bytes
        The HMAC key.

    Returns
    -------
    pandas.DataFrame
        Same index as ``values``; ``pseudonym`` (null when invalid or empty),
        ``shown`` (what messages may display: the pseudonym, or ``#`` and a
        12-hex keyed reference of an invalid value), ``reason`` (why it is
        invalid, null when fine or empty) and ``rule`` (``bsn`` or ``elfproef``).
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    u = pd.Series(uniques, dtype="str")
    n = len(u)
    stripped = u.str.strip()
    low = stripped.str.lower()
    is_hex = low.str.fullmatch(r"[0-9a-f]{64}").to_numpy(dtype=bool, na_value=False)
    cleaned = stripped.str.replace(r"[\s.\-]", "", regex=True)
    floaty = stripped.str.fullmatch(r"[0-9]{7,9}\.0").to_numpy(dtype=bool, na_value=False)
    cleaned = cleaned.where(~floaty, stripped.str.slice(0, -2))  # a number stored as a float
    eight = cleaned.str.fullmatch(r"[0-9]{8}").to_numpy(dtype=bool, na_value=False)
    cleaned = cleaned.where(~eight, "0" + cleaned)  # a leading zero lost by a spreadsheet
    nine = cleaned.str.fullmatch(r"[0-9]{9}").to_numpy(dtype=bool, na_value=False) & ~is_hex
    valid = np.zeros(n, dtype=bool)
    valid[nine] = elfproef(cleaned[nine].tolist())
    pseudonym = np.full(n, None, dtype=object)
    pseudonym[is_hex] = low[is_hex].to_numpy(dtype=object)
    pseudonym[valid] = [_hmac_hex(key, text) for text in cleaned[valid]]
    reason = np.full(n, None, dtype=object)
    rule = np.full(n, None, dtype=object)
    reason[nine & ~valid] = "9 digits but not a valid BSN (fails the elfproef)"
    rule[nine & ~valid] = "elfproef"
    shape = ~nine & ~is_hex
    if shape.any():
        lengths = cleaned[shape].str.len().to_numpy()
        digits = cleaned[shape].str.count(r"[0-9]").to_numpy()
        reason[shape] = [
            f"not a BSN or pseudonym: {k} characters of which {d} digits "
            "(expected 9 digits or 64 hex characters)"
            for k, d in zip(lengths, digits, strict=True)
        ]
        rule[shape] = "bsn"
    shown = pseudonym.copy()
    bad = np.flatnonzero(reason != None)  # noqa: E711
    shown[bad] = ["#" + _hmac_hex(key, "invalid:" + str(u.iloc[i]))[:12] for i in bad]

    def take(items: np.ndarray) -> pd.Series:
        # Categorical: a million 64-character pseudonyms stay one small table plus codes.
        present = items != None  # noqa: E711
        inner, cats = pd.factorize(items[present])
        recode = np.full(len(items) + 1, -1, dtype=np.int64)
        recode[np.flatnonzero(present)] = inner
        cat_codes = recode[codes]  # codes == -1 (empty cell) picks the trailing -1
        categories = pd.Index(cats, dtype="str")
        return pd.Series(
            pd.Categorical.from_codes(cat_codes, categories=categories), index=values.index
        )

    return pd.DataFrame(
        {
            "pseudonym": take(pseudonym),
            "shown": take(shown),
            "reason": take(reason),
            "rule": take(rule),
        }
    )

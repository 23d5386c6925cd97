"""BSN checks (elfproef) and keyed pseudonymisation (HMAC-SHA256).

The master key comes from ``EVALKIT_PSEUDONYM_KEY`` or from a key file outside the
repository (``EVALKIT_PSEUDONYM_KEY_FILE``, default ``~/.config/evalkit/pseudonym.key``),
created on first use with mode 0600, and must be strong. Pseudonyms use a key derived
from it per scope (a pilot or project), so releases of different scopes cannot be joined.
A raw BSN never leaves this module: callers get pseudonyms, or for invalid values a
short keyed reference.
"""

from __future__ import annotations

import hmac
import itertools
import os
import re
import secrets
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import IngestError
from evalkit.ingest._hmac import hmac_hex as _hmac_hex
from evalkit.ingest._hmac import hmac_hexes
from evalkit.ingest._memo import ColumnMemo
from evalkit.ingest._privacy import mask_bsns

__all__ = [
    "check_key_strength",
    "derive_key",
    "elfproef",
    "keyed_labels",
    "load_key",
    "master_key",
    "pseudonymise",
    "resolve_scope",
]

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


MIN_KEY_CHARS = 32
MIN_KEY_BITS = 100
DEFAULT_SCOPE = "project"
KEY_ADVICE = (
    'make a good key with: python -c "import secrets; print(secrets.token_hex(32))" '
    "and keep it outside the project (EVALKIT_PSEUDONYM_KEY or the key file)"
)


def _estimated_bits(key: str) -> float:
    """Estimate a key's strength: length times the entropy of its characters.

    Characters that continue a run of four (``abcd``, ``4321``, ``aaaa``) are left out,
    since an attacker guesses the run, not each character; and a word (four or more
    letters with a vowel share of language) counts 2 bits per letter, the order of natural
    text, however varied its letters.
    """
    steps = [ord(b) - ord(a) for a, b in itertools.pairwise(key)]
    kept = key[:3] + "".join(
        c
        for c, r, s, t in zip(key[3:], steps, steps[1:], steps[2:], strict=False)
        if not (r == s == t and abs(t) <= 1)
    )
    counts = np.array(list(Counter(kept).values()), dtype=float)
    freq = counts / counts.sum()
    per_char = float(-(freq * np.log2(freq)).sum())
    words = [
        w
        for w in re.findall(r"[A-Z]?[a-z]{3,}", kept)
        if re.search(r"[g-z]", w)  # not hex letters only: a random hex key holds "face"
        and sum(c in "aeiouyAEIOUY" for c in w) >= 0.3 * len(w)
    ]
    in_words = sum(len(w) for w in words)
    return (len(kept) - in_words) * per_char + 2.0 * in_words


def check_key_strength(key: str, where: str) -> None:
    """Refuse a key that is short, repetitive or of low entropy.

    With a weak key a pseudonym can be reversed by trying every BSN (there are
    only about 90 million), so the key must be long and random.

    Parameters
    ----------
    key : str
        The master key text.
    where : str
        Where the key came from, for the message.

    Raises
    ------
    IngestError
        When the key is too weak; the message says how to make a good one.
    """
    problem = None
    if len(key) < MIN_KEY_CHARS:
        problem = f"it has {len(key)} characters, at least {MIN_KEY_CHARS} are needed"
    elif _estimated_bits(key) < MIN_KEY_BITS or re.search(r"(.{6,}).*\1", key):
        problem = (
            "it is too regular (repeated or few distinct characters, a run such as abcd, or words)"
        )
    if problem:
        raise IngestError(
            f"{where}: the pseudonym key is too weak ({problem}); with a weak key a pseudonym "
            f"can be reversed by trying every BSN. {KEY_ADVICE}"
        )


def derive_key(master: bytes, scope: str) -> bytes:
    """Derive the pseudonym key of one scope (a pilot or project) from the master key.

    HKDF-SHA256 (RFC 5869; one output block, so extract and expand are two HMAC
    calls from the standard library): pseudonyms of different scopes share no
    value, so two releases cannot be joined, and the derived key is never stored.

    Parameters
    ----------
    master : bytes
        The master key.
    scope : str
        The scope name (a protocol id or project name).

    Returns
    -------
    bytes
        32 bytes.
    """
    prk = hmac.digest(b"evalkit pseudonym key v1", master, "sha256")
    return hmac.digest(prk, b"scope=" + scope.encode("utf-8") + b"\x01", "sha256")


def resolve_scope(scope: str | None) -> str:
    """Return the pseudonym scope: ``scope``, else ``EVALKIT_PSEUDONYM_SCOPE``, else ``project``.

    Parameters
    ----------
    scope : str, optional
        An explicit scope.

    Returns
    -------
    str
        The scope name.

    Raises
    ------
    IngestError
        When the name holds a BSN (it is stored in the ingest log).
    """
    chosen = (scope or os.environ.get("EVALKIT_PSEUDONYM_SCOPE") or DEFAULT_SCOPE).strip()
    chosen = chosen or DEFAULT_SCOPE
    if mask_bsns(chosen) != chosen:  # the name is stored in the ingest log and printed
        raise IngestError(
            f"pseudonym scope {mask_bsns(chosen)!r} holds a BSN; name the pilot or project "
            "(the scope name is stored in the ingest log)"
        )
    return chosen


def master_key() -> bytes:
    """Return the master pseudonym key, creating the key file on first use.

    Returns
    -------
    bytes
        The master key (checked for strength).

    Raises
    ------
    IngestError
        When the key is weak, the key file would be inside a git repository, or
        cannot be read.
    """
    env = os.environ.get("EVALKIT_PSEUDONYM_KEY")
    if env is not None and env.strip():
        check_key_strength(env.strip(), "EVALKIT_PSEUDONYM_KEY")
        return env.strip().encode("utf-8")
    path = Path(os.environ.get("EVALKIT_PSEUDONYM_KEY_FILE") or DEFAULT_KEY_FILE).expanduser()
    if _in_repository(path):
        raise IngestError(
            f"{path}: the pseudonym key file must live outside any git repository "
            "(set EVALKIT_PSEUDONYM_KEY_FILE to a path elsewhere)"
        )
    if not path.exists():
        _create_key_file(path)
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the pseudonym key ({exc.strerror})") from exc
    if not key:
        raise IngestError(f"{path}: the pseudonym key file is empty. {KEY_ADVICE}")
    check_key_strength(key, str(path))
    return key.encode("utf-8")


def _create_key_file(path: Path) -> None:
    """Write a new master key whole, unless another process has just written one.

    ``make report`` runs two evalkit commands side by side, and on a fresh machine both
    may find no key file: the key is written to a private file first and then linked
    into place, which succeeds for one process only, so the other reads the same key
    and nobody reads a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.draft")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process made the key first; use that one
    finally:
        draft.unlink()


def load_key(scope: str | None = None) -> bytes:
    """Return the pseudonym key of a scope, derived from the master key.

    Parameters
    ----------
    scope : str, optional
        The scope (see :func:`resolve_scope`).

    Returns
    -------
    bytes
        The derived HMAC key.

    Raises
    ------
    IngestError
        When the master key is weak or cannot be read.
    """
    return derive_key(master_key(), resolve_scope(scope))


def _nine_digit_texts(u: pd.Series) -> np.ndarray | None:
    """Return the digits (one row of nine per text) when every text is nine ASCII digits.

    The common case of a BSN column, checked with Arrow's kernels and one join instead of
    the general path's eight passes over the texts; None sends anything else there.
    """
    if not len(u) or bool(u.isna().any()) or not bool((u.str.len() == 9).all()):
        return None
    joined = "".join(u.tolist())
    if not (joined.isascii() and joined.isdigit()):
        return None
    return np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(-1, 9) - 48


def pseudonymise(
    values: Iterable[str] | str, *, key: bytes | None = None, scope: str | None = None
) -> list[str] | str:
    """Replace valid BSNs by their HMAC-SHA256 pseudonym (64 lower-case hex characters).

    Values that already are 64-hex pseudonyms pass unchanged (lower-cased). Spaces,
    dots and hyphens inside a BSN are ignored, and a 7- or 8-digit value (one or two
    leading zeros lost by a spreadsheet or a numeric column) is padded to nine digits.

    Parameters
    ----------
    values : str or iterable of str
        BSNs or pseudonyms.
    key : bytes, optional
        The HMAC key; defaults to ``load_key(scope)``.
    scope : str, optional
        The pseudonym scope (see :func:`resolve_scope`) when ``key`` is not given.

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
    result = classify_identifiers(series, key=key or load_key(scope))
    bad = result["reason"].notna()
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise IngestError(
            f"value {first + 1}: {result['reason'].iloc[first]} "
            f"(reference {result['shown'].iloc[first]})"
        )
    out = result["pseudonym"].tolist()
    return out[0] if single else out


def classify_identifiers(
    values: pd.Series, *, key: bytes, memo: ColumnMemo | None = None
) -> pd.DataFrame:
    """Check and pseudonymise a column of identifiers, working on unique values.

    Parameters
    ----------
    values : pandas.Series
        Raw identifier texts (nulls allowed).
    key : bytes
        The HMAC key.
    memo : ColumnMemo, optional
        Identifiers classified in earlier chunks of the file (not classified again).

    Returns
    -------
    pandas.DataFrame
        Same index as ``values``; ``pseudonym`` (null when invalid or empty),
        ``shown`` (what messages may display: the pseudonym, or ``#`` and a
        12-hex keyed reference of an invalid value), ``reason`` (why it is
        invalid, null when fine or empty) and ``rule`` (``bsn`` or ``elfproef``).
    """
    if memo is not None:
        codes, uniques = memo.distinct_array(values)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if memo is not None and len(uniques):
        parts = memo.parse(memo.distinct(values)[1], lambda u: _classify_uniques(u, key))
    else:
        parts = list(_classify_uniques(pd.Series(uniques, dtype="str"), key))

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

    names = ("pseudonym", "shown", "reason", "rule")
    return pd.DataFrame({name: take(part) for name, part in zip(names, parts, strict=True)})


def _classify_uniques(u: pd.Series, key: bytes) -> tuple[np.ndarray, ...]:
    """Return pseudonym, shown, reason and rule (object arrays) of distinct identifier texts."""
    digits = _nine_digit_texts(u)
    if digits is not None:
        return _classify_nine(u, digits, key)
    n = len(u)
    stripped = u.str.strip()
    low = stripped.str.lower()
    is_hex = low.str.fullmatch(r"[0-9a-f]{64}").to_numpy(dtype=bool, na_value=False)
    cleaned = stripped.str.replace(r"[\s.\-]", "", regex=True)
    floaty = stripped.str.fullmatch(r"[0-9]{7,9}\.0").to_numpy(dtype=bool, na_value=False)
    cleaned = cleaned.where(~floaty, stripped.str.slice(0, -2))  # a number stored as a float
    # One or two leading zeros lost by a spreadsheet or a numeric SPSS/Stata/Parquet column.
    short = cleaned.str.fullmatch(r"[0-9]{7,8}").to_numpy(dtype=bool, na_value=False)
    cleaned = cleaned.where(~short, cleaned.str.zfill(9))
    nine = cleaned.str.fullmatch(r"[0-9]{9}").to_numpy(dtype=bool, na_value=False) & ~is_hex
    valid = np.zeros(n, dtype=bool)
    valid[nine] = elfproef(cleaned[nine].tolist())
    pseudonym = np.full(n, None, dtype=object)
    pseudonym[is_hex] = low[is_hex].to_numpy(dtype=object)
    pseudonym[valid] = [_hmac_hex(key, text) for text in cleaned[valid].tolist()]
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
    return pseudonym, shown, reason, rule


def _classify_nine(u: pd.Series, digits: np.ndarray, key: bytes) -> tuple[np.ndarray, ...]:
    """Return :func:`_classify_uniques` of texts that are all nine digits (``digits``)."""
    n = len(u)
    numbers = digits.astype(np.int64)
    valid = ((numbers @ _WEIGHTS) % 11 == 0) & (numbers.sum(axis=1) > 0)  # the elfproef
    texts = u.tolist()
    pseudonym = np.full(n, None, dtype=object)
    pseudonym[valid] = hmac_hexes(key, [t for t, ok in zip(texts, valid, strict=True) if ok])
    reason = np.full(n, None, dtype=object)
    rule = np.full(n, None, dtype=object)
    reason[~valid] = "9 digits but not a valid BSN (fails the elfproef)"
    rule[~valid] = "elfproef"
    shown = pseudonym.copy()
    bad = np.flatnonzero(~valid)
    shown[bad] = ["#" + h[:12] for h in hmac_hexes(key, ["invalid:" + texts[i] for i in bad])]
    return pseudonym, shown, reason, rule


def keyed_labels(values: pd.Series, *, key: bytes, kind: str) -> pd.Series:
    """Replace non-personal identifiers (a coach, a caseworker) by short keyed labels.

    A label is ``kind`` and the first hexadecimal characters of HMAC-SHA256 over
    ``kind:value`` with the scope's key: stable from one run to the next (a pilot lead
    can follow "coach 3f9a2c" week by week), unreadable without the key, and different
    from any person pseudonym (the ``kind:`` prefix separates the domains). Six
    characters are used, more only when two different values would share a label.

    Parameters
    ----------
    values : pandas.Series
        Raw identifiers (nulls stay null).
    key : bytes
        The HMAC key (:func:`load_key`).
    kind : str
        A short word naming what is labelled (``coach``).

    Returns
    -------
    pandas.Series
        Labels like ``coach 3f9a2c``, same index as ``values``.
    """
    present = values.dropna().astype(str).str.strip()
    uniques = sorted(set(present) - {""})
    digests = {v: _hmac_hex(key, f"{kind}:{v}") for v in uniques}
    width = 6
    while len({d[:width] for d in digests.values()}) < len(digests):
        width += 2
    mapping = {v: f"{kind} {d[:width]}" for v, d in digests.items()}
    return values.map(lambda v: mapping.get(str(v).strip()) if pd.notna(v) else None)

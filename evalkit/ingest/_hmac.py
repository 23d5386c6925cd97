"""Keyed hashes (HMAC-SHA256) of many short texts, from two pad states set up once."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

__all__ = ["hmac_hex", "hmac_hexes"]


@lru_cache(maxsize=16)
def _hmac_states(key: bytes) -> tuple[Any, Any]:
    """Return SHA-256 states that have absorbed the key's inner and outer HMAC pads.

    HMAC (RFC 2104) hashes ``key ^ ipad`` and ``key ^ opad`` first whatever the message;
    copying these two states per value instead of starting over halves the cost of a
    hundred thousand pseudonyms (``hmac.digest`` sets up OpenSSL's HMAC on every call).
    """
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


def hmac_hex(key: bytes, text: str) -> str:
    """Return HMAC-SHA256 of a text (UTF-8) under ``key``, as 64 hex characters."""
    inner, outer = _hmac_states(key)
    digest = inner.copy()
    digest.update(text.encode("utf-8"))
    final = outer.copy()
    final.update(digest.digest())
    return str(final.hexdigest())


def hmac_hexes(key: bytes, texts: list[str]) -> list[str]:
    """Return :func:`hmac_hex` of each text (one loop, without a call per text)."""
    inner, outer = _hmac_states(key)
    out = []
    for text in texts:
        digest = inner.copy()
        digest.update(text.encode("utf-8"))
        final = outer.copy()
        final.update(digest.digest())
        out.append(final.hexdigest())
    return out

"""Numeric command-line options with declared bounds: a value outside them is a usage error.

argparse calls each option's ``type`` with the text typed; an ``ArgumentTypeError``
becomes its usage error (exit 2, ``argument --n-sims: must be ...``) before any file is
read or any work starts. The bounds are those declared for the same value elsewhere
(:mod:`evalkit.spec`, the protocol format), looked up only when an option is given, so
``evalkit --help`` imports nothing heavy.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["field", "number", "numbers", "whole"]


def _range(minimum: float | None, maximum: float | None, *, open_low: bool = False) -> str:
    low = "" if minimum is None else f"{'above' if open_low else 'at least'} {_shown(minimum)}"
    high = "" if maximum is None else f"at most {_shown(maximum)}"
    return " and ".join(part for part in (low, high) if part)


def whole(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """Return a parser of a whole number within ``[minimum, maximum]``.

    Parameters
    ----------
    minimum, maximum : int, optional
        Inclusive bounds; None leaves that side open.

    Returns
    -------
    callable
        An argparse ``type``.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not _within(value, minimum, maximum):
            raise argparse.ArgumentTypeError(
                f"must be a whole number, {_range(minimum, maximum)}; got {text!r}"
            )
        return value

    return parse


def number(
    minimum: float | None = None, maximum: float | None = None, *, open_low: bool = False
) -> Callable[[str], float]:
    """Return a parser of a finite number within the bounds.

    Parameters
    ----------
    minimum, maximum : float, optional
        Bounds (``maximum`` inclusive); None leaves that side open.
    open_low : bool
        Whether ``minimum`` itself is refused (a share of 0, say).

    Returns
    -------
    callable
        An argparse ``type``.
    """

    def parse(text: str) -> float:
        value = _finite(text)
        if value is None or not _within(value, minimum, maximum, open_low=open_low):
            raise argparse.ArgumentTypeError(
                f"must be a number, {_range(minimum, maximum, open_low=open_low)}; got {text!r}"
            )
        return value

    return parse


def numbers(minimum: float | None = None) -> Callable[[str], list[float]]:
    """Return a parser of comma-separated finite numbers (``0.5,1,1.5``), each ≥ ``minimum``.

    Parameters
    ----------
    minimum : float, optional
        Least value of each number.

    Returns
    -------
    callable
        An argparse ``type``.
    """

    def parse(text: str) -> list[float]:
        values = [_finite(piece) for piece in text.split(",") if piece.strip()]
        if not values or any(v is None or not _within(v, minimum, None) for v in values):
            least = "" if minimum is None else f", each at least {minimum:g}"
            raise argparse.ArgumentTypeError(
                f"must be finite numbers separated by commas{least}; got {text!r}"
            )
        return [float(v) for v in values if v is not None]

    return parse


def field(path: str) -> Callable[[str], int | float]:
    """Return a parser with the bounds the protocol format declares for ``path``.

    Parameters
    ----------
    path : str
        Dotted path of the field in the protocol format, e.g. ``power.n_sims``.

    Returns
    -------
    callable
        An argparse ``type``: a whole number for an ``int`` field, else a number.
    """

    def parse(text: str) -> int | float:
        from evalkit.protocol._fields import PROTOCOL_SPEC

        spec = PROTOCOL_SPEC
        for part in path.split("."):
            spec = spec.fields[part]
        low, high = spec.minimum, spec.maximum
        if spec.kind == "int":
            return whole(None if low is None else int(low), None if high is None else int(high))(
                text
            )
        return number(low, high)(text)

    return parse


def _shown(bound: float) -> str:
    """Write a bound as typed: 4294967295, not 4.29497e+09; 0.5, not 0.500000."""
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _within(
    value: float, minimum: float | None, maximum: float | None, *, open_low: bool = False
) -> bool:
    if minimum is not None and (value <= minimum if open_low else value < minimum):
        return False
    return maximum is None or value <= maximum

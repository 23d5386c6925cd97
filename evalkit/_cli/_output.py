"""Everything a command prints goes through here, with BSNs masked.

A file or folder named after a person (``deelnemer_999999990.csv``, a protocol saved as
``999999990.yaml``) is echoed by almost every command: in a path it prints, a progress
line, a JSON field. The terminal and a CI log must not show the number, so each line and
each JSON string passes :func:`evalkit.ingest._privacy.mask_bsns`, the same mask the
ingest reports and the error messages use. JSON numbers are left as they are (a masked
number would no longer be JSON, and no identifier is ever a JSON number here).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

__all__ = ["echo", "echo_json", "masked"]

#: A whole string that is a git commit or a sha256 (the lock's, a file's): written by
#: evalkit or git, never a person's number; about one commit in sixty holds a run of nine
#: digits that passes the elfproef, which the mask would cut out of the JSON.
_HASH = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def echo(text: object = "", *, err: bool = False, flush: bool = False) -> None:
    """Print one text to stdout (or stderr) with BSNs masked.

    Parameters
    ----------
    text : object
        What to print (turned into text).
    err : bool
        Print to stderr.
    flush : bool
        Flush the stream at once (progress lines).
    """
    from evalkit.ingest._privacy import mask_bsns  # on output only: --help stays light

    print(mask_bsns(str(text)), file=sys.stderr if err else sys.stdout, flush=flush)


def echo_json(value: Any, **dumps: Any) -> None:
    """Print ``value`` as JSON to stdout, every string (keys too) with BSNs masked.

    Parameters
    ----------
    value : object
        A JSON-able value.
    **dumps
        Passed to :func:`json.dumps` (``indent``, ``ensure_ascii``, ``default``...).
    """
    print(json.dumps(masked(value), **dumps))


def masked(value: Any) -> Any:
    """Return ``value`` with BSNs masked in every string, keys of mappings included.

    Parameters
    ----------
    value : object
        Strings, numbers, lists, tuples and mappings, nested.

    Returns
    -------
    object
        The same structure; anything else (a number, None) and strings that are a
        git commit or sha256 as a whole unchanged.
    """
    from evalkit.ingest._privacy import mask_bsns

    if isinstance(value, str):
        return value if _HASH.fullmatch(value) else mask_bsns(value)
    if isinstance(value, dict):
        return {masked(k): masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value

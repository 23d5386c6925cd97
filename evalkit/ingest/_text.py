"""Text normalisation shared by header matching and value lookup."""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[\s_\-./()]+")


def header_key(name: object) -> str:
    """Return the comparison key of a column header.

    Headers match case-insensitively, without accents, and with spaces, hyphens,
    underscores, dots and brackets ignored: ``"Gemeente code"``, ``"gemeente_code"``
    and ``"GemeenteCode"`` all give ``"gemeentecode"``.

    Parameters
    ----------
    name : object
        The header as found in the file.

    Returns
    -------
    str
        The comparison key.
    """
    text = unicodedata.normalize("NFKD", str(name).replace("\ufeff", ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SEPARATORS.sub("", text.strip().lower())


def value_key(value: object) -> str:
    """Return the comparison key of a category value (same rules as :func:`header_key`).

    Parameters
    ----------
    value : object
        A cell value.

    Returns
    -------
    str
        The comparison key.
    """
    return header_key(value)

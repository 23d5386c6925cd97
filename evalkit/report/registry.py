"""The protocol's external registration (``metadata.registry``) as a link, or as plain text.

Evaluators write the registration the way the registry prints it: a DOI
(``10.17605/OSF.IO/ABCDE``, ``doi:10.…``), an OSF id (``osf.io/abcde``, ``OSF: abcde``),
an AEA RCT Registry id (``AEARCTR-0012345``) or the page's URL. Each of these is
linked to its registry page; anything else is shown as text only. The value comes
from the protocol, so it is outside text: the shown text always goes through
:func:`evalkit.report.escape.md_escape`, and a link target is percent-encoded, so
neither can become markup or leave the link.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from evalkit.report.escape import md_escape

__all__ = ["registry_markdown", "registry_url"]

_DOI = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)$", re.I)
#: OSF ids are five or more lower-case letters and digits ("GUIDs"), e.g. osf.io/abcde.
_OSF = re.compile(
    r"^(?:(?:https?://)?(?:www\.)?osf\.io/|osf(?:\s*[:\-]\s*|\s+))([a-z0-9]{5,})/?$", re.I
)
#: AEA RCT Registry: "AEARCTR-0012345" is trial 12345 on socialscienceregistry.org.
_AEA = re.compile(r"^(?:aea\s*rct\s*registry\s*[:\-]?\s*)?AEARCTR-(\d{1,10})$", re.I)
#: Characters kept as they are in a link target; everything else is percent-encoded, so
#: ``(``, ``)``, ``<``, quotes and spaces cannot close the markdown link or its attribute.
_URL_SAFE = ":/?#&=%+,;@!$*~._-"


def registry_url(value: str) -> str | None:
    """Return the registry page of a registration id, DOI or URL; None for other text.

    Parameters
    ----------
    value : str
        ``metadata.registry`` as written in the protocol.

    Returns
    -------
    str or None
        A percent-encoded ``https://`` (or the given ``http://``) address.

    Examples
    --------
    >>> registry_url("OSF: abcde")
    'https://osf.io/abcde'
    >>> registry_url("AEARCTR-0012345")
    'https://www.socialscienceregistry.org/trials/12345'
    >>> registry_url("registered with the ethics board") is None
    True
    """
    text = " ".join(str(value).split())
    if found := _DOI.match(text):
        return "https://doi.org/" + quote(found.group(1), safe=_URL_SAFE)
    if found := _OSF.match(text):
        return "https://osf.io/" + found.group(1).lower()
    if found := _AEA.match(text):
        return f"https://www.socialscienceregistry.org/trials/{int(found.group(1))}"
    parts = urlsplit(text)
    if parts.scheme.lower() in ("http", "https") and parts.netloc and " " not in text:
        return quote(text, safe=_URL_SAFE)
    return None


def registry_markdown(value: str) -> str:
    """Return ``value`` as a markdown link to its registry page, or as escaped text."""
    shown = md_escape(str(value))
    url = registry_url(value)
    return shown if url is None else f"[{shown}]({url})"

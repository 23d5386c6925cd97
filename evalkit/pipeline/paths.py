"""Where a protocol's inputs and outputs live."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import ProtocolError
from evalkit.protocol._yaml import read_yaml

__all__ = ["ProtocolPaths", "paths_for", "protocol_scope"]

_SCOPE = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass(frozen=True)
class ProtocolPaths:
    """The files one protocol reads and writes.

    Attributes
    ----------
    protocol : Path
        The protocol YAML file.
    protocol_id : str
        The protocol's ``id``.
    build : Path
        The build folder (default ``build``).
    store : Path
        The DuckDB store (default ``build/evalkit.duckdb``; ``build/scopes/<scope>.duckdb``
        for a protocol with its own pseudonym scope, since a store holds one scope).
    scope : str or None
        The pseudonym scope its data are ingested and labelled under (the protocol's
        ``pseudonym_scope``; ``protocol`` stands for its id). None: the session's scope
        (:func:`evalkit.ingest.resolve_scope`).
    """

    protocol: Path
    protocol_id: str
    build: Path
    store: Path
    scope: str | None = None

    @property
    def bundle(self) -> Path:
        """The results bundle, ``build/<id>/results.json``."""
        return self.build / self.protocol_id / "results.json"

    @property
    def reports(self) -> Path:
        """The folder reports are rendered into, ``build/reports``."""
        return self.build / "reports"

    def __repr__(self) -> str:
        return f"ProtocolPaths({self.protocol_id!r}, bundle={str(self.bundle)!r})"


def paths_for(
    protocol: Path, *, build: Path = Path("build"), store: Path | None = None
) -> ProtocolPaths:
    """Return the paths of a protocol, reading only its ``id``.

    Parameters
    ----------
    protocol : Path
        The protocol YAML file.
    build : Path, optional
        The build folder.
    store : Path, optional
        The DuckDB store; default ``<build>/evalkit.duckdb``, or
        ``<build>/scopes/<scope>.duckdb`` when the protocol names a ``pseudonym_scope``.

    Returns
    -------
    ProtocolPaths
        The protocol's paths.

    Raises
    ------
    ProtocolError
        When the file is missing or has no ``id``.
    """
    # The protocol's own reader: a second yaml.safe_load here hung on a 50 MB file and
    # raised a traceback on deep nesting or UTF-16 before the protocol was ever checked.
    raw = read_yaml(protocol)
    if not isinstance(raw, dict) or not raw.get("id"):
        raise ProtocolError(f"{protocol}: id: required (a short name used for the build folder)")
    scope = protocol_scope(raw, file=protocol)
    default = build / "evalkit.duckdb" if scope is None else build / "scopes" / f"{scope}.duckdb"
    return ProtocolPaths(protocol, str(raw["id"]), build, store or default, scope)


def protocol_scope(raw: dict[str, object], *, file: Path) -> str | None:
    """Return the pseudonym scope a protocol declares (``protocol`` means its id).

    Parameters
    ----------
    raw : dict
        The protocol as read from YAML.
    file : Path
        The protocol file, for the message.

    Returns
    -------
    str or None
        The scope name; None when the protocol declares none (the session's scope).

    Raises
    ------
    ProtocolError
        When ``pseudonym_scope`` is not a scope name.
    """
    value = raw.get("pseudonym_scope")
    if value is None:
        return None
    if not isinstance(value, str) or not _SCOPE.fullmatch(value):
        raise ProtocolError(
            f"{file}: pseudonym_scope: {value!r} is not 'protocol' or a scope name of "
            "lower-case letters, digits, '-' and '_'"
        )
    return str(raw["id"]) if value == "protocol" else value

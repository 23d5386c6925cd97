"""Where a protocol's inputs and outputs live."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import ProtocolError
from evalkit.protocol._yaml import read_yaml

__all__ = ["ProtocolPaths", "checked_paths", "paths_for", "protocol_scope"]

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


def checked_paths(
    protocols: Sequence[Path], *, build: Path = Path("build"), store: Path | None = None
) -> list[ProtocolPaths]:
    """Check every protocol in full, then return their paths.

    ``evalkit run`` makes demo data, starts workers and ingests from what the protocol
    says; a protocol that is wrong anywhere (a ``demo:`` that is a list, say) must stop
    the run with its field named before any of that happens, not half-way in a traceback.

    Parameters
    ----------
    protocols : sequence of Path
        The protocol files.
    build, store : Path
        As for :func:`paths_for`.

    Returns
    -------
    list of ProtocolPaths
        The paths of each protocol, in order.

    Raises
    ------
    ProtocolError
        The problems of the one protocol that has any; with several, every problem of
        each, prefixed by its file.
    """
    from evalkit.protocol import load_protocol

    refused: list[tuple[Path, ProtocolError]] = []
    for protocol in protocols:
        try:
            load_protocol(protocol)
        except ProtocolError as exc:
            refused.append((protocol, exc))
    if len(refused) == 1:
        raise refused[0][1]
    if refused:
        problems = [
            f"{file}: {problem}" if exc.problems else str(exc)
            for file, exc in refused
            for problem in (exc.problems or [str(exc)])
        ]
        raise ProtocolError(
            f"{len(refused)} of {len(protocols)} protocols have problems; nothing was run",
            problems,
        )
    return [paths_for(p, build=build, store=store) for p in protocols]


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

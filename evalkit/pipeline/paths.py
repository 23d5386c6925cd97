"""Where a protocol's inputs and outputs live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from evalkit.errors import ProtocolError

__all__ = ["ProtocolPaths", "paths_for"]


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
        The DuckDB store (default ``build/evalkit.duckdb``).
    """

    protocol: Path
    protocol_id: str
    build: Path
    store: Path

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
        The DuckDB store; default ``<build>/evalkit.duckdb``.

    Returns
    -------
    ProtocolPaths
        The protocol's paths.

    Raises
    ------
    ProtocolError
        When the file is missing or has no ``id``.
    """
    if not protocol.is_file():
        raise ProtocolError(f"{protocol}: no such protocol file")
    try:
        raw = yaml.safe_load(protocol.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProtocolError(f"{protocol}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict) or not raw.get("id"):
        raise ProtocolError(f"{protocol}: id: required (a short name used for the build folder)")
    return ProtocolPaths(protocol, str(raw["id"]), build, store or build / "evalkit.duckdb")

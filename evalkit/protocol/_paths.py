"""Data sources must stay inside the project: a protocol cannot make ingest read /etc/passwd."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["allowed_roots", "check_source_paths"]


def allowed_roots(protocol_path: Path) -> list[Path]:
    """Return the folders data files may live in.

    The working directory (relative file paths resolve against it) unless it is a
    file-system root or the home folder, where it would let a protocol name any file;
    the project the protocol belongs to (the folder above the nearest ``protocols/``
    folder it lives in, else the protocol's own folder); and every folder named in
    ``EVALKIT_DATA_DIRS`` (separated by the path separator).

    Parameters
    ----------
    protocol_path : pathlib.Path
        The protocol file.

    Returns
    -------
    list of pathlib.Path
        Resolved folders.
    """
    folder = protocol_path.resolve().parent
    project = next((f.parent for f in (folder, *folder.parents) if f.name == "protocols"), folder)
    extra = [Path(p) for p in os.environ.get("EVALKIT_DATA_DIRS", "").split(os.pathsep) if p]
    cwd = Path.cwd().resolve()
    here = [] if cwd == Path(cwd.anchor) or cwd == Path.home().resolve() else [cwd]
    return [p.resolve() for p in (*here, project, *extra)]


def check_source_paths(raw: Mapping[str, Any], protocol_path: Path) -> list[str]:
    """Return one error per data file that resolves outside the allowed folders.

    Parameters
    ----------
    raw : mapping
        The protocol as read from YAML.
    protocol_path : pathlib.Path
        The protocol file.

    Returns
    -------
    list of str
        Errors naming ``data_sources[kind].files`` and the file.
    """
    roots = allowed_roots(Path(protocol_path))
    errors = []
    sources = raw.get("data_sources") if isinstance(raw, Mapping) else None
    for source in sources if isinstance(sources, list) else []:
        if not isinstance(source, Mapping) or not isinstance(source.get("files"), list):
            continue
        for name in source["files"]:
            if not isinstance(name, str):
                continue
            target = Path(name).expanduser().resolve()
            if not any(target == root or root in target.parents for root in roots):
                errors.append(
                    f"data_sources[{source.get('kind')}].files: {name!r} lies outside the "
                    "project; keep data under the project folder (data/raw/...) or name its "
                    "folder in EVALKIT_DATA_DIRS"
                )
    return errors

"""Data sources must stay inside the project: a protocol cannot make ingest read /etc/passwd."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["allowed_roots", "check_source_paths"]

#: A URL (``http://``, ``file://``), a Windows drive or share (``C:\\``, ``\\\\server``), a
#: backslash or a glob: none of them names a file here, and each resolved as a relative name
#: inside the project, so check passed and the run failed later or read something else.
_NOT_A_PATH = (
    (re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://"), "a URL is not a file path; download it first"),
    (re.compile(r"^[A-Za-z]:"), "a Windows drive is not a file path here"),
    (re.compile(r"\\"), "a Windows path (backslash) is not a file path here; use '/'"),
    (re.compile(r"[*?]"), "a glob pattern is not expanded; list each file"),
    # A NUL byte made Path.resolve() raise ValueError: a traceback instead of a message.
    (re.compile("\x00"), "a NUL character cannot be part of a file name"),
)
#: Nine digits, optionally grouped by space, dot, dash or underscore: candidates for the
#: elfproef. A small copy of the ingest mask's search, which this layer may not import
#: (test_architecture); eight digits are left out, since in a file name they are mostly a
#: date (``panel_20250101.csv`` passes the elfproef with a zero in front).
_BSN = re.compile(r"(?<![0-9])[0-9](?:[ ._-]?[0-9]){8}(?![0-9])")


def _holds_bsn(name: str) -> bool:
    for match in _BSN.finditer(name):
        digits = re.sub(r"[^0-9]", "", match.group())
        if int(digits):
            total = sum(
                int(d) * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2, -1), strict=True)
            )
            if total % 11 == 0:
                return True
    return False


def _refusal(name: str, roots: list[Path]) -> str | None:
    """Return why a data file name is refused, never echoing a BSN, or None."""
    if _holds_bsn(name):
        return (
            "a file name holds what may be a BSN (the protocol is registered and published); "
            "rename the file"
        )
    for pattern, why in _NOT_A_PATH:
        if pattern.search(name):
            return f"{name!r}: {why}"
    try:
        target = Path(name).expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, an unknown ~user
        return f"{name!r} cannot be resolved ({type(exc).__name__}: a symbolic link loop?)"
    if not any(target == root or root in target.parents for root in roots):
        return (
            f"{name!r} lies outside the project; keep data under the project folder "
            "(data/raw/...) or name its folder in EVALKIT_DATA_DIRS"
        )
    return None


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
            why = _refusal(name, roots)
            if why:
                errors.append(f"data_sources[{source.get('kind')}].files: {why}")
    return errors

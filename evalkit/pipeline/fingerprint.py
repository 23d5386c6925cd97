"""Fingerprints of what a bundle was computed from, so unchanged work is not redone.

The fingerprint covers the protocol file, its registration lock, every data
file it names, the data schemas and the evalkit source code itself. It is kept
beside the bundle (``inputs.json``), never inside it, so that the bundle's bytes
depend only on its content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.ingest import file_sha256
from evalkit.protocol._yaml import read_yaml

__all__ = [
    "analysis_fingerprint",
    "is_up_to_date",
    "record_fingerprint",
    "record_render",
    "render_fingerprint",
    "render_is_up_to_date",
]

_PACKAGE = Path(__file__).resolve().parents[1]


def _tree_digest(files: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(file.relative_to(root).as_posix().encode())
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def analysis_fingerprint(protocol: Path) -> dict[str, Any]:
    """Return the digests of everything the analysis of ``protocol`` reads.

    Parameters
    ----------
    protocol : Path
        The protocol file.

    Returns
    -------
    dict
        Digests of the protocol, its lock, its data files, the schemas and the code.
    """
    raw = read_yaml(protocol) or {}
    lock = protocol.with_name(protocol.name + ".lock.json")
    sidecar = protocol.with_name(protocol.name + ".deviations.yaml")
    files = [Path(f) for s in raw.get("data_sources", []) or [] for f in s.get("files", []) or []]
    schemas = _PACKAGE.parent / "data_schemas"
    analyses = protocol.resolve().parent.parent / "analyses"
    return {
        "evalkit_version": __version__,
        "protocol": file_sha256(protocol),
        "lock": file_sha256(lock) if lock.is_file() else None,
        "deviations": file_sha256(sidecar) if sidecar.is_file() else None,
        "data": {str(f): file_sha256(f) if f.is_file() else None for f in files},
        "schemas": _tree_digest(schemas.glob("*.yaml"), schemas) if schemas.is_dir() else None,
        "analyses": _tree_digest(analyses.glob("*.yaml"), analyses) if analyses.is_dir() else None,
        "code": _tree_digest(_PACKAGE.rglob("*.py"), _PACKAGE),
    }


def _stamp_matches(stamp: Path, fingerprint: dict[str, Any]) -> bool:
    """Whether ``stamp`` exists and records exactly ``fingerprint``."""
    if not stamp.is_file():
        return False
    try:
        return bool(json.loads(stamp.read_text(encoding="utf-8")) == fingerprint)
    except json.JSONDecodeError:
        return False


def _write_stamp(stamp: Path, fingerprint: dict[str, Any]) -> None:
    stamp.write_text(json.dumps(fingerprint, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _fingerprint_path(bundle: Path) -> Path:
    return bundle.with_name("inputs.json")


def is_up_to_date(bundle: Path, fingerprint: dict[str, Any]) -> bool:
    """Whether ``bundle`` exists and was computed from exactly ``fingerprint``.

    Parameters
    ----------
    bundle : Path
        The results bundle.
    fingerprint : dict
        From :func:`analysis_fingerprint`.

    Returns
    -------
    bool
        True when nothing it was computed from has changed.
    """
    return bundle.is_file() and _stamp_matches(_fingerprint_path(bundle), fingerprint)


def record_fingerprint(bundle: Path, fingerprint: dict[str, Any]) -> None:
    """Store the fingerprint beside ``bundle``.

    Parameters
    ----------
    bundle : Path
        The results bundle just written.
    fingerprint : dict
        From :func:`analysis_fingerprint`.
    """
    _write_stamp(_fingerprint_path(bundle), fingerprint)


def render_fingerprint(
    bundle: Path, reports_dir: Path, langs: Iterable[str], documents: Iterable[str]
) -> dict[str, Any]:
    """Return the digests of everything a protocol's reports are rendered from.

    Parameters
    ----------
    bundle : Path
        The results bundle.
    reports_dir : Path
        The folder with the ``.qmd`` documents.
    langs, documents : iterable of str
        What is rendered.

    Returns
    -------
    dict
        Digests of the bundle, the documents and the code, and the languages and documents.
    """
    return {
        "bundle": file_sha256(bundle),
        "documents": sorted(documents),
        "langs": sorted(langs),
        "qmd": _tree_digest(reports_dir.glob("*.qmd"), reports_dir),
        "code": _tree_digest(_PACKAGE.rglob("*.py"), _PACKAGE),
    }


def _render_stamp(out_dir: Path, stem: str, fingerprint: dict[str, Any]) -> Path:
    """One stamp per protocol, document set and language set (report and monitor apart)."""
    which = "-".join([*fingerprint["documents"], *fingerprint["langs"]])
    return out_dir / f".{stem}.{which}.inputs.json"


def render_is_up_to_date(
    out_dir: Path, stem: str, fingerprint: dict[str, Any], outputs: Iterable[Path]
) -> bool:
    """Whether every output exists and was rendered from exactly ``fingerprint``.

    Parameters
    ----------
    out_dir : Path
        The reports folder.
    stem : str
        The protocol id.
    fingerprint : dict
        From :func:`render_fingerprint`.
    outputs : iterable of Path
        The files that must exist.

    Returns
    -------
    bool
        True when rendering again would give the same files.
    """
    stamp = _render_stamp(out_dir, stem, fingerprint)
    return all(p.exists() for p in outputs) and _stamp_matches(stamp, fingerprint)


def record_render(out_dir: Path, stem: str, fingerprint: dict[str, Any]) -> None:
    """Store the render fingerprint of a protocol's reports.

    Parameters
    ----------
    out_dir : Path
        The reports folder.
    stem : str
        The protocol id.
    fingerprint : dict
        From :func:`render_fingerprint`.
    """
    _write_stamp(_render_stamp(out_dir, stem, fingerprint), fingerprint)

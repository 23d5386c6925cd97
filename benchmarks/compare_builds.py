"""Compare two build folders of ``make report``: same documents, tables and bundles.

Used to check that a speed-up changes no output: run ``make report`` from scratch,
copy ``build/`` aside, change the code, run again, then::

    python -m benchmarks.compare_builds OLD_BUILD NEW_BUILD

Every HTML, CSV and JSON file and every sheet of every workbook must be equal once
these are replaced by placeholders: git commit ids (40 hex digits, and the short
form of the bundles' code commit), which a speed-up changes; date-times (ISO 8601
as ingest records them, and as the reports show them); and the national
estimates' measured seconds. Left out: the DuckDB store, the manifests (sha256 of
the files that hold the commit), the analysis and render fingerprints
(``inputs.json``, ``.*.inputs.json``: they hold the code's digest) and the saved
suppression plan (``plan.json``, a cache; what it hides is in the compared files).
Exit code 0 when all are equal, 1 otherwise.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

_COMMIT = re.compile(rb"\b[0-9a-f]{40}\b")
#: An ISO 8601 time of day with its date (ingest and analysis times, not the registration's).
_TIME = re.compile(rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?")
#: The same, as the reports show it ("5 december 2026, 23:44 UTC").
_SHOWN_TIME = re.compile(rb"\b\d{1,2} [A-Za-z]+ \d{4}, \d\d:\d\d UTC")
#: Measured durations in the national estimates ("seconds": 0.22).
_SECONDS = re.compile(rb'("(?:engine_)?seconds": )[0-9.e-]+')
#: The store, hashes of commit-bearing files, the recorded inputs of an analysis or a
#: render (they hold the code's digest), and the saved suppression plan (a cache of what
#: the documents and exports show, which are compared themselves).
_SKIP_SUFFIXES = (".duckdb", ".wal", ".manifest.json", "inputs.json", "plan.json")


def _commits(root: Path) -> set[bytes]:
    """Return the commit ids recorded in a build's bundles (and their short forms)."""
    found: set[bytes] = set()
    for bundle in root.glob("*/results.json"):
        for match in re.finditer(rb'"code_commit": "([0-9a-f]{40})"', bundle.read_bytes()):
            found |= {match.group(1), match.group(1)[:7]}
    return found


def _normalise(data: bytes, commits: set[bytes]) -> bytes:
    for commit in sorted(commits, key=len, reverse=True):
        data = data.replace(commit, b"<commit>")
    data = _TIME.sub(b"<time>", _COMMIT.sub(b"<sha>", data))
    return _SECONDS.sub(rb"\1<s>", _SHOWN_TIME.sub(b"<time>", data))


def _content(path: Path, commits: set[bytes]) -> bytes:
    if path.suffix == ".xlsx":
        return _normalise(_workbook_text(path), commits)
    return _normalise(path.read_bytes(), commits)


def _workbook_text(path: Path) -> bytes:
    """Return every sheet's cells as text: the shared-string order depends on the values."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    lines = []
    for sheet in book.worksheets:
        lines.append(f"== {sheet.title}")
        lines += ["\t".join(repr(v) for v in row) for row in sheet.iter_rows(values_only=True)]
    book.close()
    return "\n".join(lines).encode()


def _files(root: Path) -> dict[str, Path]:
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(_SKIP_SUFFIXES)
    }


def compare(old: Path, new: Path) -> list[str]:
    """Return one line per difference between two build folders (empty when equal).

    Parameters
    ----------
    old, new : Path
        Two ``build/`` folders.

    Returns
    -------
    list of str
        Files only in one folder, and files whose normalised content differs.
    """
    commits = _commits(old) | _commits(new)
    a, b = _files(old), _files(new)
    diffs = [f"only in {old}: {name}" for name in sorted(a.keys() - b.keys())]
    diffs += [f"only in {new}: {name}" for name in sorted(b.keys() - a.keys())]
    for name in sorted(a.keys() & b.keys()):
        if _content(a[name], commits) != _content(b[name], commits):
            diffs.append(f"differs: {name}")
    return diffs


def main(argv: list[str]) -> int:
    """Compare ``argv[0]`` with ``argv[1]`` and print the result."""
    if len(argv) != 2:
        print("usage: python -m benchmarks.compare_builds OLD_BUILD NEW_BUILD", file=sys.stderr)
        return 2
    old, new = Path(argv[0]), Path(argv[1])
    diffs = compare(old, new)
    n = len(_files(old))
    digest = hashlib.sha256(
        b"".join(_content(p, _commits(old)) for p in _files(old).values())
    ).hexdigest()[:12]
    for line in diffs:
        print(line)
    print(f"{n} files compared, {len(diffs)} differences (normalised content {digest})")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

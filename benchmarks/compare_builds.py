"""Compare two build folders of ``make report``: same documents, tables and bundles.

Used to check that a speed-up changes no output: run ``make report`` from scratch,
copy ``build/`` aside, change the code, run again, then::

    python -m benchmarks.compare_builds OLD_BUILD NEW_BUILD [--rel TOL]

Every HTML, CSV and JSON file and every sheet of every workbook must be equal once
these are replaced by placeholders: git commit ids (40 hex digits, and the short
form of the bundles' code commit), which a speed-up changes; date-times (ISO 8601
as ingest records them, and as the reports show them); and the national
estimates' measured seconds. Left out: the DuckDB store, the manifests (sha256 of
the files that hold the commit), the analysis and render fingerprints
(``inputs.json``, ``.*.inputs.json``: they hold the code's digest) and the saved
suppression plan (``plan.json``, a cache; what it hides is in the compared files).
With ``--rel TOL`` a file whose text differs only in numbers, each within TOL
relative, counts as equal and is listed with its largest relative difference (for a
change of method that moves the last digits of full-precision exports and bundles).
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
#: A number as the bundles, CSV and workbook text write it.
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


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


def largest_relative_difference(a: bytes, b: bytes) -> float | None:
    """Return the largest relative difference of two texts' numbers, None if other text differs.

    Parameters
    ----------
    a, b : bytes
        Two normalised file contents.

    Returns
    -------
    float or None
        0.0 when the numbers are equal as written.
    """
    if _NUMBER.sub(b"#", a) != _NUMBER.sub(b"#", b):
        return None
    worst = 0.0
    for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b), strict=True):
        if x != y:
            fx, fy = float(x), float(y)
            worst = max(worst, abs(fx - fy) / max(abs(fx), abs(fy)))
    return worst


def compare(old: Path, new: Path, rel: float | None = None) -> list[str]:
    """Return one line per difference between two build folders (empty when equal).

    Parameters
    ----------
    old, new : Path
        Two ``build/`` folders.
    rel : float, optional
        Count a file as equal when only its numbers differ, each by at most ``rel``
        relative; such files are listed as ``within:`` lines (not differences).

    Returns
    -------
    list of str
        Files only in one folder, files whose normalised content differs
        (``differs:``) and, with ``rel``, files equal within it (``within:``).
    """
    commits = _commits(old) | _commits(new)
    a, b = _files(old), _files(new)
    diffs = [f"only in {old}: {name}" for name in sorted(a.keys() - b.keys())]
    diffs += [f"only in {new}: {name}" for name in sorted(b.keys() - a.keys())]
    for name in sorted(a.keys() & b.keys()):
        x, y = _content(a[name], commits), _content(b[name], commits)
        if x == y:
            continue
        worst = None if rel is None else largest_relative_difference(x, y)
        if worst is not None and rel is not None and worst <= rel:
            diffs.append(f"within: {name} (largest relative difference {worst:.1e})")
        else:
            diffs.append(f"differs: {name}")
    return diffs


def main(argv: list[str]) -> int:
    """Compare ``argv[0]`` with ``argv[1]`` (``--rel TOL`` optional) and print the result."""
    rel = None
    if len(argv) == 4 and argv[2] == "--rel":
        rel, argv = float(argv[3]), argv[:2]
    if len(argv) != 2:
        print(
            "usage: python -m benchmarks.compare_builds OLD_BUILD NEW_BUILD [--rel TOL]",
            file=sys.stderr,
        )
        return 2
    old, new = Path(argv[0]), Path(argv[1])
    lines = compare(old, new, rel)
    diffs = [line for line in lines if not line.startswith("within: ")]
    n = len(_files(old))
    digest = hashlib.sha256(
        b"".join(_content(p, _commits(old)) for p in _files(old).values())
    ).hexdigest()[:12]
    for line in lines:
        print(line)
    within = len(lines) - len(diffs)
    print(
        f"{n} files compared, {len(diffs)} differences, {within} equal within --rel "
        f"(normalised content {digest})"
    )
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

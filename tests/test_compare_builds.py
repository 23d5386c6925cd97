"""benchmarks.compare_builds: a change of method may move the last digits, nothing else."""

from __future__ import annotations

from pathlib import Path

from benchmarks.compare_builds import compare


def _build(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_numbers_within_the_tolerance_are_listed_not_counted(tmp_path: Path) -> None:
    old = _build(tmp_path / "old", {"t.csv": "a,0.05277298345417382\n", "u.csv": "p,0.714\n"})
    new = _build(tmp_path / "new", {"t.csv": "a,0.05277298345417379\n", "u.csv": "p,0.667\n"})
    assert compare(old, new) == ["differs: t.csv", "differs: u.csv"]
    lines = compare(old, new, rel=1e-12)
    assert lines[0] == "within: t.csv (largest relative difference 5.3e-16)"
    assert lines[1:] == ["differs: u.csv"]


def test_other_text_differs_whatever_the_tolerance(tmp_path: Path) -> None:
    old = _build(tmp_path / "old", {"w.html": "<td>under 5 of 12</td>"})
    new = _build(tmp_path / "new", {"w.html": "<td>under 5 of 12 </td>"})
    assert compare(old, new, rel=1.0) == ["differs: w.html"]

"""Imports point down the layers of DESIGN.md; no package reaches up or sideways."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "evalkit"

#: Layer of each top-level part of the package (1 = top). ``errors`` and ``spec`` (the analysis
#: specification, leaf modules) are importable everywhere.
LAYERS = {
    "cli": 1,
    "_cli": 1,
    "__main__": 1,
    "pipeline": 2,
    "report": 3,
    "analysis": 3,
    "did": 4,
    "protocol": 5,
    "ingest": 5,
    "synth": 5,
    "errors": 9,
    "spec": 9,
    # the YAML loaders (repeated keys refused) that protocol and ingest both use
    "_yaml": 9,
    # the fork server's first preload (Ctrl-C without a traceback); imports nothing of evalkit
    "_fork_server": 9,
    "__init__": 9,
}
#: Same-layer imports that DESIGN.md allows (none: the power simulation sits above the generator).
ALLOWED_SIDEWAYS: set[tuple[str, str]] = set()


def _part(module: str) -> str:
    parts = module.split(".")
    part = parts[1] if len(parts) > 1 else "__init__"
    return "cli" if part in ("_cli", "__main__") else part


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return [m for m in found if m == "evalkit" or m.startswith("evalkit.")]


def test_imports_point_down_the_layers() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        source = _part(".".join(rel.parts))
        if source not in LAYERS:
            problems.append(f"{rel}: part {source!r} has no layer in this test (add it to LAYERS)")
            continue
        for target_module in _imports(path):
            target = _part(target_module)
            if target == source or target in ("errors", "spec", "_fork_server", "__init__"):
                continue
            if target not in LAYERS:
                problems.append(f"{rel}: imports {target_module}, which has no layer")
            elif LAYERS[target] < LAYERS[source]:
                problems.append(f"{rel}: imports {target_module} from a higher layer")
            elif LAYERS[target] == LAYERS[source] and (source, target) not in ALLOWED_SIDEWAYS:
                problems.append(f"{rel}: imports {target_module} sideways (same layer)")
    assert not problems, "\n".join(problems)


def test_the_estimators_import_light() -> None:
    # scipy.stats alone is ~45 MB of resident memory; the estimators use scipy.special's
    # distribution functions (what scipy.stats calls) so that a Callaway–Sant'Anna run
    # stays within its memory budget (benchmarks/bench_did.py).
    import subprocess
    import sys

    # scipy.optimize (about 0.2 s to import) is needed only by the sensitivity bounds,
    # so that `evalkit did` on a file stays within half of diff-diff's whole-process
    # time (benchmarks/bench_ingest_panel.py).
    code = (
        "import sys, evalkit.did, evalkit.did.cs; "
        "print([m for m in ('scipy.stats', 'scipy.optimize') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""Run every benchmark (``make bench``) and write their figures to build/bench.json.

Each ``benchmarks/bench_<area>.py`` has ``main() -> dict`` that prints its own
figures; this runner calls them in turn (or only those named on the command
line: ``python -m benchmarks ingest did``) and saves everything together.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Run the benchmarks named in ``argv`` (all when empty) and save their figures."""
    here = Path(__file__).parent
    names = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )
    chosen = argv or names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        print(
            f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(names)}",
            file=sys.stderr,
        )
        return 2
    figures = {}
    for name in chosen:
        print(f"\n=== benchmark: {name} ===", flush=True)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        figures[name] = module.main()
    out = Path("build") / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_file():  # a partial run updates the figures it ran and keeps the others
        figures = {**json.loads(out.read_text(encoding="utf-8")), **figures}
    out.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nfigures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

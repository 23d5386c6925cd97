"""`make report` timing: the demo and the example protocols, nl and en, after setup.

Issue #7's target: at most 30 s "warm (after setup)". The benchmark runs the
same command as `make report` (`evalkit run` on protocols/demo.yaml and
protocols/examples/*.yaml, `--lang nl en`) in a temporary copy of the protocols,
so the repository's own build/ and data/ are left alone, three times:

1. ``from_scratch``: venv present, no demo data, no store, no build — what a
   pilot lead's first `make report` does after `make test` set things up;
2. ``nothing_changed``: the same command again (everything up to date);
3. ``forced``: `--force`, every protocol re-analysed and every report re-rendered.

Each figure is the wall time of the whole command and the CPU seconds it and its
children used (user + system), to show how well the two cores are kept busy.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 30.0


def _protocols(work: Path) -> list[str]:
    (work / "protocols" / "examples").mkdir(parents=True)
    for file in (ROOT / "protocols").glob("demo.*"):
        shutil.copy2(file, work / "protocols" / file.name)
    for file in (ROOT / "protocols" / "examples").iterdir():
        shutil.copy2(file, work / "protocols" / "examples" / file.name)
    shutil.copytree(ROOT / "analyses", work / "analyses")
    return [
        "protocols/demo.yaml",
        *sorted(str(p.relative_to(work)) for p in (work / "protocols" / "examples").glob("*.yaml")),
    ]


def _timed_run(work: Path, protocols: list[str], *extra: str) -> dict[str, Any]:
    evalkit = Path(sys.executable).with_name("evalkit")
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "EVALKIT_PSEUDONYM_KEY": "benchmark-key-not-secret-4b7e1a9d2c5f8036",
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [str(evalkit), "run", *protocols, "--lang", "nl", "en", *extra],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["failed"])[-3:]
        return {"error": " | ".join(tail)}
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def main() -> dict[str, Any]:
    """Time the three runs and return the figures."""
    figures: dict[str, Any] = {"target_s": TARGET_S}
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-pipeline-") as tmp:
        work = Path(tmp)
        protocols = _protocols(work)
        figures["protocols"] = len(protocols)
        figures["from_scratch"] = _timed_run(work, protocols)
        figures["nothing_changed"] = _timed_run(work, protocols)
        figures["forced"] = _timed_run(work, protocols, "--force")
    for key in ("from_scratch", "nothing_changed", "forced"):
        row = figures[key]
        if "error" in row:
            print(f"{key:16s} failed: {row['error']}")
            continue
        verdict = "within" if row["wall_s"] <= TARGET_S else "OVER"
        print(
            f"{key:16s} {row['wall_s']:6.1f} s wall, {row['cpu_s']:6.1f} s CPU"
            f"  ({verdict} the {TARGET_S:.0f} s target)"
        )
    return figures


if __name__ == "__main__":  # pragma: no cover
    main()

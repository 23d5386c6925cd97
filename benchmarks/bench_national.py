"""National scale: generate, validate and estimate at 1 % (and 10 %, 100 % when asked).

Each step runs as its own process under ``/usr/bin/time -v`` so its peak resident
memory is measured, not guessed. Scales come from ``EVALKIT_NATIONAL_SCALES``
(default ``0.01``; ``make bench-national`` runs ``0.01 0.1 1``). With pyspark installed
the 1 % panel is also estimated on Spark (local mode) and compared with DuckDB.
Targets (issue 14): generate ≤ 10 min and ≤ 4 GB; validate ≤ 10 min and ≤ 4 GB;
CS + TWFE + event study ≤ 2 min and ≤ 4 GB.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path("build") / "bench_national"
PROTOCOL = Path("protocols/national/law_2026.yaml")
EVALKIT = str(Path(sys.executable).with_name("evalkit"))


def _timed(args: list[str]) -> dict[str, float]:
    proc = subprocess.run(
        ["/usr/bin/time", "-v", EVALKIT, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"evalkit {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    parts = [float(p) for p in (wall.group(1) if wall else "0").split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return {"seconds": round(seconds, 1), "peak_mb": round(int(rss.group(1)) / 1024 if rss else 0)}


def _disk_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def _one(scale: float) -> dict[str, object]:
    data, store = ROOT / f"data_{scale:g}", ROOT / f"store_{scale:g}" / "store.duckdb"
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(store.parent, ignore_errors=True)
    gen = _timed(["demo", "--generator", "national", "--scale", str(scale), "--out", str(data)])
    rows = json.loads((data / "truth.json").read_text(encoding="utf-8"))["rows"]
    val = _timed(["national", "validate", str(data), "--store", str(store)])
    out = ROOT / f"estimates_{scale:g}.json"
    est = _timed(
        ["national", "estimate", str(store), "--protocol", str(PROTOCOL), "--out", str(out)]
    )
    figures = {
        "scale": scale,
        "rows": rows,
        "generate": {**gen, "disk_mb": _disk_mb(data)},
        "validate": {**val, "disk_mb": _disk_mb(store.parent)},
        "estimate_cs_twfe_event": est,
        "load": os.getloadavg(),
    }
    print(json.dumps(figures), flush=True)
    return figures


def _spark(scale: float) -> dict[str, object]:
    """Estimate the panel on Spark (local mode) and compare with the DuckDB estimates."""
    data = ROOT / f"data_{scale:g}"
    out = ROOT / f"estimates_spark_{scale:g}.json"
    timing = _timed(
        [
            "national",
            "estimate",
            str(data),
            "--protocol",
            str(PROTOCOL),
            "--engine",
            "spark",
            "--out",
            str(out),
        ]
    )
    spark = json.loads(out.read_text(encoding="utf-8"))
    duck = json.loads((ROOT / f"estimates_{scale:g}.json").read_text(encoding="utf-8"))
    # Outcomes are the entries with estimates (not "protocol" or "hypotheses").
    outcomes = [o for o, v in duck.items() if isinstance(v, dict) and "twfe" in v]
    diff = max(
        abs(spark[o][e][k] - duck[o][e][k])
        for o in outcomes
        for e in ("callaway_santanna", "twfe", "event_study")
        for k in ("estimate", "std_error")
    )
    figures = {"scale": scale, **timing, "max_abs_difference_vs_duckdb": diff}
    print(json.dumps({"spark": figures}), flush=True)
    return figures


def main() -> dict[str, object]:
    """Run the scales in turn (never two at once) and the Spark comparison."""
    scales = [float(s) for s in os.environ.get("EVALKIT_NATIONAL_SCALES", "0.01").split()]
    results: dict[str, object] = {f"{s:g}": _one(s) for s in scales}
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("pyspark not installed: Spark comparison skipped (make bench-national)")
    else:
        results["spark"] = _spark(min(scales))
    return results

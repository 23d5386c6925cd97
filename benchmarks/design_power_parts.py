"""The design Monte Carlo in parts: run a range of simulated pilots, save, combine later.

The 500-pilot comparison of ``bench_design_power`` takes tens of minutes per design on a
shared machine, so it runs here in parts that can go to the background::

    python -m benchmarks.design_power_parts run 25 problematic_debt 0 250 --out build/mc
    python -m benchmarks.design_power_parts run 25 problematic_debt 250 500 --out build/mc
    python -m benchmarks.design_power_parts table --out build/mc [--limit 500]

Each part stores, per design, the estimate, p-value and confidence set (its pieces'
ends; one piece but for conformal inference) of every pilot (pilot
``i`` uses seed ``power.seed + i``, the seeds of :func:`compare_designs`), so parts of
the same protocol and outcome combine into one sample; ``table`` prints size, coverage
and MDE per design and writes ``table.json`` beside the parts.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.bench_design_power import PROTOCOLS
from evalkit.analysis.design_power import (
    Design,
    applicable_designs,
    design_table,
    recommend,
    simulate_designs,
)
from evalkit.analysis.power import power_targets
from evalkit.did.designs import design_interval
from evalkit.protocol import load_protocol

KEYS = dict(zip(("12", "25"), PROTOCOLS.values(), strict=True))


def run_part(key: str, outcome: str, first: int, stop: int, out: Path, names: str) -> Path:
    """Simulate pilots ``first`` to ``stop - 1`` of one protocol and outcome; save them."""
    protocol = load_protocol(KEYS[key])
    a = protocol.analysis
    designs = applicable_designs(protocol)
    if names:
        wanted = set(names.split(","))
        designs = [d for d in designs if d.name in wanted]
    targets, _ = power_targets(protocol, [outcome])

    def interval(design: Design, frame: Any) -> tuple[float, ...]:
        return design_interval(
            frame, design.estimator, design.inference, alpha=a.alpha, seed=a.seed
        )

    seeds = range(protocol.power.seed + first, protocol.power.seed + stop)
    start = time.perf_counter()
    results = simulate_designs(protocol, interval, designs, targets[0], seeds)
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    tag = "all" if not names else f"{zlib.crc32(names.encode()):08x}"
    path = out / f"{key}_{outcome}_{first:04d}_{stop:04d}_{tag}.npz"
    np.savez(
        path,
        results=results,
        designs=np.array([json.dumps([d.estimator, d.inference, d.subgroup]) for d in designs]),
        seeds=np.array(list(seeds)),
        seconds=seconds,
    )
    print(f"{path}: {len(seeds)} pilots x {len(designs)} designs in {seconds:.0f} s")
    return path


def _merge(out: Path) -> dict[tuple[str, str], dict[Design, dict[int, np.ndarray]]]:
    merged: dict[tuple[str, str], dict[Design, dict[int, np.ndarray]]] = {}
    for path in sorted(out.glob("*.npz")):
        key, outcome = path.stem.split("_")[0], "_".join(path.stem.split("_")[1:-3])
        data = np.load(path)
        for j, raw in enumerate(data["designs"]):
            design = Design(*json.loads(str(raw)))
            per_seed = merged.setdefault((key, outcome), {}).setdefault(design, {})
            for i, seed in enumerate(data["seeds"]):
                per_seed[int(seed)] = data["results"][j, i]
    return merged


def table(out: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Combine every part under ``out``; print and return the rows (one per design).

    With ``limit`` only each design's first ``limit`` pilots (by seed) count.
    """
    rows: list[dict[str, Any]] = []
    for (key, outcome), by_design in sorted(_merge(out).items()):
        protocol = load_protocol(KEYS[key])
        frames = []
        for d, per_seed in by_design.items():
            chosen = [per_seed[s] for s in sorted(per_seed)[:limit]]
            # parts pad their sets to their own widest; pad all to the widest (NaN pieces)
            width = max(len(r) for r in chosen)
            array = np.full((len(chosen), width), np.nan)
            for i, r in enumerate(chosen):
                array[i, : len(r)] = r
            frames.append(design_table(protocol, [d], {outcome: array[None]}))
        # the recommendation is over all designs of the protocol and outcome
        both = recommend(
            pd.concat(frames, ignore_index=True).drop(columns=["eligible", "recommended"])
        )
        rows += both.assign(municipalities=int(key)).to_dict("records")
    print(
        f"{'mun':>3} {'outcome':<17} {'design':<40} {'size':>6} {'cover':>6} {'MDE80':>7} "
        f"{'fail':>5} {'sims':>5}"
    )
    for r in rows:
        mde = f"{r['mde']:.4f}" if math.isfinite(r["mde"]) else "inf"
        print(
            f"{r['municipalities']:>3} {r['outcome']:<17} {r['design']:<40} {r['size']:>6.3f} "
            f"{r['coverage']:>6.3f} {mde:>7} {r['failed']:>5.2f} {r['n_sims']:>5}"
        )
    clean = [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
        for r in rows
    ]
    name = "table.json" if limit is None else f"table_{limit}.json"
    (out / name).write_text(json.dumps(clean, indent=1, default=str), "utf-8")
    return rows


def main(argv: list[str] | None = None) -> None:
    """Command line: ``run KEY OUTCOME FIRST STOP`` or ``table``."""
    parser = argparse.ArgumentParser(prog="design_power_parts")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("key", choices=sorted(KEYS))
    run.add_argument("outcome")
    run.add_argument("first", type=int)
    run.add_argument("stop", type=int)
    run.add_argument("--designs", default="")
    run.add_argument("--out", type=Path, default=Path("build/mc"))
    tab = sub.add_parser("table")
    tab.add_argument("--out", type=Path, default=Path("build/mc"))
    tab.add_argument("--limit", type=int, default=None, help="first N pilots per design")
    args = parser.parse_args(argv)
    if args.command == "run":
        run_part(args.key, args.outcome, args.first, args.stop, args.out, args.designs)
    else:
        table(args.out, args.limit)


if __name__ == "__main__":
    main()

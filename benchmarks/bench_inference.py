"""Size and coverage of the few-treated inference methods (the standing harness).

1, 2, 3, 4 and 6 treated against 4, 8, 12 and 20 comparison municipalities, equal
and unequal cluster sizes, municipality-by-month AR(1) shocks; TWFE with each
inference method (see :mod:`benchmarks.size_coverage`), then Callaway–Sant'Anna
with its default inference on ten of the designs. Prints the tables and returns
every cell; ``EVALKIT_BENCH_DRAWS`` sets the Monte Carlo draws (default 500),
``EVALKIT_BENCH_CS_DRAWS`` those of Callaway–Sant'Anna (default 300).
"""

from __future__ import annotations

import os
import time
from typing import Any

from benchmarks.size_coverage import (
    Design,
    default_method,
    run_callaway_santanna,
    run_design,
    table,
)

TREATED = (1, 2, 3, 4, 6)
COMPARISON = (4, 8, 12, 20)
#: Designs of the Callaway–Sant'Anna rows (each draw is a whole estimate, so fewer).
CS_DESIGNS = tuple(
    Design(k, j, unequal)
    for k, j in ((1, 20), (2, 8), (3, 8), (4, 8), (6, 12))
    for unequal in (False, True)
)


def main() -> dict[str, Any]:
    """Run the grid and print the table."""
    draws = int(os.environ.get("EVALKIT_BENCH_DRAWS", "500"))
    load = os.getloadavg()[0]
    start = time.perf_counter()
    results = {}
    for unequal in (False, True):
        for k in TREATED:
            for j in COMPARISON:
                design = Design(k, j, unequal)
                results[design] = run_design(design, draws, n_sim=499, seed=20261204)
                print(f"  {design.label():<14} done", flush=True)
    print(table(results))
    seconds = time.perf_counter() - start
    print(
        f"{draws} draws per design, 499 placebos/permutations/bootstrap draws each; "
        f"{seconds:.0f} s, load average {load:.1f} at the start"
    )
    cs_draws = int(os.environ.get("EVALKIT_BENCH_CS_DRAWS", "300"))
    cs = {}
    print(f"\nCallaway–Sant'Anna, default inference, {cs_draws} draws per design")
    for design in CS_DESIGNS:
        cell = run_callaway_santanna(design, cs_draws, seed=20261204)
        cs[design.label()] = {
            "inference": cell.method,
            "size": cell.size,
            "coverage": cell.coverage,
        }
        print(f"  {design.label():<14} {cell.method:<12} {cell.text()}", flush=True)
    return {
        "callaway_santanna": cs,
        "draws": draws,
        "seconds": seconds,
        "cells": {
            design.label(): {
                "default": default_method(design),
                **{
                    m: {"size": c.size, "coverage": c.coverage, "attainable": c.attainable}
                    for m, c in cells.items()
                },
            }
            for design, cells in results.items()
        },
    }

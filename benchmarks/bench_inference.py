"""Size and coverage of the few-treated inference methods (the standing harness).

1, 2, 3, 4 and 6 treated against 4, 8, 12 and 20 comparison municipalities, equal
and unequal cluster sizes, municipality-by-month AR(1) shocks; TWFE with each
inference method (see :mod:`benchmarks.size_coverage`). Prints the table and
returns every cell; ``EVALKIT_BENCH_DRAWS`` sets the Monte Carlo draws (default 500).
"""

from __future__ import annotations

import os
import time
from typing import Any

from benchmarks.size_coverage import Design, default_method, run_design, table

TREATED = (1, 2, 3, 4, 6)
COMPARISON = (4, 8, 12, 20)


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
    return {
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

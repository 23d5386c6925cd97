"""Monte Carlo of the design comparison: size, coverage and MDE per design on two one-pilot designs.

The ``pilot`` generator with one pilot municipality of 12 (``protocols/demo.yaml``)
and of 25 (``protocols/examples/population_breakthrough_18.yaml``), 500 simulated
pilots each under no effect (``EVALKIT_MC_SIMS`` overrides; ``EVALKIT_MC_DESIGNS``
picks designs by name, comma-separated). Targets: every offered design keeps size
≤ 5.5 % and 95 % coverage between 93 % and 97 %; the recommended design's minimal
detectable effect at 80 % power is at most half that of the current default
(``twfe/permutation``, what ``inference: auto`` picks for one pilot municipality) on
25 municipalities and finite on 12. Triple differences is compared on the declared
``turning_18`` subgroup; its MDE is an effect in that subgroup (``estimand``).
For the full 500 pilots in background parts see ``benchmarks/design_power_parts.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from evalkit.analysis.design_power import Design, applicable_designs, compare_designs
from evalkit.did.designs import design_interval
from evalkit.protocol import load_protocol

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = {
    "12 municipalities (demo)": ROOT / "protocols" / "demo.yaml",
    "25 municipalities (population_breakthrough_18)": ROOT
    / "protocols"
    / "examples"
    / "population_breakthrough_18.yaml",
}


def _designs(protocol: Any) -> list[Design]:
    wanted = os.environ.get("EVALKIT_MC_DESIGNS")
    designs = applicable_designs(protocol)
    if wanted:
        names = {w.strip() for w in wanted.split(",")}
        designs = [d for d in designs if d.name in names]
    return designs


def run(label: str, path: Path, n_sims: int) -> list[dict[str, Any]]:
    """Compare the designs on one protocol and print the table."""
    protocol = load_protocol(path)
    a = protocol.analysis

    def interval(design: Design, frame: Any) -> tuple[float, float, float, float]:
        return design_interval(
            frame, design.estimator, design.inference, alpha=a.alpha, seed=a.seed
        )

    start = time.perf_counter()
    table = compare_designs(protocol, interval, designs=_designs(protocol), n_sims=n_sims)
    seconds = time.perf_counter() - start
    print(f"\n{label}: {n_sims} simulated pilots under no effect, {seconds:.0f} s")
    print(
        f"  {'outcome':<18} {'design':<40} {'size':>6} {'cover':>6} {'MDE80':>8} {'fail':>5}  note"
    )
    for r in table.itertuples():
        note = "impossible at alpha" if r.impossible else ("RECOMMENDED" if r.recommended else "")
        print(
            f"  {r.outcome:<18} {r.design:<40} {r.size:>6.3f} {r.coverage:>6.3f} "
            f"{r.mde:>8.4f} {r.failed:>5.2f}  {note}"
        )
    rows = table.assign(protocol=label, seconds=seconds).to_dict("records")
    return rows


def main() -> dict[str, Any]:
    """Run the Monte Carlo on both designs and return the table rows."""
    n_sims = int(os.environ.get("EVALKIT_MC_SIMS", "500"))
    rows = []
    for label, path in PROTOCOLS.items():
        rows += run(label, path, n_sims)
    print(f"load {os.getloadavg()[0]:.2f}")
    return {"rows": rows, "n_sims": n_sims, "load_1min": os.getloadavg()[0]}


if __name__ == "__main__":
    main()

"""Seeded synthetic pilots that look like the real thing (layer 5: pure, plus file writers).

``generate(design, seed)`` draws a pilot in memory; ``write_demo(pilot, out_dir)`` writes
the files a pilot really receives; ``simulate_outcome_panel`` is the fast path that power
simulation calls many times.
"""

from evalkit.synth._bsn import elfproef, synthetic_bsns
from evalkit.synth._design import (
    GENERATORS,
    LATENT_OUTCOMES,
    PANEL_OUTCOMES,
    PilotDesign,
)
from evalkit.synth._generate import SyntheticPilot, generate
from evalkit.synth._national import NationalPlan, load_regions, plan_national, write_national
from evalkit.synth._panel import simulate_outcome_panel
from evalkit.synth._write import write_demo

__all__ = [
    "GENERATORS",
    "LATENT_OUTCOMES",
    "PANEL_OUTCOMES",
    "NationalPlan",
    "PilotDesign",
    "SyntheticPilot",
    "elfproef",
    "generate",
    "load_regions",
    "plan_national",
    "simulate_outcome_panel",
    "synthetic_bsns",
    "write_demo",
    "write_national",
]

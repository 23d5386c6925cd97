"""Power that compares designs: size, coverage and minimal detectable effect per design.

The declared design is simulated with the demo generator under **no effect**
(``n_sims`` pilots, the same seeds for every design). Each design returns, per
simulated pilot, its estimate, the p-value of "no effect" and its confidence
interval (an injected callable, so that any estimator can be compared). Every
interval offered here is *shift-equivariant*: adding a constant effect δ to the
pilot's treated cells moves the estimate and the interval by exactly δ (the
estimators are linear in those cells and the intervals invert tests of shifted
nulls). So one simulation under no effect gives

* size: the share of pilots with ``p ≤ alpha`` (rejecting a true null);
* coverage: the share of intervals that contain 0 (the true effect);
* power at an effect δ: the share of intervals that exclude −δ; the minimal
  detectable effect (MDE) is the smallest |δ| in the expected direction with
  ``target_power``.

A design whose smallest attainable p-value is above alpha can never reject:
its MDE is infinite and it is reported as "impossible at alpha with this design".
The recommendation is the design with the smallest MDE among those with size at
most 5.5 % and coverage at least 93 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.analysis.power import _cell_means, _design, _mean, power_targets
from evalkit.did.estimate import few_treated_default
from evalkit.errors import ProtocolError
from evalkit.protocol.model import Protocol

__all__ = [
    "MAX_SIZE",
    "MIN_COVERAGE",
    "Design",
    "IntervalFn",
    "applicable_designs",
    "compare_designs",
    "mde_from_intervals",
]

MAX_SIZE = 0.055
MIN_COVERAGE = 0.93


@dataclass(frozen=True)
class Design:
    """One analysis design: an estimator with an inference method."""

    estimator: str
    inference: str

    @property
    def name(self) -> str:
        """``estimator/inference``."""
        return f"{self.estimator}/{self.inference}"


IntervalFn = Callable[[Design, pd.DataFrame], tuple[float, float, float, float]]
"""``interval(design, frame) -> (estimate, p_value, ci_low, ci_high)`` on a power frame."""


def applicable_designs(protocol: Protocol) -> list[Design]:
    """Return the designs that apply to the protocol's units and periods, its own first.

    Parameters
    ----------
    protocol : Protocol
        The protocol.

    Returns
    -------
    list of Design
        The registered design, then difference-in-differences with permutation,
        Conley–Taber and conformal inference (one start month), synthetic DiD with placebo
        inference, and synthetic DiD and synthetic control with conformal inference
        (one start month).
    """
    a = protocol.analysis
    # the registered "auto" is what estimate() will pick for these units, nothing else
    treated = len({t.unit for t in protocol.units.treated})
    auto = few_treated_default(treated, len(protocol.units.comparison), a.few_treated_threshold)
    if a.estimator in ("synthetic_control", "synthetic_did", "triple_differences"):
        auto = "placebo"
    own = Design(a.estimator, auto if a.inference == "auto" else a.inference)
    designs = [own]
    single_start = not protocol.is_staggered
    candidates = [Design("synthetic_did", "placebo")]
    if single_start:
        candidates = [
            Design("twfe", "conley_taber"),
            Design("twfe", "permutation"),
            Design("twfe", "conformal"),
            *candidates,
            Design("synthetic_did", "conformal"),
            Design("synthetic_control", "conformal"),
        ]
    designs += [d for d in candidates if d != own]
    return designs


def mde_from_intervals(low: np.ndarray, high: np.ndarray, sign: float, target: float) -> float:
    """Smallest |δ| in direction ``sign`` whose shifted intervals exclude 0 in ``target`` of pilots.

    Parameters
    ----------
    low, high : numpy.ndarray
        Interval ends of the pilots simulated under no effect (±inf allowed).
    sign : float
        +1 for an expected increase, −1 for a decrease.
    target : float
        Target power.

    Returns
    -------
    float
        The MDE (positive), ``inf`` when no effect size reaches the target.
    """
    # an effect δ = sign·m is rejected when −δ lies outside the null interval
    lo, hi = (-high, -low) if sign > 0 else (low, high)
    ends = np.unique(np.abs(np.concatenate([lo, hi])))
    ends = ends[np.isfinite(ends)]
    for m in np.sort(ends):
        candidate = np.nextafter(m, math.inf)
        power = np.mean((candidate < lo) | (candidate > hi))
        if power >= target:
            return float(candidate)
    return math.inf


def _row(
    design: Design, outcome: str, results: np.ndarray, alpha: float, sign: float, target: float
) -> dict[str, Any]:
    p, low, high = results[:, 1], results[:, 2], results[:, 3]
    unbounded = ~np.isfinite(low) & ~np.isfinite(high)
    mde = mde_from_intervals(low, high, sign, target)
    return {
        "outcome": outcome,
        "design": design.name,
        "estimator": design.estimator,
        "inference": design.inference,
        "size": float(np.mean(p <= alpha)),
        "coverage": float(np.mean((low <= 0) & (0 <= high))),
        "mde": mde,
        "impossible": bool(unbounded.all()),
        "n_sims": len(p),
        "mean_estimate": _mean(results[:, 0]),
    }


def compare_designs(
    protocol: Protocol,
    interval: IntervalFn,
    *,
    designs: Sequence[Design] | None = None,
    n_sims: int | None = None,
    seed: int | None = None,
    outcomes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Simulate the declared design under no effect and compare the designs.

    Parameters
    ----------
    protocol : Protocol
        The protocol (units, periods, ``power:`` settings).
    interval : callable
        ``interval(design, frame) -> (estimate, p_value, ci_low, ci_high)``; ``frame``
        as in :func:`evalkit.protocol.power.simulate_power`.
    designs : sequence of Design, optional
        Default :func:`applicable_designs`.
    n_sims : int, optional
        Simulated pilots (default ``power.n_sims``).
    seed : int, optional
        Seed (default ``power.seed``); pilot ``i`` uses ``seed + i`` for every design.
    outcomes : sequence of str, optional
        Outcome ids (default: the primary outcomes).

    Returns
    -------
    pandas.DataFrame
        One row per outcome and design: ``outcome, design, estimator, inference,
        size, coverage, mde, impossible, n_sims, mean_estimate, eligible,
        recommended``.
    """
    from evalkit.synth import simulate_outcome_panel

    n_sims = protocol.power.n_sims if n_sims is None else int(n_sims)
    if n_sims < 1:
        raise ProtocolError(f"compare_designs: n_sims must be at least 1, got {n_sims}")
    seed = protocol.power.seed if seed is None else int(seed)
    targets, _ = power_targets(protocol, outcomes)
    if not targets:
        raise ProtocolError(f"protocol {protocol.id!r}: no outcome can be simulated for power")
    chosen = list(designs) if designs is not None else applicable_designs(protocol)
    null = _design(protocol, targets).replace(effects={})
    alpha, target = protocol.analysis.alpha, protocol.power.target_power
    rows = []
    for t in targets:
        sign = -1.0 if t.outcome.expected_direction == "decrease" else 1.0
        results = np.empty((len(chosen), n_sims, 4))
        for i in range(n_sims):
            frame = _cell_means(
                simulate_outcome_panel(null, seed + i, outcomes=[t.column]), t.column
            )
            for j, d in enumerate(chosen):
                results[j, i] = interval(d, frame)
        rows += [
            _row(d, t.outcome.id, results[j], alpha, sign, target) for j, d in enumerate(chosen)
        ]
    return recommend(pd.DataFrame(rows))


def recommend(table: pd.DataFrame) -> pd.DataFrame:
    """Mark per outcome the eligible designs and the recommended one (smallest finite MDE).

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of :func:`compare_designs` without ``eligible`` and ``recommended``.

    Returns
    -------
    pandas.DataFrame
        The table with the two boolean columns added.
    """
    out = table.copy()
    out["eligible"] = (
        (out["size"] <= MAX_SIZE) & (out["coverage"] >= MIN_COVERAGE) & np.isfinite(out["mde"])
    )
    out["recommended"] = False
    for _, rows in out[out["eligible"]].groupby("outcome", sort=False):
        out.loc[rows["mde"].idxmin(), "recommended"] = True
    return out

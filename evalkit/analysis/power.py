"""Power and minimal detectable effect by simulating the declared design.

The simulation uses the demo generator (:mod:`evalkit.synth`), not a second
simulator: the protocol's units, start months, periods and anticipation define the
design, ``sample_size.persons`` (or ``power.persons_per_unit``) its size; its
``power:`` block sets the number of simulations, the effect grid, the intra-cluster
and serial correlation and the base rates. Each simulated panel is
aggregated to unit-by-month means and handed to an ``estimate`` callable:
:func:`registered_estimator` runs the registered specification
(:func:`evalkit.analysis.plan.registered_spec`, the same translation as the
confirmatory analysis). Power is the share of simulations with ``p ≤ alpha`` (the project's
one rejection rule: a randomization p-value can equal alpha exactly, e.g. 1/21,
and then the test rejects).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalkit.errors import ProtocolError
from evalkit.protocol._fields import MAX_PERSONS_PER_UNIT
from evalkit.protocol.model import Outcome, Protocol

__all__ = [
    "DEFAULT_MULTIPLES",
    "EstimateFn",
    "PowerTarget",
    "power_targets",
    "registered_estimator",
    "simulate_power",
]

EstimateFn = Callable[[pd.DataFrame], tuple[float, float, float]]
"""``estimate(frame) -> (estimate, std_error, p_value)`` on a simulated panel."""

DEFAULT_MULTIPLES: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
_BARE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


@dataclass(frozen=True)
class PowerTarget:
    """An outcome the simulation can produce: its id and the simulated panel column."""

    outcome: Outcome
    column: str


def power_targets(
    protocol: Protocol, outcomes: Sequence[str] | None = None
) -> tuple[list[PowerTarget], list[str]]:
    """Return the outcomes that can be simulated, and a note for each that cannot.

    Parameters
    ----------
    protocol : Protocol
        The protocol.
    outcomes : sequence of str, optional
        Outcome ids; default the primary outcomes.

    Returns
    -------
    tuple of (list of PowerTarget, list of str)
        Simulable outcomes, and notes naming those skipped and why.
    """
    from evalkit.synth import LATENT_OUTCOMES

    chosen = (
        list(protocol.primary_outcomes)
        if outcomes is None
        else [protocol.outcome(o) for o in outcomes]
    )
    targets: list[PowerTarget] = []
    skipped: list[str] = []
    for o in chosen:
        match = _BARE.match(o.definition)
        column = match.group(1) if match else None
        if o.source != "outcome_panel" or column not in LATENT_OUTCOMES or o.filter:
            skipped.append(
                f"outcomes[{o.id}]: the generator simulates only the panel columns "
                f"{', '.join(LATENT_OUTCOMES)} as bare definitions; power not simulated"
            )
            continue
        targets.append(PowerTarget(o, str(column)))
    return targets, skipped


def _design(protocol: Protocol, targets: Sequence[PowerTarget]) -> Any:
    from evalkit.synth import PilotDesign

    # the synthetic generator takes the protocol as a plain mapping (synth sits below protocol)
    raw = protocol.to_dict()
    raw.pop("deviations", None)
    demo = dict(protocol.demo or {})
    demo.pop("effects", None)
    raw["demo"] = demo or {"generator": "staggered" if protocol.is_staggered else "pilot"}
    design = PilotDesign.from_protocol(raw)
    settings = protocol.power
    changes: dict[str, Any] = {}
    if settings.icc is not None:
        changes["icc"] = settings.icc
    if settings.serial_correlation is not None:
        changes["ar1"] = settings.serial_correlation
    declared = protocol.expected_persons
    units = len(design.municipalities)
    if settings.persons_per_unit is not None:
        changes["n_persons"] = settings.persons_per_unit * units
    elif declared:
        _check_declared_persons(int(declared), units)
        changes["n_persons"] = int(declared)
    rates = dict(design.base_rates)
    for t in targets:
        if t.outcome.id in settings.base_rates:
            rates[t.column] = settings.base_rates[t.outcome.id]
    changes["base_rates"] = rates
    return design.replace(**changes)


def _check_declared_persons(persons: int, units: int) -> None:
    """Refuse a ``sample_size.persons`` the simulation cannot hold in memory.

    The simulation then takes the declared number as its population, and builds one
    person-month panel of it at a time: 10**9 persons took 21 GB before the system
    killed the process. ``power.persons_per_unit`` has the same bound.
    """
    if persons > MAX_PERSONS_PER_UNIT * units:
        raise ProtocolError(
            f"sample_size.persons: {persons:,} young people over {units} municipalities is "
            f"more than the power simulation can hold ({MAX_PERSONS_PER_UNIT:,} per "
            "municipality); set power.persons_per_unit to the number per municipality "
            "to simulate"
        )


def _cell_means(panel: pd.DataFrame, column: str) -> pd.DataFrame:
    """Aggregate a person-month panel to unit-by-month means (the frame ``estimate`` gets)."""
    unit_codes = panel["municipality"].cat.codes.to_numpy()
    period = panel["period"].to_numpy()
    key = unit_codes.astype(np.int64) * 10_000 + period
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=panel[column].to_numpy(dtype=float))
    first = np.zeros(len(uniq), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(key))[::-1]
    cohort = panel["cohort"].to_numpy()[first]
    categories = np.asarray(panel["municipality"].cat.categories, dtype=object)
    time = uniq % 10_000
    starts = cohort[cohort > 0]
    first_start = int(starts.min()) if starts.size else 0
    return pd.DataFrame(
        {
            "unit": categories[uniq // 10_000],
            "time": time,
            "cohort": cohort,
            "treated": ((cohort > 0) & (time >= cohort)).astype(int),
            "group": (cohort > 0).astype(int),
            "post": (time >= first_start).astype(int),
            "y": sums / counts,
            "n": counts,
        }
    )


def _effects_for(protocol: Protocol, o: Outcome, effects: Sequence[float] | None) -> list[float]:
    sign = -1.0 if o.expected_direction == "decrease" else 1.0
    grid = effects if effects is not None else protocol.power.effects
    if grid is None:
        grid = [m * o.smallest_effect for m in DEFAULT_MULTIPLES]
    return sorted({round(sign * abs(float(e)), 12) + 0.0 for e in grid}, key=abs)


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def _simulate_effect(
    design: Any, column: str, effect: float, runs: tuple[int, int, float], estimate: EstimateFn
) -> tuple[float, float, float, float, float]:
    """Simulate ``n_sims`` pilots with one effect; return what the power table needs.

    Returns the realised effect (signed as ``effect``), the power at ``alpha`` (the
    share of p-values at or below it), the mean estimate and standard error, and the
    nominal effect.
    """
    from evalkit.synth import simulate_outcome_panel

    n_sims, seed, alpha = runs
    est, se, pv, realised = (np.empty(n_sims) for _ in range(4))
    for i in range(n_sims):
        panel = simulate_outcome_panel(design, seed + i, outcomes=[column])
        realised[i] = panel.attrs.get("realised_att", {}).get(column, math.nan)
        est[i], se[i], pv[i] = estimate(_cell_means(panel, column))
    real = math.copysign(abs(_mean(realised)), effect) if effect else 0.0
    return real, float(np.mean(pv <= alpha)), _mean(est), _mean(se), effect


def _mde(effects: Sequence[float], power: Sequence[float], target: float) -> float:
    """Smallest effect size reaching ``target`` power, interpolated linearly on |effect|."""
    pairs = sorted(zip((abs(e) for e in effects), power, strict=True))
    for (e0, p0), (e1, p1) in itertools.pairwise(pairs):
        if p0 < target <= p1:
            return e0 + (target - p0) * (e1 - e0) / (p1 - p0)
    if pairs and pairs[0][1] >= target and pairs[0][0] > 0:
        return pairs[0][0]
    return math.nan


def simulate_power(
    protocol: Protocol,
    estimate: EstimateFn,
    *,
    effects: Sequence[float] | None = None,
    n_sims: int | None = None,
    seed: int | None = None,
    outcomes: Sequence[str] | None = None,
    level: Literal["cell"] = "cell",
) -> pd.DataFrame:
    """Simulate the declared design and return power and the minimal detectable effect.

    Parameters
    ----------
    protocol : Protocol
        The protocol (units, periods, ``power:`` settings).
    estimate : callable
        ``estimate(frame) -> (estimate, std_error, p_value)``. ``frame`` has one row per
        unit and month: ``unit`` (code), ``time`` (1 = first month), ``cohort`` (time of
        the pilot start, 0 = never treated), ``treated`` (1 when the pilot runs),
        ``group`` (1 for pilot units), ``post`` (1 from the first pilot start), ``y`` (mean
        outcome) and ``n`` (persons).
    effects : sequence of float, optional
        Effect sizes (outcome units), applied in each outcome's expected direction.
        Default ``power.effects``, else 0, 0.5, 1, 1.5, 2 and 3 times ``smallest_effect``.
    n_sims : int, optional
        Simulations per effect size (default ``power.n_sims``).
    seed : int, optional
        Seed (default ``power.seed``); simulation ``i`` uses ``seed + i`` for every effect
        size (common random numbers, so the power curve is smooth).
    outcomes : sequence of str, optional
        Outcome ids (default: the primary outcomes).
    level : {'cell'}
        The simulated panel is aggregated to unit-by-month means.

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome, effect, nominal_effect, power, mde, n_sims, mean_estimate,
        mean_std_error``. ``effect`` is the realised effect on the treated (mean over the
        simulations of ``Y(1) − Y(0)`` where the pilot acts), which is what the estimator
        targets; ``nominal_effect`` is the generator's parameter (the realised effect is
        smaller where, e.g., a probability saturates). ``mde`` (same on every row of an
        outcome) is the smallest realised effect with ``power.target_power``,
        interpolated, NaN when the grid never reaches it.
        ``frame.attrs["skipped"]`` lists outcomes that could not be simulated.

    Raises
    ------
    ProtocolError
        When no outcome can be simulated or the options are invalid.
    """
    if level != "cell":
        raise ProtocolError(f"simulate_power: level {level!r} is not allowed; allowed: cell")
    n_sims = protocol.power.n_sims if n_sims is None else int(n_sims)
    if n_sims < 1:
        raise ProtocolError(f"simulate_power: n_sims must be at least 1, got {n_sims}")
    seed = protocol.power.seed if seed is None else int(seed)
    targets, skipped = power_targets(protocol, outcomes)
    if not targets:
        raise ProtocolError(
            f"protocol {protocol.id!r}: no outcome can be simulated for power", skipped
        )
    design = _design(protocol, targets)
    alpha = protocol.analysis.alpha
    target_power = protocol.power.target_power
    rows: list[dict[str, Any]] = []
    for t in targets:
        grid = _effects_for(protocol, t.outcome, effects)
        runs = (n_sims, seed, alpha)
        results = [
            _simulate_effect(design.replace(effects={t.column: e}), t.column, e, runs, estimate)
            for e in grid
        ]
        mde = _mde([r[0] for r in results], [r[1] for r in results], target_power)
        sign = -1.0 if t.outcome.expected_direction == "decrease" else 1.0
        for effect, power, mean_est, mean_se, nominal in results:
            rows.append(
                {
                    "outcome": t.outcome.id,
                    "effect": effect,
                    "nominal_effect": nominal,
                    "power": power,
                    "mde": sign * mde if not math.isnan(mde) else math.nan,
                    "n_sims": n_sims,
                    "mean_estimate": mean_est,
                    "mean_std_error": mean_se,
                }
            )
    frame = pd.DataFrame(rows)
    frame.attrs["skipped"] = skipped
    return frame


def registered_estimator(protocol: Protocol) -> EstimateFn:
    """Return ``estimate(frame) -> (estimate, std_error, p_value)`` under the registered spec.

    The simulated frame's columns stand in for the analysis frame's: a 2×2 takes
    ``group`` × ``post`` (the anticipation months left out of its rows), the other
    estimators the ``cohort`` (moved by the registered anticipation); an event
    study's confirmatory number is the static TWFE effect. Clusters are the units.

    Parameters
    ----------
    protocol : Protocol
        The registered protocol.

    Returns
    -------
    callable
        For :func:`simulate_power`.
    """
    from evalkit.analysis.plan import registered_spec
    from evalkit.analysis.quiet import estimate_quietly

    spec = registered_spec(protocol).with_(cluster="unit")
    if spec.estimator == "event_study":
        spec = spec.with_(estimator="twfe", vcov="cluster")
    lead = spec.anticipation
    columns: dict[str, Any] = {"outcome": "y", "unit": "unit", "time": "time"}
    if spec.estimator == "2x2":
        columns.update(treated="group", post="post")
    else:
        columns.update(cohort="cohort")

    def fn(frame: pd.DataFrame) -> tuple[float, float, float]:
        if spec.estimator == "2x2" and lead:
            start = int(frame.loc[frame["cohort"] > 0, "cohort"].min())
            frame = frame.loc[(frame["time"] < start - lead) | (frame["time"] >= start)]
        res, errors = estimate_quietly(frame, spec, **columns)
        if res is None:
            raise ProtocolError(f"the registered estimator cannot run on the design: {errors}")
        return _number(res["estimate"]), _number(res["std_error"]), _number(res["p_value"])

    return fn


def _number(value: Any) -> float:
    # a result may withhold a standard error or p-value its design cannot support
    return math.nan if value is None else float(value)

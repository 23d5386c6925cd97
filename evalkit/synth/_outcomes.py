"""Potential outcomes on the person-by-month grid, on the same random draws.

Each latent outcome is ``Y = 1[z_it + v_mt < c(age, population)]`` with a person latent
``z_it`` (a permanent random effect plus an AR(1) part, variance 1), a municipality
effect, a common month path and municipality-by-month shocks ``v_mt``. The threshold
is set so the marginal rate equals the age curve; the effect moves the rate by
``effect`` on the probability scale, so ``Y(0)`` and ``Y(1)`` share every draw and the
true ATT is ``mean(Y(1) - Y(0))`` over treated cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy.special import ndtri

from evalkit.errors import EvalkitError
from evalkit.synth._design import LATENT_OUTCOMES, PANEL_OUTCOMES, PilotDesign
from evalkit.synth._population import STREAM_OUTCOME_BASE, Population, block_rng, rng

# Relative age curves (knots in years, shape); scaled to the design's base rate.
AGE_CURVES: dict[str, tuple[list[float], list[float]]] = {
    "problematic_debt": ([16, 17.99, 18, 19, 28], [0.08, 0.08, 0.4, 1.0, 2.2]),
    "social_assistance": ([16, 17.99, 18, 28], [0.0, 0.0, 0.6, 1.6]),
    "homeless": ([16, 18, 28], [0.5, 0.8, 1.4]),
    "neet": ([16, 18, 23, 28], [0.35, 0.8, 1.3, 1.4]),
    "early_school_leaving": ([16, 18, 22.99, 23, 28], [0.8, 1.5, 1.2, 0.0, 0.0]),
    "independent_living": ([16, 18, 21, 24, 28], [0.02, 0.1, 0.9, 1.7, 2.4]),
}
# P(enrolled | not NEET) and P(working | enrolled): (knots, general, vulnerable).
ENROLLED_CURVE = (
    [16, 18, 20, 23, 28],
    [0.99, 0.92, 0.70, 0.38, 0.14],
    [0.95, 0.75, 0.45, 0.15, 0.05],
)
WORK_STUDENT_CURVE = ([16, 20, 28], [0.45, 0.65, 0.6], [0.3, 0.45, 0.4])
_AUX = ("enrolled_raw", "employed_raw")
_STREAM_NAMES = (*PANEL_OUTCOMES, *_AUX)
_DEPENDS: dict[str, tuple[str, ...]] = {
    "enrolled": ("neet", "early_school_leaving"),
    "employed": ("neet", "enrolled"),
    "independent_living": ("homeless",),
}
MAX_RATE = 0.95


def _stream(name: str) -> int:
    return STREAM_OUTCOME_BASE + _STREAM_NAMES.index(name)


def resolve(outcomes: Iterable[str] | None) -> list[str]:
    """Return the outcomes to simulate, with their dependencies, in dependency order.

    Parameters
    ----------
    outcomes : iterable of str, optional
        Wanted outcome columns; ``None`` means all.

    Returns
    -------
    list of str
        The outcomes in the order they are simulated.
    """
    wanted = list(PANEL_OUTCOMES if outcomes is None else outcomes)
    unknown = [o for o in wanted if o not in PANEL_OUTCOMES]
    if unknown:
        raise EvalkitError(
            f"unknown outcome(s) {unknown}; the generator simulates {', '.join(PANEL_OUTCOMES)}"
        )
    needed: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(_DEPENDS.get(name, ()))
    return [o for o in PANEL_OUTCOMES if o in needed]


def age_rate(
    design: PilotDesign, outcome: str, age_months: np.ndarray, vulnerable: np.ndarray
) -> np.ndarray:
    """Return the expected rate of a latent outcome by age and population.

    Parameters
    ----------
    design : PilotDesign
        Gives the base rate and the vulnerable rate ratio.
    outcome : str
        A latent outcome.
    age_months : numpy.ndarray
        Ages in months.
    vulnerable : numpy.ndarray
        Booleans, broadcastable to ``age_months``.

    Returns
    -------
    numpy.ndarray
        Rates in [0, 0.95].
    """
    knots, shape = AGE_CURVES[outcome]
    grid = np.arange(16 * 12, 28 * 12) / 12.0
    scale = design.base_rates.get(outcome, 0.0) / np.interp(grid, knots, shape).mean()
    general = np.minimum(np.interp(age_months / 12.0, knots, shape) * scale, MAX_RATE)
    ratio = design.rate_ratios.get(outcome, 1.0)
    return np.where(vulnerable, np.minimum(general * ratio, MAX_RATE), general)


def _person_latent(r: np.random.Generator, n: int, t: int, share: float, ar1: float) -> np.ndarray:
    permanent = r.standard_normal(n)
    shocks = r.standard_normal((n, t))
    ar = np.empty((n, t))
    ar[:, 0] = shocks[:, 0]
    innov = np.sqrt(1.0 - ar1**2)
    for j in range(1, t):
        ar[:, j] = ar1 * ar[:, j - 1] + innov * shocks[:, j]
    return np.sqrt(share) * permanent[:, None] + np.sqrt(1.0 - share) * ar


Curve = tuple[Sequence[float], Sequence[float], Sequence[float]]


def _curve(curve: Curve, pop: Population) -> np.ndarray:
    knots, general, vulnerable = curve
    years = pop.age_months / 12.0
    return np.where(
        pop.vulnerable[:, None],
        np.interp(years, knots, vulnerable),
        np.interp(years, knots, general),
    )


def _latent_outcome(
    design: PilotDesign,
    seed: int,
    pop: Population,
    name: str,
    eligible: np.ndarray | None = None,
    block: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one latent outcome; with ``eligible``, only those cells can be 1.

    Restricted to eligible cells, rate and effect are divided by the eligible share of
    the person's age and population, so the marginal rate and the ATT over all cells
    stay as designed. With ``block`` the persons' draws come from that block's own
    stream while the municipality and month terms stay those of the seed, so a panel
    too large for memory can be drawn block by block (the national generator).
    """
    r = rng(seed, _stream(name))
    n, t = pop.age_months.shape
    m = len(design.municipalities)
    shock_var = design.shock_sd**2
    muni_var = design.icc * (1.0 + shock_var) / (1.0 - design.icc)
    muni_effect = r.normal(0.0, np.sqrt(muni_var), m)
    common = np.cumsum(r.normal(0.0, 0.02, t))
    common -= common.mean()
    shocks = r.normal(0.0, design.shock_sd, (m, t))
    if block is not None:
        r = block_rng(seed, _stream(name), block)
    z = _person_latent(r, n, t, design.person_share, design.ar1)
    v = muni_effect[pop.muni][:, None] + common[None, :] + shocks[pop.muni, :]
    p0 = age_rate(design, name, pop.age_months, pop.vulnerable[:, None])
    effect = design.effects.get(name, 0.0)
    multiplier = np.where(pop.turning_18, design.turning_18_multiplier, 1.0)
    shift = effect * np.broadcast_to(multiplier[:, None], p0.shape)
    if eligible is not None:
        share = _eligible_share(pop, eligible)
        p0 = np.where(eligible, np.minimum(p0 / share, MAX_RATE), 0.0)
        shift = np.where(eligible, effect / share, 0.0)
    p1 = np.where(p0 > 0, np.clip(p0 + shift, 0.0, 0.995), 0.0)
    sd = np.sqrt(1.0 + muni_var + shock_var)
    latent = z + v
    with np.errstate(divide="ignore"):
        y0 = latent < ndtri(p0) * sd
        y1 = latent < ndtri(p1) * sd if effect != 0.0 else y0
    return y0, y1


def _eligible_share(pop: Population, eligible: np.ndarray) -> np.ndarray:
    """Share of eligible cells by age in years and population (at least 0.05)."""
    group = (pop.age_months // 12).clip(16, 27) - 16 + 12 * pop.vulnerable[:, None]
    alive = pop.alive
    total = np.bincount(group[alive], minlength=24)
    hits = np.bincount(group[alive & eligible], minlength=24)
    share = np.where(total > 0, hits / np.maximum(total, 1), 1.0)
    return np.maximum(share, 0.05)[group]


def potential_outcomes(
    design: PilotDesign,
    seed: int,
    pop: Population,
    outcomes: Iterable[str] | None = None,
    block: int | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return ``(Y(0), Y(1))`` on the dense grid for each outcome and its dependencies.

    Parameters
    ----------
    design : PilotDesign
        The design.
    seed : int
        The seed.
    pop : Population
        The population of the same design and seed.
    outcomes : iterable of str, optional
        Wanted outcomes; ``None`` means all panel outcomes.
    block : int, optional
        Draw the persons' latent terms from this block's stream (latent outcomes only).

    Returns
    -------
    dict
        Outcome name to a pair of boolean (persons, months) arrays.
    """
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    n, t = pop.age_months.shape
    for name in resolve(outcomes):
        if name in LATENT_OUTCOMES:
            no_sk = None
            if name == "early_school_leaving":  # only without a startkwalificatie
                no_sk = pop.age_months < pop.sk_age[:, None]
            y0, y1 = _latent_outcome(design, seed, pop, name, no_sk, block)
            if name == "independent_living":
                h0, h1 = out["homeless"]
                y0, y1 = y0 & ~h0, y1 & ~h1
        elif name == "startkwalificatie":
            y0 = pop.age_months >= pop.sk_age[:, None]
            y1 = y0
        elif name == "enrolled":
            r = rng(seed, _stream("enrolled_raw"))
            z = _person_latent(r, n, t, 0.6, 0.97)
            raw = z < ndtri(_curve(ENROLLED_CURVE, pop))
            (n0, n1), (e0, e1) = out["neet"], out["early_school_leaving"]
            y0, y1 = raw & ~n0 & ~e0, raw & ~n1 & ~e1
        else:  # employed
            r = rng(seed, _stream("employed_raw"))
            z = _person_latent(r, n, t, 0.5, 0.9)
            raw = z < ndtri(_curve(WORK_STUDENT_CURVE, pop))
            (n0, n1), (e0, e1) = out["neet"], out["enrolled"]
            y0, y1 = ~n0 & (~e0 | raw), ~n1 & (~e1 | raw)
        out[name] = (y0, y1)
    return out


def observed(pop: Population, pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Return the observed outcome: ``Y(1)`` where the effect acts, else ``Y(0)``.

    Parameters
    ----------
    pop : Population
        Gives ``treated_now``.
    pair : tuple of numpy.ndarray
        ``(Y(0), Y(1))``.

    Returns
    -------
    numpy.ndarray
        The observed outcome on the grid.
    """
    return np.where(pop.treated_now, pair[1], pair[0])

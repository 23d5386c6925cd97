"""The synthetic population: persons, municipalities, ages, and who is in the panel when."""

from __future__ import annotations

import dataclasses

import numpy as np

from evalkit.synth._design import PilotDesign

AGE_MIN_MONTHS = 16 * 12
AGE_END_MONTHS = 28 * 12  # a person leaves the panel on turning 28

# Random-stream ids: every part of the generator draws from its own stream so that
# making fewer columns (the fast path) never changes the others.
STREAM_POPULATION = 0
STREAM_OUTCOME_BASE = 10
STREAM_EXTRAS = 40
STREAM_BSN = 41
STREAM_QUESTIONNAIRE = 42
STREAM_CASES = 43


def rng(seed: int, stream: int) -> np.random.Generator:
    """Return the independent random generator of one stream of a seed.

    Parameters
    ----------
    seed : int
        The user's seed.
    stream : int
        Stream id (see the ``STREAM_*`` constants).

    Returns
    -------
    numpy.random.Generator
        A PCG64 generator.
    """
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(stream,)))
    )


def block_rng(seed: int, stream: int, block: int) -> np.random.Generator:
    """Return the generator of one block of persons within a stream (never equal to ``rng``).

    Parameters
    ----------
    seed : int
        The user's seed.
    stream : int
        Stream id.
    block : int
        Block number (0, 1, ...).

    Returns
    -------
    numpy.random.Generator
        A PCG64 generator.
    """
    key = (stream, int(block) + 1)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=key)))


@dataclasses.dataclass(frozen=True)
class Population:
    """Persons on a dense person-by-month grid (``alive`` marks the panel rows)."""

    months: np.ndarray  # (T,) month indices
    birth: np.ndarray  # (N,) birth month index
    muni: np.ndarray  # (N,) index into design.municipalities
    sex: np.ndarray  # (N,) 0 M, 1 V, 2 X
    vulnerable: np.ndarray  # (N,) bool: pro / VSO / mbo-entree population
    school: np.ndarray  # (N,) index into SCHOOL_TYPES
    sk_age: np.ndarray  # (N,) age in months at startkwalificatie (large = never)
    alive: np.ndarray  # (N, T) bool
    age_months: np.ndarray  # (N, T) int
    treated_now: np.ndarray  # (N, T) bool: the effect acts (start - anticipation onwards)
    muni_treated: np.ndarray  # (M,) bool
    muni_start: np.ndarray  # (M,) start month index (-1 never)
    turning_18: np.ndarray  # (N,) bool: turns 18 in the first three months of the pilot

    @property
    def n_persons(self) -> int:
        """Number of persons ever in the panel."""
        return int(self.birth.shape[0])


SCHOOL_TYPES: tuple[str, ...] = ("pro", "vso", "mbo1", "mbo2", "other")


def make_population(design: PilotDesign, seed: int) -> Population:
    """Draw the persons of a design.

    Parameters
    ----------
    design : PilotDesign
        The design.
    seed : int
        The seed.

    Returns
    -------
    Population
        Persons, their municipality and the panel grid.
    """
    r = rng(seed, STREAM_POPULATION)
    first, last = design.month_range
    months = np.arange(first, last + 1)
    n_months = months.shape[0]
    span = AGE_END_MONTHS - AGE_MIN_MONTHS  # 144 birth cohorts alive at a time
    birth_lo = first - AGE_END_MONTHS + 1
    birth_hi = last - AGE_MIN_MONTHS
    # 1.06 makes up for the persons who move in late or out early.
    n_total = round(1.06 * design.n_persons / span * (birth_hi - birth_lo + 1))
    birth = np.sort(r.integers(birth_lo, birth_hi + 1, size=n_total))

    n_muni = len(design.municipalities)
    size = r.lognormal(0.0, 0.35, size=n_muni)
    muni = r.choice(n_muni, size=n_total, p=size / size.sum())
    sex = r.choice(3, size=n_total, p=[0.495, 0.495, 0.01])
    muni_mix = np.clip(design.vulnerable_share * r.lognormal(0.0, 0.2, size=n_muni), 0, 0.95)
    vulnerable = r.random(n_total) < muni_mix[muni]
    school = np.where(
        vulnerable,
        r.choice(3, size=n_total, p=[0.4, 0.25, 0.35]),
        r.choice([3, 4], size=n_total, p=[0.25, 0.75]),
    )
    obtains = r.random(n_total) < np.where(vulnerable, 0.25, 0.88)
    sk_years = np.where(vulnerable, r.normal(20.0, 1.5, n_total), r.normal(18.5, 1.0, n_total))
    sk_age = np.where(obtains, np.round(np.maximum(sk_years, 17.0) * 12), 10_000).astype(np.int64)

    age_months = months[None, :] - birth[:, None]
    alive = (age_months >= AGE_MIN_MONTHS) & (age_months < AGE_END_MONTHS)
    # Moving in and out: about 8 % arrive later than 16 and 8 % leave before 28.
    entry = np.argmax(alive, axis=1)
    exit_ = n_months - np.argmax(alive[:, ::-1], axis=1)  # exclusive
    length = exit_ - entry
    move_in = (r.random(n_total) < 0.08) & (length > 2)
    move_out = (r.random(n_total) < 0.08) & (length > 2)
    new_entry = entry + np.where(move_in, (r.random(n_total) * (length - 1)).astype(int), 0)
    new_exit = exit_ - np.where(
        move_out, (r.random(n_total) * (exit_ - new_entry - 1)).astype(int), 0
    )
    col = np.arange(n_months)[None, :]
    alive &= (col >= new_entry[:, None]) & (col < new_exit[:, None])

    starts = design.start_index
    muni_start = np.array([starts.get(m, -1) for m in design.municipalities], dtype=np.int64)
    muni_treated = muni_start >= 0
    active_from = np.where(muni_treated, muni_start - design.anticipation_months, 10**9)
    treated_now = months[None, :] >= active_from[muni][:, None]
    # never-treated municipalities: measured against the first start, for comparisons
    reference_start = np.where(muni_treated, muni_start, muni_start[muni_treated].min())
    eighteen = birth + 18 * 12 - reference_start[muni]
    turning_18 = (eighteen >= 0) & (eighteen <= 2)
    return Population(
        months=months,
        birth=birth,
        muni=muni,
        sex=sex,
        vulnerable=vulnerable,
        school=school,
        sk_age=sk_age,
        alive=alive,
        age_months=age_months,
        treated_now=treated_now,
        muni_treated=muni_treated,
        muni_start=muni_start,
        turning_18=turning_18,
    )

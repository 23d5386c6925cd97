"""The national panel: every municipality in its labour-market region, written block by block.

The 2026 law has every labour-market region start its cooperation at its own moment, so
the national evaluation is staggered across regions. The person-month panel of all
young people is about 90 million rows, far more than memory, so persons are drawn in
blocks (one region at a time, at most ``BLOCK_PERSONS`` persons per block) and each
block is written as its own Parquet file under the region's folder. The outcome model
is the ``pilot`` generator's (:mod:`evalkit.synth._outcomes`): the municipality and
month terms are drawn once per seed, the persons' own terms per block, so memory stays
bounded by one block whatever the scale.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from evalkit.errors import EvalkitError
from evalkit.synth._design import PilotDesign
from evalkit.synth._months import format_month, parse_month
from evalkit.synth._outcomes import observed, potential_outcomes
from evalkit.synth._population import (
    AGE_END_MONTHS,
    AGE_MIN_MONTHS,
    STREAM_POPULATION,
    Population,
    block_rng,
    rng,
)

#: Young people of 16-27 in the Netherlands (CBS StatLine, about 2.5 million).
NATIONAL_PERSONS = 2_500_000
#: Persons drawn (and written) at a time: bounds the generator's memory.
BLOCK_PERSONS = 60_000
NATIONAL_OUTCOMES: tuple[str, ...] = ("neet", "early_school_leaving")
NATIONAL_EFFECTS: dict[str, float] = {"neet": -0.006, "early_school_leaving": -0.003}
FIRST_MONTH, LAST_MONTH = "2025-01", "2027-12"
#: Start months a region can draw (quarters from the law's start); "" = after the panel.
START_CHOICES: tuple[str, ...] = (
    "2026-01",
    "2026-04",
    "2026-07",
    "2026-10",
    "2027-01",
    "2027-04",
    "",
)
_RIN_MODULUS = 900_000_000
_RIN_MULTIPLIER = 387_420_489  # 3**18: coprime with the modulus, so numbers never repeat

Progress = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True)
class Region:
    """A labour-market region: its code, name, municipalities and their relative sizes."""

    code: str
    name: str
    municipalities: tuple[str, ...]
    sizes: tuple[float, ...]


def load_regions() -> tuple[Region, ...]:
    """Return the 35 labour-market regions and their 342 municipalities (shipped data).

    Returns
    -------
    tuple of Region
        In region-code order.
    """
    text = resources.files("evalkit.synth").joinpath("data/national_municipalities.csv")
    rows: dict[str, list[dict[str, str]]] = {}
    with text.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.setdefault(row["region"], []).append(row)
    return tuple(
        Region(
            code,
            members[0]["region_name"],
            tuple(m["municipality"] for m in members),
            tuple(float(m["size"]) for m in members),
        )
        for code, members in sorted(rows.items())
    )


@dataclasses.dataclass(frozen=True)
class NationalPlan:
    """What the national generator writes: regions, starts and persons per block."""

    seed: int
    scale: float
    regions: tuple[Region, ...]
    starts: dict[str, str]  # region code -> start month ('' = after the panel)
    persons: dict[str, int]  # region code -> persons ever in the panel
    design: PilotDesign

    @property
    def municipalities(self) -> tuple[str, ...]:
        """Every municipality, in region order."""
        return tuple(m for r in self.regions for m in r.municipalities)

    def truth(self) -> dict[str, Any]:
        """Return the design facts a test may compare with (reports never read them)."""
        return {
            "generator": "national",
            "seed": self.seed,
            "scale": self.scale,
            "months": [FIRST_MONTH, LAST_MONTH],
            "region_starts": dict(self.starts),
            "effects": dict(NATIONAL_EFFECTS),
            "n_municipalities": len(self.municipalities),
            "n_regions": len(self.regions),
            "note": "Synthetic data. For tests only; reports never read this file.",
        }


def plan_national(seed: int, scale: float = 1.0) -> NationalPlan:
    """Draw the region starts and region sizes of a national panel.

    Parameters
    ----------
    seed : int
        The seed.
    scale : float
        Share of the national population to draw (1.0 is about 90 million person-months).

    Returns
    -------
    NationalPlan
        The plan; :func:`write_national` writes it.
    """
    if not 0.0 < scale <= 1.0:
        raise EvalkitError(f"--scale must lie in (0, 1], got {scale}")
    regions = load_regions()
    r = rng(seed, STREAM_POPULATION)
    starts = {reg.code: str(r.choice(START_CHOICES)) for reg in regions}
    if not any(starts.values()):
        starts[regions[0].code] = START_CHOICES[0]
    size = np.array([sum(reg.sizes) for reg in regions])
    span = AGE_END_MONTHS - AGE_MIN_MONTHS
    first, last = parse_month(FIRST_MONTH), parse_month(LAST_MONTH)
    ever = 1.06 * NATIONAL_PERSONS * scale / span * (last - first + span)
    persons = np.maximum(np.round(ever * size / size.sum()), 50).astype(int)
    mapping = {m: starts[reg.code] for reg in regions for m in reg.municipalities}
    design = PilotDesign(
        generator="staggered",
        municipalities=tuple(mapping),
        treated_starts={m: s for m, s in mapping.items() if s},
        first_month=FIRST_MONTH,
        last_month=LAST_MONTH,
        n_persons=max(50, round(NATIONAL_PERSONS * scale)),
        effects=NATIONAL_EFFECTS,
    )
    counts = {reg.code: int(n) for reg, n in zip(regions, persons, strict=True)}
    return NationalPlan(int(seed), float(scale), regions, starts, counts, design)


def _blocks(plan: NationalPlan) -> Iterator[tuple[int, Region, int, int]]:
    """Yield (block number, region, first person number, persons) in a fixed order."""
    block, person = 0, 0
    for region in plan.regions:
        left = plan.persons[region.code]
        while left > 0:
            n = min(BLOCK_PERSONS, left)
            yield block, region, person, n
            block, person, left = block + 1, person + n, left - n


def _block_population(plan: NationalPlan, region: Region, block: int, n: int) -> Population:
    """Draw one block of persons of one region on the dense person-by-month grid."""
    design = plan.design
    r = block_rng(plan.seed, STREAM_POPULATION, block)
    first, last = design.month_range
    months = np.arange(first, last + 1)
    birth = np.sort(r.integers(first - AGE_END_MONTHS + 1, last - AGE_MIN_MONTHS + 1, size=n))
    index = {m: i for i, m in enumerate(design.municipalities)}
    local = np.array([index[m] for m in region.municipalities])
    sizes = np.asarray(region.sizes)
    muni = local[r.choice(local.shape[0], size=n, p=sizes / sizes.sum())]
    vulnerable = r.random(n) < design.vulnerable_share
    obtains = r.random(n) < np.where(vulnerable, 0.25, 0.88)
    sk_years = np.where(vulnerable, r.normal(20.0, 1.5, n), r.normal(18.5, 1.0, n))
    sk_age = np.where(obtains, np.round(np.maximum(sk_years, 17.0) * 12), 10_000).astype(np.int64)
    age_months = months[None, :] - birth[:, None]
    alive = (age_months >= AGE_MIN_MONTHS) & (age_months < AGE_END_MONTHS)
    moves = r.random(n) < 0.08  # about 8 % move out of the country part-way
    cut = r.integers(1, months.shape[0], size=n)
    alive &= ~(moves[:, None] & (np.arange(months.shape[0])[None, :] >= cut[:, None]))
    starts = design.start_index
    muni_start = np.array([starts.get(m, -1) for m in design.municipalities], dtype=np.int64)
    active_from = np.where(muni_start >= 0, muni_start, 10**9)
    return Population(
        months=months,
        birth=birth,
        muni=muni,
        sex=r.choice(3, size=n, p=[0.495, 0.495, 0.01]),
        vulnerable=vulnerable,
        school=np.zeros(n, dtype=np.int64),
        sk_age=sk_age,
        alive=alive,
        age_months=age_months,
        treated_now=months[None, :] >= active_from[muni][:, None],
        muni_treated=muni_start >= 0,
        muni_start=muni_start,
        turning_18=np.zeros(n, dtype=bool),
    )


SCHEMA = pa.schema(
    [
        ("rinpersoons", pa.string()),
        ("rinpersoon", pa.string()),
        ("month", pa.date32()),
        ("municipality", pa.string()),
        ("region", pa.string()),
        ("age", pa.int8()),
        ("sex", pa.string()),
        ("vulnerable", pa.bool_()),
        ("startkwalificatie", pa.bool_()),
        ("neet", pa.bool_()),
        ("early_school_leaving", pa.bool_()),
    ]
)


def _rin_numbers(first: int, n: int, seed: int) -> np.ndarray:
    """Return distinct synthetic nine-digit RINPERSOON numbers for persons first..first+n."""
    offset = seed * 7_919 % _RIN_MODULUS
    ids = (np.arange(first, first + n, dtype=np.int64) * _RIN_MULTIPLIER + offset) % _RIN_MODULUS
    return ids + 100_000_000


def _block_table(plan: NationalPlan, region: Region, block: int, first: int, n: int) -> pa.Table:
    pop = _block_population(plan, region, block, n)
    pairs = potential_outcomes(plan.design, plan.seed, pop, NATIONAL_OUTCOMES, block=block)
    person, col = np.nonzero(pop.alive)
    epoch = dt.date(1970, 1, 1).toordinal()
    day = np.array(
        [dt.date(m // 12, m % 12 + 1, 1).toordinal() - epoch for m in pop.months], dtype=np.int32
    )
    munis = np.asarray(plan.design.municipalities)
    rin = _rin_numbers(first, n, plan.seed).astype("U9")
    sk = pop.age_months >= pop.sk_age[:, None]
    columns: dict[str, Any] = {
        "rinpersoons": pa.DictionaryArray.from_arrays(
            np.zeros(person.shape[0], dtype=np.int8), ["R"]
        ).cast(pa.string()),
        "rinpersoon": rin[person],
        "month": pa.array(day[col], type=pa.date32()),
        "municipality": munis[pop.muni[person]],
        "region": np.full(person.shape[0], region.code),
        "age": (pop.age_months[person, col] // 12).astype(np.int8),
        "sex": np.array(["M", "V", "X"])[pop.sex[person]],
        "vulnerable": pop.vulnerable[person],
        "startkwalificatie": sk[person, col],
    }
    for name in NATIONAL_OUTCOMES:
        columns[name] = observed(pop, pairs[name])[person, col]
    return pa.table(columns, schema=SCHEMA)


def write_national(
    plan: NationalPlan, out: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Write the national panel as Parquet, one folder per region, one file per block.

    Parameters
    ----------
    plan : NationalPlan
        From :func:`plan_national`.
    out : pathlib.Path
        Output folder; ``outcome_panel/<region>/part-<block>.parquet`` and ``truth.json``.
    progress : callable, optional
        Called as ``progress(rows_written, persons_done)`` after every block.

    Returns
    -------
    dict
        ``rows``, ``persons``, ``files``, ``bytes``, ``seconds`` and the panel folder.
    """
    import json

    panel = out / "outcome_panel"
    panel.mkdir(parents=True, exist_ok=True)
    for old in panel.glob("*/part-*.parquet"):
        old.unlink()
    started = time.perf_counter()
    rows = persons = files = size = 0
    for block, region, first, n in _blocks(plan):
        table = _block_table(plan, region, block, first, n)
        folder = panel / region.code
        folder.mkdir(exist_ok=True)
        path = folder / f"part-{block:05d}.parquet"
        pq.write_table(table, path, compression="zstd", row_group_size=1 << 20)
        rows, persons, files = rows + table.num_rows, persons + n, files + 1
        size += path.stat().st_size
        if progress is not None:
            progress(rows, persons)
    truth = {**plan.truth(), "rows": rows, "first_month": format_month(parse_month(FIRST_MONTH))}
    (out / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True), encoding="utf-8")
    return {
        "rows": rows,
        "persons": persons,
        "files": files,
        "bytes": size,
        "seconds": time.perf_counter() - started,
        "panel": panel,
    }

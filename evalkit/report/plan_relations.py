"""The linear relations between the cells of a release's bundle tables.

A hidden count is safe only if no set of shown cells pins it. The suppression plan
(:mod:`evalkit.report.plan`) needs every relation a reader could use: the sums
within a table (row totals, the "all" rows of every breakdown, a Σ row) and the same
persons counted in two tables (``plan_rules.LINKS``, months that add up to quarters
and to the norm's periods, counts that equal one count or the sum of two of
another). This module finds them from the tables' structure; the plan keeps those
that hold exactly in the bundle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import combinations, permutations
from typing import Any

import numpy as np
import pandas as pd

from evalkit.report.plan_rules import LINKS, TableRule

__all__ = [
    "TOL",
    "TOTAL",
    "Cell",
    "Relation",
    "Table",
    "norm",
    "relations",
    "rows_of",
    "table_of",
]

Cell = tuple[str, int, str]
Relation = tuple[Cell, tuple[Cell, ...]]
#: The label of a breakdown's total row.
TOTAL = "all"
#: A relation holds when its sides differ by less than this (the counts are whole numbers).
TOL = 1e-9
#: Counts of the norm tables that months, quarters and periods share.
_NORM_COUNTS = ("n", "n_within", "n_breach", "n_breach_open", "n_unknown")


@dataclass
class Table:
    """A bundle table as the plan sees it: its rows, its rule and its label columns."""

    source: str
    frame: pd.DataFrame
    rule: TableRule
    keys: list[str]
    by_labels: dict[tuple[str, ...], dict[tuple[Any, ...], int]] = field(default_factory=dict)


def _src(tab: Table) -> str:
    return tab.source


def table_of(source: str, records: list[dict[str, Any]], rule: TableRule) -> Table:
    """Return a bundle table's records as a :class:`Table`: counts numeric, Σ row added."""
    frame = pd.DataFrame.from_records(records)
    counts = [c for c in rule.counts if c in frame.columns]
    for col in counts:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    sums = [c for c in rule.column_total if c in counts]
    if sums:  # the Σ row(s) a document shows under the table, one per ``total_by`` label
        by = [k for k in rule.total_by if k in frame.columns]
        groups = frame.groupby(by, sort=False) if by else [((), frame)]
        rows = [
            {
                **dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                **{c: part[c].sum() for c in sums},
            }
            for key, part in groups
        ]
        frame = pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)
        for col in frame.columns:  # a Σ row's empty labels: None, as in the records
            # (pandas 3 reads text as its string dtype, whose missing value is NaN)
            if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
                frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    keys = [
        c
        for c in frame.columns
        if c in rule.keys
        or (
            c not in counts
            and not pd.api.types.is_numeric_dtype(frame[c])
            and frame[c].map(lambda v: v is None or isinstance(v, str)).all()
        )
    ]
    return Table(source, frame, rule, keys)


def relations(tables: Mapping[str, Table], start: str | None) -> Iterable[Relation]:
    """Yield every linear relation the tables' structure implies (kept where it holds).

    Within a table: its registered sums, the "all" rows of each breakdown and a Σ row;
    across tables: ``LINKS``, persons by number of organisations, months to quarters
    and to the norm's periods (``start``: the pilot's first month), and counts of one
    table that equal one count or the sum of two of another.
    """
    for src, tab in tables.items():
        counts = [
            c for c in tab.rule.counts if c in tab.frame.columns and c not in tab.rule.withheld
        ]
        for total, parts in tab.rule.sums:
            for i in tab.frame.index:
                yield (src, i, total), tuple((src, i, p) for p in parts)
        if counts:
            yield from _hierarchy(src, tab, counts)
        yield from _column_totals(src, tab)
    yield from _links(tables, start)


def _column_totals(src: str, tab: Table) -> Iterable[Relation]:
    """Yield each Σ row as the sum of the rows above it with the same ``total_by`` labels."""
    sums = [c for c in tab.rule.column_total if c in tab.frame.columns]
    if not sums:
        return
    by = [k for k in tab.rule.total_by if k in tab.frame.columns]
    n_sigma = tab.frame[by].drop_duplicates().shape[0] if by else 1
    first = len(tab.frame) - n_sigma
    for s in range(first, len(tab.frame)):
        rows = [
            i
            for i in range(first)
            if all(norm(tab.frame.at[i, k]) == norm(tab.frame.at[s, k]) for k in by)
        ]
        for c in sums:
            yield (src, s, c), tuple((src, i, c) for i in rows)


def _links(tables: Mapping[str, Table], start: str | None) -> Iterable[Relation]:
    for a_src, a_col, a_fix, b_src, b_col, b_fix in LINKS:
        a, b = tables.get(a_src), tables.get(b_src)
        if a is None or b is None:
            continue
        shared = [k for k in a.keys if k in b.keys and k not in a_fix and k not in b_fix]
        b_rows = _index(b.frame, b_fix, shared)
        for i, row in _fixed(a.frame, a_fix):
            j = b_rows.get(tuple(norm(row[k]) for k in shared))
            if j is not None:
                yield (a_src, i, a_col), ((b_src, j, b_col),)
    yield from _distribution(tables)
    yield from _months(tables, start)
    yield from _registrations(tables, start)
    yield from _same_persons(tables)


def _same_persons(tables: Mapping[str, Table]) -> Iterable[Relation]:
    """Yield counts of one table that equal one count, or the sum of two, of another.

    Rows are matched on the labels both tables have (group, wave, …); other labels
    must be "all" or constant. Respondents (``n_responded``) that are the sum of
    those with a complete and an incomplete scale (``n + n_incomplete``) are found
    here. A relation is used where it holds on every matched row with values.
    """
    arrays = {
        t.source: {
            c: t.frame[c].to_numpy(float)
            for c in t.rule.counts
            if c in t.frame and c not in t.rule.withheld
        }
        for t in tables.values()
        if not t.rule.column_total
    }
    for a, b in permutations(tables.values(), 2):
        va, vb = arrays.get(a.source), arrays.get(b.source)
        if not va or not vb:
            continue
        pairs = _one_to_one(a, b)
        if not pairs:
            continue
        ia = np.array([i for i, _ in pairs])
        jb = np.array([j for _, j in pairs])
        subsets = [(c,) for c in va] + list(combinations(va, 2))
        for d, col in vb.items():
            target = col[jb]
            for subset in subsets:
                total = sum(va[c][ia] for c in subset)
                ok = ~np.isnan(target) & ~np.isnan(total)
                if not ok.any() or not target[ok].any():
                    continue
                if np.abs(target[ok] - total[ok]).max() < TOL:
                    for k in np.flatnonzero(ok):
                        yield (
                            (b.source, int(jb[k]), d),
                            tuple((a.source, int(ia[k]), c) for c in subset),
                        )


def _distribution(tables: Mapping[str, Table]) -> Iterable[Relation]:
    """Persons by number of organisations add up to the persons of that group and period."""
    dist, sw = (
        tables.get("throughput.switches_distribution"),
        tables.get("throughput.switches"),
    )
    if dist is None or sw is None:
        return
    on = [k for k in ("group", "period") if k in dist.keys and k in sw.keys]
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, row in rows_of(dist.frame):
        groups[tuple(norm(row[k]) for k in on)].append(i)
    for i, row in rows_of(sw.frame):
        rows = groups.get(tuple(norm(row[k]) for k in on))
        if rows:
            yield (
                ("throughput.switches", int(i), "n"),
                tuple(("throughput.switches_distribution", j, "n_persons") for j in rows),
            )


def _months(tables: Mapping[str, Table], start: str | None) -> Iterable[Relation]:
    """Months add up to their quarter, and months or quarters to the norm's periods."""
    mon, qua, nor = (
        tables.get("throughput.norms_monthly"),
        tables.get("throughput.norms_quarterly"),
        tables.get("throughput.norms"),
    )
    if mon is not None and "month" in mon.frame:
        mon_key = [*(k for k in mon.keys if k != "month")]
        by_quarter = _series(mon, mon_key, lambda r: _quarter(r["month"]))
        if qua is not None and "quarter" in qua.frame:
            for i, row in rows_of(qua.frame):
                key = (*(norm(row.get(k)) for k in mon_key), str(row["quarter"]))
                yield from _sums(qua, i, mon, by_quarter.get(key))
    if nor is None or "period" not in nor.frame:
        return
    for part, col in ((mon, "month"), (qua, "quarter")):
        if part is None or col not in part.frame:
            continue
        labels = [k for k in part.keys if k != col]
        everything = _series(part, labels, lambda r: "all")
        before = _series(part, labels, lambda r, c=col: _before(str(r[c]), start))
        for i, row in rows_of(nor.frame):
            if row.get("org_type", TOTAL) != TOTAL:
                continue
            base = tuple(norm(row.get(k)) for k in labels)
            period = row.get("period")
            rows = (
                everything.get((*base, "all")) if period == TOTAL else before.get((*base, period))
            )
            yield from _sums(nor, i, part, rows)


def _registrations(tables: Mapping[str, Table], start: str | None) -> Iterable[Relation]:
    """Yield the cases of a group and period elsewhere as the months' registrations.

    Every case is registered once, so the cases of an interval that starts at the
    registration (the durations and Kaplan–Meier summaries per group, before and
    during the pilot) are the registrations of that group in the months on that side
    of ``start``; "all" stands for both groups or both periods. Only the relations
    that hold exactly in the bundle are kept (see the plan).
    """
    reg = tables.get("monitoring.registrations")
    if reg is None or not start or not {"period", "group"} <= set(reg.frame.columns):
        return
    rows: dict[tuple[Any, Any], list[int]] = defaultdict(list)
    for i, row in rows_of(reg.frame):
        month, group = row["period"], row["group"]
        if not isinstance(month, str) or len(month) != 7 or group in (None, TOTAL):
            continue  # a Σ row
        for g in (group, TOTAL):
            for p in (_before(month, start), TOTAL):
                rows[(g, p)].append(i)
    for src, tab in tables.items():
        if src == reg.source or not {"group", "period"} <= set(tab.keys):
            continue
        counts = [c for c in tab.rule.counts if c in tab.frame and c not in tab.rule.withheld]
        for i, row in rows_of(tab.frame):
            if row.get("org_type", TOTAL) != TOTAL:
                continue
            parts = rows.get((norm(row["group"]), norm(row["period"]))) or []
            for col in counts if parts else ():
                yield (src, i, col), tuple((reg.source, j, "n_registrations") for j in parts)


def _series(tab: Table, key: list[str], bucket: Any) -> dict[tuple[Any, ...], list[int]]:
    """Rows of a monthly or quarterly series grouped by their labels and a time bucket."""
    out: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, row in rows_of(tab.frame):
        out[(*(norm(row.get(k)) for k in key), bucket(row))].append(i)
    return out


def _sums(total: Table, i: int, part: Table, rows: list[int] | None) -> Iterable[Relation]:
    if not rows:
        return
    t_src, p_src = _src(total), _src(part)
    for col in _NORM_COUNTS:
        if col in total.frame.columns and col in part.frame.columns:
            yield (t_src, i, col), tuple((p_src, j, col) for j in rows)


def _before(stamp: str, start: str | None) -> str:
    """Return the norm table's period of a month or quarter: before or during the pilot."""
    if not start:
        return ""
    if "Q" in stamp:
        year, q = stamp.split("-Q")
        stamp = f"{year}-{3 * int(q) - 2:02d}"
        last = f"{year}-{3 * int(q):02d}"
        if stamp < start <= last:
            return ""  # a quarter the start falls inside belongs to neither
    return "before" if stamp < start[:7] else "during"


def _quarter(month: Any) -> str:
    text = str(month)
    try:
        year, mm = text[:4], int(text[5:7])
    except ValueError:
        return ""
    return f"{year}-Q{(mm - 1) // 3 + 1}"


def norm(value: Any) -> Any:
    """Return a label for matching: a missing value (None or NaN) as None."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def rows_of(frame: pd.DataFrame) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield each row's index (as ``int``) and its cells by column name.

    What ``frame.iterrows()`` yields for the label and count cells the relations read
    (a row's ``row[k]`` and ``row.get(k)``), without building a Series per row: that
    took most of the time of finding a release's relations.
    """
    columns = list(frame.columns)
    cells = [frame[c].tolist() for c in columns]
    rows = zip(*cells, strict=True) if cells else (() for _ in frame.index)
    for i, values in zip(frame.index.tolist(), rows, strict=True):
        yield int(i), dict(zip(columns, values, strict=True))


def _fixed(frame: pd.DataFrame, fix: Mapping[str, str]) -> Iterable[tuple[int, dict[str, Any]]]:
    for i, row in rows_of(frame):
        if all(k in frame.columns and row[k] == v for k, v in fix.items()):
            yield i, row


def _index(frame: pd.DataFrame, fix: Mapping[str, str], keys: list[str]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for i, row in _fixed(frame, fix):
        out.setdefault(tuple(norm(row[k]) for k in keys), i)
    return out


def _one_to_one(a: Table, b: Table) -> list[tuple[int, int]]:
    """Pairs of rows of two tables with the same shared labels (other labels total/constant)."""
    shared = tuple(k for k in a.keys if k in b.keys)
    if not shared:
        return []
    ra, rb = _rows_by(a, shared), _rows_by(b, shared)
    return [(ra[k], rb[k]) for k in ra if k in rb]


def _rows_by(tab: Table, shared: tuple[str, ...]) -> dict[tuple[Any, ...], int]:
    """Return the row of each value of ``shared`` whose other labels are "all" or constant."""
    cached = tab.by_labels.get(shared)
    if cached is not None:
        return cached
    extra = [k for k in tab.keys if k not in shared and tab.frame[k].nunique(dropna=False) > 1]
    out: dict[tuple[Any, ...], int] = {}
    seen: set[tuple[Any, ...]] = set()
    columns = [tab.frame[k].tolist() for k in (*shared, *extra)]
    for i, rec in enumerate(zip(*columns, strict=True)):
        if any(v != TOTAL for v in rec[len(shared) :]):
            continue
        key = tuple(norm(v) for v in rec[: len(shared)])
        if key in seen:  # more than one row per label: no one-to-one match
            out.pop(key, None)
        else:
            seen.add(key)
            out[key] = i
    tab.by_labels[shared] = out
    return out


def _hierarchy(src: str, tab: Table, counts: list[str]) -> Iterable[Relation]:
    """Yield the "all" rows of each breakdown as the sum of the rows they stand for.

    For a row with "all" in breakdowns D, and every non-empty subset S of D, the rows
    that agree on every other label and have a real category in each of S add up to it
    (the sub-tables of the hypercube).
    """
    frame, keys = tab.frame, tab.keys
    dims = [k for k in keys if (frame[k] == TOTAL).any()]
    if not dims:
        return
    records = [tuple(norm(v) for v in row) for row in frame[keys].itertuples(index=False)]
    pos = {k: n for n, k in enumerate(keys)}
    for size in range(1, len(dims) + 1):
        for subset in _subsets(dims, size):
            rest = [k for k in keys if k not in subset]
            groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
            for i, rec in enumerate(records):
                if all(rec[pos[d]] not in (TOTAL, None) for d in subset):
                    groups[tuple(rec[pos[k]] for k in rest)].append(i)
            for i, rec in enumerate(records):
                if all(rec[pos[d]] == TOTAL for d in subset):
                    parts = groups.get(tuple(rec[pos[k]] for k in rest))
                    if parts:
                        for c in counts:
                            yield (src, i, c), tuple((src, j, c) for j in parts)


def _subsets(items: list[str], size: int) -> Iterable[tuple[str, ...]]:
    return combinations(items, size)

"""One suppression plan per release: which cells of which table every document hides.

A release is one results bundle rendered as the evaluation (nl, en), the summary, the
monitor and the CSV/XLSX exports. Every table of each of them is drawn from a bundle
table; the plan decides, once, per bundle table, row and column whether the cell is
shown, so the same quantity has the same status wherever it appears.

The method is the one statistical offices use for frequency tables (CBS and
Eurostat practice; Hundepool et al., *Statistical Disclosure Control*, Wiley 2012,
ch. 4; τ-ARGUS' hypercube method and sdcTable's ``SIMPLEHEURISTIC``):

1. **Primary suppression**: a count of persons from 1 to threshold − 1 is hidden.
2. **Linear relations** are collected from the table structure and kept where they
   hold exactly in the bundle: row totals (``n = n_within + n_breach + n_unknown``,
   ``n = n_events + n_censored``), the "all" rows of every breakdown (group, period,
   organisation type, …, hypercube-wise over each subset of the breakdowns), a Σ row
   a document adds, and the same persons counted in two tables (``LINKS``; months
   that add up to a quarter).
3. **Complementary (secondary) suppression**: while some relation has exactly one
   hidden cell, the smallest non-zero shown cell of it is hidden as well; then every
   connected set of relations is solved for its hidden cells (the null space of
   the relations restricted to them): a hidden cell that the shown cells determine
   exactly gets one more complement in one of its relations, until none is
   determined. This is exact-disclosure protection by construction, checked by
   linear algebra rather than assumed from the heuristic.
4. **Derived values** (see ``plan_rules``): a share or mean that is an exact function
   of counts is hidden whenever one of those counts is hidden (so ``share × n`` or
   ``k / share`` gives nothing); a mean, median, interval or estimate from fewer
   than the threshold persons is hidden. Design facts (numbers of municipalities,
   periods), parameters and labels are never hidden.

Every hidden cell shows the same mark, whether primary or complementary: distinct
marks would tell a reader that a complementary count is 0 or at least the threshold,
and with a total of threshold + 1 that pins both cells (Eurostat flags both ``c``).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations, permutations
from typing import Any

import numpy as np
import pandas as pd
from scipy.linalg import qr
from threadpoolctl import threadpool_limits

from evalkit.errors import ReportError
from evalkit.report.disclosure import PRIMARY, SECONDARY
from evalkit.report.plan_rules import LINKS, TableRule, rule_for

__all__ = ["SuppressionPlan", "bundle_sources"]

Cell = tuple[str, int, str]
Relation = tuple[Cell, tuple[Cell, ...]]
_TOTAL = "all"
_TOL = 1e-9


def bundle_sources(bundle: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Return every table of a bundle that reports show: ``{"throughput.norms": records}``.

    Parameters
    ----------
    bundle : mapping
        The results bundle.

    Returns
    -------
    dict
        Dotted source name -> list of records (exploratory tables as
        ``exploratory.<i>.<name>``).
    """
    out: dict[str, Any] = {}
    for part in ("throughput", "questionnaire", "monitoring"):
        node = bundle.get(part)
        if isinstance(node, Mapping):
            for name, records in node.items():
                if _records(records):
                    out[f"{part}.{name}"] = records
    for path in ("sample.flow", "sample.balance", "subgroups", "trends"):
        found: Any = bundle
        for key in path.split("."):
            found = found.get(key) if isinstance(found, Mapping) else None
        if _records(found):
            out[path] = found
    for i, item in enumerate(bundle.get("exploratory") or [], start=1):
        tables = item.get("tables") if isinstance(item, Mapping) else None
        if isinstance(tables, Mapping):
            for name, records in tables.items():
                if _records(records):
                    out[f"exploratory.{i}.{name}"] = records
        elif _records(tables):
            out[f"exploratory.{i}"] = tables
    return out


def _put(bundle: dict[str, Any], source: str, rows: list[dict[str, Any]]) -> None:
    """Set ``bundle[a][b]`` for source ``a.b`` (copying the mappings on the way)."""
    keys = source.split(".")
    node = bundle
    for key in keys[:-1]:
        node[key] = dict(node.get(key) or {})
        node = node[key]
    node[keys[-1]] = rows


def _records(node: Any) -> bool:
    return isinstance(node, list) and bool(node) and all(isinstance(r, Mapping) for r in node)


@dataclass(frozen=True)
class SuppressionPlan:
    """Per bundle table, the status of every cell: ``""``, ``"primary"`` or ``"secondary"``.

    Build it with :meth:`from_bundle`; it is a pure function of the bundle, so every
    document and export of a release, in whatever process, gets the same plan.

    Attributes
    ----------
    threshold : int
        Counts 1 … threshold − 1 are primary.
    statuses : dict
        Source -> status frame (index: record position; a Σ row at ``len(records)``).
    """

    threshold: int
    statuses: dict[str, pd.DataFrame]

    @classmethod
    def from_bundle(
        cls, bundle: Mapping[str, Any], threshold: int | None = None
    ) -> SuppressionPlan:
        """Compute the plan of a bundle (threshold: the bundle's settings, else 10)."""
        if threshold is None:
            settings = bundle.get("settings") or {}
            reporting = (bundle.get("protocol") or {}).get("reporting") or {}
            threshold = int(
                settings.get("disclosure_threshold") or reporting.get("disclosure_threshold") or 10
            )
        if threshold < 1:
            raise ReportError(f"disclosure threshold must be a positive integer, got {threshold}")
        tables = {
            s: _frame(s, recs, rule_for(s, list(pd.DataFrame.from_records(recs).columns)))
            for s, recs in bundle_sources(bundle).items()
        }
        start = (bundle.get("settings") or {}).get("pilot_start")
        return _Planner(tables, threshold, str(start) if start else None).plan()

    def status(self, source: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the status of ``frame``'s cells; ``frame``'s index holds record positions.

        Columns the plan does not know (added by a section) and rows outside the
        bundle table are shown.
        """
        out = pd.DataFrame("", index=frame.index, columns=frame.columns, dtype=object)
        known = self.statuses.get(source)
        if known is None:
            return out
        rows = [i for i in frame.index if i in known.index]
        for col in frame.columns:
            if col in known.columns and rows:
                out.loc[rows, col] = known.loc[rows, col].to_numpy()
        return out

    def masked(self, bundle: Mapping[str, Any]) -> dict[str, Any]:
        """Return a copy of ``bundle`` with every hidden cell set to ``None`` (for figures).

        A figure drawn from the masked bundle shows nothing a table of the release
        hides. Withheld counts (a Kaplan–Meier curve's numbers at risk) stay: figures
        use them to leave out steps with too few at risk, and never show them.
        """
        out: dict[str, Any] = dict(bundle)
        for source, records in bundle_sources(bundle).items():
            status = self.statuses.get(source)
            if status is None or source.startswith("exploratory"):  # no figures drawn from them
                continue
            withheld = set(rule_for(source, list(status.columns)).withheld)
            rows = []
            for i, record in enumerate(records):
                row = dict(record)
                for col in status.columns:
                    if col in row and col not in withheld and status.at[i, col]:
                        row[col] = None
                rows.append(row)
            _put(out, source, rows)
        return out

    @property
    def n_suppressed(self) -> int:
        """Hidden cells over all bundle tables."""
        return int(sum((s != "").to_numpy().sum() for s in self.statuses.values()))

    @property
    def digest(self) -> str:
        """Short fingerprint of the plan: the same in every document of a release."""
        hidden = sorted(
            f"{src}|{i}|{col}"
            for src, st in self.statuses.items()
            for col in st.columns
            for i in st.index[st[col] != ""]
        )
        blob = json.dumps([self.threshold, hidden]).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def __repr__(self) -> str:
        return (
            f"SuppressionPlan(threshold={self.threshold}, {len(self.statuses)} tables, "
            f"{self.n_suppressed} hidden)"
        )


@dataclass
class _Table:
    source: str
    frame: pd.DataFrame
    rule: TableRule
    keys: list[str]
    by_labels: dict[tuple[str, ...], dict[tuple[Any, ...], int]] = field(default_factory=dict)


def _src(tab: _Table) -> str:
    return tab.source


def _frame(source: str, records: list[dict[str, Any]], rule: TableRule) -> _Table:
    frame = pd.DataFrame.from_records(records)
    counts = [c for c in rule.counts if c in frame.columns]
    for col in counts:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    if rule.column_total and counts:  # the Σ row a document shows under the table
        frame.loc[len(frame)] = {c: frame[c].sum() for c in counts}
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
    return _Table(source, frame, rule, keys)


class _Planner:
    def __init__(self, tables: dict[str, _Table], threshold: int, start: str | None) -> None:
        self.tables = tables
        self.thr = threshold
        self.start = start
        self.value: dict[Cell, float] = {}
        self.hidden: dict[Cell, str] = {}
        for src, tab in tables.items():
            for col in tab.rule.counts:
                if col not in tab.frame.columns:
                    continue
                for i, v in tab.frame[col].items():
                    if pd.isna(v):
                        continue
                    cell = (src, int(i), col)
                    self.value[cell] = float(v)
                    if col in tab.rule.withheld:
                        self.hidden[cell] = SECONDARY
                    elif 0 < v < threshold:
                        self.hidden[cell] = PRIMARY
        self.relations = list(dict.fromkeys(r for r in self._relations() if self._holds(r)))
        self._solved: dict[tuple[tuple[Cell, ...], tuple[int, ...]], list[Cell]] = {}
        self.by_cell: dict[Cell, list[int]] = defaultdict(list)
        for j, (total, parts) in enumerate(self.relations):
            for cell in (total, *parts):
                self.by_cell[cell].append(j)

    # ----------------------------------------------------------------- relations
    def _holds(self, rel: Relation) -> bool:
        total, parts = rel
        cells = (total, *parts)
        if not parts or any(c not in self.value for c in cells):
            return False
        return abs(self.value[total] - sum(self.value[p] for p in parts)) < _TOL

    def _relations(self) -> Iterable[Relation]:
        for src, tab in self.tables.items():
            counts = [
                c for c in tab.rule.counts if c in tab.frame.columns and c not in tab.rule.withheld
            ]
            for total, parts in tab.rule.sums:
                for i in tab.frame.index:
                    yield (src, i, total), tuple((src, i, p) for p in parts)
            if counts:
                yield from _hierarchy(src, tab, counts)
            if tab.rule.column_total:
                last = len(tab.frame) - 1
                for c in counts:
                    yield (src, last, c), tuple((src, i, c) for i in range(last))
        yield from self._links()

    def _links(self) -> Iterable[Relation]:
        for a_src, a_col, a_fix, b_src, b_col, b_fix in LINKS:
            a, b = self.tables.get(a_src), self.tables.get(b_src)
            if a is None or b is None:
                continue
            shared = [k for k in a.keys if k in b.keys and k not in a_fix and k not in b_fix]
            b_rows = _index(b.frame, b_fix, shared)
            for i, row in _fixed(a.frame, a_fix):
                j = b_rows.get(tuple(_norm(row[k]) for k in shared))
                if j is not None:
                    yield (a_src, i, a_col), ((b_src, j, b_col),)
        yield from self._distribution()
        yield from self._months()
        yield from self._same_persons()

    def _same_persons(self) -> Iterable[Relation]:
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
            for t in self.tables.values()
            if not t.rule.column_total
        }
        for a, b in permutations(self.tables.values(), 2):
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
                    if np.abs(target[ok] - total[ok]).max() < _TOL:
                        for k in np.flatnonzero(ok):
                            yield (
                                (b.source, int(jb[k]), d),
                                tuple((a.source, int(ia[k]), c) for c in subset),
                            )

    def _distribution(self) -> Iterable[Relation]:
        """Persons by number of organisations add up to the persons of that group and period."""
        dist, sw = (
            self.tables.get("throughput.switches_distribution"),
            self.tables.get("throughput.switches"),
        )
        if dist is None or sw is None:
            return
        on = [k for k in ("group", "period") if k in dist.keys and k in sw.keys]
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i, row in dist.frame.iterrows():
            groups[tuple(_norm(row[k]) for k in on)].append(int(i))
        for i, row in sw.frame.iterrows():
            rows = groups.get(tuple(_norm(row[k]) for k in on))
            if rows:
                yield (
                    ("throughput.switches", int(i), "n"),
                    tuple(("throughput.switches_distribution", j, "n_persons") for j in rows),
                )

    def _months(self) -> Iterable[Relation]:
        """Months add up to their quarter, and months or quarters to the norm's periods."""
        mon, qua, nor = (
            self.tables.get("throughput.norms_monthly"),
            self.tables.get("throughput.norms_quarterly"),
            self.tables.get("throughput.norms"),
        )
        if mon is not None and "month" in mon.frame:
            mon_key = [*(k for k in mon.keys if k != "month")]
            by_quarter = _series(mon, mon_key, lambda r: _quarter(r["month"]))
            if qua is not None and "quarter" in qua.frame:
                for i, row in qua.frame.iterrows():
                    key = (*(_norm(row.get(k)) for k in mon_key), str(row["quarter"]))
                    yield from _sums(qua, int(i), mon, by_quarter.get(key))
        if nor is None or "period" not in nor.frame:
            return
        for part, col in ((mon, "month"), (qua, "quarter")):
            if part is None or col not in part.frame:
                continue
            labels = [k for k in part.keys if k != col]
            everything = _series(part, labels, lambda r: "all")
            before = _series(part, labels, lambda r, c=col: _before(str(r[c]), self.start))
            for i, row in nor.frame.iterrows():
                if row.get("org_type", _TOTAL) != _TOTAL:
                    continue
                base = tuple(_norm(row.get(k)) for k in labels)
                period = row.get("period")
                rows = (
                    everything.get((*base, "all"))
                    if period == _TOTAL
                    else before.get((*base, period))
                )
                yield from _sums(nor, int(i), part, rows)

    # ----------------------------------------------------------------- secondary
    def _hide_smallest(self, rel: Relation) -> Cell | None:
        """Hide the relation's smallest non-zero shown cell (a zero only when none is left)."""
        total, parts = rel
        shown = [c for c in (total, *parts) if c not in self.hidden]
        if not shown:
            return None
        nonzero = [c for c in shown if self.value[c] > 0] or shown
        cell = min(nonzero, key=lambda c: (self.value[c], c))
        self.hidden[cell] = SECONDARY
        return cell

    def _singletons(self) -> None:
        """Give every relation with exactly one hidden cell a second one, in table order."""
        queue = deque(range(len(self.relations)))
        while queue:
            j = queue.popleft()
            total, parts = self.relations[j]
            if sum(c in self.hidden for c in (total, *parts)) != 1:
                continue
            added = self._hide_smallest(self.relations[j])
            if added is not None:
                queue.extend(self.by_cell[added])

    def _determined(self) -> list[Cell]:
        """Hidden cells that the shown cells and the relations pin to one value."""
        hidden = [c for c in self.hidden if self.by_cell.get(c)]
        parent = {c: c for c in hidden}

        def find(c: Cell) -> Cell:
            while parent[c] != c:
                parent[c] = parent[parent[c]]
                c = parent[c]
            return c

        used: dict[int, list[Cell]] = {}
        for j, (total, parts) in enumerate(self.relations):
            cells = [c for c in (total, *parts) if c in parent]
            if cells:
                used[j] = cells
                for c in cells[1:]:
                    parent[find(c)] = find(cells[0])
        comps: dict[Cell, list[Cell]] = defaultdict(list)
        for c in hidden:
            comps[find(c)].append(c)
        rel_of: dict[Cell, list[int]] = defaultdict(list)
        for j, cells in used.items():
            rel_of[find(cells[0])].append(j)
        out: list[Cell] = []
        for root, cells in comps.items():
            key = (tuple(sorted(cells)), tuple(sorted(rel_of[root])))
            if key in self._solved:
                out += self._solved[key]
                continue
            pos = {c: k for k, c in enumerate(cells)}
            rows = []
            for j in rel_of[root]:
                total, parts = self.relations[j]
                row = np.zeros(len(cells))
                if total in pos:
                    row[pos[total]] += 1.0
                for p in parts:
                    if p in pos:
                        row[pos[p]] -= 1.0
                rows.append(row)
            found = (
                [c for c, d in zip(cells, _pinned(np.vstack(rows)), strict=True) if d]
                if rows
                else []
            )
            self._solved[key] = found
            out += found
        return sorted(out)

    def plan(self) -> SuppressionPlan:
        # many small factorisations: threaded BLAS costs more in start-up than it saves
        with threadpool_limits(limits=1, user_api="blas"):
            self._complete()
        statuses = {src: self._table_status(src, tab) for src, tab in self.tables.items()}
        return SuppressionPlan(self.thr, statuses)

    def _complete(self) -> None:
        """Add complementary cells until no relation, alone or together, pins a hidden one."""
        for _ in range(10_000):
            self._singletons()
            determined = self._determined()
            added = sum(self._complement(cell) for cell in determined if cell in self.hidden)
            if not added:
                break

    def _complement(self, cell: Cell) -> bool:
        """Hide one more cell in the nearest relation (from ``cell``) that still shows one."""
        seen, frontier = {cell}, [cell]
        while frontier:
            nxt = []
            for c in frontier:
                for j in self.by_cell[c]:
                    if self._hide_smallest(self.relations[j]) is not None:
                        return True
                    total, parts = self.relations[j]
                    nxt += [d for d in (total, *parts) if d not in seen]
                    seen.update((total, *parts))
            frontier = nxt
        return False

    # ----------------------------------------------------------------- derived
    def _table_status(self, src: str, tab: _Table) -> pd.DataFrame:
        frame, rule = tab.frame, tab.rule
        grid = np.full(frame.shape, "", dtype=object)
        where = {c: k for k, c in enumerate(frame.columns)}
        for (s, i, col), mark in self.hidden.items():
            if s == src:
                grid[i, where[col]] = mark
        status = pd.DataFrame(grid, index=frame.index, columns=frame.columns)
        hid = status != ""
        for col, basis in rule.base.items():
            if col not in frame.columns or not pd.api.types.is_numeric_dtype(frame[col]):
                continue
            few = np.zeros(len(frame), bool)
            for b in basis:
                if b in frame.columns:
                    v = pd.to_numeric(frame[b], errors="coerce")
                    few |= ((v > 0) & (v < self.thr)).to_numpy()
            status.loc[few & (status[col] == "").to_numpy(), col] = SECONDARY
        for col, inputs in rule.ratio.items():
            if col not in frame.columns:
                continue
            mask = np.zeros(len(frame), bool)
            for b in inputs:
                if b in hid.columns:
                    mask |= hid[b].to_numpy()
            if src == "throughput.switches":
                mask |= self._distribution_hidden(frame)
            status.loc[mask & (status[col] == "").to_numpy(), col] = SECONDARY
        return status

    def _distribution_hidden(self, switches: pd.DataFrame) -> np.ndarray:
        """Rows of the switches table whose distribution over organisations has a hidden cell."""
        dist = self.tables.get("throughput.switches_distribution")
        out = np.zeros(len(switches), bool)
        if dist is None:
            return out
        on = [k for k in ("group", "period") if k in dist.keys and k in switches.columns]
        hidden = {
            tuple(_norm(dist.frame.at[i, k]) for k in on)
            for (s, i, _c) in self.hidden
            if s == "throughput.switches_distribution"
        }
        for pos, (_, row) in enumerate(switches.iterrows()):
            out[pos] = tuple(_norm(row[k]) for k in on) in hidden
        return out


_NORM_COUNTS = ("n", "n_within", "n_breach", "n_breach_open", "n_unknown")


def _pinned(matrix: np.ndarray) -> np.ndarray:
    """Tell which unknowns of ``matrix @ x = b`` the system fixes to one value.

    ``x_i`` is fixed exactly when the unit vector ``e_i`` lies in the row space of the
    matrix: its squared norm in an orthonormal basis of that space (QR with column
    pivoting of the transpose, rank from the diagonal of R) is 1.
    """
    q, r, _ = qr(matrix.T, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-9 * max(1.0, float(diag.max(initial=0.0)))).sum())
    return (q[:, :rank] ** 2).sum(axis=1) > 1 - 1e-7


def _series(tab: _Table, key: list[str], bucket: Any) -> dict[tuple[Any, ...], list[int]]:
    """Rows of a monthly or quarterly series grouped by their labels and a time bucket."""
    out: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, row in tab.frame.iterrows():
        out[(*(_norm(row.get(k)) for k in key), bucket(row))].append(int(i))
    return out


def _sums(total: _Table, i: int, part: _Table, rows: list[int] | None) -> Iterable[Relation]:
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


def _norm(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _fixed(frame: pd.DataFrame, fix: Mapping[str, str]) -> Iterable[tuple[int, pd.Series]]:
    for i, row in frame.iterrows():
        if all(k in frame.columns and row[k] == v for k, v in fix.items()):
            yield int(i), row


def _index(frame: pd.DataFrame, fix: Mapping[str, str], keys: list[str]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for i, row in _fixed(frame, fix):
        out.setdefault(tuple(_norm(row[k]) for k in keys), i)
    return out


def _one_to_one(a: _Table, b: _Table) -> list[tuple[int, int]]:
    """Pairs of rows of two tables with the same shared labels (other labels total/constant)."""
    shared = tuple(k for k in a.keys if k in b.keys)
    if not shared:
        return []
    ra, rb = _rows_by(a, shared), _rows_by(b, shared)
    return [(ra[k], rb[k]) for k in ra if k in rb]


def _rows_by(tab: _Table, shared: tuple[str, ...]) -> dict[tuple[Any, ...], int]:
    """Return the row of each value of ``shared`` whose other labels are "all" or constant."""
    cached = tab.by_labels.get(shared)
    if cached is not None:
        return cached
    extra = [k for k in tab.keys if k not in shared and tab.frame[k].nunique(dropna=False) > 1]
    out: dict[tuple[Any, ...], int] = {}
    seen: set[tuple[Any, ...]] = set()
    columns = [tab.frame[k].tolist() for k in (*shared, *extra)]
    for i, rec in enumerate(zip(*columns, strict=True)):
        if any(v != _TOTAL for v in rec[len(shared) :]):
            continue
        key = tuple(_norm(v) for v in rec[: len(shared)])
        if key in seen:  # more than one row per label: no one-to-one match
            out.pop(key, None)
        else:
            seen.add(key)
            out[key] = i
    tab.by_labels[shared] = out
    return out


def _hierarchy(src: str, tab: _Table, counts: list[str]) -> Iterable[Relation]:
    """Yield the "all" rows of each breakdown as the sum of the rows they stand for.

    For a row with "all" in breakdowns D, and every non-empty subset S of D, the rows
    that agree on every other label and have a real category in each of S add up to it
    (the sub-tables of the hypercube).
    """
    frame, keys = tab.frame, tab.keys
    dims = [k for k in keys if (frame[k] == _TOTAL).any()]
    if not dims:
        return
    records = [tuple(_norm(v) for v in row) for row in frame[keys].itertuples(index=False)]
    pos = {k: n for n, k in enumerate(keys)}
    for size in range(1, len(dims) + 1):
        for subset in _subsets(dims, size):
            rest = [k for k in keys if k not in subset]
            groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
            for i, rec in enumerate(records):
                if all(rec[pos[d]] not in (_TOTAL, None) for d in subset):
                    groups[tuple(rec[pos[k]] for k in rest)].append(i)
            for i, rec in enumerate(records):
                if all(rec[pos[d]] == _TOTAL for d in subset):
                    parts = groups.get(tuple(rec[pos[k]] for k in rest))
                    if parts:
                        for c in counts:
                            yield (src, i, c), tuple((src, j, c) for j in parts)


def _subsets(items: list[str], size: int) -> Iterable[tuple[str, ...]]:
    return combinations(items, size)

"""One suppression plan per release: which cells of which table every document hides.

A release is one results bundle rendered as the evaluation (nl, en), the summary, the
monitor and the CSV/XLSX exports. Every table of each of them is drawn from a bundle
table; the plan decides, once, per bundle table, row and column whether the cell is
shown, so the same quantity has the same status wherever it appears.

The method is the one statistical offices use for frequency tables (CBS and
Eurostat practice; Hundepool et al., *Statistical Disclosure Control*, Wiley 2012,
ch. 4; τ-ARGUS' hypercube method and sdcTable's ``SIMPLEHEURISTIC``):

1. **Primary suppression**: a count of persons from 1 to threshold − 1 is hidden.
2. **Linear relations** are collected from the table structure
   (:mod:`evalkit.report.plan_relations`) and kept where they hold exactly in the
   bundle: row totals (``n = n_within + n_breach + n_unknown``,
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
   linear algebra rather than assumed from the heuristic. The monitor's monthly
   registrations, which the search reaches first from every count of cases per
   group and period, are then shown again one by one (largest first) wherever that
   leaves no hidden cell determined, nor one relation's hidden cells summing to 0
   (the redundant complements a greedy search leaves, Hundepool et al. 4.4).
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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from evalkit.errors import ReportError
from evalkit.report.disclosure import PRIMARY, SECONDARY
from evalkit.report.plan_relations import (
    TOL,
    Cell,
    Relation,
    Table,
    norm,
    relations,
    rows_of,
    table_of,
)
from evalkit.report.plan_rules import rule_for

__all__ = ["SuppressionPlan", "bundle_sources", "bundle_threshold", "plan_for"]

#: Tables whose complementary cells are shown again where they protect nothing (see above).
PRUNED = frozenset({"monitoring.registrations"})


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


def bundle_threshold(bundle: Mapping[str, Any]) -> int:
    """Return a bundle's disclosure threshold: its ``settings``, else its protocol's, else 10."""
    settings = bundle.get("settings") or {}
    reporting = (bundle.get("protocol") or {}).get("reporting") or {}
    return int(settings.get("disclosure_threshold") or reporting.get("disclosure_threshold") or 10)


_CACHE: dict[tuple[str, int], SuppressionPlan] = {}


def plan_for(bundle: Mapping[str, Any], threshold: int) -> SuppressionPlan:
    """Return the plan of ``bundle``, made once per process for the same bundle content.

    The documents of one release render one after another in the same kernel, each
    loading the bundle afresh; the content hash (a tenth of the plan's cost) lets them
    share one plan.
    """
    blob = json.dumps(bundle, sort_keys=True, default=str).encode()
    key = (hashlib.sha256(blob).hexdigest(), int(threshold))
    if key not in _CACHE:
        if len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = SuppressionPlan.from_bundle(bundle, threshold)
    return _CACHE[key]


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
            threshold = bundle_threshold(bundle)
        if threshold < 1:
            raise ReportError(f"disclosure threshold must be a positive integer, got {threshold}")
        tables = {
            s: table_of(s, recs, rule_for(s, list(pd.DataFrame.from_records(recs).columns)))
            for s, recs in bundle_sources(bundle).items()
        }
        start = (bundle.get("settings") or {}).get("pilot_start")
        return _Planner(tables, threshold, str(start) if start else None).plan()

    def status(self, source: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the status of ``frame``'s cells; ``frame``'s index holds record positions.

        Columns the plan does not know (added by a section) and rows outside the
        bundle table are shown.
        """
        known = self.statuses.get(source)
        axes = () if known is None else (frame.index, frame.columns, known.index, known.columns)
        if known is None or not all(axis.is_unique for axis in axes):
            return self._status_cell_by_column(known, frame)
        # the known cells at once (every table is masked in each document and export:
        # a .loc assignment per column cost a third of building the tables)
        values = known.reindex(index=frame.index, columns=frame.columns).to_numpy(dtype=object)
        inside = np.outer(frame.index.isin(known.index), frame.columns.isin(known.columns))
        return pd.DataFrame(
            np.where(inside, values, ""), index=frame.index, columns=frame.columns, dtype=object
        )

    @staticmethod
    def _status_cell_by_column(known: pd.DataFrame | None, frame: pd.DataFrame) -> pd.DataFrame:
        """:meth:`status` one column at a time: kept for tables with repeated labels."""
        out = pd.DataFrame("", index=frame.index, columns=frame.columns, dtype=object)
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
            # the hidden positions per column, read once: a pandas lookup per cell
            # cost seconds on the long throughput and questionnaire tables
            hidden = {
                col: {
                    i for i, value in zip(status.index, status[col].tolist(), strict=True) if value
                }
                for col in status.columns
                if col not in withheld
            }
            rows = []
            for i, record in enumerate(records):
                row = dict(record)
                for col, where in hidden.items():
                    if col in row and i in where:
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
        hidden: list[str] = []
        for src, st in self.statuses.items():
            # a table's hidden cells at once: a pandas comparison per column made this
            # most of the time of each document's privacy section
            rows, cols = np.nonzero(st.to_numpy(dtype=object) != "")
            index, columns = st.index.tolist(), st.columns.tolist()
            hidden += [f"{src}|{index[i]}|{columns[j]}" for i, j in zip(rows, cols, strict=True)]
        blob = json.dumps([self.threshold, sorted(hidden)]).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def __repr__(self) -> str:
        return (
            f"SuppressionPlan(threshold={self.threshold}, {len(self.statuses)} tables, "
            f"{self.n_suppressed} hidden)"
        )


class _Planner:
    def __init__(self, tables: dict[str, Table], threshold: int, start: str | None) -> None:
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
        found = relations(tables, start)
        self.relations = list(dict.fromkeys(r for r in found if self._holds(r)))
        self._solved: dict[tuple[tuple[Cell, ...], tuple[int, ...]], list[Cell]] = {}
        self.by_cell: dict[Cell, list[int]] = defaultdict(list)
        for j, (total, parts) in enumerate(self.relations):
            for cell in (total, *parts):
                self.by_cell[cell].append(j)

    def _holds(self, rel: Relation) -> bool:
        total, parts = rel
        cells = (total, *parts)
        if not parts or any(c not in self.value for c in cells):
            return False
        return abs(self.value[total] - sum(self.value[p] for p in parts)) < TOL

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
            out += self._solve(cells, rel_of[root])
        return sorted(out)

    def _determined_near(self, cell: Cell) -> set[Cell]:
        """Hidden cells pinned in the components that hold a relation of ``cell``.

        What :meth:`_determined` finds there. The components that hold no relation of
        ``cell`` are those of the last check (which found nothing newly pinned in them),
        so :meth:`_prune` need not gather and look them up again after each cell.
        """
        order = {c: k for k, c in enumerate(self.hidden)}
        seen: set[Cell] = set()
        out: set[Cell] = set()
        for j0 in self.by_cell[cell]:
            for start in _cells(self.relations[j0]):
                if start in seen or start not in order:
                    continue
                seen.add(start)
                comp, rels, frontier = [start], set(), [start]
                while frontier:
                    for j in self.by_cell[frontier.pop()]:
                        if j in rels:
                            continue
                        rels.add(j)
                        for other in _cells(self.relations[j]):
                            if other in order and other not in seen:
                                seen.add(other)
                                comp.append(other)
                                frontier.append(other)
                # in the order _determined puts them: cells as hidden, relations by number
                out.update(self._solve(sorted(comp, key=order.__getitem__), sorted(rels)))
        return out

    def _solve(self, cells: list[Cell], rels: list[int]) -> list[Cell]:
        """Return the cells of one component that its relations pin (solved once per system)."""
        key = (tuple(sorted(cells)), tuple(sorted(rels)))
        if key in self._solved:
            return self._solved[key]
        pos = {c: k for k, c in enumerate(cells)}
        rows = []
        for j in rels:
            total, parts = self.relations[j]
            row = np.zeros(len(cells))
            if total in pos:
                row[pos[total]] += 1.0
            for p in parts:
                if p in pos:
                    row[pos[p]] -= 1.0
            rows.append(row)
        found = (
            [c for c, d in zip(cells, _pinned(np.vstack(rows)), strict=True) if d] if rows else []
        )
        self._solved[key] = found
        return found

    def plan(self) -> SuppressionPlan:
        # scipy (and its own BLAS) is loaded before the limit is set: threadpool_limits
        # reaches only the libraries loaded when it starts, and a threaded QR of these
        # small systems costs up to 50 times the single-threaded one on a busy machine
        import scipy.linalg  # noqa: F401

        # many small factorisations: threaded BLAS costs more in start-up than it saves
        with threadpool_limits(limits=1, user_api="blas"):
            self._complete()
            self._prune(PRUNED)
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

    def _prune(self, sources: frozenset[str]) -> None:
        """Show again each complementary cell of ``sources`` that protects nothing."""
        before = set(self._determined())
        cells = [c for c, m in self.hidden.items() if m == SECONDARY and c[0] in sources]
        for cell in sorted(cells, key=lambda c: (-self.value[c], c)):
            del self.hidden[cell]
            if not self._bounds_safe(cell) or not self._determined_near(cell) <= before:
                self.hidden[cell] = SECONDARY

    def _bounds_safe(self, cell: Cell) -> bool:
        """Tell whether no relation of ``cell`` pins its hidden cells by their bounds.

        A relation with one hidden cell pins it; one whose hidden cells are all on one
        side and add up to 0 pins each of them at 0 (counts are not negative).
        """
        for j in self.by_cell[cell]:
            total, parts = self.relations[j]
            hidden = [c for c in (total, *parts) if c in self.hidden]
            if len(hidden) == 1:
                return False
            one_side = total not in self.hidden or len(hidden) == 1
            if hidden and one_side and sum(self.value[c] for c in hidden) == 0:
                return False
        return True

    # ----------------------------------------------------------------- derived
    def _table_status(self, src: str, tab: Table) -> pd.DataFrame:
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
            tuple(norm(dist.frame.at[i, k]) for k in on)
            for (s, i, _c) in self.hidden
            if s == "throughput.switches_distribution"
        }
        for pos, (_, row) in enumerate(rows_of(switches)):
            out[pos] = tuple(norm(row[k]) for k in on) in hidden
        return out


def _cells(rel: Relation) -> tuple[Cell, ...]:
    """Return a relation's cells, its total first."""
    return (rel[0], *rel[1])


def _pinned(matrix: np.ndarray) -> np.ndarray:
    """Tell which unknowns of ``matrix @ x = b`` the system fixes to one value.

    ``x_i`` is fixed exactly when the unit vector ``e_i`` lies in the row space of the
    matrix: its squared norm in an orthonormal basis of that space (QR with column
    pivoting of the transpose, rank from the diagonal of R) is 1.
    """
    # imported here: the report kernels read saved plans and would otherwise import
    # scipy (about 0.3 s each) for this one function; SuppressionPlan's planner loads
    # it before it limits the BLAS threads
    from scipy.linalg import qr

    q, r, _ = qr(matrix.T, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-9 * max(1.0, float(diag.max(initial=0.0)))).sum())
    return (q[:, :rank] ** 2).sum(axis=1) > 1 - 1e-7

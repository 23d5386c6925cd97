"""The search for complementary cells: steps 1 to 3 of :mod:`evalkit.report.plan`.

Given a release's tables, the disclosure threshold and the relations among their
cells (:mod:`evalkit.report.plan_relations`), it hides the primary cells, adds
complementary ones until no hidden count is determined by the shown cells (alone, in
one relation, or in every connected system of relations), shows again the
complements of the pruned tables that protect nothing, and then marks the derived
values (step 4, :mod:`evalkit.report.plan_rules`). The method and its sources are in
:mod:`evalkit.report.plan`'s text; this module is its working part.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from evalkit.report.disclosure import PRIMARY, SECONDARY
from evalkit.report.plan_prior import PriorRelease, prior_cells
from evalkit.report.plan_relations import TOL, Cell, Relation, Table, norm, relations, rows_of
from evalkit.report.plan_rules import TableRule

__all__ = ["PRUNED", "Planner", "pinned"]

#: Tables whose complementary cells are shown again where they protect nothing
#: (:mod:`evalkit.report.plan`, step 3).
PRUNED = frozenset({"monitoring.registrations"})


class Planner:
    """Hide the primary and complementary cells of a release's tables (see :meth:`statuses`).

    ``priors`` are the earlier releases of the same build (:mod:`evalkit.report.plan_prior`):
    their cells join the search as published (shown ones known and never chosen as
    complements, hidden ones unknowns bound by their relations), linked to today's
    cells with the same labels and value.
    """

    def __init__(
        self,
        tables: dict[str, Table],
        threshold: int,
        start: str | None,
        priors: Sequence[PriorRelease] = (),
    ) -> None:
        self.tables = tables
        self.thr = threshold
        self.start = start
        self.value: dict[Cell, float] = {}
        self.hidden: dict[Cell, str] = {}
        #: Cells already published: known to a reader, so never hidden as a complement.
        self.frozen: set[Cell] = set()
        self._stuck: set[Cell] = set()  # see _complement
        self._previous: tuple[str, dict[str, Table], dict[Cell, float]] | None = None
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
        found = list(relations(tables, start))
        for k, prior in enumerate(priors):
            found += self._add_prior(f"~{k}:", prior)
        self.relations = list(dict.fromkeys(r for r in found if self._holds(r)))
        self._solved: dict[tuple[tuple[Cell, ...], tuple[int, ...]], list[Cell]] = {}
        self.by_cell: dict[Cell, list[int]] = defaultdict(list)
        for j, (total, parts) in enumerate(self.relations):
            for cell in (total, *parts):
                self.by_cell[cell].append(j)

    def _add_prior(self, tag: str, prior: PriorRelease) -> list[Relation]:
        """Take an earlier release's cells in as published; return its relations and links."""
        values, shown, found, tables = prior_cells(tag, prior, self.tables, self._previous)
        self._previous = (tag, tables, values)
        self.value.update(values)
        self.frozen |= shown
        for cell in values.keys() - shown:
            self.hidden[cell] = SECONDARY
        for now, (then,) in (r for r in found if not _earlier(r[0])):
            if then in shown:  # the same count was shown then: it is public now
                self.frozen.add(now)
        return found

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
        shown = [c for c in (total, *parts) if c not in self.hidden and c not in self.frozen]
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
            # a system of earlier releases' cells alone: today's plan cannot change it
            if any(not _earlier(c) for j in rel_of[root] for c in _cells(self.relations[j])):
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
            [c for c, d in zip(cells, pinned(np.vstack(rows)), strict=True) if d] if rows else []
        )
        self._solved[key] = found
        return found

    def statuses(self) -> dict[str, pd.DataFrame]:
        """Run the search; return per table the status frame of every cell.

        Returns
        -------
        dict
            Source -> frame of ``""``, ``"primary"`` or ``"secondary"`` per cell.
        """
        # scipy (and its own BLAS) is loaded before the limit is set: threadpool_limits
        # reaches only the libraries loaded when it starts, and a threaded QR of these
        # small systems costs up to 50 times the single-threaded one on a busy machine
        import scipy.linalg  # noqa: F401

        # many small factorisations: threaded BLAS costs more in start-up than it saves
        with threadpool_limits(limits=1, user_api="blas"):
            self._complete()
            self._prune(PRUNED)
        return {src: self._table_status(src, tab) for src, tab in self.tables.items()}

    def _complete(self) -> None:
        """Add complementary cells until no relation, alone or together, pins a hidden one."""
        for _ in range(10_000):
            self._singletons()
            determined = [c for c in self._determined() if c in self.hidden]
            if self.frozen:
                # with earlier releases published, a hidden zero whose row they made
                # public can be pinned for good; walking from it only hid other counts
                # that protected nothing (zeros are not protected across releases)
                determined = [c for c in determined if self.value[c] != 0]
            added = sum(self._complement(cell) for cell in determined)
            if not added:
                break

    def _complement(self, cell: Cell) -> bool:
        """Hide one more cell in the nearest relation (from ``cell``) that still shows one.

        A cell from which no relation with a cell left to hide can be reached stays so
        (the search only hides): it is remembered and not walked from again. Without
        earlier releases this never happens; with them, the walk from a cell whose
        neighbours were all published crossed every relation of the release each round.
        """
        if cell in self._stuck:
            return False
        seen, frontier = {cell}, [cell]
        while frontier:
            nxt = []
            for c in frontier:
                for j in self.by_cell[c]:
                    if self._hide_smallest(self.relations[j]) is not None:
                        return True
                    total, parts = self.relations[j]
                    nxt += [d for d in (total, *parts) if d not in seen and self._walks(d)]
                    seen.update((total, *parts))
            frontier = nxt
        self._stuck.add(cell)
        return False

    def _walks(self, cell: Cell) -> bool:
        """Tell whether :meth:`_complement` walks on from ``cell``.

        With earlier releases, only from hidden cells: a cell hidden in a relation that
        holds no hidden cell of the pinned one's system leaves that system as it was,
        and once the cells around it are published, walking through shown cells went
        on to hide cells far away, one more each round, that protected nothing. A
        single release keeps the walk through every cell, which its plans were
        checked with.
        """
        return not self.frozen or cell in self.hidden

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
        for col, mask in _small_shares(frame, rule, self.thr).items():
            status.loc[mask & (status[col] == "").to_numpy(), col] = SECONDARY
        if rule.steps in frame.columns:
            between = _between_released_steps(frame, rule.steps, rule.keys, self.thr)
            for col in rule.base:
                if col in frame.columns:
                    status.loc[between & (status[col] == "").to_numpy(), col] = SECONDARY
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


def _earlier(cell: Cell) -> bool:
    """Tell whether a cell is an earlier release's (see :meth:`Planner._add_prior`)."""
    return cell[0].startswith("~")


def _cells(rel: Relation) -> tuple[Cell, ...]:
    """Return a relation's cells, its total first."""
    return (rel[0], *rel[1])


def pinned(matrix: np.ndarray) -> np.ndarray:
    """Tell which unknowns of ``matrix @ x = b`` the system fixes to one value.

    ``x_i`` is fixed exactly when the unit vector ``e_i`` lies in the row space of the
    matrix: its squared norm in an orthonormal basis of that space (QR with column
    pivoting of the transpose, rank from the diagonal of R) is 1.
    """
    # imported here: the report kernels read saved plans and would otherwise import
    # scipy (about 0.3 s each) for this one function; Planner.statuses loads it before
    # it limits the BLAS threads
    from scipy.linalg import qr

    q, r, _ = qr(matrix.T, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-9 * max(1.0, float(diag.max(initial=0.0)))).sum())
    return (q[:, :rank] ** 2).sum(axis=1) > 1 - 1e-7


def _between_released_steps(
    frame: pd.DataFrame, events: str, order: tuple[str, ...], threshold: int
) -> np.ndarray:
    """Return the rows of step curves that are not released steps (see ``TableRule.steps``).

    A curve is the rows with the same labels (the text columns), taken in the order of
    ``order``. Its start (no events) is released; after it, a row is released when the
    events since the previous released row, its own included, reach ``threshold``.
    Written out because no disclosure library coarsens a step curve this way; the rule
    is the event-count version of the one the CBS and ONS apply to survival tables.
    """
    labels = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    counts = pd.to_numeric(frame[events], errors="coerce").fillna(0).to_numpy()
    between = np.zeros(len(frame), dtype=bool)
    ordered = frame.sort_values(list(order), kind="stable") if order else frame
    groups = ordered.groupby(labels, sort=False, dropna=False).indices if labels else {(): None}
    for rows in groups.values():
        positions = np.arange(len(ordered)) if rows is None else rows
        accumulated = 0.0
        for at in frame.index.get_indexer(ordered.index[positions]):
            accumulated += counts[at]
            if accumulated == 0 or accumulated >= threshold:
                accumulated = 0.0
            else:
                between[at] = True
    return between


def _small_shares(frame: pd.DataFrame, rule: TableRule, threshold: int) -> dict[str, np.ndarray]:
    """Return, per column, the rows whose share of persons gives a small count back.

    See ``TableRule.shares``, ``levels`` and ``with_shares``. Written out: no disclosure
    library reads a mean as a share of persons; the rule is the frequency-table one
    (counts 1 … threshold − 1 hidden, one complement per characteristic) applied to
    the counts a share and its base stand for.
    """
    out: dict[str, np.ndarray] = {}
    for col, base in rule.shares.items():
        if col not in frame.columns or base not in frame.columns:
            continue
        share = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        n = pd.to_numeric(frame[base], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            k = share * n
            whole = (share >= 0) & (share <= 1) & (np.abs(k - np.round(k)) < 1e-6)
            k = np.round(k)
            small = whole & (((k >= 1) & (k < threshold)) | ((n - k >= 1) & (n - k < threshold)))
        if rule.levels in frame.columns:
            small |= _level_complements(frame[rule.levels], small, k, whole)
        out[col] = small
    if out:
        any_hidden = np.logical_or.reduce(list(out.values()))
        for col in rule.with_shares:
            if col in frame.columns:
                out[col] = out.get(col, np.zeros(len(frame), bool)) | any_hidden
    return out


def _level_complements(
    labels: pd.Series, small: np.ndarray, k: np.ndarray, whole: np.ndarray
) -> np.ndarray:
    """Hide one more level of a characteristic wherever exactly one level is hidden.

    The counts of ``sex=M``, ``sex=V`` and ``sex=X`` add up to the base, so one hidden
    level is the base minus the others; the smallest other level with persons goes too.
    """
    extra = np.zeros(len(labels), dtype=bool)
    names = labels.astype(str).str.partition("=")
    for _, rows in names.loc[names[1] == "="].groupby(0).groups.items():
        at = labels.index.get_indexer(rows)
        if small[at].sum() != 1:
            continue
        others = [i for i in at if not small[i] and whole[i] and k[i] > 0]
        if others:
            extra[min(others, key=lambda i: k[i])] = True
    return extra

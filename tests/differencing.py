"""A differencing attacker on a release's table exports (test tooling).

Given the tables a release published (every CSV of every document, hidden cells
marked) and the same tables without suppression (the truth, to judge a guess), it
tries to recover each hidden count the way a reader with a spreadsheet would:

- **relations**: within a row, a column that is the sum of other columns
  (``n = n_events + n_censored``); across rows, the "all"/"alle"/"Σ" row of a
  breakdown and the rows it stands for (each subset of breakdowns, hypercube-wise);
  across tables, the same count under the same labels, counts that add up to a
  count in another table, months that add up to their quarter, and months that add
  up to the "before"/"during" period of another table (the split month is found
  from the data). Every relation is
  found from the data (it must hold on every instance), none is taken from the
  code under test. All relations of a release are solved together: a hidden cell
  is recovered when the shown cells determine it (null space of the system), or
  when one relation and the cells' bounds (≥ 0; 1 … threshold − 1 where the mark
  says "<threshold") leave a single value;
- **ratios**: a share, mean or rate shown beside counts: ``r × a``, ``a / r``,
  ``b − a / r``, ``b − r × a`` for shown ``a``, ``b`` and ratio ``r`` in the row;
- **step curves**: the fall between two survival values shown in a row of the same
  curve, read as ``events / at risk`` (``differencing_steps.py``).

A table that shows a breakdown side by side (the monitor's registrations: one
column per group, ``n_registrations_pilot``, ``n_registrations_comparison``) is read
in long form first, one row per group, so that its cells meet the same persons in
the other tables (the evaluation's durations per group and period).

Run it on a release folder from the command line to see what it finds::

    python tests/differencing.py build/reports/demo_tables build/demo/results.json
"""

from __future__ import annotations

import copy
import itertools
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.linalg import null_space

TOTAL_WORDS = frozenset({"all", "alle", "Σ", "total", "totaal"})
#: Column suffixes of a side-by-side breakdown and the group label the other tables use
#: (the exports are written in the first language of the run, Dutch in the tests).
GROUP_SUFFIXES = {"pilot": "pilot", "comparison": "vergelijking"}
Cell = tuple[str, int, str]


@dataclass(frozen=True)
class Recovery:
    """One hidden cell the attacker worked out."""

    table: str
    row: int
    column: str
    value: float
    how: str


def read_release(folder: Path) -> dict[str, pd.DataFrame]:
    """Read every CSV of a release's table folder as text."""
    return {
        p.stem: pd.read_csv(p, dtype=str, keep_default_na=False)
        for p in sorted(Path(folder).glob("*.csv"))
    }


def long_form(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a side-by-side table with one row per group (``n_x_pilot`` -> group, ``n_x``).

    A ``period`` label holding months (``2025-03``) is renamed ``month``, as the other
    monthly tables call it. Tables without such columns come back unchanged.
    """
    wide = [c for c in frame.columns if any(c.endswith(f"_{g}") for g in GROUP_SUFFIXES)]
    if not wide:
        return frame
    keys = [c for c in frame.columns if c not in wide]
    parts = []
    for suffix, label in GROUP_SUFFIXES.items():
        cols = {c: c[: -len(suffix) - 1] for c in wide if c.endswith(f"_{suffix}")}
        if cols:
            part = frame[keys + list(cols)].rename(columns=cols).assign(group=label)
            parts.append(part.assign(_row=range(len(frame))))
    out = pd.concat(parts, ignore_index=True).sort_values("_row", kind="stable")
    out = out.drop(columns="_row").reset_index(drop=True)
    out = out[[*keys, "group", *(c for c in out.columns if c not in keys and c != "group")]]
    months = out.get("period", pd.Series(dtype=str)).astype(str).str.match(r"^\d{4}-\d{2}$")
    return out.rename(columns={"period": "month"}) if months.any() else out


def truth_tables(bundle: dict[str, Any], lang: str = "nl") -> dict[str, pd.DataFrame]:
    """Return the release's tables without any suppression (threshold 1), as exported."""
    from evalkit.report.plan import bundle_sources
    from evalkit.report.plan_rules import rule_for
    from evalkit.report.render import DOCUMENTS, collect_tables

    bare = copy.deepcopy(bundle)
    bare.setdefault("settings", {})["disclosure_threshold"] = 1
    tables = {t.name: t.export() for t in collect_tables(bare, lang, DOCUMENTS)}
    # counts never released at any threshold (a survival curve's events and numbers
    # at risk) are taken from the bundle, row for row, so that the attack is judged
    sources = bundle_sources(bundle)
    for name, frame in tables.items():
        records = sources.get(name.replace("_", ".", 1))
        if records is None or len(records) != len(frame):
            continue
        for col in rule_for(name.replace("_", ".", 1), list(frame.columns)).withheld:
            if col in frame.columns:
                frame[col] = [r.get(col) for r in records]
    return tables


def _number(text: Any) -> float | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float | np.integer | np.floating):
        return None if pd.isna(text) else float(text)
    s = str(text).strip().lstrip("'")
    try:
        return float(s)
    except ValueError:
        return None


class _Release:
    """Cells of all tables: shown numbers, hidden marks, labels, true values."""

    def __init__(self, released: dict[str, pd.DataFrame], truth: dict[str, pd.DataFrame]):
        self.names = [n for n in released if n in truth and len(released[n]) == len(truth[n])]
        self.true: dict[Cell, float] = {}
        self.shown: dict[Cell, float] = {}
        self.hidden: dict[Cell, tuple[float, float]] = {}  # bounds the mark allows
        self.labels: dict[str, pd.DataFrame] = {}
        self.ints: dict[str, list[str]] = {}
        self.reals: dict[str, list[str]] = {}
        for name in self.names:
            rel, tru = released[name], truth[name]
            cols = [c for c in rel.columns if c in tru.columns]
            label_cols, ints, reals = [], [], []
            for col in cols:
                nums = [_number(v) for v in tru[col]]
                texts = [v for v, x in zip(tru[col], nums, strict=True) if x is None]
                if any(isinstance(v, str) and v.strip() for v in texts):
                    label_cols.append(col)
                    continue
                present = [x for x in nums if x is not None]
                if not present:
                    continue
                (ints if all(float(x).is_integer() for x in present) else reals).append(col)
                for i, (x, mark) in enumerate(zip(nums, rel[col], strict=True)):
                    if x is None:
                        continue
                    cell = (name, i, col)
                    self.true[cell] = x
                    m = str(mark).strip()
                    if m == "suppressed" or m == "·":
                        self.hidden[cell] = (0.0, np.inf)
                    elif m.startswith("<"):
                        self.hidden[cell] = (1.0, float(m[1:]) - 1)
                    else:
                        value = _number(m)
                        if value is not None:
                            self.shown[cell] = value
            self.labels[name] = _totals(tru[label_cols].astype(str).reset_index(drop=True))
            self.ints[name], self.reals[name] = ints, reals


def _totals(labels: pd.DataFrame) -> pd.DataFrame:
    """Read a spelled-out total row ("totaal (alle organisaties en coaches)") as a total.

    Its long label becomes "totaal", and so do its empty labels (the row has no coach).
    """
    out = labels.copy()
    long = out.apply(lambda col: col.str.match(r"(totaal|total) \(")).any(axis=1)
    out.loc[long] = out.loc[long].replace(r"^((totaal|total) \(.*\)|)$", "totaal", regex=True)
    return out


def _holds(rel: _Release, total: Cell, parts: Iterable[Cell]) -> bool:
    parts = list(parts)
    if total not in rel.true or not parts or any(p not in rel.true for p in parts):
        return False
    return abs(rel.true[total] - sum(rel.true[p] for p in parts)) < 1e-9


def _row_sums(rel: _Release, name: str) -> Iterable[tuple[Cell, list[Cell]]]:
    ints = rel.ints[name]
    n = len(rel.labels[name])
    values = {
        c: np.array([rel.true.get((name, i, c), np.nan) for i in range(n)], float) for c in ints
    }
    for t in ints:
        others = [c for c in ints if c != t]
        for size in (1, 2, 3, 4):
            for subset in itertools.combinations(others, size):
                total = sum(values[c] for c in subset)
                present = ~np.isnan(values[t]) & ~np.isnan(total)
                if present.sum() < 2 or not values[t][present].any():
                    continue
                if np.abs(values[t][present] - total[present]).max() < 1e-9:
                    for i in np.flatnonzero(present):
                        yield (name, int(i), t), [(name, int(i), c) for c in subset]


def _breakdowns(rel: _Release, name: str) -> Iterable[tuple[Cell, list[Cell]]]:
    labels = rel.labels[name]
    keys = list(labels.columns)
    records = [tuple(r) for r in labels.itertuples(index=False)]
    sigma = [i for i, r in enumerate(records) if "Σ" in r]
    for i in sigma:  # a Σ row under the table (one per group in long form)
        same = [k for k, v in enumerate(records[i]) if v != "Σ"]
        rows = [
            j
            for j, r in enumerate(records)
            if "Σ" not in r and all(r[k] == records[i][k] for k in same)
        ]
        for c in rel.ints[name]:
            parts = [(name, j, c) for j in rows]
            if _holds(rel, (name, i, c), parts):
                yield (name, i, c), parts
    dims = [k for k in keys if labels[k].isin(TOTAL_WORDS).any()]
    pos = {k: n for n, k in enumerate(keys)}
    for size in range(1, len(dims) + 1):
        for subset in itertools.combinations(dims, size):
            rest = [k for k in keys if k not in subset]
            groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
            for i, r in enumerate(records):
                if all(r[pos[d]] not in TOTAL_WORDS for d in subset):
                    groups[tuple(r[pos[k]] for k in rest)].append(i)
            for i, r in enumerate(records):
                if all(r[pos[d]] in TOTAL_WORDS for d in subset):
                    rows = groups.get(tuple(r[pos[k]] for k in rest))
                    for c in rel.ints[name] if rows else ():
                        parts = [(name, j, c) for j in rows]
                        if _holds(rel, (name, i, c), parts):
                            yield (name, i, c), parts


def _matches(rel: _Release, a: str, b: str) -> list[tuple[list[int], int]]:
    """Rows of ``a`` (grouped) that stand for one row of ``b``: same shared labels.

    Labels of ``b`` that ``a`` lacks must be totals or constant; labels of ``a`` that
    ``b`` lacks are summed over (a breakdown ``b`` does not show).
    """
    la, lb = rel.labels[a], rel.labels[b]
    shared = [k for k in la.columns if k in lb.columns]
    if not shared:
        return []
    extra_b = [k for k in lb.columns if k not in la.columns]
    constant = {k for k in extra_b if lb[k].nunique() == 1}
    keys_a = list(la[shared].itertuples(index=False, name=None))
    keys_b = list(lb[shared].itertuples(index=False, name=None))
    extra = list(lb[extra_b].itertuples(index=False, name=None)) if extra_b else None
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, key in enumerate(keys_a):
        index[key].append(i)
    out = []
    for j, key in enumerate(keys_b):
        if extra is not None and not all(
            v in TOTAL_WORDS or k in constant for k, v in zip(extra_b, extra[j], strict=True)
        ):
            continue
        rows = index.get(key)
        if rows:
            out.append((rows, j))
    return out


def _across(rel: _Release) -> Iterable[tuple[Cell, list[Cell]]]:
    """Counts of one table equal to (sums of) counts of another under the same labels.

    Rows of ``a`` a row of ``b`` stands for add up to it; where each row of ``b``
    stands for one row of ``a``, two columns of ``a`` may add up to one of ``b``
    (respondents = complete + incomplete answers).
    """
    for a, b in itertools.permutations(rel.names, 2):
        pairs = _matches(rel, a, b)
        if not pairs:
            continue
        single = all(len(rows) == 1 for rows, _ in pairs)
        subsets: list[tuple[str, ...]] = [(c,) for c in rel.ints[a]]
        if single:
            subsets += list(itertools.combinations(rel.ints[a], 2))
        for subset in subsets:
            for cb in rel.ints[b]:
                found = [
                    ((b, j, cb), [(a, i, ca) for i in rows for ca in subset])
                    for rows, j in pairs
                    if (b, j, cb) in rel.true
                    and all((a, i, ca) in rel.true for i in rows for ca in subset)
                ]
                if found and all(_holds(rel, t, p) for t, p in found):
                    if any(rel.true[t] for t, _ in found):
                        yield from found


def _quarters(rel: _Release) -> Iterable[tuple[Cell, list[Cell]]]:
    """Months add up to their quarter."""
    months = [n for n in rel.names if "month" in rel.labels[n].columns]
    quarters = [n for n in rel.names if "quarter" in rel.labels[n].columns]
    for m, q in itertools.product(months, quarters):
        lm, lq = rel.labels[m], rel.labels[q]
        shared = [k for k in lm.columns if k in lq.columns]
        qof = [f"{s[:4]}-Q{(int(s[5:7]) - 1) // 3 + 1}" if len(s) >= 7 else "" for s in lm["month"]]
        index: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for i in range(len(lm)):
            index[(*lm.loc[i, shared], qof[i])].append(i)
        for j in range(len(lq)):
            rows = index.get((*lq.loc[j, shared], lq.at[j, "quarter"]))
            for c in rel.ints[q] if rows else ():
                parts = [(m, i, c) for i in rows]
                if c in rel.ints[m] and _holds(rel, (q, j, c), parts):
                    yield (q, j, c), parts


def _month_tables(rel: _Release) -> list[str]:
    return [
        n
        for n in rel.names
        if "month" in rel.labels[n].columns
        and rel.labels[n]["month"].str.match(r"^\d{4}-\d{2}$").any()
    ]


def _periods(rel: _Release) -> Iterable[tuple[Cell, list[Cell]]]:
    """Months that add up to the two periods of another table (before/during a start).

    The split month and which label is the earlier period are found from the data:
    a split is used where, in one slice of the other table (the rows with the same
    values of the labels the monthly table lacks: one interval, one norm), every
    row's count is the sum of the months on its side of the split (a total label:
    all months, every group).
    """
    for m in _month_tables(rel):
        lm = rel.labels[m]
        is_month = lm["month"].str.match(r"^\d{4}-\d{2}$").to_numpy()
        months = sorted(set(lm["month"].to_numpy()[is_month]))
        # position of each row's month; rows that are not months (Σ) never count
        at = np.array(
            [months.index(v) if ok else -1 for v, ok in zip(lm["month"], is_month, strict=True)]
        )
        onehot = (at[:, None] == np.arange(len(months))[None, :]).astype(float)
        truth_m = {c: np.nan_to_num(_column(rel, m, c)) for c in rel.ints[m]}
        for p in rel.names:
            lp = rel.labels[p]
            if p == m or "period" not in lp.columns or "month" in lp.columns:
                continue
            values = [v for v in dict.fromkeys(lp["period"]) if v not in TOTAL_WORDS]
            shared = [k for k in lm.columns if k in lp.columns and k != "month"]
            if len(values) != 2 or not shared:
                continue
            extra = [k for k in lp.columns if k not in lm.columns and k != "period"]
            slices: dict[tuple[str, ...], list[int]] = defaultdict(list)
            for j, key in enumerate(lp[extra].itertuples(index=False, name=None)):
                slices[key].append(j)
            truth_p = {c: _column(rel, p, c) for c in rel.ints[p]}
            for rows in slices.values():
                yield from _period_slice(
                    rel, (m, p), rows, shared, values, at, onehot, truth_m, truth_p
                )


def _period_slice(
    rel: _Release,
    names: tuple[str, str],
    rows: list[int],
    shared: list[str],
    values: list[str],
    at: np.ndarray,
    onehot: np.ndarray,
    truth_m: dict[str, np.ndarray],
    truth_p: dict[str, np.ndarray],
) -> Iterable[tuple[Cell, list[Cell]]]:
    """Relations of one slice: every split month at once (cumulative sums over months)."""
    m, p = names
    lm, lp = rel.labels[m], rel.labels[p]
    base = np.repeat((at >= 0)[None, :], len(rows), axis=0)
    for r, j in enumerate(rows):
        for k in shared:
            if lp.at[j, k] not in TOTAL_WORDS:
                base[r] &= lm[k].to_numpy() == lp.at[j, k]
    period = lp["period"].to_numpy()[rows]
    for cm, vm in truth_m.items():
        per_month = (base * vm[None, :]) @ onehot  # rows × months
        before = np.cumsum(per_month, axis=1)[:, :-1]  # split s: months 0 … s
        total = per_month.sum(axis=1)[:, None]
        for cp, vp in truth_p.items():
            target = vp[rows][:, None]
            for first in (0, 1):
                pred = np.repeat(total, before.shape[1], axis=1)
                pred[period == values[first]] = before[period == values[first]]
                later = period == values[1 - first]
                pred[later] = total[later] - before[later]
                ok = ~np.isnan(vp[rows]) & base.any(axis=1)
                if not ok.any() or not vp[rows][ok].any():
                    continue
                good = np.all(np.abs(pred[ok] - target[ok]) < 1e-9, axis=0)
                for s in np.flatnonzero(good):
                    early = (at >= 0) & (at <= s)
                    for r in np.flatnonzero(ok):
                        side = early if period[r] == values[first] else (at > s)
                        if period[r] not in values:
                            side = at >= 0
                        parts = [(m, int(i), cm) for i in np.flatnonzero(base[r] & side)]
                        if parts and _holds(rel, (p, rows[r], cp), parts):
                            yield (p, rows[r], cp), parts


def _column(rel: _Release, name: str, col: str) -> np.ndarray:
    n = len(rel.labels[name])
    return np.array([rel.true.get((name, i, col), np.nan) for i in range(n)], float)


def _solve(rel: _Release, relations: list[tuple[Cell, list[Cell]]]) -> list[Recovery]:
    hidden = set(rel.hidden)
    out: dict[Cell, Recovery] = {}
    # one relation with bounds
    for total, parts in relations:
        cells = [total, *parts]
        unknown = [c for c in cells if c in hidden]
        if not unknown:
            continue
        signs = {c: (1.0 if c == total else -1.0) for c in cells}
        known = -sum(signs[c] * rel.shown[c] for c in cells if c not in hidden)
        # sum(sign * x) over unknown = known
        for x in unknown:
            lo = hi = known
            for o in unknown:
                if o is x:
                    continue
                a, b = rel.hidden[o]
                s = signs[o]
                lo, hi = lo - max(s * a, s * b), hi - min(s * a, s * b)
            lo, hi = lo * signs[x], hi * signs[x]
            lo, hi = min(lo, hi), max(lo, hi)
            a, b = rel.hidden[x]
            lo, hi = max(lo, a), min(hi, b)
            if np.isfinite(lo) and np.isfinite(hi) and np.ceil(lo - 1e-9) == np.floor(hi + 1e-9):
                out.setdefault(x, Recovery(*x, float(np.ceil(lo - 1e-9)), "relation and bounds"))
    # all relations together
    parent: dict[Cell, Cell] = {}

    def find(c: Cell) -> Cell:
        parent.setdefault(c, c)
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    touching = []
    for total, parts in relations:
        unknown = [c for c in [total, *parts] if c in hidden]
        if unknown:
            touching.append((total, parts, unknown))
            for c in unknown[1:]:
                parent[find(c)] = find(unknown[0])
    comps: dict[Cell, list[tuple[Cell, list[Cell], list[Cell]]]] = defaultdict(list)
    for item in touching:
        comps[find(item[2][0])].append(item)
    for items in comps.values():
        cells = sorted({c for _, _, u in items for c in u})
        pos = {c: k for k, c in enumerate(cells)}
        matrix = np.zeros((len(items), len(cells)))
        for r, (total, parts, _) in enumerate(items):
            if total in pos:
                matrix[r, pos[total]] += 1
            for p in parts:
                if p in pos:
                    matrix[r, pos[p]] -= 1
        basis = null_space(matrix)
        for c in cells:
            if not basis.size or np.abs(basis[pos[c]]).max() < 1e-7:
                out.setdefault(c, Recovery(*c, rel.true[c], "linear system"))
    return list(out.values())


def _withheld(rel: _Release, name: str, column: str) -> bool:
    """Tell whether a column is hidden in every row of its table."""
    return all((name, i, column) in rel.hidden for i in range(len(rel.labels[name])))


def _is_ratio(column: str) -> bool:
    """Columns a reader takes for count ratios: shares, rates, means, the NPS."""
    return (
        column.startswith(("share", "mean"))
        or column.endswith(("_rate", "_share"))
        or (column in ("retention", "nps", "surv"))
    )


def _shown_in(value: float, counts: list[float]) -> bool:
    return any(abs(value - c) < 1e-6 for c in counts)


def _ratios(rel: _Release) -> list[Recovery]:
    out = []
    for name in rel.names:
        n = len(rel.labels[name])
        ints, reals = rel.ints[name], rel.reals[name]
        for i in range(n):
            hidden = [(name, i, c) for c in ints if (name, i, c) in rel.hidden]
            if not hidden:
                continue
            # a shown 0 (the start of a survival curve at time 0) turns every ratio into
            # 0 or the other count: no guess about a hidden cell
            counts = [rel.shown[(name, i, c)] for c in ints if (name, i, c) in rel.shown]
            counts = [a for a in counts if a]
            ratios = [
                rel.shown[(name, i, c)] for c in reals if (name, i, c) in rel.shown and _is_ratio(c)
            ]
            guesses = set()
            for r in ratios:
                for a in counts:
                    # what the ratio tells beyond the row: r × a (a share of a base), a / r
                    # (the base of a shown part); one that is already a shown count adds
                    # nothing, and its differences with the others are row sums, which
                    # the relations below find where they hold
                    times = [q for q in (r * a,) if not _shown_in(q, counts)]
                    percent = [q for q in (r * a / 100,) if not _shown_in(q, counts)]
                    over = [a / r] if r and not _shown_in(a / r, counts) else []
                    guesses |= {*times, *percent, *over}
                    for b in counts:  # b − a / r: a total beside a share of its part
                        guesses |= {b - q for q in (*times, *percent)} | {b + q for q in percent}
                        guesses |= {b - q for q in over} | {q - b for q in over}
            for cell in hidden:
                v = rel.true[cell]
                if any(abs(g - v) < 1e-6 for g in guesses):
                    out.append(Recovery(*cell, v, "ratio beside it"))
    return out


def attack(
    released: dict[str, pd.DataFrame], truth: dict[str, pd.DataFrame]
) -> tuple[list[Recovery], int]:
    """Try to recover every hidden count; return the recoveries and the cells attacked.

    Only hidden cells holding whole numbers (counts) are attacked; a table whose
    release and truth differ in rows is left out (the caller checks the names).
    """
    released = {name: long_form(frame) for name, frame in released.items()}
    truth = {name: long_form(frame) for name, frame in truth.items()}
    rel = _Release(released, truth)
    relations: list[tuple[Cell, list[Cell]]] = []
    for name in rel.names:
        relations += _row_sums(rel, name)
        relations += _breakdowns(rel, name)
    relations += _across(rel)
    relations += _quarters(rel)
    relations += _periods(rel)
    return recoveries(rel, relations)


def recoveries(
    rel: _Release, relations: list[tuple[Cell, list[Cell]]]
) -> tuple[list[Recovery], int]:
    """Solve the relations, read the ratios and the step curves; keep the hidden counts."""
    targets = {c for c in rel.hidden if c[2] in rel.ints[c[0]] and float(rel.true[c]).is_integer()}
    # a column hidden in every row is withheld (a survival curve's counts); its zeros are
    # the curves' starts at time 0, which hold no events by definition, not a secret
    targets -= {c for c in targets if rel.true[c] == 0 and _withheld(rel, c[0], c[2])}
    from differencing_steps import step_recoveries

    found = {
        (r.table, r.row, r.column): r
        for r in _solve(rel, relations) + _ratios(rel) + step_recoveries(rel, Recovery)
    }
    return [r for c, r in sorted(found.items()) if c in targets], len(targets)


if __name__ == "__main__":
    import json

    folder, bundle_path = Path(sys.argv[1]), Path(sys.argv[2])
    bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
    recovered, attacked = attack(read_release(folder), truth_tables(bundle))
    for r in recovered:
        print(f"{r.table}[{r.row}].{r.column} = {r.value:g} ({r.how})")
    print(f"{len(recovered)} of {attacked} hidden counts recovered")

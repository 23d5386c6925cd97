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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import ReportError
from evalkit.report.plan_prior import PriorRelease
from evalkit.report.plan_relations import table_of
from evalkit.report.plan_rules import rule_for
from evalkit.report.plan_search import Planner

__all__ = ["SuppressionPlan", "bundle_sources", "bundle_threshold", "plan_for", "rounded"]


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


def rounded(source: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with the columns its rule releases rounded (``TableRule.decimals``).

    Parameters
    ----------
    source : str
        The bundle table the rows come from (``"throughput.km_curve"``).
    frame : pandas.DataFrame
        Its rows, as a document or export shows them.

    Returns
    -------
    pandas.DataFrame
        A copy with each such column rounded; ``frame`` itself when nothing is rounded.
    """
    decimals = rule_for(source, list(frame.columns)).decimals
    columns = {c: d for c, d in decimals.items() if c in frame.columns}
    if not columns:
        return frame
    out = frame.copy()
    for col, digits in columns.items():
        out[col] = pd.to_numeric(out[col], errors="coerce").round(digits)
    return out


def _records(node: Any) -> bool:
    return isinstance(node, list) and bool(node) and all(isinstance(r, Mapping) for r in node)


@dataclass(frozen=True)
class SuppressionPlan:
    """Per bundle table, the status of every cell: ``""``, ``"primary"`` or ``"secondary"``.

    Build it with :meth:`from_bundle`; it is a pure function of the bundle and the
    earlier releases of the build (:mod:`evalkit.report.plan_prior`), so every
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
        cls,
        bundle: Mapping[str, Any],
        threshold: int | None = None,
        priors: Sequence[PriorRelease] = (),
    ) -> SuppressionPlan:
        """Compute the plan of a bundle (threshold: the bundle's settings, else 10).

        ``priors``: the earlier releases of the same build, which a reader may have
        kept (see :mod:`evalkit.report.plan_prior`); none by default.
        """
        if threshold is None:
            threshold = bundle_threshold(bundle)
        if threshold < 1:
            raise ReportError(f"disclosure threshold must be a positive integer, got {threshold}")
        tables = {
            s: table_of(s, recs, rule_for(s, list(pd.DataFrame.from_records(recs).columns)))
            for s, recs in bundle_sources(bundle).items()
        }
        start = (bundle.get("settings") or {}).get("pilot_start")
        planner = Planner(tables, threshold, str(start) if start else None, priors)
        return cls(threshold, planner.statuses())

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
        hides, and released values are rounded as the tables round them. Withheld
        counts (a Kaplan–Meier curve's numbers at risk) stay: figures use them to leave
        out steps with too few at risk, and never show them.
        """
        out: dict[str, Any] = dict(bundle)
        for source, records in bundle_sources(bundle).items():
            status = self.statuses.get(source)
            if status is None or source.startswith("exploratory"):  # no figures drawn from them
                continue
            rule = rule_for(source, list(status.columns))
            withheld, decimals = set(rule.withheld), rule.decimals
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
                for col, digits in decimals.items():
                    if isinstance(row.get(col), float):
                        row[col] = round(row[col], digits)
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

"""Earlier releases of the same evaluation, as a reader who kept them knows them.

A monitor goes out every week, from deliveries that grow: most counts of one release
appear again in the next under the same labels. A reader who kept the earlier
release knows today every count shown then, and solves that release's sums together
with today's. Each release safe on its own is not enough: two consecutive demo
monitors (case events to 31 March and to 30 April) gave back 45 counts of 1–9
together, e.g. a complement shown in April that closed a March row total around a
hidden count (``tests/differencing_releases.py``).

So the plan of a release (:class:`~evalkit.report.plan_search.Planner`) takes every
earlier release of the same build as published: its shown cells are known, its
hidden cells are unknowns bound by its own relations, and a count with the same
labels and the same value in both releases is one unknown. A count hidden then stays
hidden while its value is unchanged (else the old relations solve); a count shown
then is public, so hiding it now protects nothing and the search never picks it as a
complement.

The releases are kept in a ledger beside the bundle (``build/<id>/releases.json``):
per data delivery (its stamp), the bundle tables the release was planned from and
the cells it hid, in the order the deliveries were first released. It holds counts
as the bundle does and, like the bundle, is a build file that is never published.
A release is planned against the entries before its own, so rendering a delivery
again gives the same plan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import ReportError
from evalkit.report.plan_relations import Cell, Relation, Table, norm, relations, table_of
from evalkit.report.plan_rules import rule_for

__all__ = [
    "PriorRelease",
    "delivery_stamp",
    "ledger_path",
    "ledger_sha256",
    "prior_cells",
    "read_priors",
    "record_release",
]

#: Format of the ledger; raise it when the layout changes.
LEDGER_FORMAT = 1
#: How many of the latest earlier releases a plan is made against. Each one costs
#: the search more than the last (the demo's plan: 1.3 s CPU alone, 2.7 s against one
#: earlier release, 4.9 against two, 10.7 against three), and a weekly monitor has a
#: dozen. An older release still counts through the ones after it: a count it hid
#: stayed hidden in each later release while unchanged, and one it showed stayed
#: shown, so the newest releases carry its statuses; what drops out is its own sums
#: over counts that have changed since.
MAX_PRIORS = 4


@dataclass(frozen=True)
class PriorRelease:
    """One earlier release: its delivery stamp, pilot start, bundle tables and hidden cells."""

    stamp: str
    start: str | None
    tables: Mapping[str, list[dict[str, Any]]]
    hidden: frozenset[Cell]


def delivery_stamp(bundle: Mapping[str, Any]) -> str:
    """Identify the data delivery a bundle was computed from (hash of its sources' hashes).

    The monitor's history of key figures uses the same stamp. Falls back to the
    ``data up to`` dates when the bundle lists no source hashes.
    """
    sources = (bundle.get("data") or {}).get("sources") or []
    shas = sorted(str(s.get("sha256")) for s in sources if isinstance(s, Mapping))
    basis = shas or (bundle.get("monitoring") or {}).get("data_up_to") or {}
    text = json.dumps(basis, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def ledger_path(bundle_path: Path | str) -> Path:
    """Return the release ledger of a bundle: ``releases.json`` beside ``results.json``."""
    return Path(bundle_path).with_name("releases.json")


def _read(path: Path) -> list[dict[str, Any]]:
    """Return the ledger's entries ([] when there is none); refuse an unreadable one.

    An unreadable ledger is an error, not an empty one: planning as if nothing had
    been released before would undo the protection of every earlier release.
    """
    if not path.is_file():
        return []
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("format") != LEDGER_FORMAT or not isinstance(body.get("releases"), list):
            raise ValueError("unknown layout")
        return list(body["releases"])
    except (OSError, ValueError, AttributeError) as exc:
        raise ReportError(
            f"cannot read the ledger of earlier releases {path} ({exc}); it is needed to "
            "keep their hidden counts hidden. Delete it only if no release of this "
            "evaluation was ever given out."
        ) from exc


def read_priors(bundle_path: Path | str, stamp: str) -> tuple[list[PriorRelease], str, bool]:
    """Return the releases before delivery ``stamp``, a digest of them, and if it is recorded.

    Parameters
    ----------
    bundle_path : Path or str
        The ``results.json`` being planned.
    stamp : str
        Its delivery stamp; the entries recorded before this stamp's own entry (all
        entries when it has none yet), the latest :data:`MAX_PRIORS` of them, are its
        earlier releases.

    Returns
    -------
    tuple of (list of PriorRelease, str, bool)
        The earlier releases, oldest first; the sha256 of their entries (part of what
        a saved plan was made from); and whether the ledger holds this release itself
        (a plan is used only then, so that every release given out is recorded).
    """
    entries = _read(ledger_path(bundle_path))
    stamps = [e.get("stamp") for e in entries]
    before = (entries[: stamps.index(stamp)] if stamp in stamps else entries)[-MAX_PRIORS:]
    digest = hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()
    priors = [
        PriorRelease(
            str(e["stamp"]),
            e.get("start"),
            e["tables"],
            frozenset((str(s), int(i), str(c)) for s, i, c in e["hidden"]),
        )
        for e in before
    ]
    return priors, digest, stamp in stamps


def record_release(
    bundle_path: Path | str,
    stamp: str,
    start: str | None,
    tables: Mapping[str, list[dict[str, Any]]],
    statuses: Mapping[str, pd.DataFrame],
) -> str:
    """Add (or replace, in its place) the release of delivery ``stamp`` in the ledger.

    Parameters
    ----------
    bundle_path : Path or str
        The ``results.json`` the release was planned from.
    stamp : str
        Its delivery stamp.
    start : str or None
        The pilot's first month (the relations between months and periods use it).
    tables : mapping
        The bundle tables the plan was made from (source -> records).
    statuses : mapping
        The plan's status frames (source -> frame of ``""``/``"primary"``/``"secondary"``).

    Returns
    -------
    str
        The sha256 of the ledger file as written (see :func:`ledger_sha256`).
    """
    path = ledger_path(bundle_path)
    entries = _read(path)
    hidden: list[list[Any]] = []
    for src, frame in statuses.items():
        # each table's hidden cells at once, column by column (the ledger's order)
        cols, rows = np.nonzero(frame.to_numpy(dtype=object).T != "")
        index, columns = frame.index.tolist(), frame.columns.tolist()
        hidden += [[src, int(index[i]), str(columns[j])] for j, i in zip(cols, rows, strict=True)]
    entry = {"stamp": stamp, "start": start, "tables": tables, "hidden": hidden}
    stamps = [e.get("stamp") for e in entries]
    if stamp in stamps:
        entries[stamps.index(stamp)] = entry
    else:
        entries.append(entry)
    # written as it reads back: a value JSON has no type for is written as its text
    # (``default=str``), not kept as an object in the entry (a round trip of every
    # table through the encoder and the parser once more)
    body = {"format": LEDGER_FORMAT, "releases": entries}
    data = (json.dumps(body, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # a reader never sees half a ledger
    return hashlib.sha256(data).hexdigest()


def ledger_sha256(bundle_path: Path | str) -> str | None:
    """Return the sha256 of the ledger file's bytes, None when there is none.

    Hashing the file costs a few milliseconds where parsing it (megabytes: every
    release's tables) costs tens; a reader that knows the digest of the ledger it
    last saw can tell from this alone that nothing was recorded since.
    """
    try:
        return hashlib.sha256(ledger_path(bundle_path).read_bytes()).hexdigest()
    except OSError:
        return None


def prior_cells(
    tag: str,
    prior: PriorRelease,
    current: Mapping[str, Table],
    previous: tuple[str, Mapping[str, Table], Mapping[Cell, float]] | None = None,
) -> tuple[dict[Cell, float], set[Cell], list[Relation], dict[str, Table]]:
    """Return an earlier release's counts, the ones it showed and its relations, tagged.

    Parameters
    ----------
    tag : str
        Prefix of the earlier release's table names (keeps its cells apart from today's).
    prior : PriorRelease
        The earlier release.
    current : mapping
        Today's tables (source -> :class:`Table`), for the links.
    previous : tuple, optional
        The release before this one: its tag, tables and tagged counts, for the links
        between the two (a reader joins any two releases, not only each with today's).

    Returns
    -------
    tuple
        ``(values, shown, relations, tables)``: the earlier counts by tagged cell,
        those it showed, its relations plus one link ``later == earlier`` per count
        with the same table, labels, column and value in it and today's release (and
        in the release before it), and its tables.
    """
    tables = {
        s: table_of(s, recs, rule_for(s, list(pd.DataFrame.from_records(recs).columns)))
        for s, recs in prior.tables.items()
    }
    values: dict[Cell, float] = {}
    for src, tab in tables.items():
        for col in tab.rule.counts:
            if col in tab.frame.columns and col not in tab.rule.withheld:
                for i, v in tab.frame[col].items():
                    if not pd.isna(v):
                        values[(tag + src, int(i), col)] = float(v)
    shown = {c for c in values if (c[0][len(tag) :], c[1], c[2]) not in prior.hidden}
    found: list[Relation] = [
        (_tagged(tag, total), tuple(_tagged(tag, p) for p in parts))
        for total, parts in relations(tables, prior.start)
    ]
    found += _links((tag, tables, values), ("", current))
    if previous is not None:
        found += _links(previous, (tag, tables))
    return values, shown, found, tables


def _tagged(tag: str, cell: Cell) -> Cell:
    return (tag + cell[0], cell[1], cell[2])


def _labels(tab: Table) -> list[str]:
    """Return the columns that name a row: the table's keys and every text column.

    Text columns too: a month column is not among a table's keys when its Σ row leaves
    it empty (pandas stores the gap as NaN), and without it every month of a group
    would carry the same labels.
    """
    text = [
        c
        for c in tab.frame.columns
        if c not in tab.rule.counts
        and not pd.api.types.is_numeric_dtype(tab.frame[c])
        and all(isinstance(norm(v), str | None) for v in tab.frame[c].tolist())
    ]
    return sorted({*tab.keys, *text})


def _row_keys(tab: Table, labels: list[str]) -> dict[tuple[Any, ...], int]:
    """Return each row's labels -> its index, for labels that name one row only."""
    cells = [tab.frame[k].tolist() for k in labels]
    keys = [tuple(norm(v) for v in row) for row in zip(*cells, strict=True)] if cells else []
    counts: dict[tuple[Any, ...], int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return {k: int(i) for k, i in zip(keys, tab.frame.index, strict=True) if counts[k] == 1}


def _links(
    then: tuple[str, Mapping[str, Table], Mapping[Cell, float]],
    now: tuple[str, Mapping[str, Table]],
) -> list[Relation]:
    """Link each count of a later release to the same count in an earlier one.

    The same count: same table, labels, column and value. ``then`` is the earlier
    release's tag, tables and tagged counts, ``now`` the later one's tag ("" for
    today's) and tables.
    """
    then_tag, then_tables, values = then
    now_tag, now_tables = now
    out: list[Relation] = []
    for src, tab in now_tables.items():
        old = then_tables.get(src)
        labels = _labels(tab)
        if old is None or _labels(old) != labels:
            continue
        old_rows = _row_keys(old, labels)
        for key, i in _row_keys(tab, labels).items():
            j = old_rows.get(key)
            if j is None:
                continue
            for col in tab.rule.counts:
                if col in tab.rule.withheld or col not in tab.frame.columns:
                    continue
                before = values.get((then_tag + src, j, col))
                later = tab.frame.at[i, col]
                if before is not None and not pd.isna(later) and float(later) == before:
                    out.append(((now_tag + src, i, col), ((then_tag + src, j, col),)))
    return out

"""The differencing attacker on several releases at once (test tooling).

A monitor goes out every week; a reader who kept last week's tables has them beside
this week's. This attacker reads the releases together (each table under its
release's letter) with every relation the one-release attacker finds
(:mod:`differencing`), plus one more: a count published under the same table,
labels and column in two releases is taken to be the same count (past months do not
change). Like every relation of the attacker, it is used only where it holds in the
truth, so each recovery is a value a reader could really work out.

Run it on two releases from the command line::

    python tests/differencing_releases.py TABLES_A BUNDLE_A TABLES_B BUNDLE_B
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
from differencing import (
    Cell,
    Recovery,
    _across,
    _breakdowns,
    _periods,
    _quarters,
    _Release,
    _row_sums,
    long_form,
    read_release,
    recoveries,
    truth_tables,
)


def _same_counts(rel: _Release, tags: Sequence[str]) -> Iterable[tuple[Cell, list[Cell]]]:
    """Yield ``later == earlier`` for each count under the same table, labels and column."""
    for k, first in enumerate(tags):
        for second in tags[k + 1 :]:
            for name in rel.names:
                if not name.startswith(f"{first}."):
                    continue
                other = f"{second}.{name[len(first) + 1 :]}"
                if other not in rel.names:
                    continue
                la, lb = rel.labels[name], rel.labels[other]
                if list(la.columns) != list(lb.columns):
                    continue
                rows = {key: i for i, key in enumerate(la.itertuples(index=False, name=None))}
                for j, key in enumerate(lb.itertuples(index=False, name=None)):
                    i = rows.get(key)
                    for col in rel.ints[other] if i is not None else ():
                        a, b = (name, i, col), (other, j, col)
                        if a in rel.true and b in rel.true and rel.true[a] == rel.true[b]:
                            yield b, [a]


def attack_releases(
    releases: Sequence[tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]],
) -> tuple[list[Recovery], int]:
    """Try to recover every hidden count of several releases read together.

    Parameters
    ----------
    releases : sequence of (released, truth)
        Each release's tables as published and without suppression, oldest first.

    Returns
    -------
    tuple of (list of Recovery, int)
        The recoveries (tables named ``A.<table>``, ``B.<table>``, …) and the number
        of hidden counts attacked.
    """
    tags = [chr(ord("A") + k) for k in range(len(releases))]
    released, truth = {}, {}
    for tag, (shown, true) in zip(tags, releases, strict=True):
        released |= {f"{tag}.{n}": long_form(f) for n, f in shown.items()}
        truth |= {f"{tag}.{n}": long_form(f) for n, f in true.items()}
    rel = _Release(released, truth)
    relations: list[tuple[Cell, list[Cell]]] = []
    for name in rel.names:
        relations += _row_sums(rel, name)
        relations += _breakdowns(rel, name)
    for tag in tags:  # tables of one release with each other (all pairs: hours, not seconds)
        view = copy.copy(rel)
        view.names = [n for n in rel.names if n.startswith(f"{tag}.")]
        relations += _across(view)
        relations += _quarters(view)
        relations += _periods(view)
    relations += _same_counts(rel, tags)
    return recoveries(rel, relations)


if __name__ == "__main__":
    pairs = list(zip(sys.argv[1::2], sys.argv[2::2], strict=True))
    loaded = [
        (read_release(Path(t)), truth_tables(json.loads(Path(b).read_text(encoding="utf-8"))))
        for t, b in pairs
    ]
    recovered, attacked = attack_releases(loaded)
    for r in recovered:
        print(f"{r.table}[{r.row}].{r.column} = {r.value:g} ({r.how})")
    print(f"{len(recovered)} of {attacked} hidden counts recovered")

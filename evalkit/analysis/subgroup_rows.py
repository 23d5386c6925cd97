"""The registered subgroups' estimates: one bundle row per subgroup and outcome.

A subgroup that holds no one, or no one on one side of the comparison, gets a row
without an estimate and a note saying so, with its code: the estimator's own error
("the treatment indicator has no variation") would say the same in English only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from evalkit.analysis.measures import TREATED_GROUP
from evalkit.analysis.plan import registered_spec
from evalkit.analysis.quiet import summary_row
from evalkit.did.notes import Note
from evalkit.protocol.expressions import evaluate

if TYPE_CHECKING:
    from evalkit.analysis.effects import Design

__all__ = ["subgroup_rows"]


def subgroup_rows(design: Design, outcomes: Sequence[str]) -> list[dict[str, Any]]:
    """Estimate every outcome in every registered subgroup.

    Parameters
    ----------
    design : Design
        The analysis design (its frame and protocol).
    outcomes : sequence of str
        The outcomes to estimate in each subgroup.

    Returns
    -------
    list of dict
        One :func:`~evalkit.analysis.quiet.summary_row` per subgroup and outcome,
        with ``subgroup``, ``label`` and ``n_persons``.
    """
    frame, spec = design.af.data, registered_spec(design.protocol, "subgroup")
    rows = []
    for sub in design.protocol.population.subgroups:
        mask = evaluate(sub.definition, frame).fillna(False).astype(bool).to_numpy()
        data = frame.loc[mask]
        gap = _gap(data, sub.definition)
        for outcome in outcomes:
            if gap is None:
                res, errors = design.run(data, outcome, spec)
                row = summary_row(outcome, res, errors, subgroup=sub.id, label=sub.label)
            else:
                row = summary_row(
                    outcome,
                    None,
                    [gap.text],
                    codes=[gap.to_dict()],
                    subgroup=sub.id,
                    label=sub.label,
                )
            row["n_persons"] = int(data["person_id"].nunique())
            rows.append(row)
    return rows


def _gap(data: pd.DataFrame, definition: str) -> Note | None:
    """Return why the subgroup cannot be compared (no one, no pilot, no comparison), or None."""
    if not len(data):
        return Note("subgroup_empty", {"definition": definition})
    pilot = data[TREATED_GROUP].astype(bool)
    if not pilot.any():
        return Note("subgroup_no_pilot", {"definition": definition})
    if pilot.all():
        return Note("subgroup_no_comparison", {"definition": definition})
    return None

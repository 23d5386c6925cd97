"""Exploratory analyses: the extra outcomes of ``analyses/*.yaml``, always labelled so.

They run under the protocol's registered specification (or another estimator the
file names) on the same analysis frame as the confirmatory analysis, and are never
part of its hypotheses or multiple-testing family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from evalkit.analysis.effects import Design, summary_row
from evalkit.analysis.measures import AnalysisFrame
from evalkit.analysis.period_names import name_periods
from evalkit.analysis.plan import registered_spec
from evalkit.protocol.expressions import evaluate
from evalkit.protocol.model import Protocol

__all__ = ["exploratory_analysis"]


def exploratory_analysis(
    af: AnalysisFrame, protocol: Protocol, specs: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Run exploratory (not pre-registered) analyses declared in ``analyses/*.yaml``.

    Each spec names the protocol it belongs to, a title (nl/en) and extra outcomes
    (``id``, ``label``, ``definition`` in the protocol's expression language), and
    optionally another ``estimator``. Results are always labelled exploratory.

    Parameters
    ----------
    af : AnalysisFrame
        The analysis frame.
    protocol : Protocol
        The registered protocol.
    specs : list of mapping
        Exploratory analysis specifications.

    Returns
    -------
    list of dict
        Records ``id, title, file, estimator, effects``.
    """
    design = Design.of(af, protocol)
    out = []
    for item in specs:
        spec = registered_spec(protocol)
        if item.get("estimator"):
            spec = spec.with_(estimator=str(item["estimator"]))
        frame = af.data.copy()
        effects = []
        for o in item.get("outcomes", []) or []:
            frame[o["id"]] = pd.to_numeric(
                evaluate(str(o["definition"]), frame), errors="coerce"
            ).astype("float64")
            res, errors = design.run(frame, o["id"], spec)
            row = summary_row(o["id"], res, errors, label=o.get("label"))
            row.setdefault("error", None)
            effects.append(row)
        out.append(
            {
                "id": item.get("id"),
                "title": item.get("title"),
                "file": item.get("file"),
                "estimator": spec.estimator,
                "exploratory": True,
                "effects": name_periods(effects, af.period_label),
            }
        )
    return out

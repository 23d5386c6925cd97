"""Name the periods in the estimators' notes by month before they enter the bundle.

The analysis numbers months from the protocol's first pre-period month (period 1)
and hands the estimators those numbers, so their notes say "cohort(s) 6 have a single
unit". A reader of the report knows months, not the analysis's numbering: the notes
of every estimate on the analysis frame are renamed here, in one place, to
``2024-10``. The throughput and questionnaire monitors give the estimators period
labels themselves, so their notes need no renaming.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from evalkit.did.notes import TEMPLATES, Note

__all__ = ["name_periods"]


def name_periods(part: Any, name: Callable[[int], str]) -> Any:
    """Return a bundle part whose estimator notes name periods by ``name``.

    Parameters
    ----------
    part : dict, list or other
        A part of the bundle: records with ``warning_codes`` (``{"code", "values"}``
        per note) and ``warnings`` (the English texts, aligned; a list, or one string
        joined by ``"; "``), at any depth of dicts and lists.
    name : callable
        Maps a period number to its name (:meth:`AnalysisFrame.period_label`).

    Returns
    -------
    Same type as ``part``
        A copy with the notes' period values and their English texts renamed; every
        other value is the same object.
    """
    if isinstance(part, list):
        return [name_periods(item, name) for item in part]
    if not isinstance(part, Mapping):
        return part
    out = {key: name_periods(value, name) for key, value in part.items()}
    codes = out.get("warning_codes")
    if isinstance(codes, list) and codes:
        notes = [_note(entry) for entry in codes]
        named = [None if n is None else n.with_periods(name) for n in notes]
        out["warning_codes"] = [
            entry if n is None else n.to_dict() for entry, n in zip(codes, named, strict=True)
        ]
        out["warnings"] = _texts(out.get("warnings"), named)
    return out


def _note(entry: Any) -> Note | None:
    """Return the note a ``warning_codes`` entry holds, or None for one this evalkit cannot read."""
    if not isinstance(entry, Mapping) or entry.get("code") not in TEMPLATES:
        return None
    try:
        return Note(str(entry["code"]), dict(entry.get("values") or {}))
    except ValueError:  # values its template cannot be filled with
        return None


def _texts(warnings: Any, named: list[Note | None]) -> Any:
    """Return the English texts of the renamed notes, in the form ``warnings`` had.

    A list is aligned with the codes and renamed item by item. A joined string cannot be
    split back (a note's text may hold ``"; "`` itself), so it is joined anew from the
    notes, when every code could be read.
    """
    if isinstance(warnings, str):
        readable = [n for n in named if n is not None]
        return "; ".join(n.text for n in readable) if len(readable) == len(named) else warnings
    if not isinstance(warnings, list) or len(warnings) != len(named):
        return warnings  # not aligned with the codes: leave the texts as they were
    return [text if n is None else n.text for text, n in zip(warnings, named, strict=True)]

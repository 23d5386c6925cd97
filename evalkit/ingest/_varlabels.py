"""SPSS and Stata variables named by their label when their name is no header we know.

A statistics file's variable names are short and without spaces (``gemcode``,
``probschuld``); the label carries the name a person reads (``Gemeentecode``,
``Problematische schuld``). Where the name matches no schema header but the label does,
the variable is read under its label, and the report says so.
"""

from __future__ import annotations

import pandas as pd

from evalkit.ingest._text import header_key

__all__ = ["named_by_label"]


def named_by_label(
    frame: pd.DataFrame, labels: dict[str, str | None], known: frozenset[str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename variables whose label, not their name, is a header the schema knows.

    Parameters
    ----------
    frame : pandas.DataFrame
        The file's variables, by name.
    labels : dict
        Variable name to its label (None or empty without one).
    known : frozenset of str
        Comparison keys of the schema's headers and aliases.

    Returns
    -------
    frame : pandas.DataFrame
        The same data, renamed where a label matched.
    renamed : dict
        Old name to label, for the variables renamed.
    """
    taken = {header_key(str(c)) for c in frame.columns}
    renamed: dict[str, str] = {}
    for name in frame.columns:
        label = str(labels.get(name) or "").strip()
        if not label or header_key(str(name)) in known:
            continue
        key = header_key(label)
        # A label already present as a name would make two headers for one column.
        if key in known and key not in taken:
            renamed[str(name)] = label
            taken.add(key)
    return (frame.rename(columns=renamed) if renamed else frame), renamed

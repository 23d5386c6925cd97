"""A summary line under an export ("Totaal", "Total") is rejected with one rule, not seven.

Municipal exports often end in a line that adds the columns up: the word ``Totaal`` in the
first column, sums in some others, no BSN. It is rightly rejected (it is not a person),
but as a missing identifier, a bad municipality code and empty required cells it reads
like broken data. Its failures are folded into one, rule ``totals_line``, that says what
it is; the row stays rejected (rows read = accepted + rejected) and in the quarantine.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from evalkit.ingest._privacy import _valid
from evalkit.ingest._readers import RawTable

__all__ = ["TOTALS_RULE", "fold_totals"]

TOTALS_RULE = "totals_line"
#: The words a summary line starts with, as Dutch and English exports write them.
_WORD = re.compile(r"^\s*(totaal|totalen|eindtotaal|subtotaal|total|totals|grand total)\s*:?\s*$")
_NUMBER = re.compile(r"^\s*[-+]?\d[\d.,]*\s*$")
_BSN_LIKE = re.compile(r"\d{8,9}")


def _totals_positions(table: RawTable) -> np.ndarray:
    """Return the positions whose first cell is a totals word, with a number, and no BSN."""
    if table.frame.empty:
        return np.zeros(0, dtype=np.int64)
    # on the distinct texts: a compiled pattern keeps the match in Python, a call per cell
    codes, uniques = pd.factorize(table.frame.iloc[:, 0].astype("string"))
    word = pd.Series(uniques, dtype="string").str.lower().str.match(_WORD).fillna(False)
    candidates = np.flatnonzero(np.append(word.to_numpy(dtype=bool), False)[codes])
    keep = []
    for pos in candidates:
        cells = [str(v) for v in table.frame.iloc[pos, 1:] if v is not None and not pd.isna(v)]
        has_number = any(_NUMBER.match(c) for c in cells)
        # a line that carries a valid BSN is about a person, whatever its first cell says
        has_bsn = any(_valid(m.zfill(9)) for c in cells for m in _BSN_LIKE.findall(c))
        if has_number and not has_bsn:
            keep.append(pos)
    return np.asarray(keep, dtype=np.int64)


def fold_totals(
    frame: pd.DataFrame, table: RawTable, rows: np.ndarray, failed: np.ndarray
) -> pd.DataFrame:
    """Replace a rejected totals line's failures with one ``totals_line`` failure.

    Parameters
    ----------
    frame : pandas.DataFrame
        The failures (``row, column, rule, value, message, _masked``), file row numbers.
    table : RawTable
        The file read (its first column is looked at).
    rows : numpy.ndarray
        File row number per internal position.
    failed : numpy.ndarray
        Per internal position, whether the row is rejected; only rejected lines are
        folded, so nothing is accepted or rejected that was not before.

    Returns
    -------
    pandas.DataFrame
        ``frame`` with those lines' failures replaced, in file order.
    """
    at = _totals_positions(table)
    at = at[failed[at]] if len(at) else at
    if not len(at):
        return frame
    word = table.frame.iloc[at, 0].astype(str).str.strip().to_numpy()
    first = str(table.frame.columns[0])
    lines = pd.DataFrame(
        {
            "row": rows[at].astype(np.int64),
            "column": None,
            "rule": TOTALS_RULE,
            "value": word,
            "message": [
                f"looks like a totals line ({w!r} in the first column {first!r}, numbers "
                "beside it, no BSN), not a person: not stored (remove it from the export "
                "or leave it, it is counted as rejected)"
                for w in word
            ],
            "_masked": True,
        }
    )
    kept = frame[~frame["row"].isin(lines["row"])]
    out = pd.concat([kept, lines], ignore_index=True)
    return out.sort_values(["row"], kind="stable").reset_index(drop=True)

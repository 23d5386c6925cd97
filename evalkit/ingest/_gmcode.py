r"""CBS municipality numbers without their ``GM`` label: ``344`` or ``0344`` read as ``GM0344``.

Many municipal systems and CBS tables give the municipality as its number alone (Excel
drops the leading zero of ``0344`` as well). Where the schema declares a column a CBS
municipality code (type string, pattern ``^GM\d{4}$``) such a number is unambiguous: it is
read as ``GM`` and four digits, and a note counts the rows. No other column is touched,
and anything else (``GM344``, ``Utrecht``, ``0``) is still checked against the pattern.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.ingest._readers import RawTable
from evalkit.ingest._schema import ColumnSpec

__all__ = ["MUNICIPALITY_PATTERN", "normalise_municipality"]

#: The pattern that declares a column a CBS municipality code.
MUNICIPALITY_PATTERN = r"^GM\d{4}$"
#: A plain number of one to four digits, not zero (``344.0``: a number cell read as text).
_NUMBER = r"\s*(?=\d{1,4}(?:\.0+)?\s*$)0*([1-9]\d{0,3})(?:\.0+)?\s*"


def normalise_municipality(table: RawTable, header: str, spec: ColumnSpec) -> str | None:
    """Read plain municipality numbers in ``header`` as ``GM`` + 4 digits, in place.

    Parameters
    ----------
    table : RawTable
        The file read; its column ``header`` is replaced by text when a cell changes.
    header : str
        The column's header in the file.
    spec : ColumnSpec
        The column's schema; only a CBS municipality code is touched.

    Returns
    -------
    str or None
        The note counting the rows read so, or None when none was.
    """
    if spec.type != "string" or spec.pattern != MUNICIPALITY_PATTERN:
        return None
    text = table.text(header)
    # on the distinct texts: the look-ahead keeps the match in Python's re, a call per cell
    codes, uniques = pd.factorize(text.astype("string"))
    plain = pd.Series(uniques, dtype="string").str.fullmatch(_NUMBER).fillna(False)
    number = np.append(plain.to_numpy(dtype=bool), False)[codes]  # -1 (empty): False
    if not number.any():
        return None
    count = int(number.sum())
    digits = text[number].astype(str).str.extract(_NUMBER, expand=False)
    fixed = pd.Series(text.to_numpy(dtype=object), index=text.index)
    fixed[number] = "GM" + digits.str.zfill(4)
    table.frame[header] = fixed
    table.typed.pop(header, None)  # now text, as the pattern check reads it
    return (
        f"municipality numbers without GM read as CBS codes (344 as GM0344): "
        f"{count} row(s) in column {header!r}"
    )

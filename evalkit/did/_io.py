"""Read the data file of ``evalkit did`` (the only file access in this package, used by the CLI)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalkit.errors import IngestError

__all__ = ["read_data"]


def read_data(path: str | Path) -> pd.DataFrame:
    """Read a data file with :func:`evalkit.ingest.read_frame` (pandas for CSV/Parquet until it lands).

    Parameters
    ----------
    path : str or pathlib.Path
        CSV, XLSX, SAV, DTA or Parquet file.

    Returns
    -------
    pandas.DataFrame
        The typed table.

    Raises
    ------
    IngestError
        The file does not exist or cannot be read.
    """  # noqa: E501
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    try:
        from evalkit.ingest import read_frame
    except ImportError:
        read_frame = None
    if read_frame is not None:
        frame: pd.DataFrame = read_frame(path)
        return frame
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path, sep=None, engine="python")
    except (OSError, ValueError) as exc:
        raise IngestError(f"{path}: cannot be read ({exc})") from exc
    raise IngestError(f"{path}: unsupported format {suffix!r} (the ingest readers are not "
                      "available)")

"""The one exception tree of evalkit, and its warning classes.

Every error a user can cause derives from :class:`EvalkitError`; the command line
turns it into one clear line and exit code 1. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "DataValidationError",
    "DroppedRowsWarning",
    "EstimationError",
    "EvalkitError",
    "EvalkitWarning",
    "FewTreatedClustersWarning",
    "IngestError",
    "ProtocolError",
    "ProtocolWarning",
    "ReportError",
    "SmallCohortWarning",
]


class EvalkitError(Exception):
    """Root of every error a user can cause (bad input, bad protocol, bad options)."""


class ProtocolError(EvalkitError):
    """The protocol file is invalid, or the data do not match its registration.

    Parameters
    ----------
    message : str
        What is wrong, in one line.
    problems : list of str, optional
        Every problem found, each naming its field path.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems or [])


class IngestError(EvalkitError):
    """A file cannot be used at all (unreadable, wrong format, required column missing)."""


class DataValidationError(EvalkitError):
    """Rows failed validation; ``failures`` is a frame of file, row, column, rule, value, message.

    Parameters
    ----------
    message : str
        A one-line summary.
    failures : pandas.DataFrame, optional
        One row per failure.
    """

    def __init__(self, message: str, failures: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        self.failures = failures


class EstimationError(EvalkitError):
    """An estimator cannot run on the data or options given."""


class ReportError(EvalkitError):
    """A report cannot be rendered (missing bundle, bad document, converter failure)."""


class EvalkitWarning(UserWarning):
    """Root of evalkit's warnings."""


class ProtocolWarning(EvalkitWarning):
    """A protocol is valid but questionable (e.g. cluster-robust inference with few clusters)."""


class FewTreatedClustersWarning(EvalkitWarning):
    """Fewer treated clusters than cluster-robust inference can support."""


class SmallCohortWarning(EvalkitWarning):
    """A treatment cohort has very few units."""


class DroppedRowsWarning(EvalkitWarning):
    """Rows were dropped (e.g. missing outcomes); the message counts them."""


def describe(exc: BaseException) -> dict[str, Any]:
    """Return a JSON-friendly description of an error for ``--json`` output.

    Parameters
    ----------
    exc : BaseException
        The error.

    Returns
    -------
    dict
        ``{"error": class name, "message": text}``.
    """
    return {"error": type(exc).__name__, "message": str(exc)}

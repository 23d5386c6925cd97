"""The one exception tree of evalkit, and its warning classes.

Every error a user can cause derives from :class:`EvalkitError`; the command line
turns it into one clear line and exit code 1. Anything else is a bug and keeps
its traceback. The estimators issue no warnings: they return notes on their results
(:mod:`evalkit.did.notes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "DataValidationError",
    "DroppedRowsWarning",
    "EstimationError",
    "EvalkitError",
    "EvalkitWarning",
    "IngestError",
    "ProtocolError",
    "ReportError",
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
    """Data cannot be analysed as they are; the message names the file, column and rows.

    Row-level validation failures of an ingest are not raised: they are the
    ingest report's ``failures`` frame (file, row, column, rule, value, message).
    """


class EstimationError(EvalkitError):
    """An estimator cannot run on the data or options given."""


class ReportError(EvalkitError):
    """A report cannot be rendered (missing bundle, bad document, converter failure)."""


class EvalkitWarning(UserWarning):
    """Root of evalkit's warnings.

    Parameters
    ----------
    message : str
        The warning in plain (English) words.
    code : str, optional
        A stable code a report can word the warning from (the estimators' notes
        use the codes of :data:`evalkit.did.notes.TEMPLATES`).
    values : mapping, optional
        The values that go into the sentence of ``code``.
    """

    def __init__(
        self, message: str = "", code: str | None = None, values: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.values: dict[str, Any] = dict(values or {})

    def __reduce__(self) -> tuple[Any, ...]:
        # keep the code and values when the warning crosses a process boundary
        return (type(self), (str(self), self.code, self.values))


class DroppedRowsWarning(EvalkitWarning):
    """Rows were dropped (e.g. missing outcomes); the message counts them."""

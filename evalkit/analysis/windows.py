"""A protocol's time windows as month numbers, computed once from the typed protocol.

Every reader of the pre and post windows (the analysis frame's design columns,
the case-event cells, the 2×2 rows of the estimator, the descriptives) takes
them from one :class:`Windows`, so a change to a registered period or to the
anticipation months moves all of them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from evalkit.protocol.model import Protocol

__all__ = ["Windows", "month_index", "parse_month"]


def parse_month(value: Any) -> pd.Timestamp:
    """Return the first day of the month of ``value`` (``'2025-10'``, a date or a timestamp).

    Parameters
    ----------
    value : str, date or Timestamp
        A month.

    Returns
    -------
    pandas.Timestamp
        The first day of that month.
    """
    stamp = (
        pd.Timestamp(str(value) + "-01")
        if isinstance(value, str) and len(value) == 7
        else pd.Timestamp(value)
    )
    return pd.Timestamp(year=stamp.year, month=stamp.month, day=1)


def month_index(months: pd.Series | pd.Timestamp, origin: pd.Timestamp) -> Any:
    """Count months from ``origin`` (which is period 1).

    Parameters
    ----------
    months : Series of datetime or Timestamp
        Months to convert.
    origin : Timestamp
        The first month of the analysis window.

    Returns
    -------
    int or Series of int
        1 for ``origin``, 2 for the month after, and so on.
    """
    if isinstance(months, pd.Timestamp):
        return (months.year - origin.year) * 12 + (months.month - origin.month) + 1
    m = pd.to_datetime(months)
    return ((m.dt.year - origin.year) * 12 + (m.dt.month - origin.month) + 1).astype("int64")


@dataclass(frozen=True)
class Windows:
    """The registered windows as month numbers (the first pre month is period 1).

    Two pre-window ends and two post-window starts are kept on purpose, each named
    for its use: the descriptives compare the registered pre and post windows as
    written, while the estimator must not count anticipation months as untreated,
    and the design column ``_post`` marks every month from the pilot's start (the
    2×2 rows then leave the pilot months out through :attr:`post_start`).

    Attributes
    ----------
    origin : pandas.Timestamp
        The month numbered 1 (``periods.pre.start``).
    last : int
        The last month analysed (the end of the post window, else of the intervention).
    pre_end : int
        The last month of the registered pre window (descriptives: baseline balance).
    untreated_end : int
        The last month the estimator counts as untreated: ``pre_end``, but no later
        than the month before the first pilot start less the anticipation months.
    intervention_start : int
        The first month of the intervention (the ``_post`` design column).
    post_start : int
        The first month of the post window (else of the intervention): descriptives'
        post window and the 2×2 estimator's post rows.
    anticipation : int
        The registered anticipation months.
    starts : dict
        Treated unit → its first pilot month.
    """

    origin: pd.Timestamp
    last: int
    pre_end: int
    untreated_end: int
    intervention_start: int
    post_start: int
    anticipation: int
    starts: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Windows(origin={self.origin:%Y-%m}, pre_end={self.pre_end}, "
            f"untreated_end={self.untreated_end}, post_start={self.post_start}, "
            f"last={self.last})"
        )

    @classmethod
    def of(cls, protocol: Protocol) -> Windows:
        """Return the windows of a registered protocol.

        Parameters
        ----------
        protocol : Protocol
            The registered protocol.

        Returns
        -------
        Windows
            Its windows, counted from ``periods.pre.start``.
        """
        periods = protocol.periods
        origin = parse_month(periods.pre.start)

        def index(month: str) -> int:
            return int(month_index(parse_month(month), origin))

        post = periods.post or periods.intervention
        starts = {t.unit: index(t.start) for t in protocol.units.treated}
        anticipation = protocol.units.anticipation_months
        pre_end = index(periods.pre.end)
        return cls(
            origin=origin,
            last=index(post.end),
            pre_end=pre_end,
            untreated_end=min(pre_end, min(starts.values()) - 1 - anticipation),
            intervention_start=index(periods.intervention.start),
            post_start=index(post.start),
            anticipation=anticipation,
            starts=starts,
        )

    def month(self, value: Any) -> int:
        """Return the month number of one month (``YYYY-MM``, a date or a timestamp)."""
        return int(month_index(parse_month(value), self.origin))

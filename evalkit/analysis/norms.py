"""Throughput norms (termijnen) and the share of cases within them, with censoring done right.

A case whose end event happened counts as within the norm when it took at most the
limit, else as a breach. A case still open (censored) counts as a breach once the
time elapsed exceeds the limit — it can no longer make it — and as *not yet known*
while it is within the limit (``n_unknown``).

The share within the norm is NOT ``within / (within + breach)``: near the data's
cut-off that ratio keeps the quick recent cases and drops the slow ones whose
outcome is not yet known, so it is biased upwards. It is the Aalen–Johansen
cumulative incidence of the end event at the limit (statsmodels
``CumIncidenceRight``): cases still open at the cut-off are censored, and a case
that closed (exit or drop-out, *uitval*) without the end event is a competing
event — it can never be within the norm. Without competing events this is the
Kaplan–Meier ``1 − S(limit)``. Where no case of a group has been followed up to
the limit the share is not known yet (NaN).

Defaults follow Dutch practice:

* debt help (Wet gemeentelijke schuldhulpverlening, art. 4a): first conversation
  within 4 weeks of the request; within 3 working days when there is a threat of
  eviction, disconnection of energy or water, or a cancelled health insurance
  (``wgs_crisis``: a crisis of one of those types, or a flagged crisis without a type;
  other crises fall under the 4-week norm);
* Participatiewet: decision on an application within 8 weeks (art. 44 lid 1 /
  Awb 4:13);
* Participatiewet advance payment (voorschot, art. 52): within 4 weeks of the
  application, for applications recorded with outcome ``advance_requested``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import CumIncidenceRight
from statsmodels.stats.proportion import proportion_confint

from evalkit.analysis.intervals import INTERVALS
from evalkit.errors import EvalkitError

__all__ = [
    "DEFAULT_NORMS",
    "WHERE_COLUMNS",
    "Norm",
    "NormUnit",
    "norm_shares",
    "norm_status",
    "parse_norms",
    "within_share",
]

NormUnit = Literal["days", "weeks", "working_days"]
_UNITS = get_args(NormUnit)
#: Columns a norm's ``where`` filter may use.
WHERE_COLUMNS = (
    "crisis",
    "crisis_type",
    "domain",
    "group",
    "municipality",
    "org_type",
    "organisation",
    "period",
    "start_outcome",
    "wgs_crisis",
)


@dataclass(frozen=True)
class Norm:
    """One throughput norm.

    Parameters
    ----------
    name : str
        Identifier (snake_case).
    interval : str
        One of :data:`evalkit.analysis.intervals.INTERVALS`.
    limit : float
        The norm in ``unit``.
    unit : {"days", "weeks", "working_days"}
        ``weeks`` are counted as 7 calendar days.
    where : mapping
        Case filter: column -> allowed value(s) (e.g. ``{"domain": "debts", "crisis": True}``);
        ``start_outcome`` filters on the outcome recorded on the start event.
    label : str
        A short description (Dutch practice source).
    """

    name: str
    interval: str
    limit: float
    unit: NormUnit = "days"
    where: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    @property
    def limit_days(self) -> float:
        """The limit in the unit of the duration column it is compared with."""
        return self.limit * 7 if self.unit == "weeks" else self.limit

    @property
    def time_col(self) -> str:
        """``working_days`` for working-day norms, else ``days``."""
        return "working_days" if self.unit == "working_days" else "days"


DEFAULT_NORMS: dict[str, dict[str, Any]] = {
    "debt_help_first_conversation": {
        "interval": "registration_to_first_conversation",
        "limit": 4,
        "unit": "weeks",
        "where": {"domain": "debts", "wgs_crisis": False},
        "label": "Schuldhulp: eerste gesprek binnen 4 weken na aanmelding",
    },
    "debt_help_first_conversation_crisis": {
        "interval": "registration_to_first_conversation",
        "limit": 3,
        "unit": "working_days",
        "where": {"domain": "debts", "wgs_crisis": True},
        "label": "Schuldhulp bij crisis: eerste gesprek binnen 3 werkdagen",
    },
    "participatiewet_decision": {
        "interval": "application_to_decision",
        "limit": 8,
        "unit": "weeks",
        "where": {"domain": "income"},
        "label": "Participatiewet: besluit binnen 8 weken na aanvraag",
    },
    "advance_payment": {
        "interval": "application_to_advance_payment",
        "limit": 4,
        "unit": "weeks",
        "where": {
            "domain": "income",
            "start_outcome": ["advance_requested", "voorschot_aangevraagd"],
        },
        "label": "Participatiewet: voorschot binnen 4 weken na aanvraag",
    },
}


def parse_norms(norms: Mapping[str, Any] | None) -> list[Norm]:
    """Merge protocol norms over the defaults and validate them.

    Parameters
    ----------
    norms : mapping or None
        name -> ``{interval, limit, unit, where, label}``; an entry overrides the default
        of that name key by key, ``None`` removes it. ``None`` gives the defaults.

    Returns
    -------
    list of Norm
        The norms, in name order.
    """
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in DEFAULT_NORMS.items()}
    for name, spec in (norms or {}).items():
        if spec is None:
            merged.pop(name, None)
            continue
        if not isinstance(spec, Mapping):
            raise EvalkitError(f"norms.{name}: expected a mapping, got {type(spec).__name__}")
        merged[name] = {**merged.get(name, {}), **spec}
    out = []
    for name, spec in sorted(merged.items()):
        unknown = set(spec) - {"interval", "limit", "unit", "where", "label"}
        if unknown:
            raise EvalkitError(
                f"norms.{name}: unknown key(s) {', '.join(sorted(unknown))}; "
                "allowed: interval, limit, unit, where, label"
            )
        if spec.get("interval") not in INTERVALS:
            raise EvalkitError(
                f"norms.{name}.interval={spec.get('interval')!r} is not allowed; "
                f"use one of {', '.join(INTERVALS)}"
            )
        unit = spec.get("unit", "days")
        if unit not in _UNITS:
            raise EvalkitError(
                f"norms.{name}.unit={unit!r} is not allowed; use one of {', '.join(_UNITS)}"
            )
        limit = spec.get("limit")
        if not isinstance(limit, int | float) or isinstance(limit, bool) or limit < 0:
            raise EvalkitError(f"norms.{name}.limit must be a number >= 0, got {limit!r}")
        where = spec.get("where") or {}
        if not isinstance(where, Mapping):
            raise EvalkitError(f"norms.{name}.where must be a mapping of column to value(s)")
        bad = sorted(set(where) - set(WHERE_COLUMNS))
        if bad:
            raise EvalkitError(
                f"norms.{name}.where: unknown column(s) {', '.join(bad)}; "
                f"allowed: {', '.join(WHERE_COLUMNS)}"
            )
        out.append(
            Norm(
                name=name,
                interval=spec["interval"],
                limit=float(limit),
                unit=unit,
                where=dict(spec.get("where") or {}),
                label=str(spec.get("label", "")),
            )
        )
    return out


def _apply_where(frame: pd.DataFrame, norm: Norm) -> pd.DataFrame:
    sel = frame["interval"] == norm.interval
    for col, allowed in norm.where.items():
        if col not in frame.columns:
            raise EvalkitError(f"norms.{norm.name}.where: unknown column {col!r}")
        values = allowed if isinstance(allowed, list | tuple | set) else [allowed]
        sel &= frame[col].isin(list(values))
    return frame.loc[sel]


def norm_status(intervals: pd.DataFrame, norm: Norm) -> pd.DataFrame:
    """Classify each case of a norm as ``within``, ``breach`` or ``unknown``.

    Parameters
    ----------
    intervals : pandas.DataFrame
        Output of :func:`evalkit.analysis.intervals.case_intervals`.
    norm : Norm
        The norm.

    Returns
    -------
    pandas.DataFrame
        The norm's cases with ``elapsed`` (in the norm's unit: days or working days)
        and ``status``; ``breach_open`` marks breaches by cases still open.
    """
    sub = _apply_where(intervals, norm).copy()
    elapsed = sub[norm.time_col].to_numpy(float)
    done = sub["event"].to_numpy(bool)
    limit = norm.limit_days
    status = np.where(
        done,
        np.where(elapsed <= limit, "within", "breach"),
        np.where(elapsed > limit, "breach", "unknown"),
    )
    sub["elapsed"] = elapsed
    sub["status"] = status
    if "competing" not in sub.columns:
        sub["competing"] = False
    sub["breach_open"] = (~done) & (elapsed > limit)
    return sub


@functools.lru_cache(maxsize=8)
def _normal_quantile(q: float) -> float:
    """Return the standard normal quantile; kept, as every group of a norm asks for it."""
    return float(stats.norm.ppf(q))


def within_share(
    elapsed: np.ndarray, event: np.ndarray, competing: np.ndarray, limit: float, alpha: float
) -> tuple[float, float, float]:
    """Share reaching the end event within ``limit``: Aalen–Johansen, with its interval.

    Parameters
    ----------
    elapsed : numpy.ndarray
        Time to the end event, the competing closure or censoring (norm's unit).
    event : numpy.ndarray
        True when the end event happened.
    competing : numpy.ndarray
        True when the case closed (exit, drop-out) without the end event.
    limit : float
        The norm's limit.
    alpha : float
        1 − confidence level of the interval (estimate ± z·se, clipped to [0, 1]).

    Returns
    -------
    tuple of float
        ``share, conf_low, conf_high``; NaN when the share at the limit is unknown: a
        case was still open (censored) at the last time seen, before the limit.
    """
    elapsed = np.asarray(elapsed, dtype=float)
    status = np.where(event, 1, np.where(competing, 2, 0))
    if elapsed.size == 0 or not _known_at(elapsed, status, limit):
        return math.nan, math.nan, math.nan
    if not (status == 1).any():
        return 0.0, 0.0, 0.0
    with np.errstate(all="ignore"):  # statsmodels divides by zero at-risk counts past the end
        cif = CumIncidenceRight(elapsed, status)
    at = np.flatnonzero(cif.times <= limit)
    if at.size == 0:
        return 0.0, 0.0, 0.0
    # summed increments can overshoot 1 by an ulp (1.0000000000000002): a share is in [0, 1]
    share = min(1.0, max(0.0, float(cif.cinc[0][at[-1]])))
    se = float(cif.cinc_se[0][at[-1]])
    z = _normal_quantile(1 - alpha / 2)
    if not math.isfinite(se):
        # Every case still open at the last time ended there, before the limit: the
        # delta-method variance divides by an empty risk set. The Wilson interval of the
        # share over all cases takes its place (exact for a group with no open case).
        low, high = proportion_confint(share * elapsed.size, elapsed.size, alpha, "wilson")
        return share, min(float(low), share), max(float(high), share)  # rounding at 0 and 1
    return share, max(0.0, share - z * se), min(1.0, share + z * se)


def _known_at(elapsed: np.ndarray, status: np.ndarray, limit: float) -> bool:
    """Tell whether the share within ``limit`` is known.

    It is when a case was followed up to the limit, and also when every case still
    open at the last time observed ended there (end event or closure): nothing is left
    at risk, so no later event can change the share. A group whose cases were all
    seen within the norm is 100 % within it, not unknown; only a case still open
    (censored) at the last time leaves the share at the limit unknown.
    """
    last = float(elapsed.max())
    return last >= limit or not bool((status[elapsed == last] == 0).any())


def _group_positions(
    frame: pd.DataFrame, by: Sequence[str]
) -> list[tuple[tuple[Any, ...], np.ndarray]]:
    """Return each group's key and row positions, as ``frame.groupby(by, sort=True)`` has them.

    The groups come in groupby's order, each row once and in frame order; rows with a
    missing key are in no group (as in groupby). No grouping: one group of all rows.
    """
    if not by:
        return [((), np.arange(len(frame)))]
    grouped = frame.groupby(list(by), sort=True)
    codes = grouped.ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")  # stable: a group's rows keep their order
    bounds = np.searchsorted(codes[order], np.arange(grouped.ngroups + 1))
    keys = grouped.size().index
    return [
        (key if isinstance(key, tuple) else (key,), order[bounds[i] : bounds[i + 1]])
        for i, key in enumerate(keys)
    ]


def norm_shares(
    intervals: pd.DataFrame,
    norms: Sequence[Norm],
    *,
    groupings: Sequence[Sequence[str]] = ((), ("period",), ("group", "period"), ("org_type",)),
    dims: Sequence[str] = ("org_type", "group", "period"),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of cases within each norm, per grouping, with Wilson intervals.

    Parameters
    ----------
    intervals : pandas.DataFrame
        Output of :func:`evalkit.analysis.intervals.case_intervals`.
    norms : sequence of Norm
        Norms to evaluate (see :func:`parse_norms`).
    groupings : sequence of sequences of str
        Row groupings; dims not in a grouping are ``"all"``. Include ``start_month``
        for a monthly series.
    dims : sequence of str
        Grouping columns shown in every row.
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    pandas.DataFrame
        ``norm, interval, limit, unit, <dims>, n, n_within, n_breach, n_breach_open,
        n_unknown, share_within, conf_low, conf_high``. ``n`` counts every case under the
        norm: ``n = n_within + n_breach + n_unknown`` (``n_breach_open`` is part of
        ``n_breach``); ``share_within`` is the censoring-aware share of
        :func:`within_share` (not ``n_within / (n_within + n_breach)``).
    """
    rows = []
    for norm in norms:
        st = norm_status(intervals, norm)
        # one array per column, read once: a group is a set of positions into them
        flags = {
            "within": (st["status"] == "within").to_numpy(bool),
            "breach": (st["status"] == "breach").to_numpy(bool),
            "unknown": (st["status"] == "unknown").to_numpy(bool),
            "breach_open": st["breach_open"].to_numpy(bool),
        }
        elapsed = st["elapsed"].to_numpy(float)
        event = st["event"].to_numpy(bool)
        competing = st["competing"].to_numpy(bool)
        for by in groupings:
            for key, at in _group_positions(st, by):
                lab = dict(zip(by, key, strict=True))
                share = within_share(elapsed[at], event[at], competing[at], norm.limit_days, alpha)
                rows.append(
                    {
                        "norm": norm.name,
                        "interval": norm.interval,
                        "limit": norm.limit,
                        "unit": norm.unit,
                        **{d: lab.get(d, "all") for d in dims},
                        "n": len(at),
                        "n_within": int(flags["within"][at].sum()),
                        "n_breach": int(flags["breach"][at].sum()),
                        "n_breach_open": int(flags["breach_open"][at].sum()),
                        "n_unknown": int(flags["unknown"][at].sum()),
                        **dict(zip(("share_within", "conf_low", "conf_high"), share, strict=True)),
                    }
                )
    cols = [
        "norm",
        "interval",
        "limit",
        "unit",
        *dims,
        "n",
        "n_within",
        "n_breach",
        "n_breach_open",
        "n_unknown",
        "share_within",
        "conf_low",
        "conf_high",
    ]
    return pd.DataFrame(rows, columns=cols)

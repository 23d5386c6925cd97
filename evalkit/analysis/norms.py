"""Throughput norms (termijnen) and the share of cases within them, with censoring done right.

A case whose end event happened counts as within the norm when it took at most the
limit, else as a breach. A case still open (censored) counts as a breach once the
time elapsed exceeds the limit — it can no longer make it — and as *not yet known*
while it is within the limit; not-yet-known cases are left out of the share and
counted in ``n_unknown``.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats

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
    sub["breach_open"] = (~done) & (elapsed > limit)
    return sub


def _wilson(k: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(all="ignore"):
        p = k / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


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
        ``n_breach``); the share's denominator is ``n_within + n_breach``.
    """
    rows = []
    for norm in norms:
        st = norm_status(intervals, norm)
        for by in groupings:
            keys = [((), st)] if not by else list(st.groupby(list(by), sort=True))
            for key, g in keys:
                key = key if isinstance(key, tuple) else (key,)
                lab = dict(zip(by, key, strict=True))
                n_within = int((g["status"] == "within").sum())
                n_breach = int((g["status"] == "breach").sum())
                rows.append(
                    {
                        "norm": norm.name,
                        "interval": norm.interval,
                        "limit": norm.limit,
                        "unit": norm.unit,
                        **{d: lab.get(d, "all") for d in dims},
                        "n": len(g),
                        "n_within": n_within,
                        "n_breach": n_breach,
                        "n_breach_open": int(g["breach_open"].sum()),
                        "n_unknown": int((g["status"] == "unknown").sum()),
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
    out = pd.DataFrame(rows, columns=cols)
    if not out.empty:
        k = out["n_within"].to_numpy(float)
        n = (out["n_within"] + out["n_breach"]).to_numpy(float)
        with np.errstate(all="ignore"):
            out["share_within"] = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
        lo, hi = _wilson(k, n, alpha)
        out["conf_low"] = np.where(n > 0, lo, np.nan)
        out["conf_high"] = np.where(n > 0, hi, np.nan)
    return out

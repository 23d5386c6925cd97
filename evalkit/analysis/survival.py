"""Kaplan–Meier summaries and curves of throughput intervals (statsmodels ``SurvfuncRight``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

__all__ = ["km_curve", "km_fit", "km_quantile", "km_summary"]

_ALL = "all"
_TOL = 1.49e-8  # R's sqrt(.Machine$double.eps)


def km_quantile(event_times: np.ndarray, surv: np.ndarray, p: float, last_time: float) -> float:
    """Return the ``p`` quantile of a Kaplan–Meier curve as R ``survival`` defines it.

    The first time the curve ``1 - S`` reaches ``p``; where the curve sits exactly
    at ``p`` over a stretch (any even number of uncensored cases, for the median),
    the midpoint of that stretch: from its start to the next drop, or to the last
    follow-up time when it runs to the end of the curve (R's ``quantile.survfit``).
    statsmodels' ``SurvfuncRight.quantile`` takes the first time with ``S < 1 - p``,
    one step late on a flat stretch, so the rule is written out here.

    Parameters
    ----------
    event_times : numpy.ndarray
        Distinct event times, increasing.
    surv : numpy.ndarray
        Survival just after each event time.
    p : float
        Quantile level in (0, 1), e.g. 0.5 for the median.
    last_time : float
        Largest follow-up time (event or censoring).

    Returns
    -------
    float
        The quantile, or NaN when the curve never reaches ``p``.
    """
    cdf = 1.0 - np.asarray(surv, dtype=float)
    times = np.asarray(event_times, dtype=float)
    reached = np.flatnonzero(cdf + _TOL >= p)
    if reached.size == 0:
        return math.nan
    start = int(reached[0])
    if abs(cdf[start] - p) >= _TOL:
        return float(times[start])
    beyond = np.flatnonzero(cdf - _TOL >= p)
    end = float(times[beyond[0]]) if beyond.size else float(last_time)
    return 0.5 * (float(times[start]) + end)


def km_fit(time: np.ndarray, event: np.ndarray, *, alpha: float = 0.05) -> dict[str, float]:
    """Fit a Kaplan–Meier curve and return its median and 80th percentile with CIs.

    Parameters
    ----------
    time : numpy.ndarray
        Duration to the event or to censoring.
    event : numpy.ndarray
        1 (or True) when the end event was observed, 0 when censored.
    alpha : float, default 0.05
        1 - confidence level of the percentile intervals (Brookmeyer–Crowley via
        statsmodels' ``quantile_ci``, complementary log-log transform).

    Returns
    -------
    dict
        ``n, n_events, n_censored, median, median_ci_low, median_ci_high, p80,
        p80_ci_low, p80_ci_high``; percentiles the curve does not reach are NaN.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    out: dict[str, float] = {
        "n": int(time.size),
        "n_events": int(event.sum()),
        "n_censored": int(time.size - event.sum()),
    }
    keys = ("median", "median_ci_low", "median_ci_high", "p80", "p80_ci_low", "p80_ci_high")
    if time.size == 0 or event.sum() == 0:
        out.update(dict.fromkeys(keys, np.nan))
        return out
    sf = SurvfuncRight(time, event)
    with np.errstate(all="ignore"):
        for label, p in (("median", 0.5), ("p80", 0.8)):
            out[label] = km_quantile(sf.surv_times, sf.surv_prob, p, float(time.max()))
            try:
                lo, hi = sf.quantile_ci(p, alpha=alpha)
            except (ValueError, IndexError):  # pragma: no cover - degenerate curves
                lo, hi = np.nan, np.nan
            out[f"{label}_ci_low"] = float(lo) if lo is not None and np.isfinite(lo) else np.nan
            out[f"{label}_ci_high"] = float(hi) if hi is not None and np.isfinite(hi) else np.nan
    return out


def _groups(frame: pd.DataFrame, by: Sequence[str]):
    if not by:
        yield {}, frame
        return
    for key, sub in frame.groupby(list(by), sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, key, strict=True)), sub


def km_summary(
    intervals: pd.DataFrame,
    *,
    groupings: Sequence[Sequence[str]] = ((), ("org_type",), ("period",), ("group", "period")),
    dims: Sequence[str] = ("org_type", "group", "period"),
    time_col: str = "days",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Kaplan–Meier median and 80th percentile per interval and grouping.

    Parameters
    ----------
    intervals : pandas.DataFrame
        Output of :func:`evalkit.analysis.intervals.case_intervals`.
    groupings : sequence of sequences of str
        Each grouping gives rows per interval and level of those columns; columns
        of ``dims`` not in a grouping are ``"all"``.
    dims : sequence of str
        The grouping columns shown in every row.
    time_col : str, default "days"
        ``days`` (calendar) or ``working_days``.
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    pandas.DataFrame
        ``interval, <dims>, unit, n, n_events, n_censored, median, median_ci_low,
        median_ci_high, p80, p80_ci_low, p80_ci_high``.
    """
    rows = []
    for interval, sub in intervals.groupby("interval", sort=True):
        for by in groupings:
            for key, g in _groups(sub, by):
                row = {"interval": interval, **{d: key.get(d, _ALL) for d in dims}}
                row["unit"] = time_col
                row.update(km_fit(g[time_col].to_numpy(), g["event"].to_numpy(), alpha=alpha))
                rows.append(row)
    cols = [
        "interval",
        *dims,
        "unit",
        "n",
        "n_events",
        "n_censored",
        "median",
        "median_ci_low",
        "median_ci_high",
        "p80",
        "p80_ci_low",
        "p80_ci_high",
    ]
    return pd.DataFrame(rows, columns=cols)


def km_curve(
    intervals: pd.DataFrame,
    *,
    groupings: Sequence[Sequence[str]] = ((), ("period",), ("org_type",)),
    dims: Sequence[str] = ("org_type", "group", "period"),
    time_col: str = "days",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Kaplan–Meier step curves with pointwise log-log confidence bands.

    Parameters
    ----------
    intervals : pandas.DataFrame
        Output of :func:`evalkit.analysis.intervals.case_intervals`.
    groupings : sequence of sequences of str
        As in :func:`km_summary`.
    dims : sequence of str
        Grouping columns shown in every row.
    time_col : str, default "days"
        ``days`` or ``working_days``.
    alpha : float, default 0.05
        1 - confidence level of the band.

    Returns
    -------
    pandas.DataFrame
        ``interval, <dims>, time, surv, conf_low, conf_high, n_risk, n_events``; each
        curve starts at ``time = 0, surv = 1``. ``surv`` is the share still waiting.
    """
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for interval, sub in intervals.groupby("interval", sort=True):
        for by in groupings:
            for key, g in _groups(sub, by):
                base = {"interval": interval, **{d: key.get(d, _ALL) for d in dims}}
                rows.append(
                    {
                        **base,
                        "time": 0.0,
                        "surv": 1.0,
                        "conf_low": 1.0,
                        "conf_high": 1.0,
                        "n_risk": len(g),
                        "n_events": 0,
                    }
                )
                if g["event"].sum() == 0:
                    continue
                sf = SurvfuncRight(g[time_col].to_numpy(float), g["event"].to_numpy(float))
                s = sf.surv_prob
                se = sf.surv_prob_se
                with np.errstate(all="ignore"):
                    sel = se / (s * np.abs(np.log(s)))
                    lo = s ** np.exp(z * sel)
                    hi = s ** np.exp(-z * sel)
                inside = (s > 0) & (s < 1)
                lo = np.where(inside, lo, s)
                hi = np.where(inside, hi, s)
                for t, sv, lv, hv, nr, ne in zip(
                    sf.surv_times, s, lo, hi, sf.n_risk, sf.n_events, strict=True
                ):
                    rows.append(
                        {
                            **base,
                            "time": float(t),
                            "surv": float(sv),
                            "conf_low": float(lv),
                            "conf_high": float(hv),
                            "n_risk": int(nr),
                            "n_events": int(ne),
                        }
                    )
    cols = ["interval", *dims, "time", "surv", "conf_low", "conf_high", "n_risk", "n_events"]
    return pd.DataFrame(rows, columns=cols)

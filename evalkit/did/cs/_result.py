"""The frozen result of :func:`evalkit.did.cs.callaway_santanna`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from evalkit.did.notes import Note
from evalkit.did.results import html_table, json_float, summary_text, tidy_frame

__all__ = ["AGGREGATIONS", "CsResult"]

#: The aggregations, in the order they are reported.
AGGREGATIONS: tuple[str, ...] = ("simple", "group", "calendar", "dynamic")

_ROW_KEY = {"group": "group", "calendar": "time", "dynamic": "event_time"}
_TERM = {"group": "group::{}", "calendar": "calendar::{}", "dynamic": "event_time::{}"}
_OVERALL_TERM = {
    "simple": "att",
    "group": "group_avg",
    "calendar": "calendar_avg",
    "dynamic": "event_avg",
}


def _num(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


@dataclass(frozen=True)
class CsResult:
    """Callaway–Sant'Anna estimates (read-only).

    Attributes
    ----------
    att, se, ci_low, ci_high, p_value : float
        The simple aggregation (average effect over all post-treatment cells,
        weighted by cohort size): estimate, standard error, interval, p-value.
    n_obs, n_units, n_clusters, n_treated_clusters : int
        Rows used; units (rows for repeated cross-sections); clusters (units
        when no cluster column is given) and clusters with a treated unit.
    inference : str
        ``"analytic"`` (influence functions), ``"bootstrap"`` (multiplier) or
        ``"permutation"`` (cohorts re-assigned to clusters; see ``evalkit.did.estimate``).
    alpha : float
        1 − confidence level.
    notes : tuple of Note
        The warnings, as codes with values (:attr:`warnings` is their English text).
    group_time : pandas.DataFrame
        One row per ATT(g, t): ``group, time, base_period, event_time, att, se,
        conf_low, conf_high, reference`` (``reference`` marks the universal
        base period, estimate 0 by construction).
    aggregations : mapping
        ``simple``, ``group``, ``calendar``, ``dynamic`` → ``{"overall": {att, se,
        conf_low, conf_high}, "rows": DataFrame}``; rows carry ``group``,
        ``time`` or ``event_time`` and ``att, se, conf_low, conf_high``.
    pretest_p : float
        p-value of the Wald test that every pre-treatment ATT(g, t) is zero
        (NaN when it cannot be run; ``options["pretest"]`` says why).
    options : mapping
        The settings and inference details (control group, method, base period,
        anticipation, draws, seed, critical values, Wald statistic).
    dynamic_vcov : numpy.ndarray or None
        Covariance of the dynamic (event-time) rows from their influence functions,
        clustered as the standard errors are (reference rows included, with zeros).
    sensitivity : mapping or None
        The HonestDiD sensitivity analysis of the dynamic rows when it was asked for
        (:func:`evalkit.did.cs.with_sensitivity`), as ``SensitivityResult.to_dict()``.
    """

    att: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_obs: int
    n_units: int
    n_clusters: int
    n_treated_clusters: int
    inference: str
    alpha: float
    notes: tuple[Note, ...]
    group_time: pd.DataFrame = field(repr=False, compare=False)
    aggregations: Mapping[str, Mapping[str, Any]] = field(repr=False, compare=False)
    pretest_p: float = float("nan")
    options: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    dynamic_vcov: Any = field(default=None, repr=False, compare=False)
    sensitivity: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    estimator: str = "callaway_santanna"

    @property
    def warnings(self) -> tuple[str, ...]:
        """The warnings in plain English words, one per note."""
        return tuple(n.text for n in self.notes)

    def tidy(self) -> pd.DataFrame:
        """Return every estimate as a tidy frame.

        Returns
        -------
        pandas.DataFrame
            Columns ``term, estimate, std_error, statistic, p_value, conf_low,
            conf_high`` and ``event_time``. Terms: ``att`` (simple aggregation,
            first), ``group_avg`` and ``group::<g>``, ``calendar_avg`` and
            ``calendar::<t>``, ``event_avg`` and ``event_time::<e>``, and
            ``att_gt::<g>::<t>`` for every cell.
        """
        rows: list[dict[str, Any]] = []

        def add(
            term: str, att: float, se: float, lo: float, hi: float, event_time: int | None = None
        ) -> None:
            stat = att / se if se and math.isfinite(se) and se > 0 else float("nan")
            p = 2 * _norm_sf(abs(stat)) if math.isfinite(stat) else float("nan")
            row = {
                "term": term,
                "estimate": att,
                "std_error": se,
                "statistic": stat,
                "p_value": p,
                "conf_low": lo,
                "conf_high": hi,
            }
            if event_time is not None:
                row["event_time"] = event_time
            rows.append(row)

        for kind in AGGREGATIONS:
            agg = self.aggregations[kind]
            o = agg["overall"]
            add(_OVERALL_TERM[kind], o["att"], o["se"], o["conf_low"], o["conf_high"])
            if "p_value" in o:  # randomization inference: a p-value without a standard error
                rows[-1]["p_value"] = o["p_value"]
            if kind == "simple":
                rows[-1]["p_value"] = self.p_value  # the headline is the p-value reported
                continue
            for r in agg["rows"].to_dict("records"):
                key = r[_ROW_KEY[kind]]
                add(
                    _TERM[kind].format(_num(key)),
                    r["att"],
                    r["se"],
                    r["conf_low"],
                    r["conf_high"],
                    int(key) if kind == "dynamic" else None,
                )
        for r in self.group_time.to_dict("records"):
            add(
                f"att_gt::{_num(r['group'])}::{_num(r['time'])}",
                r["att"],
                r["se"],
                r["conf_low"],
                r["conf_high"],
            )
        frame = tidy_frame(rows)
        return frame

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of ``evalkit did --json`` (see DESIGN.md).

        Returns
        -------
        dict
            ``estimator, att, se, ci_low, ci_high, p_value, n_obs, n_units,
            n_clusters, n_treated_clusters, inference, warnings, warning_codes,
            group_time, aggregations, pretest_p``, then ``alpha`` and
            ``inference_detail``; ``warning_codes`` holds ``{"code", "values"}`` per
            warning, in the same order.
        """

        def rows(frame: pd.DataFrame, keys: list[str]) -> list[dict[str, Any]]:
            out = []
            for r in frame.to_dict("records"):
                item: dict[str, Any] = {}
                for k in keys:
                    v = r[k]
                    item[k] = int(v) if k == "event_time" else _plain_num(v)
                for k in ("att", "se", "conf_low", "conf_high"):
                    item[k] = json_float(r[k])
                out.append(item)
            return out

        aggs: dict[str, Any] = {}
        for kind in AGGREGATIONS:
            agg = self.aggregations[kind]
            o = agg["overall"]
            aggs[kind] = {
                "overall": {
                    k: json_float(o[k])
                    for k in ("att", "se", "conf_low", "conf_high", "p_value")
                    if k in o
                },
                "rows": [] if kind == "simple" else rows(agg["rows"], [_ROW_KEY[kind]]),
            }
        out = {
            "estimator": self.estimator,
            "att": json_float(self.att),
            "se": json_float(self.se),
            "ci_low": json_float(self.ci_low),
            "ci_high": json_float(self.ci_high),
            "p_value": json_float(self.p_value),
            "n_obs": int(self.n_obs),
            "n_units": int(self.n_units),
            "n_clusters": int(self.n_clusters),
            "n_treated_clusters": int(self.n_treated_clusters),
            "inference": self.inference,
            "warnings": list(self.warnings),
            "warning_codes": [n.to_dict() for n in self.notes],
            "group_time": rows(self.group_time, ["group", "time"]),
            "aggregations": aggs,
            "pretest_p": json_float(self.pretest_p),
            "alpha": float(self.alpha),
            "inference_detail": {
                k: _plain_num(v) if isinstance(v, float) else v for k, v in self.options.items()
            },
        }
        if self.sensitivity is not None:
            # The same two keys as the event study's JSON, so readers need no estimator switch.
            out["sensitivity"] = [
                {"bound": r["bound"], "lb": r["lb"], "ub": r["ub"]}
                for r in self.sensitivity["rows"]
            ]
            out["sensitivity_analysis"] = {
                k: v for k, v in self.sensitivity.items() if k not in ("warnings", "warning_codes")
            }
        return out

    def _facts(self) -> dict[str, Any]:
        o = self.options
        return {
            "observations": self.n_obs,
            "units": self.n_units,
            "clusters": f"{self.n_clusters} ({self.n_treated_clusters} treated)",
            "comparison group": o.get("control"),
            "method": o.get("method"),
            "base period": o.get("base_period"),
            "inference": self.inference,
            "confidence level": f"{1 - self.alpha:.0%}",
            "pre-trend test p": _fmt(self.pretest_p),
        }

    def _headline(self) -> pd.DataFrame:
        frame = self.tidy()
        return frame[~frame["term"].str.startswith("att_gt::")].reset_index(drop=True)

    def summary(self) -> str:
        """Return a plain-text summary: facts, the aggregations and the warnings.

        Returns
        -------
        str
            The summary (the ATT(g, t) cells are in :meth:`tidy`).
        """
        return summary_text(
            "evalkit DiD: callaway_santanna", self._headline(), self._facts(), self.warnings
        )

    def _repr_html_(self) -> str:
        return html_table(
            "evalkit DiD: callaway_santanna", self._headline(), self._facts(), self.warnings
        )

    def __repr__(self) -> str:
        return (
            f"CsResult(att={_fmt(self.att)}, se={_fmt(self.se)}, "
            f"ci=[{_fmt(self.ci_low)}, {_fmt(self.ci_high)}], p={_fmt(self.p_value)}, "
            f"cells={len(self.group_time)}, control={self.options.get('control')!r}, "
            f"method={self.options.get('method')!r}, inference={self.inference!r}, "
            f"n_units={self.n_units}, warnings={len(self.warnings)})"
        )


def _fmt(value: Any) -> str:
    number = json_float(value)
    return "—" if number is None else f"{number:.4g}"


def _plain_num(value: Any) -> Any:
    number = json_float(value)
    if number is not None and number.is_integer() and abs(number) < 1e15:
        return int(number)
    return number


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))

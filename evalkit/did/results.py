"""Frozen result objects of the difference-in-differences estimators, and their one contract.

Every estimator returns a frozen dataclass with the same five methods:

``tidy()``
    A :class:`pandas.DataFrame` with exactly the columns :data:`TIDY_COLUMNS`
    (``term, estimate, std_error, statistic, p_value, conf_low, conf_high``), one
    row per reported quantity. The headline row comes first. Event-time rows are
    named ``event_time::<e>`` (e.g. ``event_time::-2``) and tidy frames that
    contain them carry one extra integer column ``event_time`` after the seven.
    Missing values (e.g. no standard error under permutation inference) are NaN.
``to_dict()``
    The JSON object of ``evalkit did --json`` (see ``DESIGN.md``): ``estimator,
    att, se, ci_low, ci_high, p_value, n_obs, n_units, n_clusters,
    n_treated_clusters, inference, warnings`` plus ``warning_codes`` (one
    ``{"code", "values"}`` per warning, same order; see :mod:`evalkit.did.notes`)
    and per-estimator keys. Every float
    that is NaN or infinite is ``None`` (strict JSON). An interval that the
    design cannot bound (see :mod:`evalkit.did.inference`) is ``None`` on both
    sides and a warning says why.
``summary()``
    A plain-text table for the console.
``_repr_html_()``
    An HTML table for notebooks and reports.
``__repr__``
    One line.

The helpers :func:`json_float`, :func:`tidy_frame`, :func:`summary_text` and
:func:`html_table` are public so that other result classes (Callaway–Sant'Anna)
render the same way.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from evalkit.did.notes import Note

__all__ = [
    "HEADLINE",
    "TIDY_COLUMNS",
    "DidResult",
    "event_time_rows",
    "headline",
    "html_table",
    "json_float",
    "record",
    "summary_text",
    "tidy_frame",
]

#: The columns of every ``tidy()`` frame, in order.
TIDY_COLUMNS: tuple[str, ...] = (
    "term",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
)

#: The numbers of a headline estimate, in the tidy vocabulary that bundle rows use.
HEADLINE: tuple[str, ...] = ("estimate", "std_error", "conf_low", "conf_high", "p_value")


def json_float(value: Any) -> float | None:
    """Return ``value`` as a Python float, or None when it is missing, NaN or infinite.

    Parameters
    ----------
    value : Any
        A number (numpy or Python) or None.

    Returns
    -------
    float or None
        A finite float, or None.
    """
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def headline(tidy: pd.DataFrame) -> dict[str, float | None]:
    """Return the headline row of a tidy frame as :data:`HEADLINE` numbers.

    Every consumer of an estimate (bundle rows, the monitor's DiD tables, the
    power simulation) reads its numbers here, so that the tidy vocabulary is the
    only one they meet; ``to_dict()`` keeps ``att, se, ci_low, ci_high`` for the
    CLI's JSON only.

    Parameters
    ----------
    tidy : pandas.DataFrame
        A frame of :data:`TIDY_COLUMNS`, headline row first (any result's ``tidy()``).

    Returns
    -------
    dict
        ``estimate, std_error, conf_low, conf_high, p_value``; NaN and infinite
        numbers (an interval the design cannot bound) are None, as in the JSON.
    """
    first = tidy.iloc[0]
    return {key: json_float(first[key]) for key in HEADLINE}


class _Result(Protocol):
    def tidy(self) -> pd.DataFrame: ...

    def to_dict(self) -> dict[str, Any]: ...


#: ``to_dict()``'s names of the headline numbers, which a record replaces by the tidy ones.
_JSON_NUMBERS = frozenset({"att", "se", "ci_low", "ci_high", "p_value"})


def record(result: _Result, tidy: pd.DataFrame | None = None) -> dict[str, Any]:
    """Return a result as the JSON record the bundle and the national estimates store.

    Parameters
    ----------
    result : DidResult or CsResult
        Any estimator's result.
    tidy : pandas.DataFrame, optional
        ``result.tidy()`` when the caller has it already.

    Returns
    -------
    dict
        ``estimator``, the :func:`headline` numbers, then every other key of
        ``result.to_dict()`` (counts, inference, notes, estimator-specific parts).
    """
    as_json = result.to_dict()
    out = {
        "estimator": as_json.pop("estimator"),
        **headline(result.tidy() if tidy is None else tidy),
    }
    out.update((k, v) for k, v in as_json.items() if k not in _JSON_NUMBERS)
    return out


def event_time_rows(tidy: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the event-time rows of a tidy frame, by event time, in the tidy vocabulary.

    Parameters
    ----------
    tidy : pandas.DataFrame
        A tidy frame; rows without an ``event_time`` (the headline, cells,
        other aggregations) are left out.

    Returns
    -------
    list of dict
        ``event_time`` (int) and :data:`HEADLINE` numbers (None where missing).
    """
    if "event_time" not in tidy.columns:
        return []
    rows = tidy.dropna(subset=["event_time"]).sort_values("event_time", kind="stable")
    return [
        {"event_time": int(r["event_time"]), **{key: json_float(r[key]) for key in HEADLINE}}
        for r in rows.to_dict("records")
    ]


def tidy_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build a tidy frame with :data:`TIDY_COLUMNS` (plus ``event_time`` when rows have it).

    Parameters
    ----------
    rows : iterable of mapping
        One mapping per row with (a subset of) the tidy columns.

    Returns
    -------
    pandas.DataFrame
        The tidy frame; missing numbers are NaN.
    """
    records = [dict(r) for r in rows]
    columns = list(TIDY_COLUMNS)
    if any("event_time" in r for r in records):
        columns.append("event_time")
    frame = pd.DataFrame.from_records(records, columns=columns)
    for col in TIDY_COLUMNS[1:]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["term"] = frame["term"].astype(str)
    if "event_time" in frame.columns:
        frame["event_time"] = pd.array(frame["event_time"], dtype="Int64")
    return frame


def _fmt(value: Any, digits: int = 4) -> str:
    number = json_float(value)
    if number is None:
        if value is not None and isinstance(value, float) and math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return "—"
    if number != 0 and (abs(number) >= 1e6 or abs(number) < 1e-4):
        return f"{number:.{digits}g}"
    return f"{number:.{digits}f}"


def summary_text(
    title: str,
    tidy: pd.DataFrame,
    facts: Mapping[str, Any],
    warnings: Sequence[str] = (),
) -> str:
    """Render a result as a plain-text block: title, facts, tidy table, warnings.

    Parameters
    ----------
    title : str
        First line.
    tidy : pandas.DataFrame
        The tidy frame.
    facts : mapping
        Key facts printed as ``key: value`` lines (observations, clusters, ...).
    warnings : sequence of str
        Warnings printed at the end.

    Returns
    -------
    str
        The text.
    """
    lines = [title, "=" * len(title)]
    lines += [f"{k}: {v}" for k, v in facts.items()]
    header = ["term", "estimate", "std.error", "statistic", "p.value", "conf.low", "conf.high"]
    body = [
        [str(r["term"])] + [_fmt(r[c]) for c in TIDY_COLUMNS[1:]] for r in tidy.to_dict("records")
    ]
    widths = [
        max(len(h), *(len(row[i]) for row in body)) if body else len(h)
        for i, h in enumerate(header)
    ]
    lines.append("")
    lines.append(
        "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    )
    for row in body:
        lines.append(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    if warnings:
        lines.append("")
        lines += [f"warning: {w}" for w in warnings]
    return "\n".join(lines)


def html_table(
    title: str,
    tidy: pd.DataFrame,
    facts: Mapping[str, Any],
    warnings: Sequence[str] = (),
) -> str:
    """Render a result as a small self-contained HTML fragment.

    Parameters
    ----------
    title : str
        Caption.
    tidy : pandas.DataFrame
        The tidy frame.
    facts : mapping
        Key facts shown under the table.
    warnings : sequence of str
        Warnings shown under the facts.

    Returns
    -------
    str
        HTML.
    """
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in TIDY_COLUMNS)
    rows = "".join(
        "<tr>"
        + f"<td>{esc(str(r['term']))}</td>"
        + "".join(f"<td>{esc(_fmt(r[c]))}</td>" for c in TIDY_COLUMNS[1:])
        + "</tr>"
        for r in tidy.to_dict("records")
    )
    fact_html = "; ".join(f"{esc(str(k))}: {esc(str(v))}" for k, v in facts.items())
    warn_html = "".join(f"<li>{esc(w)}</li>" for w in warnings)
    return (
        f"<div class='evalkit-result'><table><caption>{esc(title)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        f"<p>{fact_html}</p>"
        + (f"<ul class='warnings'>{warn_html}</ul>" if warn_html else "")
        + "</div>"
    )


@dataclass(frozen=True)
class DidResult:
    """The fitted numbers of a 2×2, TWFE, event-study or Bacon estimate (read-only).

    Attributes
    ----------
    estimator : str
        ``"2x2"``, ``"twfe"``, ``"event_study"`` or ``"bacon"``.
    att : float
        The headline estimate: the treatment coefficient (2×2, TWFE, Bacon) or, for
        the event study, the equally weighted mean of the post-period (e ≥ 0)
        event-time coefficients.
    se : float
        Its standard error (NaN when the inference method has none, e.g.
        permutation or Conley–Taber: those give a p-value and an interval only).
    ci_low, ci_high : float
        Confidence interval at level ``1 - alpha`` (±inf when the design cannot bound it).
        For conformal inference the hull of the confidence set ``extra["conf_set"]``,
        which need not be one interval.
    p_value : float
        Two-sided p-value of "no effect".
    n_obs, n_units, n_clusters, n_treated_clusters : int
        Rows used, distinct units (or rows for repeated cross-sections), clusters
        and clusters with any treated row.
    inference : str
        ``"analytic"`` (with the vcov in ``inference_detail``), ``"wild"``,
        ``"permutation"`` or ``"conley_taber"``.
    alpha : float
        1 − confidence level.
    notes : tuple of Note
        The warnings attached to this result, as codes with values
        (:attr:`warnings` is their English text).
    table : pandas.DataFrame
        The tidy frame (``tidy()`` returns a copy).
    inference_detail : mapping
        Method-specific facts (vcov type, draws, weights, smallest attainable p-value, ...).
    extra : mapping
        Estimator-specific JSON additions: ``event_study`` rows and ``pretrend``
        (event study), ``components`` (Bacon), ``conf_set`` (conformal inference: the
        effects not rejected as ``[low, high]`` pieces in increasing order, null in JSON
        for an open end).
    """

    estimator: str
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
    table: pd.DataFrame = field(repr=False, compare=False)
    inference_detail: Mapping[str, Any] = field(default_factory=dict, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The warnings in plain English words, one per note."""
        return tuple(n.text for n in self.notes)

    def tidy(self) -> pd.DataFrame:
        """Return the tidy frame (a copy): term, estimate, std_error, statistic, p_value, conf_low, conf_high.

        Returns
        -------
        pandas.DataFrame
            One row per reported quantity; the headline row first.
        """  # noqa: E501
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of ``evalkit did --json``.

        Returns
        -------
        dict
            ``estimator, att, se, ci_low, ci_high, p_value, n_obs, n_units,
            n_clusters, n_treated_clusters, inference, warnings``,
            ``warning_codes`` (``{"code", "values"}`` per warning, same order), then
            ``alpha``, ``inference_detail`` and the estimator-specific keys
            (``event_study`` and ``pretrend``; ``components``).
        """
        out: dict[str, Any] = {
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
            "alpha": float(self.alpha),
            "inference_detail": _plain(dict(self.inference_detail)),
        }
        out.update(_plain(dict(self.extra)))
        return out

    def _facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "observations": self.n_obs,
            "units": self.n_units,
            "clusters": f"{self.n_clusters} ({self.n_treated_clusters} treated)",
            "inference": self.inference,
            "confidence level": f"{1 - self.alpha:.0%}",
        }
        pieces = self.extra.get("conf_set")
        if pieces is not None and len(pieces) > 1:
            # the table's conf.low and conf.high are the hull of a set with gaps
            facts["confidence set"] = " \u222a ".join(
                f"[{_fmt(low)}, {_fmt(high)}]" for low, high in pieces
            )
        return facts

    def summary(self) -> str:
        """Return a plain-text summary: facts, the tidy table and the warnings.

        Returns
        -------
        str
            The summary.
        """
        return summary_text(
            f"evalkit DiD: {self.estimator}", self.table, self._facts(), self.warnings
        )

    def _repr_html_(self) -> str:
        return html_table(
            f"evalkit DiD: {self.estimator}", self.table, self._facts(), self.warnings
        )

    def __repr__(self) -> str:
        return (
            f"DidResult(estimator={self.estimator!r}, att={_fmt(self.att)}, "
            f"se={_fmt(self.se)}, ci=[{_fmt(self.ci_low)}, {_fmt(self.ci_high)}], "
            f"p={_fmt(self.p_value)}, inference={self.inference!r}, n_obs={self.n_obs}, "
            f"clusters={self.n_clusters}/{self.n_treated_clusters} treated, "
            f"warnings={len(self.warnings)})"
        )


def _plain(value: Any) -> Any:
    """Convert numpy/pandas scalars and containers into strict-JSON Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [_plain(r) for r in value.to_dict("records")]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return json_float(value)
    if value is None or isinstance(value, str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)

"""The confirmatory analysis: exactly the estimator, inference and correction a protocol registers.

For every outcome the protocol declares this runs the registered estimator with
the registered inference, adjusts the primary outcomes' p-values for multiple
testing, and adds the robustness checks the report shows for primary outcomes
(event study, pre-trend test, placebo in time, inference methods side by side,
alternative control group, Bacon decomposition under staggered timing) and the
registered subgroups. Estimation itself is :func:`evalkit.did.estimate`; this
module only decides what to estimate on which rows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from evalkit.analysis.measures import (
    COHORT,
    PERIOD,
    POST,
    TREATED_GROUP,
    UNIT,
    AnalysisFrame,
    pre_post_mask,
)
from evalkit.analysis.quiet import estimate_quietly, inferences_quietly
from evalkit.analysis.sensitivity import robustness_checks
from evalkit.protocol.expressions import evaluate

__all__ = ["confirmatory_analysis"]

#: Multiple-testing names in the protocol → statsmodels method names.
_CORRECTIONS = {"holm": "holm", "bh": "fdr_bh", "benjamini_hochberg": "fdr_bh", "none": None}
#: Inference methods shown side by side for 2×2 and TWFE (few-treated methods next to CR1).
_INFERENCE_SIDE_BY_SIDE = ("analytic", "wild", "permutation", "conley_taber")


def _design_kwargs(analysis: Mapping[str, Any], estimator: str) -> dict[str, Any]:
    """Keyword arguments for :func:`evalkit.did.estimate` from the protocol's analysis block."""
    inference = analysis.get("inference", "auto")
    kwargs: dict[str, Any] = {
        "estimator": estimator,
        "unit": "person_id",
        "time": PERIOD,
        "cluster": UNIT,
        "inference": None if inference in (None, "auto") else inference,
        "seed": int(analysis.get("seed", 0) or 0),
        "alpha": float(analysis.get("alpha", 0.05)),
        "few_treated_threshold": int(analysis.get("few_treated_threshold", 5)),
        "covariates": tuple(analysis.get("covariates", []) or ()),
    }
    if estimator in ("twfe", "2x2"):
        kwargs["vcov"] = "cluster"
    if estimator == "callaway_santanna":
        kwargs["control"] = (
            "notyet" if analysis.get("control_group") in ("notyet", "not_yet") else "never"
        )
        kwargs["method"] = analysis.get("method", "dr")
        kwargs["base_period"] = analysis.get("base_period", "varying")
        kwargs["allow_unbalanced_panel"] = True
    return kwargs


def _design(
    frame: pd.DataFrame,
    outcome: str,
    estimator: str,
    analysis: Mapping[str, Any],
    protocol: Mapping[str, Any],
    af: AnalysisFrame,
    override: Mapping[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the rows and keyword arguments of one outcome under the protocol's design."""
    kwargs = _design_kwargs(analysis, estimator)
    kwargs.update(override)
    data = frame.loc[frame[outcome].notna()]
    if estimator == "2x2":
        pre, post = pre_post_mask(af, protocol)
        keep = (pre | post)[frame[outcome].notna().to_numpy()]
        return data.loc[keep], {
            **kwargs,
            "outcome": outcome,
            "treated": TREATED_GROUP,
            "post": POST,
        }
    # TWFE and the rest take the unit's cohort (the municipality's start period), so people
    # who enter the panel after the start are treated from their first month, not a cohort
    # of their own.
    return data, {**kwargs, "outcome": outcome, "cohort": COHORT}


def _run(
    frame: pd.DataFrame,
    outcome: str,
    estimator: str,
    analysis: Mapping[str, Any],
    protocol: Mapping[str, Any],
    af: AnalysisFrame,
    **override: Any,
) -> tuple[dict[str, Any] | None, list[str]]:
    """Estimate one outcome with the protocol's design, choosing the rows the estimator needs."""
    data, kwargs = _design(frame, outcome, estimator, analysis, protocol, af, override)
    return estimate_quietly(data, **kwargs)


def _run_one(
    frame: pd.DataFrame,
    outcome: str,
    analysis: Mapping[str, Any],
    protocol: Mapping[str, Any],
    af: AnalysisFrame,
    estimator: str,
    **override: Any,
) -> tuple[dict[str, Any] | None, list[str]]:
    """:func:`_run` with the estimator last, for the registered robustness checks."""
    return _run(frame, outcome, estimator, analysis, protocol, af, **override)


def _run_inferences(
    frame: pd.DataFrame,
    outcome: str,
    estimator: str,
    analysis: Mapping[str, Any],
    protocol: Mapping[str, Any],
    af: AnalysisFrame,
    methods: Sequence[str],
) -> dict[str, tuple[dict[str, Any] | None, list[str]]]:
    """As :func:`_run` once per inference method, from one fit (2×2 and TWFE)."""
    data, kwargs = _design(frame, outcome, estimator, analysis, protocol, af, {})
    return inferences_quietly(data, methods, **kwargs)


def _summary_row(outcome: str, res: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"outcome": outcome, **extra}
    for key in ("inference", "att", "se", "ci_low", "ci_high", "p_value"):
        row[key] = None if res is None else res.get(key)
    row["estimate"] = row.pop("att")
    row["std_error"] = row.pop("se")
    row["conf_low"] = row.pop("ci_low")
    row["conf_high"] = row.pop("ci_high")
    row["warnings"] = [] if res is None else res.get("warnings", [])
    row["warning_codes"] = [] if res is None else res.get("warning_codes", [])
    return row


def _event_rows(outcome: str, res: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Event-time rows from an event-study or Callaway–Sant'Anna dynamic result."""
    if res is None:
        return []
    if "aggregations" in res:
        rows = res["aggregations"].get("dynamic", {}).get("rows", [])
        return [
            {
                "outcome": outcome,
                "event_time": int(r["event_time"]),
                "estimate": r.get("att"),
                "std_error": r.get("se"),
                "conf_low": r.get("ci_low"),
                "conf_high": r.get("ci_high"),
            }
            for r in rows
        ]
    tidy: pd.DataFrame = res["_tidy"]
    out = []
    for rec in tidy.to_dict("records"):
        et = _event_time_of(str(rec["term"]))
        if et is None:
            continue
        out.append(
            {
                "outcome": outcome,
                "event_time": et,
                "estimate": rec["estimate"],
                "std_error": rec["std_error"],
                "conf_low": rec["conf_low"],
                "conf_high": rec["conf_high"],
            }
        )
    return sorted(out, key=lambda r: r["event_time"])


def _event_time_of(term: str) -> int | None:
    """Parse an event-time term name such as ``event_time::-2`` or ``rel_time=3``."""
    for sep in ("::", "=", "_"):
        head, _, tail = term.rpartition(sep)
        if head and tail.lstrip("-").isdigit():
            return int(tail)
    return None


def _pretrend(outcome: str, es: dict[str, Any] | None, threshold: int) -> dict[str, Any]:
    """Joint test that all pre-period event-time effects are zero, or why it cannot be run.

    A clustered Wald test of K pre-period effects needs the cluster-robust
    covariance to have rank K, which it cannot have with K ≥ the number of
    clusters, and it over-rejects with few treated clusters; then the test is
    reported as invalid with its reason (the placebo in time remains).
    """
    row: dict[str, Any] = {
        "outcome": outcome,
        "test": "wald_pre_periods",
        "statistic": None,
        "p_value": None,
        "valid": False,
        "reason": None,  # a code the report's translation table words
        "reason_values": {},
    }
    if es is None:
        row["reason"] = "no_event_study"
        return row
    if es.get("pretest_p") is not None:
        row.update({"test": "wald_pre_periods_cs", "p_value": es["pretest_p"], "valid": True})
        return row
    if "aggregations" in es:  # Callaway–Sant'Anna: its pre-test says why it could not run
        detail = es.get("inference_detail") or {}
        row["test"] = "wald_pre_periods_cs"
        k = int(detail.get("pretest_df") or 0)
        if not k:
            row["reason"] = "no_pre_periods"
        else:
            row["reason"] = "more_effects_than_clusters"
            row["reason_values"] = {"k": k, "clusters": es.get("n_clusters")}
        return row
    test = es.get("pretrend") or {}
    k = int(test.get("df") or 0)
    clusters, treated = es.get("n_clusters"), es.get("n_treated_clusters")
    if not k:
        row["reason"] = "no_pre_periods"
    elif clusters is not None and k >= clusters:
        row["reason"] = "more_effects_than_clusters"
        row["reason_values"] = {"k": k, "clusters": clusters}
    elif (treated is not None and treated < threshold) or test.get("p_value") is None:
        row["reason"] = "few_treated_clusters"
        row["reason_values"] = {"treated": treated}
    else:
        row.update(
            {"statistic": test.get("statistic"), "p_value": test.get("p_value"), "valid": True}
        )
    return row


def _placebo(
    frame: pd.DataFrame,
    outcome: str,
    estimator: str,
    analysis: Mapping[str, Any],
    protocol: Mapping[str, Any],
    af: AnalysisFrame,
    shift: int = 6,
) -> dict[str, Any]:
    """Pretend the pilot started ``shift`` months earlier and use only pre-period months."""
    pre, _ = pre_post_mask(af, protocol)
    data = frame.loc[pre].copy()
    cohorts = data[COHORT].to_numpy()
    fake = np.where(cohorts > 0, cohorts - shift, 0)
    data[COHORT] = fake
    data[POST] = (
        data[PERIOD].to_numpy() >= (fake[fake > 0].min() if (fake > 0).any() else 10**9)
    ).astype("int64")
    est = "twfe" if estimator in ("2x2", "event_study") else estimator
    res, _ = _run(data, outcome, est, analysis, protocol, af)
    first = int(fake[fake > 0].min()) if (fake > 0).any() else None
    return _summary_row(
        outcome, res, placebo_start=None if first is None else af.period_label(first)
    )


def _alternative_control(
    frame: pd.DataFrame,
    outcome: str,
    estimator: str,
    analysis: Mapping[str, Any],
    protocol: Mapping[str, Any],
    af: AnalysisFrame,
) -> dict[str, Any]:
    """Re-estimate with another control group.

    Callaway–Sant'Anna switches between never- and not-yet-treated controls; the
    other estimators keep the half of the comparison units whose pre-period level
    of the outcome is closest to the pilot units' (a simple, transparent matching).
    """
    if estimator == "callaway_santanna":
        other = "never" if _design_kwargs(analysis, estimator)["control"] == "notyet" else "notyet"
        res, _ = _run(frame, outcome, estimator, analysis, protocol, af, control=other)
        return _summary_row(outcome, res, control=f"{other}_treated")
    pre, _ = pre_post_mask(af, protocol)
    levels = frame.loc[pre].groupby(UNIT)[outcome].mean()
    pilot_units = frame.loc[frame[TREATED_GROUP], UNIT].unique()
    comparison = levels.drop(index=[u for u in pilot_units if u in levels.index])
    target = levels.reindex(pilot_units).mean()
    keep_n = max(2, int(np.ceil(len(comparison) / 2)))
    nearest = (comparison - target).abs().sort_values(kind="mergesort").index[:keep_n]
    subset = frame.loc[frame[UNIT].isin(list(pilot_units) + list(nearest))]
    res, _ = _run(subset, outcome, estimator, analysis, protocol, af)
    return _summary_row(outcome, res, control="nearest_half_pre_period")


def _bacon(frame: pd.DataFrame, outcome: str, analysis: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Goodman-Bacon decomposition on the unit-by-month means (a balanced panel)."""
    means = frame.groupby([UNIT, PERIOD], as_index=False).agg(
        y=(outcome, "mean"), cohort=(COHORT, "first")
    )
    complete = means.groupby(UNIT)[PERIOD].transform("size") == means[PERIOD].nunique()
    means = means.loc[complete]
    res, _ = estimate_quietly(
        means,
        outcome="y",
        unit=UNIT,
        time=PERIOD,
        cohort="cohort",
        estimator="bacon",
        seed=int(analysis.get("seed", 0) or 0),
    )
    if res is None:
        return []
    return [{"outcome": outcome, **c} for c in res.get("components", [])]


def _subgroups(
    frame: pd.DataFrame,
    protocol: Mapping[str, Any],
    estimator: str,
    analysis: Mapping[str, Any],
    af: AnalysisFrame,
    outcomes: list[str],
) -> list[dict[str, Any]]:
    rows = []
    for sub in (protocol.get("population", {}) or {}).get("subgroups", []) or []:
        mask = evaluate(str(sub["definition"]), frame).fillna(False).astype(bool).to_numpy()
        data = frame.loc[mask]
        for outcome in outcomes:
            res, _ = _run(data, outcome, estimator, analysis, protocol, af)
            row = _summary_row(outcome, res, subgroup=sub["id"], label=sub.get("label"))
            row["n_persons"] = int(data["person_id"].nunique())
            rows.append(row)
    return rows


def _adjust(p_values: list[float | None], method: str | None) -> list[float | None]:
    """Adjust the primary outcomes' p-values; outcomes without a p-value stay without."""
    idx = [i for i, p in enumerate(p_values) if p is not None and np.isfinite(p)]
    out: list[float | None] = [None] * len(p_values)
    if not idx:
        return out
    if method is None:
        for i in idx:
            out[i] = p_values[i]
        return out
    adjusted = multipletests([p_values[i] for i in idx], method=method)[1]
    for i, p in zip(idx, adjusted, strict=True):
        out[i] = float(p)
    return out


def confirmatory_analysis(af: AnalysisFrame, protocol: Mapping[str, Any]) -> dict[str, Any]:
    """Run the registered analysis of every outcome and the robustness checks of the primary ones.

    Parameters
    ----------
    af : AnalysisFrame
        The analysis frame from :func:`evalkit.analysis.measures.build_analysis_frame`.
    protocol : mapping
        The protocol as a canonical mapping.

    Returns
    -------
    dict
        Bundle parts ``confirmatory``, ``robustness`` and ``subgroups`` (see docs/bundle.md).
    """
    analysis = protocol.get("analysis", {}) or {}
    estimator = str(analysis.get("estimator", "twfe"))
    correction = _CORRECTIONS.get(str(analysis.get("multiple_testing", "holm")).lower(), "holm")
    frame = af.data
    outcomes = [o for o in protocol.get("outcomes", []) if o["id"] in frame.columns]
    hypotheses = {h["outcome"]: h["id"] for h in protocol.get("hypotheses", []) or []}
    pre, _ = pre_post_mask(af, protocol)

    effects = []
    main: dict[str, dict[str, Any] | None] = {}
    for o in outcomes:
        res, _ = _run(frame, o["id"], estimator, analysis, protocol, af)
        main[o["id"]] = res
        baseline = frame.loc[pre & frame[TREATED_GROUP].to_numpy(), o["id"]].mean()
        effects.append(
            {
                "outcome": o["id"],
                "label": o.get("label"),
                "role": o.get("role"),
                "domain": o.get("domain"),
                "type": o.get("type"),
                "expected_direction": o.get("expected_direction"),
                "smallest_effect": o.get("smallest_effect"),
                "hypothesis": hypotheses.get(o["id"]),
                "baseline_mean": None if pd.isna(baseline) else float(baseline),
                "result": None if res is None else {k: v for k, v in res.items() if k != "_tidy"},
                "error": None if res is not None else "; ".join(_),
            }
        )
    primary = [e for e in effects if e["role"] == "primary"]
    adjusted = _adjust(
        [None if e["result"] is None else e["result"].get("p_value") for e in primary], correction
    )
    for e, p in zip(primary, adjusted, strict=True):
        e["p_adjusted"] = p
    for e in effects:
        e.setdefault("p_adjusted", None)

    primary_ids = [e["outcome"] for e in primary]
    event_study, pretrend, placebo, side, alternative, bacon = [], [], [], [], [], []
    sensitivity: list[dict[str, Any]] = []
    modern: list[dict[str, Any]] = []
    staggered = frame.loc[frame[COHORT] > 0, COHORT].nunique() > 1
    for oid in primary_ids:
        es_estimator = "callaway_santanna" if estimator == "callaway_santanna" else "event_study"
        es, _ = _run(frame, oid, es_estimator, analysis, protocol, af)
        event_study += _event_rows(oid, es)
        pretrend.append(_pretrend(oid, es, int(analysis.get("few_treated_threshold", 5))))
        placebo.append(_placebo(frame, oid, estimator, analysis, protocol, af))
        if estimator in ("2x2", "twfe"):
            res = main.get(oid)
            done = res.get("inference") if res is not None else None
            todo = [m for m in _INFERENCE_SIDE_BY_SIDE if m != done]  # one fit for the rest
            more = _run_inferences(frame, oid, estimator, analysis, protocol, af, todo)
            for method in _INFERENCE_SIDE_BY_SIDE:
                side.append(_summary_row(oid, res if method == done else more[method][0]))
        alternative.append(_alternative_control(frame, oid, estimator, analysis, protocol, af))
        if staggered and estimator in ("twfe", "event_study", "callaway_santanna"):
            bacon += _bacon(frame, oid, analysis)
        run = functools.partial(_run_one, frame, oid, analysis, protocol, af)
        registered = [{**r, "estimator": es_estimator} for r in _event_rows(oid, es)]
        checked = robustness_checks(run, oid, estimator, analysis, main.get(oid), registered)
        sensitivity += checked[0]
        modern += checked[1]

    return {
        "confirmatory": {
            "alpha": float(analysis.get("alpha", 0.05)),
            "multiple_testing": str(analysis.get("multiple_testing", "holm")),
            "estimator": estimator,
            "effects": effects,
            "event_study": event_study,
        },
        "robustness": {
            "pretrend": pretrend,
            "placebo": placebo,
            "inference_comparison": side,
            "alternative_control": alternative,
            "bacon": bacon,
            "sensitivity": sensitivity,
            "event_studies": modern,
        },
        "subgroups": _subgroups(frame, protocol, estimator, analysis, af, primary_ids),
    }


def exploratory_analysis(
    af: AnalysisFrame, protocol: Mapping[str, Any], specs: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Run exploratory (not pre-registered) analyses declared in ``analyses/*.yaml``.

    Each spec names the protocol it belongs to, a title (nl/en) and extra outcomes
    (``id``, ``label``, ``definition`` in the protocol's expression language), and
    optionally another ``estimator``. Results are always labelled exploratory.

    Parameters
    ----------
    af : AnalysisFrame
        The analysis frame.
    protocol : mapping
        The protocol mapping.
    specs : list of mapping
        Exploratory analysis specifications.

    Returns
    -------
    list of dict
        Records ``id, title, file, estimator, effects``.
    """
    analysis = dict(protocol.get("analysis", {}) or {})
    out = []
    for spec in specs:
        estimator = str(spec.get("estimator", analysis.get("estimator", "twfe")))
        frame = af.data.copy()
        effects = []
        for o in spec.get("outcomes", []) or []:
            frame[o["id"]] = pd.to_numeric(
                evaluate(str(o["definition"]), frame), errors="coerce"
            ).astype("float64")
            res, errors = _run(frame, o["id"], estimator, analysis, protocol, af)
            row = _summary_row(o["id"], res, label=o.get("label"))
            row["error"] = None if res is not None else "; ".join(errors)
            effects.append(row)
        out.append(
            {
                "id": spec.get("id"),
                "title": spec.get("title"),
                "file": spec.get("file"),
                "estimator": estimator,
                "exploratory": True,
                "effects": effects,
            }
        )
    return out

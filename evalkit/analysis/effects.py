"""The confirmatory analysis: exactly the estimator, inference and correction a protocol registers.

For every outcome the protocol declares this runs the registered specification
(:func:`evalkit.analysis.plan.registered_spec`), adjusts the registered family's
p-values for multiple testing, accounts for every registered hypothesis (an
estimate, or why there is none), and adds the robustness checks the report
shows for primary outcomes (event study, pre-trend test, placebo in time,
inference methods side by side, alternative control group, Bacon decomposition
under staggered timing) and the registered subgroups. Estimation itself is
:func:`evalkit.did.estimate`; this module only decides which rows each
specification is estimated on.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit.analysis.family import hypothesis_rows
from evalkit.analysis.measures import (
    COHORT,
    PERIOD,
    POST,
    TREATED_GROUP,
    UNIT,
    AnalysisFrame,
)
from evalkit.analysis.period_names import name_periods
from evalkit.analysis.plan import registered_spec
from evalkit.analysis.quiet import (
    Failure,
    Fitted,
    estimate_quietly,
    fit_quietly,
    infer_quietly,
    summary_row,
)
from evalkit.analysis.robustness import event_rows, pretrend_row
from evalkit.analysis.sensitivity import robustness_checks
from evalkit.analysis.subgroup_rows import subgroup_rows
from evalkit.analysis.synthetic_cells import cell_design, uses_cells
from evalkit.analysis.windows import Windows
from evalkit.did.fitted import fits_apart
from evalkit.protocol.model import Outcome, Protocol
from evalkit.spec import INFERENCE_COMPARED, Inference, Spec

__all__ = [
    "Design",
    "confirmatory_analysis",
    "confirmatory_part",
    "effect_record",
    "summary_row",
]

#: Inference methods shown side by side for 2×2 and TWFE (few-treated methods next to CR1).
_INFERENCE_SIDE_BY_SIDE: tuple[Inference, ...] = ("analytic", "wild", "permutation", "conley_taber")
#: How many months earlier the placebo pretends the pilot started.
PLACEBO_SHIFT = 6

Result = tuple[dict[str, Any] | None, list[str]]


@dataclass(frozen=True)
class Design:
    """A protocol's analysis frame with its windows, computed once.

    Attributes
    ----------
    af : AnalysisFrame
        The person-month frame.
    protocol : Protocol
        The registered protocol.
    pre_end : int
        Last period of the pre window that counts as untreated: the registered
        pre window less the anticipation months before the first pilot start.
    post_start : int
        First period of the post window.
    """

    af: AnalysisFrame
    protocol: Protocol
    pre_end: int
    post_start: int
    sources: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        af: AnalysisFrame,
        protocol: Protocol,
        sources: tuple[Mapping[str, pd.DataFrame], Mapping[str, str]] = ({}, {}),
    ) -> Design:
        """Take the windows of ``af``, computed once from ``protocol``.

        ``sources`` is as :func:`source_frames` returns it. The estimator's pre
        window is the untreated one (anticipation months left out),
        its post window the registered post window.
        """
        windows = af.windows
        if windows != Windows.of(protocol):
            # the frame's design columns (_treat, _post) and the estimator's rows must
            # come from the same registered windows and anticipation
            raise ValueError(
                "the analysis frame was built with other windows than this protocol's "
                f"({windows!r}); build it with build_analysis_frame(panel, protocol)"
            )
        return cls(af, protocol, windows.untreated_end, windows.post_start, sources[0], sources[1])

    def frame_of(self, outcome: Outcome) -> pd.DataFrame | None:
        """Return the frame an outcome is estimated on (None when its source has none)."""
        if outcome.id in self.af.data.columns:
            return self.af.data
        return self.sources.get(outcome.id)

    def spec_of(self, outcome: Outcome) -> Spec:
        """Return the registered spec (waves, quarters: no anticipation, no event window)."""
        spec = registered_spec(self.protocol)
        frame = self.frame_of(outcome)
        if frame is None or frame is self.af.data or frame.attrs.get("period") == "month":
            return spec
        return spec.with_(anticipation=0, event_window=None)

    def pre(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of ``frame`` in the pre window."""
        return frame[PERIOD].to_numpy() <= self.pre_end

    def post(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of ``frame`` in the post window."""
        return frame[PERIOD].to_numpy() >= self.post_start

    def columns(self, frame: pd.DataFrame, outcome: str, spec: Spec) -> tuple[pd.DataFrame, dict]:
        """Return the rows and design columns of one outcome under ``spec``.

        A 2×2 compares the pre and post windows (pilot months and anticipation
        months left out); the other estimators take the unit's cohort (its
        municipality's start period), so people who enter the panel after the
        start are treated from their first month, not a cohort of their own.
        """
        data = frame.loc[frame[outcome].notna()]
        if uses_cells(spec):
            return cell_design(data, outcome, self.protocol)
        unit = "person_id" if "person_id" in frame.columns else UNIT  # case cells: municipalities
        columns: dict[str, Any] = {"outcome": outcome, "unit": unit, "time": PERIOD}
        if spec.estimator == "2x2":
            keep = self.pre(data) | self.post(data)
            return data.loc[keep], {**columns, "treated": TREATED_GROUP, "post": POST}
        return data, {**columns, "cohort": COHORT}

    def run(self, frame: pd.DataFrame, outcome: str, spec: Spec) -> Result:
        """Estimate one outcome under ``spec`` on the rows it needs."""
        data, columns = self.columns(frame, outcome, spec)
        return estimate_quietly(data, spec, **columns)

    def fit(self, frame: pd.DataFrame, outcome: str, spec: Spec) -> Fitted | Failure:
        """Fit one outcome under ``spec`` on the rows it needs, inference left for later."""
        data, columns = self.columns(frame, outcome, spec)
        return fit_quietly(data, spec, **columns)


def _placebo(design: Design, outcome: str) -> dict[str, Any]:
    """Pretend the pilot started :data:`PLACEBO_SHIFT` months earlier; use pre-period rows only."""
    frame = design.af.data
    data = frame.loc[design.pre(frame)].copy()
    cohorts = data[COHORT].to_numpy()
    fake = np.where(cohorts > 0, cohorts - PLACEBO_SHIFT, 0)
    data[COHORT] = fake
    first = int(fake[fake > 0].min()) if (fake > 0).any() else None
    data[POST] = (data[PERIOD].to_numpy() >= (first or 10**9)).astype("int64")
    res, errors = design.run(data, outcome, registered_spec(design.protocol, "placebo"))
    label = None if first is None else design.af.period_label(first)
    return summary_row(outcome, res, errors, placebo_start=label)


def _alternative_control(design: Design, outcome: str) -> dict[str, Any]:
    """Re-estimate with another control group.

    Callaway–Sant'Anna switches between never- and not-yet-treated controls; the
    other estimators keep the half of the comparison units whose pre-period level
    of the outcome is closest to the pilot units' (a simple, transparent matching).
    """
    frame = design.af.data
    spec = registered_spec(design.protocol, "alternative_control")
    if spec.estimator == "callaway_santanna":
        res, errors = design.run(frame, outcome, spec)
        return summary_row(outcome, res, errors, control=f"{spec.control}_treated")
    levels = frame.loc[design.pre(frame)].groupby(UNIT)[outcome].mean()
    pilot_units = frame.loc[frame[TREATED_GROUP], UNIT].unique()
    comparison = levels.drop(index=[u for u in pilot_units if u in levels.index])
    target = levels.reindex(pilot_units).mean()
    keep_n = max(2, int(np.ceil(len(comparison) / 2)))
    nearest = (comparison - target).abs().sort_values(kind="mergesort").index[:keep_n]
    subset = frame.loc[frame[UNIT].isin(list(pilot_units) + list(nearest))]
    res, errors = design.run(subset, outcome, spec)
    return summary_row(outcome, res, errors, control="nearest_half_pre_period")


def _bacon(design: Design, outcome: str) -> list[dict[str, Any]]:
    """Goodman-Bacon decomposition on the unit-by-month means (a balanced panel)."""
    frame = design.af.data
    means = frame.groupby([UNIT, PERIOD], as_index=False).agg(
        y=(outcome, "mean"), cohort=(COHORT, "first")
    )
    complete = means.groupby(UNIT)[PERIOD].transform("size") == means[PERIOD].nunique()
    spec = registered_spec(design.protocol, "bacon")
    res, _ = estimate_quietly(
        means.loc[complete], spec, outcome="y", unit=UNIT, time=PERIOD, cohort="cohort"
    )
    if res is None:
        return []
    # the estimator names cohorts by period number; the bundle names them by start month
    return [
        {"outcome": outcome, **c, "treated": _start(design, c.get("treated"))}
        | {"control": _start(design, c.get("control"))}
        for c in res.get("components", [])
    ]


def _start(design: Design, cohort: Any) -> Any:
    """Return a cohort's start month (``2024-10``) for its period number; "never" stays."""
    text = str(cohort)
    return design.af.period_label(int(text)) if text.isdigit() else cohort


def _effect(design: Design, outcome: Outcome, res: Result, spec: Spec) -> dict[str, Any]:
    frame = design.frame_of(outcome)
    result, errors = res
    baseline = np.nan
    if frame is not None:
        waves = outcome.source == "questionnaire" and frame is not design.af.data
        before = (frame[POST].to_numpy() == 0) if waves else design.pre(frame)
        baseline = frame.loc[before & frame[TREATED_GROUP].to_numpy(), outcome.id].mean()
    return effect_record(
        design.protocol,
        outcome,
        spec,
        None if result is None else {k: v for k, v in result.items() if k != "_tidy"},
        error=None if result is not None else "; ".join(errors),
        baseline=None if pd.isna(baseline) else float(baseline),
    )


def effect_record(
    protocol: Protocol,
    outcome: Outcome,
    spec: Spec,
    result: Mapping[str, Any] | None,
    *,
    error: str | None,
    baseline: float | None,
) -> dict[str, Any]:
    """Return an outcome's record in the bundle's ``confirmatory.effects``.

    Parameters
    ----------
    protocol : Protocol
        The registered protocol (for the outcome's hypothesis).
    outcome : Outcome
        The outcome.
    spec : Spec
        The spec it was estimated with.
    result : mapping or None
        Its estimate's record (:func:`evalkit.did.results.record`), None when there is none.
    error : str or None
        Why there is no result.
    baseline : float or None
        The pilot group's mean before the pilot.

    Returns
    -------
    dict
        The keys docs/bundle.md lists for ``confirmatory.effects``.
    """
    hypotheses = [h.id for h in protocol.hypotheses if h.outcome == outcome.id]
    return {
        "outcome": outcome.id,
        "label": outcome.label,
        "role": outcome.role,
        "domain": outcome.domain,
        "type": outcome.type,
        "source": outcome.source,
        "expected_direction": outcome.expected_direction,
        "smallest_effect": outcome.smallest_effect,
        "hypothesis": hypotheses[0] if hypotheses else None,
        "baseline_mean": baseline,
        "spec": spec.to_dict(),
        "result": result,
        "error": error,
    }


@dataclass(frozen=True)
class MainEstimate:
    """An outcome's registered estimate, and its fit when inference can be redone on it."""

    result: Result
    fitted: Fitted | Failure | None = None


def _main_estimate(design: Design, outcome: Outcome, spec: Spec) -> MainEstimate:
    frame = design.frame_of(outcome)
    if frame is None:
        why = design.missing.get(outcome.id, f"no {outcome.source} data for this protocol")
        return MainEstimate((None, [f"{outcome.source}: {why}"]))
    if not fits_apart(spec) or uses_cells(spec):
        return MainEstimate(design.run(frame, outcome.id, spec))
    fitted = design.fit(frame, outcome.id, spec)
    return MainEstimate(infer_quietly(fitted), fitted)


def _main_effects(design: Design) -> tuple[list[dict[str, Any]], dict[str, MainEstimate]]:
    effects, main = [], {}
    for outcome in design.protocol.outcomes:
        spec = design.spec_of(outcome)
        main[outcome.id] = _main_estimate(design, outcome, spec)
        effects.append(_effect(design, outcome, main[outcome.id].result, spec))
    return effects, main


def _robustness(
    design: Design, primary: Sequence[str], main: Mapping[str, MainEstimate]
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    frame, protocol = design.af.data, design.protocol
    spec = registered_spec(protocol)
    es_spec = registered_spec(protocol, "event_study")
    parts: dict[str, list[dict[str, Any]]] = {
        k: []
        for k in (
            "pretrend",
            "placebo",
            "inference_comparison",
            "alternative_control",
            "bacon",
            "sensitivity",
            "event_studies",
        )
    }
    event_study: list[dict[str, Any]] = []
    staggered = frame.loc[frame[COHORT] > 0, COHORT].nunique() > 1
    for oid in primary:
        es, problems = design.run(frame, oid, es_spec)
        event_study += event_rows(oid, es)
        failed = problems if es is None else []  # else: notes on the rows it used
        parts["pretrend"].append(pretrend_row(oid, es, spec.few_treated_threshold, failed))
        parts["placebo"].append(_placebo(design, oid))
        if spec.estimator in INFERENCE_COMPARED:
            parts["inference_comparison"] += _side_by_side(design, oid, main[oid], spec)
        parts["alternative_control"].append(_alternative_control(design, oid))
        if staggered and spec.estimator in ("twfe", "event_study", "callaway_santanna"):
            parts["bacon"] += _bacon(design, oid)
        shown = [{**r, "estimator": es_spec.estimator} for r in event_rows(oid, es)]
        run = functools.partial(design.run, frame, oid)
        checked = robustness_checks(run, protocol, oid, shown)
        parts["sensitivity"] += checked[0]
        parts["event_studies"] += checked[1]
    return event_study, parts


def _side_by_side(
    design: Design, outcome: str, main: MainEstimate, spec: Spec
) -> list[dict[str, Any]]:
    """Put the registered inference next to the others, all inferred on one fit.

    That is the main estimate's fit, unless its inference refits inside its estimate
    (conformal): then the others share a fit of their own.
    """
    res = main.result[0]
    done = None if res is None else res.get("inference")
    fitted = main.fitted
    if fitted is None:  # on the rows the registered spec uses (cells, for conformal)
        data, columns = design.columns(design.af.data, outcome, spec)
        fitted = fit_quietly(data, spec.with_(inference=None), **columns)
    rows = []
    for method in _INFERENCE_SIDE_BY_SIDE:
        row, errors = main.result if method == done else infer_quietly(fitted, method)
        rows.append(summary_row(outcome, row, errors) | {"inference": method})
    return rows


def confirmatory_analysis(
    af: AnalysisFrame,
    protocol: Protocol,
    sources: tuple[Mapping[str, pd.DataFrame], Mapping[str, str]] = ({}, {}),
) -> dict[str, Any]:
    """Run the registered analysis of every outcome and the robustness checks of the primary ones.

    Parameters
    ----------
    af : AnalysisFrame
        The analysis frame from :func:`evalkit.analysis.measures.build_analysis_frame`.
    protocol : Protocol
        The registered protocol.
    sources : (dict, dict)
        Frames of the case and questionnaire outcomes and the reasons some have
        none (:func:`evalkit.analysis.sources.source_frames`).

    Returns
    -------
    dict
        Bundle parts ``confirmatory``, ``robustness`` and ``subgroups`` (see docs/bundle.md).
        Robustness checks and subgroups run on outcome-panel outcomes.
    """
    design = Design.of(af, protocol, sources)
    effects, main = _main_effects(design)
    primary = [e["outcome"] for e in effects if e["role"] == "primary" and e["outcome"] in af.data]
    event_study, robustness = _robustness(design, primary, main)
    in_subgroups = [h.outcome for h in protocol.hypotheses if h.subgroup and h.outcome in af.data]
    subgroups = subgroup_rows(design, list(dict.fromkeys(primary + in_subgroups)))
    parts = {
        "confirmatory": confirmatory_part(protocol, effects, subgroups, event_study),
        "robustness": robustness,
        "subgroups": subgroups,
    }
    return name_periods(parts, af.period_label)


def confirmatory_part(
    protocol: Protocol,
    effects: list[dict[str, Any]],
    subgroups: list[dict[str, Any]],
    event_study: list[dict[str, Any]],
) -> dict[str, Any]:
    """Return the bundle's ``confirmatory`` part: the registered spec, effects and hypotheses.

    One builder for the pilot and the national bundle, so both carry the same fields.

    Parameters
    ----------
    protocol : Protocol
        The registered protocol.
    effects : list of dict
        Records of :func:`effect_record`.
    subgroups : list of dict
        Subgroup rows (the hypotheses on a subgroup read them).
    event_study : list of dict
        Event-time rows of the main estimator.

    Returns
    -------
    dict
        ``alpha, multiple_testing, estimator, spec, event_study_spec, effects``, the
        hypothesis rows and family, and ``event_study``.
    """
    spec = registered_spec(protocol)
    return {
        "alpha": spec.alpha,
        "multiple_testing": protocol.analysis.multiple_testing,
        "estimator": spec.estimator,
        "spec": spec.to_dict(),
        "event_study_spec": registered_spec(protocol, "event_study").to_dict(),
        "effects": effects,
        **hypothesis_rows(protocol, effects, subgroups),
        "event_study": event_study,
    }

"""Checks of ``analysis:`` against the registered design.

The estimator against a staggered start, the inference against the number of
treated clusters (and the smallest p-value it can reach), the event window against
the periods and the months of the data, options only Callaway–Sant'Anna uses, and
the columns the analysis names. Messages follow :mod:`evalkit.protocol._checks`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

from evalkit.protocol._schemas import SchemaInfo
from evalkit.spec import (
    FEW_TREATED_METHODS,
    FEW_TREATED_THRESHOLD,
    MIN_SIDE_ANALYTIC,
    READ_BY,
    SYNTHETIC_ESTIMATORS,
    Spec,
)

__all__ = ["check_analysis", "items_at"]

CLUSTER_ROBUST = ("analytic", "wild", "bootstrap")


def items_at(p: Mapping[str, Any], *keys: str) -> list[Mapping[str, Any]]:
    """Return the records (mappings) at ``keys`` of a protocol mapping; none when absent."""
    value: Any = p
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return [v for v in value or [] if isinstance(v, Mapping)]


#: Fields that only Callaway–Sant'Anna uses (from :data:`evalkit.spec.READ_BY`, under the
#: protocol's name where it differs from the spec's), and the value the others amount to.
_CS_ONLY = {
    {"control": "control_group"}.get(name, name): getattr(Spec("twfe"), name)
    for name, (readers, _, _) in READ_BY.items()
    if readers == ("callaway_santanna",)
}


def _check_cs_only(a: Mapping[str, Any], errors: list[str]) -> None:
    """Refuse a Callaway–Sant'Anna option that another registered estimator would ignore."""
    estimator = a.get("estimator")
    if estimator == "callaway_santanna":
        return
    for name, default in _CS_ONLY.items():
        if a.get(name, default) != default:
            errors.append(
                f"analysis.{name}: {a[name]!r} applies to callaway_santanna only; the registered "
                f"estimator {estimator!r} would ignore it (remove it, or use {default!r})"
            )


def check_analysis(
    p: Mapping[str, Any], schemas: Mapping[str, SchemaInfo], errors: list[str], warnings: list[str]
) -> None:
    """Check ``analysis:`` against the design: estimator, inference, window, columns.

    Parameters
    ----------
    p : mapping
        The protocol with defaults filled in.
    schemas : mapping
        The data schemas by kind (columns the analysis may name).
    errors, warnings : list of str
        Where the messages go.
    """
    a = p.get("analysis") or {}
    treated = items_at(p, "units", "treated")
    starts = sorted({str(t["start"]) for t in treated if t.get("start")})
    estimator = a.get("estimator")
    if len(starts) > 1 and estimator in ("2x2", "twfe", "event_study"):
        errors.append(
            f"analysis.estimator: {estimator!r} cannot handle a staggered design (pilot units "
            f"start in {', '.join(starts)}): two-way fixed effects compare early with late "
            "joiners and can even flip the sign; use callaway_santanna"
        )
    _check_inference(p, a, errors, warnings)
    _check_event_window(p, a, errors, warnings)
    _check_cs_only(a, errors)
    _check_columns(p, a, schemas, errors)
    primaries = [o for o in items_at(p, "outcomes") if o.get("role") == "primary"]
    if a.get("multiple_testing") == "none" and len(primaries) > 1:
        warnings.append(
            f"analysis.multiple_testing: 'none' with {len(primaries)} primary outcomes "
            "inflates the chance of a false positive; use holm or bh"
        )
    if estimator == "callaway_santanna":
        counts = Counter(t.get("start") for t in treated)
        small = [str(s) for s, n in counts.items() if n == 1]
        if small and len(counts) > 1:
            warnings.append(
                f"units.treated: the start month(s) {', '.join(sorted(small))} have one unit each; "
                "their group-time effects rest on a single municipality"
            )


def _check_inference(
    p: Mapping[str, Any], a: Mapping[str, Any], errors: list[str], warnings: list[str]
) -> None:
    """Check the inference against the estimator and the number of treated clusters."""
    estimator, inference = a.get("estimator"), a.get("inference")
    n_treated = len({t.get("unit") for t in items_at(p, "units", "treated")})
    threshold = a.get("few_treated_threshold") or FEW_TREATED_THRESHOLD
    few = n_treated < threshold
    if inference in CLUSTER_ROBUST and few and estimator not in SYNTHETIC_ESTIMATORS:
        if estimator in ("2x2", "twfe"):
            alt = "conley_taber or permutation (or auto, which picks permutation)"
        elif estimator in FEW_TREATED_METHODS["permutation"]:
            alt = "permutation (or auto, which picks permutation)"
        else:
            alt = (
                "twfe with conley_taber or permutation for a single start month, "
                "or report the estimate as descriptive"
            )
        warnings.append(
            f"analysis.inference: {inference!r} is cluster-robust inference, and with "
            f"{n_treated} treated cluster(s) (fewer than {threshold}) it over-rejects; use {alt}"
        )
    runs_for = FEW_TREATED_METHODS.get(str(inference), ())
    if runs_for and estimator not in runs_for:
        errors.append(
            f"analysis.inference: {inference!r} is available for the "
            f"{', '.join(runs_for)} estimators, not for {estimator!r}"
        )
    comparison = list((p.get("units") or {}).get("comparison") or [])
    side = min(n_treated, len(comparison))
    if inference == "auto" and estimator not in SYNTHETIC_ESTIMATORS and threshold <= side:
        if side < MIN_SIDE_ANALYTIC:  # the registered threshold alone would allow CR1
            warnings.append(
                f"analysis.few_treated_threshold: {threshold}, but inference auto uses "
                f"randomization inference (permutation) with fewer than {MIN_SIDE_ANALYTIC} "
                f"treated or comparison units ({n_treated} treated, {len(comparison)} "
                "comparison here); the threshold can only raise that number"
            )
    alpha = a.get("alpha")
    if isinstance(alpha, int | float) and n_treated and comparison:
        few = inference == "auto" and n_treated < threshold
        _check_smallest_p(str(inference), few, n_treated, len(comparison), alpha, warnings)


def _check_smallest_p(
    inference: str,
    few: bool,
    n_treated: int,
    n_comparison: int,
    alpha: float,
    warnings: list[str],
) -> None:
    """Warn when the design's smallest attainable p-value exceeds alpha."""
    n_clusters = n_treated + n_comparison
    if inference == "permutation" or few:
        # mirror-image assignments tie when half the clusters are treated
        ties = 2 if 2 * n_treated == n_clusters else 1
        smallest = ties / math.comb(n_clusters, n_treated)
        if smallest > alpha:
            warnings.append(
                f"analysis.inference: with {n_clusters} clusters of which {n_treated} "
                f"treated the smallest permutation p-value is {smallest:.3f}, above alpha "
                f"{alpha}; no effect can be significant — add comparison units"
            )
    if inference == "conley_taber":
        # one placebo per comparison cluster drawn for each treated one, with replacement
        smallest = 1 / (n_comparison**n_treated + 1)
        if smallest > alpha:
            warnings.append(
                f"analysis.inference: few-treated inference with {n_comparison} "
                f"comparison units cannot give p-values below {smallest:.3f} (alpha "
                f"{alpha}); add comparison units"
            )


def _check_event_window(
    p: Mapping[str, Any], a: Mapping[str, Any], errors: list[str], warnings: list[str]
) -> None:
    """Event time 0 is the first pilot month; the reference period lies before anticipation."""
    window = a.get("event_window")
    if not (
        isinstance(window, Mapping)
        and isinstance(window.get("min"), int)
        and isinstance(window.get("max"), int)
    ):
        return
    if not window["min"] < 0 <= window["max"]:
        errors.append(
            f"analysis.event_window: min {window['min']} must be negative and max "
            f"{window['max']} zero or more (event time 0 is the first pilot month)"
        )
    lead = (p.get("units") or {}).get("anticipation_months") or 0
    if isinstance(lead, int) and lead and window["min"] > -1 - lead:
        errors.append(
            f"analysis.event_window: min {window['min']} must be {-1 - lead} or less: with "
            f"units.anticipation_months {lead} the reference period is month {-1 - lead}"
        )
    _check_window_reach(p, window, errors, warnings)


def _month(text: Any) -> int | None:
    """Return a ``YYYY-MM`` text as a month count, None when it is not one."""
    try:
        year, month = str(text)[:7].split("-")
        return int(year) * 12 + int(month) - 1
    except ValueError:
        return None


def _check_window_reach(
    p: Mapping[str, Any], window: Mapping[str, int], errors: list[str], warnings: list[str]
) -> None:
    """Keep the window within the months the data cover; warn when it misses the post period.

    The estimator would otherwise narrow it without a word: event times before
    ``periods.pre.start`` or after ``periods.post.end`` have no data. A window that ends
    in the intervention period is allowed (event time 0 on is treated) but shows no month
    of ``periods.post``, the months the results are reported for: a warning.
    """
    periods = p.get("periods") or {}
    first, post, last = (
        _month((periods.get(k) or {}).get(e))
        for k, e in (("pre", "start"), ("post", "start"), ("post", "end"))
    )
    starts = [_month(t.get("start")) for t in items_at(p, "units", "treated")]
    known = [s for s in starts if s is not None]
    if first is None or post is None or last is None or not known:
        return
    early, late = min(known), max(known)
    if window["max"] < post - late:
        warnings.append(
            f"analysis.event_window: max {window['max']} ends before periods.post (its "
            f"first month is event time {post - late} for the pilot units starting last): "
            "the event study shows no month of the post period"
        )
    if window["min"] < first - late:
        errors.append(
            f"analysis.event_window: min {window['min']} lies before the data: "
            f"periods.pre.start is event time {first - late} for the pilot units starting "
            f"last; use {first - late} or more"
        )
    if window["max"] > last - early:
        errors.append(
            f"analysis.event_window: max {window['max']} lies after the data: "
            f"periods.post.end is event time {last - early} for the pilot units starting "
            f"first; use {last - early} or less"
        )


def _check_columns(
    p: Mapping[str, Any], a: Mapping[str, Any], schemas: Mapping[str, SchemaInfo], errors: list[str]
) -> None:
    """Covariates, the cluster and the unit column must be columns of the outcome panel."""
    panel = schemas.get("outcome_panel")
    if panel is None:
        return
    for name in a.get("covariates") or []:
        if name not in panel.columns:
            errors.append(
                f"analysis.covariates: unknown column {name!r}; columns of outcome_panel: "
                f"{', '.join(panel.columns)}"
            )
    cluster = a.get("cluster")
    if isinstance(cluster, str) and cluster not in panel.columns:
        errors.append(f"analysis.cluster: unknown column {cluster!r} in outcome_panel")
    column = (p.get("units") or {}).get("column")
    if isinstance(column, str) and column not in panel.columns:
        errors.append(f"units.column: unknown column {column!r} in outcome_panel")

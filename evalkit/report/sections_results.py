"""Result sections of the evaluation report.

Effects, figures, robustness, subgroups and exploratory analyses (the throughput
and questionnaire sections: :mod:`evalkit.report.sections_measures`). Each function
takes a ``ReportContext`` and returns markdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from evalkit.report import sections_sensitivity
from evalkit.report.context import ReportContext
from evalkit.report.figures import event_study_plot, trend_plot
from evalkit.report.formatting import fmt_ci, fmt_num, fmt_set, is_missing
from evalkit.report.i18n import label
from evalkit.report.monitoring import binary_outcomes
from evalkit.report.tables import make_table, records_frame
from evalkit.report.units import SHARE_DIGITS, outcome_unit
from evalkit.report.verdict import conf_pieces
from evalkit.spec import FEW_TREATED_THRESHOLD, INFERENCE_COMPARED

__all__ = [
    "effects_table",
    "exploratory",
    "primary",
    "robustness",
    "secondary",
    "subgroups",
]


def _ci_text(res: Mapping[str, Any], lang: str, digits: int) -> str:
    """Write the interval, or a conformal set with gaps as the union of its pieces."""
    pieces = conf_pieces(res)
    if pieces:
        return fmt_set(pieces, lang, digits)
    return fmt_ci(res.get("conf_low"), res.get("conf_high"), lang, digits)


def effects_table(ctx: ReportContext, role: str, name: str, caption_key: str) -> str:
    """Effect table for one outcome role: estimate, interval, p, adjusted p, baseline.

    A role may hold shares beside days or scale scores: each row carries its unit and
    is written with its own decimals (shares as the bundle stores them, three).
    """
    lang = ctx.lang
    rows, digits = [], []
    effects = [e for e in ctx.get("confirmatory.effects", []) or [] if e.get("role") == role]
    for e in effects:
        res = e.get("result", {}) or {}
        binary = e.get("type") == "binary"
        row_digits = SHARE_DIGITS if binary else outcome_unit(ctx, str(e.get("outcome"))).digits
        digits.append(row_digits)
        rows.append(
            {
                "outcome": ctx.text(e.get("label")) or e.get("outcome"),
                "unit": ctx.t("v.share") if binary else _unit_text(ctx, e),
                "estimate": res.get("estimate"),
                "std_error": res.get("std_error"),
                "ci": _ci_text(res, lang, row_digits),
                "p_value": res.get("p_value"),
                "p_adjusted": e.get("p_adjusted"),
                "baseline": e.get("baseline_mean"),
                "smallest_effect": e.get("smallest_effect"),
                "inference": label("inf", res.get("inference", "\u2013"), lang),
                "clusters": (
                    f"{res.get('n_treated_clusters', '?')} / {res.get('n_clusters', '?')}"
                ),
            }
        )
    frame = records_frame(rows)
    columns = [
        "outcome",
        "unit",
        "estimate",
        "std_error",
        "ci",
        "p_value",
        "p_adjusted",
        "baseline",
        "smallest_effect",
        "inference",
        "clusters",
    ]
    if role != "primary":
        columns.remove("p_adjusted")
    per_row = {c: digits for c in ("estimate", "std_error", "baseline", "smallest_effect")}
    table = ctx.table(
        make_table(
            name,
            ctx.t(caption_key),
            frame,
            lang,
            ctx.threshold,
            columns=columns,
            count_columns=[],
            row_digits=per_row,
        )
    )
    shares = [e for e in effects if e.get("type") == "binary" and not is_missing(_estimate(e))]
    if not shares:
        return table
    # the text gives these effects in percentage points; the table keeps the bundle's shares
    example = float(_estimate(shares[0]))
    unit_note = ctx.t(
        "s.effects_as_shares",
        share=fmt_num(example, lang, 3, signed=True),
        points=fmt_num(100 * example, lang, 1, signed=True),
    )
    return f"{table}\n\n{unit_note}"


#: Decimals of a share (0-1) in the effect tables: 0.026, i.e. tenths of a percentage point.


def _unit_text(ctx: ReportContext, effect: Mapping[str, Any]) -> str:
    """Return the registered unit of a non-binary outcome ("score" when none is registered)."""
    return outcome_unit(ctx, str(effect.get("outcome"))).text or str(ctx.t("v.score"))


def _estimate(effect: Mapping[str, Any]) -> Any:
    return (effect.get("result") or {}).get("estimate")


def _trends_masked(ctx: ReportContext, outcomes: list[str]) -> pd.DataFrame | None:
    trends = records_frame(ctx.get("trends"))
    if trends is None:
        return None
    trends = trends[trends["outcome"].isin(outcomes)]
    if trends.empty:
        return None
    status = ctx.plan.status("trends", trends)
    ctx.n_suppressed += int((status["n"] != "").sum())
    return trends.mask(status != "")


def primary(ctx: ReportContext) -> str:
    """Primary effects table, event-study figure and outcome-trend figure."""
    lang = ctx.lang
    effects = [e for e in ctx.get("confirmatory.effects", []) or [] if e.get("role") == "primary"]
    outcomes = [e["outcome"] for e in effects]
    labels = {o: ctx.outcome_label(o) for o in outcomes}
    parts = [ctx.heading("h.primary")]
    if effects:
        method = label("mt", ctx.get("confirmatory.multiple_testing", "none"), lang)
        parts.append(ctx.t("s.primary_count", n=len(effects), method=method))
    parts.append(effects_table(ctx, "primary", "effects_primary", "c.effects_primary"))
    notes = list(dict.fromkeys(w for e in effects for w in ctx.estimator_warnings(e.get("result"))))
    if notes:
        parts.append(ctx.t("s.inference_notes") + "\n\n" + "\n".join(f"- {w}" for w in notes))
    es = records_frame(ctx.get("confirmatory.event_study"))
    es = es[es["outcome"].isin(outcomes)] if es is not None else None
    trends = _trends_masked(ctx, outcomes)
    refs = []
    if es is not None and not es.empty:
        refs.append(ctx.fig_ref("event-study"))
    if trends is not None and not trends.empty:
        refs.append(ctx.fig_ref("trends"))
    if refs:
        parts.append(ctx.t("s.see_figures", refs=f" {ctx.t('s.and')} ".join(refs)))
    if es is not None and not es.empty:
        height = 1.2 + 2.4 * es["outcome"].nunique()
        parts.append(
            ctx.figure(
                lambda: event_study_plot(es, labels, lang),
                "event-study",
                ctx.t("s.figure_event", outcome=", ".join(labels.values())),
                height=height,
                drawn_from=(es, labels, lang),
            )
        )
    else:
        parts.append(_no_event_study(ctx, outcomes))
    if trends is not None and not trends.empty:
        height = 1.4 + 2.4 * trends["outcome"].nunique()
        start = ctx.get("settings.pilot_start")
        shares = set(labels) <= binary_outcomes(ctx)  # yes/no outcomes: a percentage axis
        parts.append(
            ctx.figure(
                lambda: trend_plot(trends, labels, start, lang, shares),
                "trends",
                ctx.t("s.figure_trend", outcome=", ".join(labels.values())),
                height=height,
                drawn_from=(trends, labels, start, lang, shares),
            )
        )
    return "\n\n".join(parts)


def _no_event_study(ctx: ReportContext, outcomes: list[str]) -> str:
    """Say why the registered event study is missing: its error, or "not available"."""
    failed = [
        ctx.t(
            "s.event_study_failed",
            outcome=ctx.md_outcome(str(r.get("outcome"))),
            error=ctx.md(str((r.get("reason_values") or {}).get("error", ""))),
        )
        for r in ctx.get("robustness.pretrend", []) or []
        if isinstance(r, Mapping)
        and r.get("reason") == "event_study_failed"
        and r.get("outcome") in outcomes
    ]
    return "\n\n".join(failed) if failed else ctx.not_available()


def _few_treated_sentence(ctx: ReportContext) -> str:
    effects = ctx.get("confirmatory.effects", []) or []
    if not effects:
        return ""
    res = effects[0].get("result", {}) or {}
    n = res.get("n_treated_clusters")
    limit = ctx.get("protocol.analysis.few_treated_threshold", FEW_TREATED_THRESHOLD)
    if n is None or is_missing(n) or int(n) >= int(limit):
        return ""
    return (
        "::: {.callout-warning}\n"
        + ctx.t(
            "s.few_treated_warning",
            n=int(n),
            inference=label("inf", res.get("inference"), ctx.lang),
        )
        + "\n:::"
    )


def _with_labels(ctx: ReportContext, records: Any, **extra: Any) -> pd.DataFrame | None:
    frame = records_frame(records)
    if frame is None:
        return None
    frame = frame.assign(outcome=[ctx.outcome_label(o) for o in frame["outcome"]])
    for col, prefix in extra.items():
        if col in frame.columns:
            frame[col] = [label(prefix, v, ctx.lang) for v in frame[col]]
    return frame


def _pretrend_frame(ctx: ReportContext) -> pd.DataFrame | None:
    """Pre-trend tests with the reason, in words, why a test could not be run."""
    frame = _with_labels(ctx, ctx.get("robustness.pretrend"))
    if frame is None or "reason" not in frame.columns:
        return frame
    values = frame["reason_values"] if "reason_values" in frame.columns else [{}] * len(frame)
    frame["reason"] = [
        "" if not isinstance(code, str) else ctx.t(f"pretrend.{code}", **(vals or {}))
        for code, vals in zip(frame["reason"], values, strict=True)
    ]
    return frame


def robustness(ctx: ReportContext) -> str:
    """Pre-trend test, placebo in time, few-treated inference, alternative control, Bacon."""
    lang, thr = ctx.lang, ctx.threshold
    est_cols = [
        "outcome",
        "inference",
        "estimate",
        "std_error",
        "conf_low",
        "conf_high",
        "p_value",
        "warnings",
    ]
    parts = [ctx.heading("h.robustness")]
    sections = [
        (
            "h.pretrend",
            "pretrend",
            "c.pretrend",
            _pretrend_frame(ctx),
            ["outcome", "test", "statistic", "p_value", "reason"],
        ),
        (
            "h.placebo",
            "placebo",
            "c.placebo",
            _with_labels(ctx, ctx.get("robustness.placebo")),
            ["outcome", "placebo_start", "estimate", "conf_low", "conf_high", "p_value"],
        ),
        (
            "h.inference",
            "inference_comparison",
            "c.inference",
            _with_labels(ctx, ctx.get("robustness.inference_comparison"), inference="inf"),
            est_cols,
        ),
        (
            "h.alt_control",
            "alternative_control",
            "c.alt_control",
            _with_labels(ctx, ctx.get("robustness.alternative_control"), inference="inf"),
            ["outcome", "control", *est_cols[1:]],
        ),
    ]
    estimator = ctx.get("confirmatory.estimator", ctx.get("protocol.analysis.estimator"))
    for heading, name, caption, frame, cols in sections:
        parts.append(ctx.heading(heading, 3))
        if name == "inference_comparison":
            parts.append(_few_treated_sentence(ctx))
            if frame is None and estimator not in INFERENCE_COMPARED:
                # made by design for the regression estimators only: not a missing part
                parts.append(
                    ctx.t("s.inference_not_compared", estimator=label("est", estimator, lang))
                )
                continue
        parts.append(
            ctx.table(
                make_table(name, ctx.t(caption), frame, lang, thr, columns=cols, count_columns=[])
            )
        )
    if estimator == "twfe" or ctx.get("robustness.bacon"):
        parts.append(ctx.heading("h.bacon", 3))
        parts.append(_bacon(ctx))
    parts += [sections_sensitivity.sensitivity(ctx), sections_sensitivity.event_studies(ctx)]
    return "\n\n".join(p for p in parts if p)


def _bacon(ctx: ReportContext) -> str:
    """Return the Goodman-Bacon table, or with one start month why there is nothing to split."""
    treated = ctx.get("protocol.units.treated") or []
    starts = {t.get("start") for t in treated if isinstance(t, Mapping)}
    if not ctx.get("robustness.bacon") and len(starts) == 1:
        return ctx.t("s.bacon_one_start")
    table = make_table(
        "bacon",
        ctx.t("c.bacon"),
        _with_labels(ctx, ctx.get("robustness.bacon")),
        ctx.lang,
        ctx.threshold,
        columns=["outcome", "type", "treated", "control", "estimate", "weight"],
        count_columns=[],
    )
    return ctx.table(table)


def secondary(ctx: ReportContext) -> str:
    """Secondary outcomes: effect table (no multiplicity adjustment)."""
    if _registers_none(ctx, "protocol.outcomes", role="secondary"):
        return "\n\n".join([ctx.heading("h.secondary"), ctx.t("s.no_secondary")])
    return "\n\n".join(
        [
            ctx.heading("h.secondary"),
            effects_table(ctx, "secondary", "effects_secondary", "c.effects_secondary"),
        ]
    )


def _registers_none(ctx: ReportContext, path: str, **match: str) -> bool:
    """Tell whether the bundle's protocol lists none of ``path`` (matching ``match``).

    Then a section says the protocol registers none, where "not available" would read
    as a part that went missing. False when the protocol is not in the bundle.
    """
    items = ctx.get(path)
    if not isinstance(items, list):
        return False
    return not any(
        isinstance(i, Mapping) and all(i.get(k) == v for k, v in match.items()) for i in items
    )


def subgroups(ctx: ReportContext) -> str:
    """Subgroup effects; estimates from fewer persons than the threshold are suppressed."""
    if not ctx.get("subgroups") and _registers_none(ctx, "protocol.population.subgroups"):
        return "\n\n".join([ctx.heading("h.subgroups"), ctx.t("s.no_subgroups")])
    frame = records_frame(ctx.get("subgroups"))
    if frame is not None:
        frame = frame.assign(
            subgroup=[
                ctx.text(lbl) if isinstance(lbl, Mapping) else s
                for s, lbl in zip(
                    frame["subgroup"], frame.get("label", frame["subgroup"]), strict=True
                )
            ],
            outcome=[ctx.outcome_label(o) for o in frame["outcome"]],
        )
    table = make_table(
        "subgroups",
        ctx.t("c.subgroups"),
        frame,
        ctx.lang,
        ctx.threshold,
        columns=[
            "subgroup",
            "outcome",
            "estimate",
            "std_error",
            "conf_low",
            "conf_high",
            "p_value",
            "n_persons",
            "warnings",
        ],
        plan=ctx.plan,
        source="subgroups",
    )
    return "\n\n".join([ctx.heading("h.subgroups"), ctx.table(table)])


def exploratory(ctx: ReportContext) -> str:
    """Exploratory analyses from ``analyses/``, each labelled "exploratory, not pre-registered"."""
    items = ctx.get("exploratory", []) or []
    parts = [
        ctx.heading("h.exploratory"),
        "::: {.callout-warning}\n" + ctx.t("s.exploratory") + "\n:::",
    ]
    if not items:
        # an empty list: the run looked in analyses/ and found nothing for this protocol
        declared = isinstance(ctx.get("exploratory"), list)
        parts.append(ctx.t("s.no_exploratory") if declared else ctx.not_available())
    for i, item in enumerate(items, start=1):
        caption = ctx.text(item.get("title") or item.get("id", i))  # plain text
        parts.append(f"### {ctx.md(caption)} {{#exploratory-{i}}}")
        file = ctx.md(item.get("file", ""))
        parts.append(f"*{ctx.t('s.exploratory').split('.')[0]}.* {file}")
        tables = item.get("tables")
        if isinstance(tables, Mapping):
            groups = [
                (f"{item.get('id', i)}_{k}", tables[k], f"exploratory.{i}.{k}")
                for k in sorted(tables)
            ]
        elif tables:
            groups = [(str(item.get("id", i)), tables, f"exploratory.{i}")]
        else:
            groups = []
        effects = records_frame(item.get("effects"))
        if effects is not None:  # estimates of exploratory outcomes, with their own labels
            if "label" in effects.columns:
                effects["outcome"] = [
                    ctx.text(lbl) if isinstance(lbl, Mapping) else o
                    for o, lbl in zip(effects["outcome"], effects["label"], strict=True)
                ]
            if "inference" in effects.columns:
                effects["inference"] = [label("inf", v, ctx.lang) for v in effects["inference"]]
            cols = [
                "outcome",
                "estimate",
                "std_error",
                "conf_low",
                "conf_high",
                "p_value",
                "inference",
                "n_persons",
                "n",
            ]
            parts.append(
                ctx.table(
                    make_table(
                        f"exploratory_{item.get('id', i)}_effects",
                        caption,
                        effects,
                        ctx.lang,
                        ctx.threshold,
                        columns=cols,
                    )
                )
            )
            if not groups:
                continue
        if not groups:
            parts.append(ctx.not_available())
        for name, records, source in groups:
            parts.append(
                ctx.table(
                    make_table(
                        f"exploratory_{name}",
                        caption,
                        records_frame(records),
                        ctx.lang,
                        ctx.threshold,
                        plan=ctx.plan,
                        source=source,
                    )
                )
            )
    return "\n\n".join(parts)

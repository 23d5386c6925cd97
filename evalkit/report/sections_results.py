"""Result sections of the evaluation report.

Effects, figures, robustness, subgroups, throughput, questionnaires and exploratory
analyses. Each function takes a ``ReportContext`` and returns markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from evalkit.report import sections_sensitivity
from evalkit.report.context import ReportContext
from evalkit.report.figures import event_study_plot, trend_plot
from evalkit.report.figures_monitoring import norm_name
from evalkit.report.formatting import fmt_ci, fmt_num, is_missing
from evalkit.report.i18n import label
from evalkit.report.long_tables import NEEDS, SUMMARIES, SUMMARY_ROWS
from evalkit.report.monitoring import monitoring_figures
from evalkit.report.tables import ReportTable, make_table, records_frame
from evalkit.report.units import outcome_unit
from evalkit.spec import FEW_TREATED_THRESHOLD, INFERENCE_COMPARED

#: Bundle tables shown in the report body; the others (curves, monthly series, definitions)
#: feed figures and are exported with the rest.
SHOWN = {
    "throughput": (
        "durations",
        "norms",
        "handovers",
        "out_of_sight",
        "switches",
        "caseload",
        "did",
    ),
    "questionnaire": (
        "response",
        "nonresponse",
        "reliability",
        "mhi5",
        "nps",
        "satisfaction",
        "zrm_summary",
        "scores",
        "change",
        "change_did",
    ),
}
#: Columns the document shows of a wide bundle table (the CSV/XLSX exports keep them all):
#: the estimate and its uncertainty, what it is of, how many cases; bookkeeping columns
#: (cells, observations, units) stay in the exports so the table fits A4.
DOC_COLUMNS = {
    "throughput_did": (
        "norm",
        "outcome",
        "period",
        "estimator",
        "inference",
        "estimate",
        "conf_low",
        "conf_high",
        "p_value",
        "n_cases",
        "n_clusters",
        "status",
        "warnings",
    ),
    "questionnaire_change_did": (
        "scale",
        "wave",
        "method",
        "estimate",
        "std_error",
        "conf_low",
        "conf_high",
        "p_value",
        "n_pilot",
        "n_comparison",
        "status",
        "warnings",
    ),
    "questionnaire_change": (
        "group",
        "scale",
        "wave",
        "n",
        "mean_t0",
        "mean_later",
        "mean_change",
        "conf_low",
        "conf_high",
        "wilcoxon_p",
    ),
}
__all__ = [
    "DOC_COLUMNS",
    "SHOWN",
    "bundle_tables",
    "effects_table",
    "exploratory",
    "generic_tables",
    "primary",
    "questionnaire",
    "robustness",
    "secondary",
    "subgroups",
    "throughput",
]


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
        row_digits = _SHARE_DIGITS if binary else outcome_unit(ctx, str(e.get("outcome"))).digits
        digits.append(row_digits)
        rows.append(
            {
                "outcome": ctx.text(e.get("label")) or e.get("outcome"),
                "unit": ctx.t("v.share") if binary else _unit_text(ctx, e),
                "estimate": res.get("estimate"),
                "std_error": res.get("std_error"),
                "ci": fmt_ci(res.get("conf_low"), res.get("conf_high"), lang, row_digits),
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
_SHARE_DIGITS = 3


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
        parts.append(ctx.not_available())
    if trends is not None and not trends.empty:
        height = 1.4 + 2.4 * trends["outcome"].nunique()
        start = ctx.get("settings.pilot_start")
        parts.append(
            ctx.figure(
                lambda: trend_plot(trends, labels, start, lang),
                "trends",
                ctx.t("s.figure_trend", outcome=", ".join(labels.values())),
                height=height,
                drawn_from=(trends, labels, start, lang),
            )
        )
    return "\n\n".join(parts)


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
        parts.append(
            ctx.table(
                make_table(
                    "bacon",
                    ctx.t("c.bacon"),
                    _with_labels(ctx, ctx.get("robustness.bacon")),
                    lang,
                    thr,
                    columns=["outcome", "type", "treated", "control", "estimate", "weight"],
                    count_columns=[],
                )
            )
        )
    parts += [sections_sensitivity.sensitivity(ctx), sections_sensitivity.event_studies(ctx)]
    return "\n\n".join(p for p in parts if p)


def secondary(ctx: ReportContext) -> str:
    """Secondary outcomes: effect table (no multiplicity adjustment)."""
    return "\n\n".join(
        [
            ctx.heading("h.secondary"),
            effects_table(ctx, "secondary", "effects_secondary", "c.effects_secondary"),
        ]
    )


def subgroups(ctx: ReportContext) -> str:
    """Subgroup effects; estimates from fewer persons than the threshold are suppressed."""
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


def bundle_tables(ctx: ReportContext, part: str) -> dict[str, ReportTable]:
    """Build every table of a bundle mapping (``throughput``, ``questionnaire``)."""
    tables = ctx.get(part)
    out: dict[str, ReportTable] = {}
    if not isinstance(tables, Mapping):
        return out
    for name in sorted(tables):
        frame = records_frame(tables[name])
        if frame is None:
            continue
        if "outcome" in frame.columns:
            frame["outcome"] = [ctx.outcome_label(o) for o in frame["outcome"]]
        if "norm" in frame.columns and name != "norm_definitions":
            defs = records_frame(tables.get("norm_definitions"))
            frame["norm"] = [norm_name(str(n), defs, ctx.lang) for n in frame["norm"]]
        digits = ROW_DIGITS.get(f"{part}.{name}")
        table = make_table(
            f"{part}_{name}",
            label("tab", name, ctx.lang),
            frame,
            ctx.lang,
            ctx.threshold,
            plan=ctx.plan,
            source=f"{part}.{name}",
            row_digits=None if digits is None else digits(frame, tables),
        )
        if table is not None:
            out[name] = table
    return out


RowDigits = Callable[[pd.DataFrame, Mapping[str, Any]], dict[str, list[int]]]


def _mean_digits(values: pd.DataFrame) -> list[int]:
    """Decimals per row from the row's means (see :func:`_digits_by_means`)."""
    values = values.apply(pd.to_numeric, errors="coerce")
    share = values.abs().le(1).all(axis=1)
    largest = values.abs().max(axis=1).fillna(0)
    return [
        _SHARE_DIGITS if s else (2 if m < 10 else 1) for s, m in zip(share, largest, strict=True)
    ]


def _digits_by_means(means: tuple[str, ...], shown: tuple[str, ...]) -> RowDigits:
    """Decimals per row of a table whose rows mix quantities, chosen from its means.

    A share or flag (between 0 and 1 in every mean column) gets three decimals, a score
    below 10 two, a score on 0–100 one: "0.5 against 0.8" would hide a share's
    difference. The decimals apply to the mean columns and to ``shown`` (changes and
    their intervals, on the same scale).
    """

    def digits(frame: pd.DataFrame, tables: Mapping[str, Any]) -> dict[str, list[int]]:
        return dict.fromkeys((*means, *shown), _mean_digits(frame[list(means)]))

    return digits


def _digits_by_scale_means(shown: tuple[str, ...]) -> RowDigits:
    """Decimals per row of a table of differences per scale, from the scale's means.

    The rows hold no levels of their own, so each scale gets the decimals its means
    get in the ``change`` table (the most of any of its rows); a scale without means
    there keeps three decimals.
    """

    def digits(frame: pd.DataFrame, tables: Mapping[str, Any]) -> dict[str, list[int]]:
        if "scale" not in frame.columns:
            return {}
        change = records_frame(tables.get("change"))
        by_scale: dict[str, int] = {}
        if change is not None and {"scale", "mean_t0", "mean_later"} <= set(change.columns):
            rows = _mean_digits(change[["mean_t0", "mean_later"]])
            for scale, d in zip(change["scale"], rows, strict=True):
                by_scale[str(scale)] = max(d, by_scale.get(str(scale), d))
        per_row = [by_scale.get(str(s), _SHARE_DIGITS) for s in frame["scale"]]
        return dict.fromkeys(shown, per_row)

    return digits


#: Bundle tables whose columns mix quantities, and the decimals of each row.
ROW_DIGITS: dict[str, RowDigits] = {
    "questionnaire.nonresponse": _digits_by_means(("mean_responders", "mean_nonresponders"), ()),
    "questionnaire.change": _digits_by_means(
        ("mean_t0", "mean_later"), ("mean_change", "sd_change", "conf_low", "conf_high")
    ),
    "questionnaire.change_did": _digits_by_scale_means(
        ("change_pilot", "change_comparison", "estimate", "std_error", "conf_low", "conf_high")
    ),
}


def generic_tables(ctx: ReportContext, part: str) -> list[str]:
    """Show the tables of a bundle mapping that the report shows (see ``SHOWN``), in that order."""
    tables = bundle_tables(ctx, part)
    shown = [n for n in SHOWN.get(part, ()) if n in tables]
    shown += [
        n
        for n in tables
        if n not in SHOWN.get(part, ())
        and len(tables[n].protected.values) <= 30
        and not n.endswith(("_curve", "_monthly", "_definitions"))
    ]
    out = []
    for n in dict.fromkeys(shown):
        key = f"{part}_{n}"
        if key in SUMMARIES and _summarisable(tables[n], key):
            out.append(_summary_table(ctx, part, n))  # all rows stay in the exports
        else:
            out.append(ctx.table(tables[n], columns=DOC_COLUMNS.get(key)))
    return out or [ctx.not_available()]


def _summarisable(table: ReportTable, key: str) -> bool:
    """Tell whether a table is long and has the columns its summary needs."""
    values = table.protected.values
    return len(values) > SUMMARY_ROWS and set(NEEDS[key]) <= set(values.columns)


def _summary_table(ctx: ReportContext, part: str, name: str) -> str:
    """Return the summary of a long bundle table and say where its full version is."""
    key = f"{part}_{name}"
    # from what the release shows (hidden cells missing): a summary reveals nothing more
    frame = records_frame((ctx.shown.get(part) or {}).get(name))
    if frame is None:
        return ctx.not_available()
    summarised = SUMMARIES[key](frame, ctx.threshold)
    summary = summarised.frame
    if "norm" in summary.columns:
        defs = records_frame((ctx.get(part) or {}).get("norm_definitions"))
        summary["norm"] = [norm_name(str(n), defs, ctx.lang) for n in summary["norm"]]
    # a cell that shows one bundle cell takes its status from the plan: hidden reads as "·"
    status = summarised.status(ctx.plan.statuses.get(f"{part}.{name}"))
    table = make_table(
        f"{key}_summary",
        label("tab", f"{name}_summary", ctx.lang),
        summary,
        ctx.lang,
        ctx.threshold,
        columns=list(summary.columns),
        status=status,
        count_columns=["n"] if "n" in summary.columns else [],  # without a status
    )
    return ctx.table(table) + "\n\n" + ctx.t("s.full_table", file=f"{key}.csv")


def _figures(ctx: ReportContext, section: str) -> list[str]:
    if ctx.collect_only:  # the exports need tables only: build no plots for them
        return []
    out = []
    # from the masked bundle: a figure shows nothing the tables hide; only the parts the
    # figures are drawn from are passed, so that they are all of the figures' cache key
    shown = ctx.shown
    parts = {
        "throughput": shown.get("throughput"),
        "questionnaire": shown.get("questionnaire"),
        "settings": {"pilot_start": (shown.get("settings") or {}).get("pilot_start")},
    }
    drawn_from = (parts, section, ctx.lang, ctx.threshold)
    for name, caption, plot in monitoring_figures(parts, section, ctx.lang, ctx.threshold):
        out.append(ctx.figure(plot, name, caption, drawn_from=drawn_from))
    return out


def throughput(ctx: ReportContext) -> str:
    """Throughput tables (durations, norms, handovers, caseload) and their figures."""
    heading = ctx.heading("h.throughput")
    if _not_registered(ctx, "case_events", "throughput"):
        return "\n\n".join(
            [heading, ctx.t("s.no_source", kind=label("kind", "case_events", ctx.lang))]
        )
    return "\n\n".join([heading, *_figures(ctx, "throughput"), *generic_tables(ctx, "throughput")])


def _not_registered(ctx: ReportContext, kind: str, part: str) -> bool:
    """Tell whether a part is absent because the protocol registers no source of its kind.

    Then the document says so: "not available" would read as a part that went missing.
    """
    sources = ctx.get("protocol.data_sources")
    if ctx.get(part) or not isinstance(sources, list):
        return False
    return not any(isinstance(s, Mapping) and s.get("kind") == kind for s in sources)


def questionnaire(ctx: ReportContext) -> str:
    """Questionnaire tables (response, scores, reliability, change) and their figures."""
    heading = ctx.heading("h.questionnaire")
    if _not_registered(ctx, "questionnaire", "questionnaire"):
        kind = label("kind", "questionnaire", ctx.lang)
        return "\n\n".join([heading, ctx.t("s.no_source", kind=kind)])
    return "\n\n".join(
        [heading, *_figures(ctx, "questionnaire"), *generic_tables(ctx, "questionnaire")]
    )


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

"""Throughput and questionnaire sections: the bundle's measure tables and their figures.

The evaluation report shows the tables named in ``SHOWN`` (long ones summarised, with
the full table in the exports) and the monitoring figures drawn from the same parts;
:func:`bundle_tables` also gives the exports every table of a part, plotted or not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from evalkit.report.context import ReportContext
from evalkit.report.figure_cache import inputs_digest
from evalkit.report.figures_monitoring import norm_name
from evalkit.report.i18n import label
from evalkit.report.long_tables import NEEDS, SUMMARIES, SUMMARY_ROWS
from evalkit.report.monitoring import monitoring_figures
from evalkit.report.plan import rounded
from evalkit.report.plan_rules import NONRESPONSE_YES_NO
from evalkit.report.tables import ReportTable, make_table, records_frame
from evalkit.report.units import SHARE_DIGITS

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
#: Columns the document leaves out of a bundle table, showing the others in the bundle's
#: order (so a column the analysis adds shows without a second list here): the persons
#: with each answer of a yes/no scale are there for the suppression plan (its mean is
#: their share); the document shows the means, the exports both.
DOC_OMIT = {"questionnaire_nonresponse": NONRESPONSE_YES_NO}
__all__ = [
    "DOC_COLUMNS",
    "DOC_OMIT",
    "ROW_DIGITS",
    "SHOWN",
    "bundle_tables",
    "generic_tables",
    "questionnaire",
    "throughput",
]


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
            rounded(f"{part}.{name}", frame),
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
        SHARE_DIGITS if s else (2 if m < 10 else 1) for s, m in zip(share, largest, strict=True)
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
        per_row = [by_scale.get(str(s), SHARE_DIGITS) for s in frame["scale"]]
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
            out.append(ctx.table(tables[n], columns=_doc_columns(tables[n], key)))
    return out or [ctx.not_available()]


def _doc_columns(table: ReportTable, key: str) -> tuple[str, ...] | None:
    """Return the columns the document shows of a bundle table; ``None`` for all."""
    if key in DOC_OMIT:
        return tuple(c for c in table.columns if c not in DOC_OMIT[key])
    return DOC_COLUMNS.get(key)


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
    # keyed once for all of the section's figures: the parts hold thousands of records
    drawn_from = inputs_digest((parts, section, ctx.lang, ctx.threshold))
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

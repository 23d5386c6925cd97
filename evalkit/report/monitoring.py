"""The monitor document's sections, and the bridge to the analysis figures.

Throughput and questionnaire figures are made by
``evalkit.report.figures_monitoring`` (owned by the analysis engineer). This
module calls its ``report_figures(bundle, *, section, lang, threshold)`` when it
exists, which returns ``(name, caption, plot)`` triples; without it the reports
show the tables only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from evalkit.report.formatting import fmt_count
from evalkit.report.i18n import label
from evalkit.report.tables import make_table, records_frame

__all__ = [
    "caseload",
    "completeness",
    "monitor_intro",
    "monitoring_figures",
    "norms",
    "out_of_sight",
    "registrations",
    "response",
]


def monitoring_figures(
    bundle: Mapping[str, Any], section: str, lang: str, threshold: int
) -> list[tuple[str, str, Any]]:
    """Figures for a section from ``figures_monitoring.report_figures``, if that exists.

    Parameters
    ----------
    bundle : mapping
        The results bundle.
    section : {"throughput", "questionnaire", "monitor"}
        Which figures.
    lang : str
        Report language.
    threshold : int
        Disclosure threshold the figures must respect.

    Returns
    -------
    list of (name, caption, plot)
        The section's figures (none when the bundle has no data for them).
    """
    from evalkit.report.figures_monitoring import report_figures

    return [
        (str(n), str(c), p)
        for n, c, p in report_figures(bundle, section=section, lang=lang, threshold=threshold)
    ]


def _ctx_table(ctx: Any, name: str, caption_key: str, source: str) -> str:
    """Return bundle table ``source`` as a report table, under the suppression plan."""
    from evalkit.report.figures_monitoring import norm_name

    frame = records_frame(ctx.get(source))
    if frame is not None and "norm" in frame.columns:  # the norm's name, not its id
        defs = records_frame(ctx.get("throughput.norm_definitions"))
        frame["norm"] = [norm_name(str(n), defs, ctx.lang) for n in frame["norm"]]
    return ctx.table(
        make_table(
            name,
            ctx.t(caption_key),
            frame,
            ctx.lang,
            ctx.threshold,
            plan=ctx.plan,
            source=source,
        )
    )


def monitor_intro(ctx: Any) -> str:
    """Title and purpose of the monitor."""
    from evalkit.report.sections_front import title, warnings_block

    return "\n\n".join(
        x for x in [title(ctx, "doc.monitor"), warnings_block(ctx), ctx.t("s.monitor_intro")] if x
    )


def registrations(ctx: Any) -> str:
    """Registrations and active cases per period, with a total row."""
    records = ctx.get("monitoring.registrations")
    frame = records_frame(records)
    if frame is not None and "n_registrations" in frame.columns:
        total: dict[str, Any] = {c: None for c in frame.columns}
        total.update({"period": "Σ", "n_registrations": int(frame["n_registrations"].sum())})
        frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
        # the Σ row (index len(records)) is the column total; the plan knows it is shown
        order = ["period", "n_registrations", "n_active"]
        frame = frame[
            [c for c in order if c in frame.columns] + [c for c in frame.columns if c not in order]
        ]
        table = make_table(
            "registrations",
            ctx.t("tab.registrations"),
            frame,
            ctx.lang,
            ctx.threshold,
            plan=ctx.plan,
            source="monitoring.registrations",
        )
        body = ctx.table(table)
    else:
        body = ctx.not_available()
    return "\n\n".join([ctx.heading("h.registrations"), body])


def norms(ctx: Any) -> str:
    """Throughput against the norms (open cases counted correctly)."""
    parts = [ctx.heading("h.norms")]
    shown = ctx.plan.masked(ctx.bundle)  # a figure shows nothing the tables hide
    for name, caption, plot in monitoring_figures(shown, "monitor", ctx.lang, ctx.threshold):
        parts.append(ctx.figure(plot, name, caption))
    parts.append(_ctx_table(ctx, "norms", "tab.norms", "throughput.norms"))
    parts.append(_ctx_table(ctx, "durations", "tab.durations", "throughput.durations"))
    return "\n\n".join(parts)


def caseload(ctx: Any) -> str:
    """Active cases per coach per week against the benchmark."""
    records = ctx.get("throughput.caseload")
    frame = records_frame(records)
    recent = frame
    if frame is not None and "week" in frame.columns:  # the monitor shows the latest 8 weeks
        weeks = sorted(frame["week"].astype(str).unique())[-8:]
        recent = frame[frame["week"].astype(str).isin(weeks)].sort_values(
            [c for c in ("week", "organisation", "coach") if c in frame.columns], kind="stable"
        )
    table = None
    if recent is not None and "n_active" in recent.columns:
        table = make_table(
            "caseload",
            ctx.t("tab.caseload"),
            recent,
            ctx.lang,
            ctx.threshold,
            plan=ctx.plan,
            source="throughput.caseload",
        )
    parts = [ctx.heading("h.caseload"), ctx.table(table)]
    if frame is not None and {"n_above", "n_holders"} <= set(frame.columns):
        high = (
            frame["benchmark_high"].dropna()
            if "benchmark_high" in frame.columns
            else pd.Series(dtype=float)
        )
        parts.append(
            ctx.t(
                "s.caseload_above",
                n=fmt_count(int(frame["n_above"].sum()), ctx.lang),
                total=fmt_count(int(frame["n_holders"].sum()), ctx.lang),
                high=fmt_count(high.iloc[0], ctx.lang) if len(high) else "\u2013",
            )
        )
    elif frame is not None and {"n_active", "benchmark_high"} <= set(frame.columns):
        above = int((frame["n_active"] > frame["benchmark_high"]).sum())
        high = frame["benchmark_high"].dropna()
        parts.append(
            ctx.t(
                "s.caseload_above",
                n=fmt_count(above, ctx.lang),
                total=fmt_count(len(frame), ctx.lang),
                high=fmt_count(high.iloc[0], ctx.lang) if len(high) else "\u2013",
            )
        )
    return "\n\n".join(parts)


def out_of_sight(ctx: Any) -> str:
    """Young people out of sight after their case ended, and handovers."""
    return "\n\n".join(
        [
            ctx.heading("h.out_of_sight"),
            _ctx_table(
                ctx,
                "out_of_sight",
                "tab.out_of_sight",
                "throughput.out_of_sight"
                if ctx.get("throughput.out_of_sight")
                else "monitoring.out_of_sight",
            ),
            _ctx_table(ctx, "handovers", "tab.handovers", "throughput.handovers"),
        ]
    )


def response(ctx: Any) -> str:
    """Questionnaire response per wave and group."""
    frame = records_frame(ctx.get("questionnaire.response"))
    if frame is not None and "group" in frame.columns:
        frame["group"] = [label("v", g, ctx.lang) for g in frame["group"]]
    return "\n\n".join(
        [
            ctx.heading("h.response"),
            ctx.table(
                make_table(
                    "response",
                    ctx.t("tab.response"),
                    frame,
                    ctx.lang,
                    ctx.threshold,
                    plan=ctx.plan,
                    source="questionnaire.response",
                )
            ),
        ]
    )


def completeness(ctx: Any) -> str:
    """Missing values per source and column, and rows per source."""
    return "\n\n".join(
        [
            ctx.heading("h.completeness"),
            _ctx_table(ctx, "completeness", "tab.completeness", "monitoring.completeness"),
        ]
    )

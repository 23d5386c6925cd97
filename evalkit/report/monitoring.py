"""The monitor a pilot lead opens every week: what is happening now, pilot against comparison.

Sections in reading order: up to when the data run and what changed since the previous
monitor, the cases open past a norm right now, registrations (most recent month first),
throughput against the norms, caseload, the outcome trend, the questionnaire per wave,
out of sight, completeness. Every table goes through :func:`make_table` and so through
``evalkit.report.disclosure.protect`` (primary suppression of counts 1 to threshold − 1,
with secondary suppression where a total or row sum is shown); every figure takes values
masked by the same rule. Sections for a source the protocol did not deliver are left
out; the introduction says which.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from evalkit.report.formatting import fmt_count, fmt_date, fmt_num, fmt_pct
from evalkit.report.i18n import TEXT, label
from evalkit.report.monitor_changes import changes, key_figures
from evalkit.report.monitor_tables import (
    SOURCES,
    breaches_spec,
    registrations_spec,
    registrations_status,
)
from evalkit.report.tables import make_table, records_frame

__all__ = [
    "binary_outcomes",
    "breaches",
    "caseload",
    "completeness",
    "delivered",
    "monitor_intro",
    "monitoring_figures",
    "norm_label",
    "out_of_sight",
    "registrations",
    "since_last",
]

_KINDS = ("case_events", "outcome_panel", "questionnaire")


def monitoring_figures(
    bundle: Mapping[str, Any], section: str, lang: str, threshold: int
) -> list[tuple[str, str, Any]]:
    """Figures for a section from ``figures_monitoring.report_figures``.

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


def delivered(ctx: Any) -> set[str]:
    """Return the source kinds the protocol names (what the monitor can show)."""
    kinds = {str(s.get("kind")) for s in ctx.get("protocol.data_sources", []) or []}
    # a bundle without a data-source list: judge by what it holds
    if not kinds:
        kinds = {"outcome_panel"} if ctx.get("trends") else set()
        kinds |= {"case_events"} if ctx.get("throughput") else set()
        kinds |= {"questionnaire"} if ctx.get("questionnaire") else set()
    return kinds


def norm_label(ctx: Any, name: str) -> str:
    """Return a norm's name in the report language: translation, else its label, else its code."""
    if f"norm.{name}" in TEXT:
        return ctx.t(f"norm.{name}")
    for row in ctx.get("throughput.norm_definitions", []) or []:
        if row.get("norm") == name and row.get("label"):
            return ctx.text(row["label"])
    return label("code", name, ctx.lang)


def _up_to_text(ctx: Any) -> str:
    up_to = ctx.get("monitoring.data_up_to") or {}
    parts = [
        ctx.t("s.up_to_part", source=ctx.t(f"src.{kind}"), date=fmt_date(up_to[kind], ctx.lang))
        for kind in _KINDS
        if kind in up_to
    ]
    if not parts:
        return ctx.t("s.up_to_unknown")
    return ctx.t("s.up_to", parts="; ".join(parts))


def monitor_intro(ctx: Any) -> str:
    """Title, purpose, up to when the data run, and which sources are missing."""
    from evalkit.report.sections_front import title, warnings_block

    missing = [ctx.t(f"src.{k}") for k in _KINDS if k not in delivered(ctx)]
    parts = [
        title(ctx, "doc.monitor"),
        f"**{_up_to_text(ctx)}**",
        warnings_block(ctx),
        ctx.t("s.monitor_intro"),
        ctx.t("s.monitor_missing", sources=", ".join(missing)) if missing else "",
    ]
    return "\n\n".join(p for p in parts if p)


def binary_outcomes(ctx: Any) -> set[str]:
    """Return the ids of the protocol's binary outcomes (their monthly mean is a share)."""
    return {
        str(o.get("id"))
        for o in ctx.get("protocol.outcomes", []) or []
        if isinstance(o, Mapping) and o.get("type") == "binary"
    }


def _figure_value(ctx: Any, kind: str, value: Any) -> str:
    if value is None:
        return ctx.t("v.suppressed", threshold=ctx.threshold) if kind == "count" else "\u2013"
    if kind == "count":
        return fmt_count(value, ctx.lang)
    if kind == "share":
        return fmt_pct(value, ctx.lang)
    return fmt_num(value, ctx.lang, 3)


def _figure_change(ctx: Any, kind: str, change: Any) -> str:
    if change is None:
        return "\u2013"
    if kind == "count":
        return ("+" if change > 0 else "") + fmt_count(change, ctx.lang)
    if kind == "share":
        return fmt_num(change * 100, ctx.lang, 1, signed=True) + " " + ctx.t("s.pp")
    return fmt_num(change, ctx.lang, 3, signed=True)


def _detail(ctx: Any, what: str, detail: str) -> str:
    if what in ("past_norm", "share_within"):
        return norm_label(ctx, detail)
    if what == "outcome_mean":
        return ctx.outcome_label(detail)
    return detail


def since_last(ctx: Any, previous: str | Mapping[str, Any] | None = "") -> str:
    """Show what changed since the previous monitor of this protocol (another delivery).

    Parameters
    ----------
    ctx : ReportContext
        The report context.
    previous : str, mapping or None
        The previous monitor's history entry as JSON (``""``: this is the first). Quarto
        reads ``-P`` values as YAML, so there it arrives already parsed (or as None).
    """
    parts = [ctx.heading("h.since_last")]
    entry = previous if isinstance(previous, Mapping) else None
    if isinstance(previous, str) and previous:
        entry = json.loads(previous)
    if not entry:
        parts.append(ctx.t("s.since_last_first"))
        return "\n\n".join(parts)
    up_to = entry.get("data_up_to") or {}
    when = "; ".join(
        f"{ctx.t(f'src.{k}')} {fmt_date(up_to[k], ctx.lang)}" for k in _KINDS if k in up_to
    )
    parts.append(ctx.t("s.since_last", when=when or "\u2013"))
    rows = changes(key_figures(ctx.bundle, ctx.threshold, ctx.plan), entry.get("figures") or [])
    # a figure unknown or suppressed in both monitors says nothing about a change
    rows = [r for r in rows if r["previous"] is not None or r["current"] is not None]
    # a binary outcome's monthly mean is a share (the history keeps it as kind "mean")
    binary = binary_outcomes(ctx)
    kinds = [
        "share" if r["what"] == "outcome_mean" and str(r["detail"]) in binary else r["kind"]
        for r in rows
    ]
    frame = pd.DataFrame(
        [
            {
                "figure": ctx.t(f"kf.{r['what']}"),
                "detail": _detail(ctx, r["what"], str(r["detail"] or "")),
                "group": label("v", r["group"], ctx.lang) if r["group"] else "",
                "previous": _figure_value(ctx, kind, r["previous"]),
                "current": _figure_value(ctx, kind, r["current"]),
                "change": _figure_change(ctx, kind, r["change"]),
            }
            for r, kind in zip(rows, kinds, strict=True)
        ]
    )
    # values are already as the two monitors showed them (suppressed ones as "<10")
    parts.append(
        ctx.table(
            make_table(
                "since_last",
                ctx.t("tab.since_last"),
                frame,
                ctx.lang,
                ctx.threshold,
                count_columns=[],
            )
        )
    )
    return "\n\n".join(parts)


def breaches(ctx: Any) -> str:
    """Cases open past their norm right now, per norm, group, organisation and coach."""
    if "case_events" not in delivered(ctx):
        return ""
    parts = [ctx.heading("h.breaches"), ctx.t("s.breaches")]
    frame, kwargs = breaches_spec(ctx.bundle)
    if frame is None or frame.empty:
        parts.append(ctx.t("s.no_breaches"))
        return "\n\n".join(parts)
    total = frame["organisation"] == "all"
    frame = frame.assign(
        norm=[norm_label(ctx, n) for n in frame["norm"]],
        organisation=frame["organisation"].where(~total, ctx.t("v.all_organisations")),
        coach=[
            "" if is_total else (c if c else ctx.t("v.no_coach"))
            for c, is_total in zip(frame["coach"], total, strict=True)
        ],
    )
    table = make_table(
        "breaches",
        ctx.t("tab.breaches"),
        frame,
        ctx.lang,
        ctx.threshold,
        columns=["norm", "group", "organisation", "coach", "n_open", "n_within", "n_past_norm"],
        headers={"n_open": ctx.t("col.n_open_cases"), "n_within": ctx.t("col.n_still_within")},
        plan=ctx.plan,
        source=SOURCES["breaches"],
        **kwargs,
    )
    parts.append(ctx.table(table))
    return "\n\n".join(parts)


def registrations(ctx: Any) -> str:
    """Registrations and active cases per month, pilot and comparison, most recent first."""
    if "case_events" not in delivered(ctx):
        return ""
    parts = [ctx.heading("h.registrations")]
    frame, _ = registrations_spec(ctx.bundle)
    if frame is None:
        parts.append(ctx.not_available())
        return "\n\n".join(parts)
    table = make_table(
        "registrations",
        ctx.t("tab.registrations_groups"),
        frame,
        ctx.lang,
        ctx.threshold,
        columns=list(frame.columns),
        status=registrations_status(ctx.bundle, frame, ctx.plan),
    )
    parts.append(ctx.table(table))
    return "\n\n".join(parts)


def caseload(ctx: Any) -> str:
    """Caseload per coach at the end of each month (the last week), most recent first."""
    if "case_events" not in delivered(ctx):
        return ""
    frame = records_frame(ctx.get("throughput.caseload"))
    parts = [ctx.heading("h.caseload")]
    if frame is None or "week" not in frame.columns:
        parts.append(ctx.not_available())
        return "\n\n".join(parts)
    if "organisation" in frame.columns and (frame["organisation"] == "all").any():
        frame = frame.loc[frame["organisation"] == "all"]
    frame = frame.assign(month=frame["week"].astype(str).str[:7])
    last_weeks = frame.groupby("month")["week"].transform("max")
    monthly = frame.loc[frame["week"] == last_weeks].sort_values("week", ascending=False)
    monthly = monthly.head(12)
    columns = [
        c
        for c in (
            "month",
            "week",
            "n_holders",
            "n_active",
            "mean_caseload",
            "max_caseload",
            "n_above",
        )
        if c in monthly.columns
    ]
    by_coach = "holder_type" not in monthly.columns or (monthly["holder_type"] == "coach").all()
    # without coach ids the caseload is counted per organisation: keep the neutral headers
    headers = (
        {"n_holders": ctx.t("col.n_coaches"), "n_above": ctx.t("col.n_coaches_above")}
        if by_coach
        else {}
    )
    table = make_table(
        "caseload",
        ctx.t("tab.caseload_monthly"),
        monthly,
        ctx.lang,
        ctx.threshold,
        columns=columns,
        count_columns=["n_active"],
        dependent={"n_active": [c for c in ("mean_caseload", "max_caseload") if c in columns]},
        headers=headers,
        plan=ctx.plan,
        source="throughput.caseload",
    )
    parts.append(ctx.table(table))
    high = monthly["benchmark_high"].dropna() if "benchmark_high" in monthly.columns else None
    if high is not None and len(high) and "n_above" in monthly.columns:
        latest = monthly.iloc[0]
        parts.append(
            ctx.t(
                "s.caseload_latest",
                n=fmt_count(latest["n_above"], ctx.lang),
                total=fmt_count(latest.get("n_holders"), ctx.lang),
                high=fmt_count(high.iloc[0], ctx.lang),
                week=fmt_date(str(latest["week"]), ctx.lang),
            )
        )
    return "\n\n".join(parts)


def out_of_sight(ctx: Any) -> str:
    """Young people out of sight after their case ended, per group and period."""
    if "case_events" not in delivered(ctx):
        return ""
    frame = records_frame(ctx.get("throughput.out_of_sight"))
    if frame is not None and {"org_type", "end_event", "group"} <= set(frame.columns):
        frame = frame.loc[
            (frame["org_type"] == "all") & (frame["end_event"] == "all") & (frame["group"] != "all")
        ]
    table = make_table(
        "out_of_sight",
        ctx.t("tab.out_of_sight"),
        frame,
        ctx.lang,
        ctx.threshold,
        columns=[
            "group",
            "period",
            "n",
            "n_followed_up",
            "n_out_of_sight",
            "n_not_yet_known",
            "share_out_of_sight",
        ],
        plan=ctx.plan,
        source="throughput.out_of_sight",
        count_columns=["n", "n_followed_up", "n_out_of_sight", "n_not_yet_known"],
        row_totals={"n": ["n_followed_up", "n_out_of_sight", "n_not_yet_known"]},
        dependent={"n_out_of_sight": ["share_out_of_sight"], "n": ["share_out_of_sight"]},
    )
    return "\n\n".join([ctx.heading("h.out_of_sight"), ctx.table(table)])


def completeness(ctx: Any) -> str:
    """Columns with missing values per source (complete columns are summed up in a sentence)."""
    frame = records_frame(ctx.get("monitoring.completeness"))
    parts = [ctx.heading("h.completeness")]
    if frame is None:
        parts.append(ctx.not_available())
        return "\n\n".join(parts)
    gaps = frame.loc[frame["share_missing"] > 0]
    parts.append(
        ctx.t(
            "s.completeness",
            complete=fmt_count(int((frame["share_missing"] == 0).sum()), ctx.lang),
            total=fmt_count(len(frame), ctx.lang),
        )
    )
    if not gaps.empty:
        gaps = gaps.assign(
            kind=[ctx.t(f"src.{k}") if f"src.{k}" in TEXT else k for k in gaps["kind"]]
        )
        parts.append(
            ctx.table(
                make_table(
                    "completeness",
                    ctx.t("tab.completeness"),
                    gaps,
                    ctx.lang,
                    ctx.threshold,
                    columns=["kind", "column", "n", "share_missing"],
                    count_columns=[],
                )
            )
        )
    return "\n\n".join(parts)

"""The monitor's sections over time: norms, outcome trend, questionnaire waves.

Pilot against comparison throughout. Figures get values masked by the disclosure rule
(a cell from 1 to threshold − 1 persons is left out, with the number left out said in
the caption); tables go through ``make_table`` and so through ``protect``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.report.figures import trend_plot
from evalkit.report.figures_groups import (
    GROUPS,
    WAVES,
    hidden_count,
    norm_period_plot,
    norm_share_periods,
    wave_plot,
)
from evalkit.report.figures_monitoring import km_plot
from evalkit.report.formatting import fmt_count, fmt_pct
from evalkit.report.i18n import label
from evalkit.report.monitor_tables import SOURCES, norms_spec
from evalkit.report.monitoring import binary_outcomes, delivered, norm_label
from evalkit.report.tables import make_table, records_frame

__all__ = ["norms", "outcome_trend", "questionnaire"]

#: Intervals whose Kaplan–Meier curves the monitor shows (when the bundle has them).
_KM_INTERVALS = ("registration_to_first_conversation", "application_to_decision")


def _norm_days(ctx: Any, interval: str) -> float | None:
    for row in ctx.get("throughput.norm_definitions", []) or []:
        if row.get("interval") == interval and row.get("unit") in ("days", "weeks"):
            return float(row["limit"]) * (7 if row["unit"] == "weeks" else 1)
    return None


def _shown(ctx: Any, part: str, name: str) -> pd.DataFrame | None:
    """Return a bundle table for a figure: the release plan's hidden cells are missing."""
    node = ctx.shown.get(part)
    records = node.get(name) if isinstance(node, dict) else None
    return records_frame(records)


def _norm_figures(ctx: Any) -> list[str]:
    monthly = _shown(ctx, "throughput", "norms_monthly")
    quarterly = _shown(ctx, "throughput", "norms_quarterly")
    source = monthly if monthly is not None else quarterly
    if source is None:
        return []
    out = []
    for norm in sorted(set(source["norm"])):
        data, freq = norm_share_periods(monthly, quarterly, norm=norm, threshold=ctx.threshold)
        if data.empty or data["share_within"].notna().sum() == 0:  # say so, never leave it out
            out.append(
                ctx.t("s.norm_all_hidden", norm=norm_label(ctx, norm), threshold=ctx.threshold)
            )
            continue
        caption = ctx.t(f"s.fig_norm_{freq}", norm=norm_label(ctx, norm), threshold=ctx.threshold)
        if hidden_count(data):
            counts = [
                ctx.t(
                    "s.fig_hidden_group",
                    group=label("v", g, ctx.lang),
                    n=fmt_count(int(part["hidden"].sum()), ctx.lang),
                    total=fmt_count(len(part), ctx.lang),
                )
                for g, part in data.groupby("group", sort=False)
            ]
            caption += " " + ctx.t(
                "s.fig_hidden", threshold=ctx.threshold, groups=", ".join(counts)
            )
        plot = norm_period_plot(data, pilot_start=ctx.get("settings.pilot_start"), lang=ctx.lang)
        out.append(ctx.figure(plot, f"monitor-norm-{norm}", caption, height=3.2))
    return out


def _km_figures(ctx: Any) -> list[str]:
    curve = _shown(ctx, "throughput", "km_curve")
    if curve is None or "group" not in curve.columns:
        return []
    out = []
    for interval in [i for i in _KM_INTERVALS if i in set(curve["interval"])]:
        rows = curve.loc[(curve["interval"] == interval) & curve["group"].isin(GROUPS)]
        if "org_type" in rows.columns:
            rows = rows.loc[(rows["org_type"] == "all") & (rows["period"] == "all")]
        if rows.empty:
            continue
        plot = km_plot(
            curve,
            interval=interval,
            by="group",
            norm_days=_norm_days(ctx, interval),
            threshold=ctx.threshold,
            lang=ctx.lang,
        )
        caption = ctx.t(
            "s.fig_km_groups",
            interval=label_interval(ctx, interval),
            threshold=ctx.threshold,
        )
        out.append(ctx.figure(plot, f"monitor-km-{interval}", caption, height=3.2))
    return out


def label_interval(ctx: Any, interval: str) -> str:
    """Return an interval's name in the report language."""
    return label("code", interval, ctx.lang)


def norms(ctx: Any) -> str:
    """Share within each norm over time and waiting curves, pilot against comparison."""
    if "case_events" not in delivered(ctx):
        return ""
    parts = [ctx.heading("h.norms"), *_norm_figures(ctx), *_km_figures(ctx)]
    frame, kwargs = norms_spec(ctx.bundle)
    if frame is not None:
        frame = frame.assign(norm=[norm_label(ctx, n) for n in frame["norm"]])
    table = make_table(
        "norms",
        ctx.t("tab.norms_groups"),
        frame,
        ctx.lang,
        ctx.threshold,
        columns=[
            "norm",
            "group",
            "period",
            "n",
            "n_within",
            "n_breach",
            "n_unknown",
            "share_within",
        ],
        plan=ctx.plan,
        source=SOURCES["norms"],
        **kwargs,
    )
    parts.append(ctx.table(table))
    return "\n\n".join(parts)


def outcome_trend(ctx: Any) -> str:
    """Show the outcomes per month to date, pilot against comparison (small months hidden)."""
    trends = records_frame(ctx.get("trends"))
    if "outcome_panel" not in delivered(ctx) or trends is None:
        return ""
    primary = [
        e.get("outcome")
        for e in ctx.get("confirmatory.effects", []) or []
        if e.get("role") == "primary"
    ]
    if primary and trends["outcome"].isin(primary).any():
        trends = trends.loc[trends["outcome"].isin(primary)]
    trends = trends.loc[trends["group"].isin(GROUPS)]
    masked = trends.mask(ctx.plan.status("trends", trends) != "")
    labels = {o: ctx.outcome_label(o) for o in dict.fromkeys(trends["outcome"])}
    parts = [ctx.heading("h.outcome_trend")]
    height = 1.4 + 2.2 * len(labels)
    # a binary outcome's mean is a share: a percentage, as the summary writes its level
    shares = set(labels) <= binary_outcomes(ctx)
    parts.append(
        ctx.figure(
            trend_plot(masked, labels, ctx.get("settings.pilot_start"), ctx.lang, shares),
            "monitor-trend",
            ctx.t("s.fig_trend_monitor", threshold=ctx.threshold),
            height=height,
        )
    )
    months = trends["month"].astype(str)
    recent = trends.loc[months.isin(sorted(set(months))[-3:])].copy()
    recent["outcome"] = [labels[o] for o in recent["outcome"]]
    recent = recent.sort_values(["outcome", "month", "group"], ascending=[True, False, False])
    parts.append(
        ctx.table(
            make_table(
                "outcome_trend",
                ctx.t("tab.outcome_trend"),
                recent,
                ctx.lang,
                ctx.threshold,
                columns=["outcome", "month", "group", "n", "mean"],
                headers={"mean": str(ctx.t("col.share_of_persons"))} if shares else None,
                formatters={"mean": lambda v, lang: fmt_pct(v, lang, 1)} if shares else None,
                plan=ctx.plan,
                source="trends",
                count_columns=["n"],
                dependent={"n": ["mean"]},
            )
        )
    )
    return "\n\n".join(parts)


def _groups_only(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Pilot and comparison rows (all rows when the data have no groups), wave by wave."""
    if frame is None or "group" not in frame.columns:
        return frame
    if frame["group"].isin(GROUPS).any():
        frame = frame.loc[frame["group"].isin(GROUPS)].copy()
    return _in_order(frame, ["wave", "group"] if "wave" in frame.columns else ["group"])


def _in_order(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Sort waves in their order of time and the pilot before the comparison group."""
    ranks = {
        "wave": {w: i for i, w in enumerate(WAVES)},
        "group": {g: i for i, g in enumerate(GROUPS)},
    }
    keys = {c: frame[c].map(ranks[c]).fillna(len(ranks[c])) if c in ranks else frame[c] for c in by}
    order = pd.DataFrame(keys).sort_values(by, kind="stable").index
    return frame.loc[order]  # index: record positions, which the suppression plan reads


def questionnaire(ctx: Any) -> str:
    """ZRM score and response per wave, pilot against comparison."""
    if "questionnaire" not in delivered(ctx):
        return ""
    parts = [ctx.heading("h.questionnaire_waves")]
    zrm = _groups_only(records_frame(ctx.get("questionnaire.zrm_summary")))
    if zrm is not None and "mean_score" in zrm.columns:
        masked = _groups_only(_shown(ctx, "questionnaire", "zrm_summary"))
        parts.append(
            ctx.figure(
                wave_plot(masked, value="mean_score", y_label=ctx.t("ax.zrm_mean"), lang=ctx.lang),
                "monitor-zrm",
                ctx.t("s.fig_zrm_waves", threshold=ctx.threshold),
                height=3.0,
            )
        )
        parts.append(
            ctx.table(
                make_table(
                    "zrm_waves",
                    ctx.t("tab.zrm_waves"),
                    zrm,
                    ctx.lang,
                    ctx.threshold,
                    columns=["wave", "group", "n", "mean_score"],
                    plan=ctx.plan,
                    source="questionnaire.zrm_summary",
                    count_columns=["n"],
                    dependent={"n": ["mean_score"]},
                )
            )
        )
    response = _groups_only(records_frame(ctx.get("questionnaire.response")))
    if response is not None and "n_responded" in response.columns:
        masked = _groups_only(_shown(ctx, "questionnaire", "response"))
        parts.append(
            ctx.figure(
                wave_plot(
                    masked, value="n_responded", y_label=ctx.t("ax.respondents"), lang=ctx.lang
                ),
                "monitor-response",
                ctx.t("s.fig_response_waves", threshold=ctx.threshold),
                height=3.0,
            )
        )
        columns = [
            c
            for c in ("wave", "group", "n_invited", "n_responded", "response_rate", "retention")
            if c in response.columns
        ]
        parts.append(
            ctx.table(
                make_table(
                    "response_waves",
                    ctx.t("tab.response_waves"),
                    response,
                    ctx.lang,
                    ctx.threshold,
                    columns=columns,
                    plan=ctx.plan,
                    source="questionnaire.response",
                    count_columns=[c for c in columns if c.startswith("n_")],
                    dependent={
                        "n_responded": [c for c in ("response_rate", "retention") if c in columns]
                    },
                )
            )
        )
    if len(parts) == 1:
        parts.append(ctx.not_available())
    return "\n\n".join(parts)

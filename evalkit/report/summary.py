"""The funders' summary: one or two pages in plain language."""

from __future__ import annotations

from typing import Any

from evalkit.report.figures import effects_plot
from evalkit.report.hypotheses import hypotheses_list
from evalkit.report.i18n import label
from evalkit.report.sections_back import limitations
from evalkit.report.sections_front import effect_sentences, title, warnings_block
from evalkit.report.tables import records_frame

__all__ = ["summary_body"]


def summary_body(ctx: Any) -> str:
    """Title, warnings, what we found (with one figure), caveats, pointer to the full report."""
    status = ctx.get("registration.status", "not_registered")
    pilot = ctx.md(ctx.get("protocol.metadata.pilot") or ctx.get("protocol_id", ""))
    parts = [
        title(ctx, "doc.summary"),
        warnings_block(ctx),
        ctx.t(
            "s.summary_intro_retrospective"
            if ctx.get("registration.retrospective")
            else "s.summary_intro",
            pilot=pilot,
            status=label("status", status, ctx.lang),
        ),
        ctx.heading("h.summary"),
        effect_sentences(ctx, "primary"),
        hypotheses_list(ctx),
    ]
    rows = []
    for e in ctx.get("confirmatory.effects", []) or []:
        res = e.get("result") or {}
        if e.get("role") == "primary" and res.get("att") is not None:
            rows.append(
                {
                    "outcome_label": ctx.text(e.get("label")) or e.get("outcome"),
                    "estimate": res.get("att"),
                    "conf_low": res.get("ci_low"),
                    "conf_high": res.get("ci_high"),
                    "binary": e.get("type") == "binary",
                }
            )
    frame = records_frame(rows)
    ylab = None
    if frame is not None and bool(frame["binary"].all()):  # all shares: percentage points
        frame[["estimate", "conf_low", "conf_high"]] *= 100.0
        ylab = f"{ctx.t('ax.effect')} ({ctx.t('s.unit_pp')})"
    if frame is not None:
        parts.append(
            ctx.figure(
                effects_plot(frame, ctx.lang, ylab),
                "effects",
                ctx.t("s.figure_effects"),
                height=1.2 + 0.6 * len(frame),
            )
        )
    lim = limitations(ctx).split("\n\n", 1)[-1]
    parts += [ctx.heading("h.what_next"), lim, ctx.t("s.full_report")]
    return "\n\n".join(p for p in parts if p)

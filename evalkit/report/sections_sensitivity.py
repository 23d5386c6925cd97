"""Report section: the registered sensitivity analysis (HonestDiD) and event studies side by side.

Reads ``robustness.sensitivity`` and ``robustness.event_studies`` of the bundle
(see :mod:`evalkit.analysis.sensitivity`); renders nothing when the protocol
registered neither.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.report.context import ReportContext
from evalkit.report.formatting import fmt_num
from evalkit.report.palette import COLOURS, LINES, colours_for
from evalkit.report.tables import make_table

__all__ = ["event_studies", "sensitivity", "sensitivity_plot", "side_by_side_plot"]

_ESTIMATOR_NAMES = {
    "event_study": "TWFE",
    "callaway_santanna": "Callaway–Sant'Anna",
    "imputation": "Borusyak–Jaravel–Spiess",
    "sun_abraham": "Sun–Abraham",
}


def sensitivity_plot(frame: pd.DataFrame, lang: str, xlab: str, kinds: dict[str, str]) -> object:
    """Original and robust intervals against the bound, one panel per outcome.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``outcome_label, bound_label, kind, conf_low, conf_high`` (kind: original/robust).
    lang : str
        Report language.
    xlab : str
        Axis title.
    kinds : dict
        Legend label of ``original`` and ``robust`` in the report language.

    Returns
    -------
    plotnine.ggplot
    """
    from plotnine import (
        aes,
        facet_wrap,
        geom_hline,
        geom_linerange,
        ggplot,
        labs,
        scale_colour_manual,
        scale_y_continuous,
        theme,
    )

    from evalkit.report.figures import number_labels

    data = frame.dropna(subset=["conf_low", "conf_high"]).copy()
    data["kind"] = pd.Categorical([kinds[k] for k in data["kind"]], categories=list(kinds.values()))
    plot = ggplot(data, aes("bound_label", ymin="conf_low", ymax="conf_high", colour="kind"))
    plot += [
        geom_hline(yintercept=0, colour=LINES["zero"]),
        geom_linerange(size=2),
        facet_wrap("outcome_label", scales="free_y", ncol=1),
        scale_colour_manual(values={label: COLOURS[code] for code, label in kinds.items()}),
        labs(x=xlab, y="", colour=""),
        scale_y_continuous(labels=number_labels(lang)),
        theme(legend_position="bottom"),
    ]
    return plot


def side_by_side_plot(frame: pd.DataFrame, lang: str, xlab: str, ylab: str) -> object:
    """Event studies of several estimators side by side (dodged), one panel per outcome.

    Returns
    -------
    plotnine.ggplot
    """
    from plotnine import (
        aes,
        facet_wrap,
        geom_hline,
        geom_pointrange,
        geom_vline,
        ggplot,
        labs,
        position_dodge,
        scale_colour_manual,
        scale_y_continuous,
        theme,
    )

    from evalkit.report.figures import number_labels

    data = frame.dropna(subset=["estimate"]).copy()
    data = data.fillna({"conf_low": data["estimate"], "conf_high": data["estimate"]})
    # estimators are neither group: spare palette colours, none of them pilot blue or orange
    names = list(dict.fromkeys(map(str, data["estimator_label"])))
    plot = ggplot(data, aes("event_time", "estimate", colour="estimator_label"))
    plot += [
        geom_hline(yintercept=0, colour=LINES["zero"]),
        geom_vline(xintercept=-0.5, linetype="dashed", colour=LINES["event"]),
        geom_pointrange(
            aes(ymin="conf_low", ymax="conf_high"), position=position_dodge(width=0.6), size=0.3
        ),
        facet_wrap("outcome_label", scales="free_y", ncol=1),
        scale_colour_manual(values=dict(zip(names, colours_for(names), strict=True))),
        scale_y_continuous(labels=number_labels(lang)),
        labs(x=xlab, y=ylab, colour=""),
        theme(legend_position="bottom"),
    ]
    return plot


def _sentence(ctx: ReportContext, rec: dict[str, Any]) -> str:
    """Say the breakdown value in words a funder understands."""
    label = ctx.md_outcome(rec["outcome"])  # prose: the label is outside text
    kind = "rm" if rec["restriction"] == "relative_magnitudes" else "sd"
    if rec.get("breakdown") is None:
        return ctx.t(f"s.sens_none_{kind}", outcome=label)
    value = fmt_num(rec["breakdown"], ctx.lang, digits=2 if kind == "rm" else 3)
    key = f"s.sens_censored_{kind}" if rec.get("breakdown_censored") else f"s.sens_breakdown_{kind}"
    return ctx.t(key, outcome=label, value=value)


def sensitivity(ctx: ReportContext) -> str:
    """Sensitivity of the primary outcomes to violations of parallel trends (HonestDiD)."""
    records = [r for r in ctx.get("robustness.sensitivity", []) or [] if r.get("rows")]
    if not records:
        return ""
    parts = [ctx.heading("h.sensitivity", 3), ctx.t("s.sens_intro")]
    parts += [_sentence(ctx, r) for r in records]
    rows = []
    for rec in records:
        label = ctx.outcome_label(rec["outcome"])
        orig = rec.get("original") or {}
        rows.append(
            {
                "outcome": rec["outcome"],
                "outcome_label": label,
                "bound": None,
                "bound_label": ctx.t("s.sens_original"),
                "kind": "original",
                "conf_low": orig.get("lb"),
                "conf_high": orig.get("ub"),
            }
        )
        for r in rec["rows"]:
            rows.append(
                {
                    "outcome": rec["outcome"],
                    "outcome_label": label,
                    "bound": r["bound"],
                    "bound_label": fmt_num(r["bound"], ctx.lang, digits=2),
                    "kind": "robust",
                    "conf_low": r["lb"],
                    "conf_high": r["ub"],
                }
            )
    frame = pd.DataFrame(rows)
    frame["bound_label"] = pd.Categorical(
        frame["bound_label"], categories=list(dict.fromkeys(frame["bound_label"]))
    )
    kind = "rm" if records[0]["restriction"] == "relative_magnitudes" else "sd"
    parts.append(
        ctx.figure(
            lambda: sensitivity_plot(
                frame,
                ctx.lang,
                ctx.t(f"ax.sens_bound_{kind}"),
                {"original": ctx.t("s.sens_original"), "robust": ctx.t("s.sens_robust")},
            ),
            "sensitivity",
            ctx.t("s.figure_sensitivity"),
            height=1.4 + 2.4 * frame["outcome"].nunique(),
        )
    )
    # the outcome by its label, as in every other table (the figure's panels too)
    table = frame.assign(bound=frame["bound_label"].astype(str), outcome=frame["outcome_label"])
    parts.append(
        ctx.table(
            make_table(
                "sensitivity",
                ctx.t("c.sensitivity"),
                table,
                ctx.lang,
                ctx.threshold,
                columns=["outcome", "bound", "conf_low", "conf_high"],
                headers={"bound": ctx.t(f"ax.sens_bound_{kind}")},
                count_columns=[],
            )
        )
    )
    for rec in records:  # only the sensitivity analysis' own warnings (few treated, grid)
        pairs = zip(rec.get("warnings", []), rec.get("warning_codes", []), strict=False)
        own = [(w, c) for w, c in pairs if c and str(c.get("code", "")).startswith("sensitivity_")]
        texts = ctx.estimator_warnings(
            {"warnings": [w for w, _ in own], "warning_codes": [c for _, c in own]}
        )
        parts += [f"*{text}*" for text in dict.fromkeys(texts)]
    return "\n\n".join(p for p in parts if p)


def event_studies(ctx: ReportContext) -> str:
    """Show the registered event study beside the heterogeneity-robust ones, in one figure."""
    rows = ctx.get("robustness.event_studies", []) or []
    if not rows:
        return ""
    frame = pd.DataFrame(rows)
    for col in ("event_time", "estimate", "conf_low", "conf_high"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    frame["outcome_label"] = [ctx.outcome_label(o) for o in frame["outcome"]]
    frame["estimator_label"] = [_ESTIMATOR_NAMES.get(e, e) for e in frame["estimator"]]
    return "\n\n".join(
        [
            ctx.heading("h.event_studies", 3),
            ctx.t("s.event_studies_intro"),
            ctx.figure(
                lambda: side_by_side_plot(
                    frame, ctx.lang, ctx.t("ax.event_time"), ctx.t("ax.effect")
                ),
                "event-studies",
                ctx.t("s.figure_event_studies"),
                height=1.6 + 2.6 * frame["outcome"].nunique(),
            ),
        ]
    )

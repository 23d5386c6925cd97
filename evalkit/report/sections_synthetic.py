"""Report section of the synthetic estimators: the unit-weights table and treated vs synthetic.

Built only from the bundle (``confirmatory.effects[].result``: ``unit_weights``,
``time_weights``, ``trajectory``), never recomputed. Shown when the registered
estimator is synthetic control, synthetic DiD or triple differences.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.report.context import ReportContext
from evalkit.report.figures import number_labels
from evalkit.report.i18n import t
from evalkit.report.palette import COLOURS, LINES
from evalkit.report.tables import make_table

__all__ = ["synthetic", "trajectory_plot", "weights_frame"]

_SHOWN = 0.001  # weights below this are left out of the table (they sum to little)


def _effects(ctx: ReportContext) -> list[dict[str, Any]]:
    return [
        e
        for e in ctx.get("confirmatory.effects", []) or []
        if e.get("role") == "primary" and (e.get("result") or {}).get("unit_weights")
    ]


def weights_frame(ctx: ReportContext, effects: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per comparison unit, one weight column per primary outcome (largest first).

    Parameters
    ----------
    ctx : ReportContext
        The report context (labels).
    effects : list of dict
        Bundle effect records with ``result.unit_weights``.

    Returns
    -------
    pandas.DataFrame
        Column ``unit`` and one column per outcome label.
    """
    columns = {}
    for e in effects:
        rows = e["result"]["unit_weights"]
        columns[ctx.outcome_label(e["outcome"])] = {str(r["unit"]): r["weight"] for r in rows}
    frame = pd.DataFrame(columns).fillna(0.0)
    frame = frame[(frame >= _SHOWN).any(axis=1)]
    frame = frame.sort_values(list(frame.columns), ascending=False)
    return frame.rename_axis("unit").reset_index()


def trajectory_plot(frame: pd.DataFrame, lang: str) -> object:
    """Pilot and its synthetic comparison per period, one panel per outcome.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``outcome_label, time, treated, synthetic, start``.
    lang : str
        Language of labels.

    Returns
    -------
    plotnine.ggplot
    """
    from plotnine import (
        aes,
        facet_wrap,
        geom_line,
        geom_vline,
        ggplot,
        labs,
        scale_colour_manual,
        scale_y_continuous,
    )

    names = {"treated": t("ax.pilot", lang), "synthetic": t("ax.synthetic", lang)}
    long = frame.melt(
        id_vars=["outcome_label", "time", "start"],
        value_vars=["treated", "synthetic"],
        var_name="series",
        value_name="mean",
    )
    long["series"] = pd.Categorical(
        [names[s] for s in long["series"]], categories=[names["treated"], names["synthetic"]]
    )
    starts = frame.groupby("outcome_label", observed=True)["start"].first().reset_index()
    plot = ggplot(long, aes("time", "mean", colour="series"))
    plot += [
        geom_line(size=0.8),
        geom_vline(aes(xintercept="start"), data=starts, linetype="dashed", colour=LINES["event"]),
        facet_wrap("outcome_label", scales="free_y", ncol=1),
        # the synthetic control is the pilot's comparison: it takes the comparison colour
        scale_colour_manual(
            values={names["treated"]: COLOURS["pilot"], names["synthetic"]: COLOURS["comparison"]}
        ),
        scale_y_continuous(labels=number_labels(lang)),
        labs(x=t("ax.event_time", lang), y=t("ax.mean", lang), colour=""),
    ]
    return plot


def _trajectories(ctx: ReportContext, effects: list[dict[str, Any]]) -> pd.DataFrame:
    parts = []
    for e in effects:
        rows = pd.DataFrame(e["result"].get("trajectory") or [])
        if rows.empty:
            continue
        # months since the pilot's start, as in the event-study figure (0 = first month)
        first = rows[rows["post"].astype(bool)]["time"].min()
        rows = rows.assign(time=rows["time"] - first)
        parts.append(rows.assign(outcome_label=ctx.outcome_label(e["outcome"]), start=-0.5))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def synthetic(ctx: ReportContext) -> str:
    """Weights table and treated-vs-synthetic figure of the primary outcomes ('' when none)."""
    effects = _effects(ctx)
    if not effects:
        return ""
    lang = ctx.lang
    parts = [ctx.heading("h.synthetic"), ctx.t("s.synthetic_intro")]
    weights = weights_frame(ctx, effects)
    parts.append(
        ctx.table(
            make_table(
                "synthetic_weights",
                ctx.t("c.synthetic_weights"),
                weights,
                lang,
                ctx.threshold,
                columns=list(weights.columns),
                count_columns=[],
            )
        )
    )
    paths = _trajectories(ctx, effects)
    if not paths.empty:
        labels = ", ".join(ctx.outcome_label(e["outcome"]) for e in effects)
        parts.append(
            ctx.figure(
                lambda: trajectory_plot(paths, lang),
                "synthetic",
                ctx.t("s.figure_synthetic", outcome=labels),
                height=1.2 + 2.4 * paths["outcome_label"].nunique(),
            )
        )
    return "\n\n".join(parts)

"""Report figures (plotnine) built from bundle tables, saved as byte-reproducible PNG.

Figures from person-level data take disclosure-controlled values: points whose
count is below the threshold are left out.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from evalkit.report.formatting import fmt_num
from evalkit.report.i18n import t
from evalkit.report.palette import COLOURS, LINES

__all__ = ["effects_plot", "event_study_plot", "line_segments", "png_bytes", "trend_plot"]

_COLOURS = COLOURS
_DPI = 110
#: PNG text chunks: none (matplotlib would write its version as "Software").
_META: dict[str, Any] = {"Software": None}  # matplotlib drops a None entry


def png_bytes(plot: object, width: float = 7.5, height: float = 4.0) -> bytes:
    """Render a plotnine plot (or matplotlib figure) to PNG bytes without any timestamp.

    Parameters
    ----------
    plot : plotnine.ggplot or matplotlib.figure.Figure
        The figure.
    width, height : float
        Size in inches.

    Returns
    -------
    bytes
        PNG data; identical bytes for identical inputs.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.image import imsave

    # labels hold protocol text: "$...$" in one must show as typed, not be read as
    # mathtext (an outcome label "$$\\input{…}$$" made the report fail)
    with matplotlib.rc_context(
        {
            "svg.hashsalt": "evalkit",
            "path.simplify": True,
            "font.family": "DejaVu Sans",
            "text.parse_math": False,
        }
    ):
        fig: Any = plot
        if hasattr(plot, "draw"):
            fig = (plot + _theme(width, height)).draw()  # type: ignore[operator]
        # What ``fig.savefig(buf, format="png", dpi=_DPI)`` writes, drawn once: savefig
        # first draws the whole figure without output only to run the layout engine,
        # then draws it again with the engine off; here the engine runs in the one draw
        # (the same positions, the same bytes, about 5 % less time per figure).
        canvas = FigureCanvasAgg(fig)
        fig.dpi = _DPI
        canvas.draw()
        buf = io.BytesIO()
        imsave(buf, canvas.buffer_rgba(), format="png", origin="upper", dpi=_DPI, metadata=_META)
        plt.close(fig)
    return buf.getvalue()


def _theme(width: float, height: float) -> object:
    from plotnine import element_text, theme, theme_minimal

    return theme_minimal() + theme(
        figure_size=(width, height),
        legend_position="bottom",
        text=element_text(family="DejaVu Sans", size=9),
    )


def number_labels(lang: str) -> Any:
    """Axis-label function for plotnine: numbers in the report language (decimal comma in Dutch).

    Uses as many decimals as the breaks themselves need (at most four), so that a
    break at -7.5 reads "-7,5": decimals chosen from the distance between breaks
    would write the breaks -7.5, -5, -2.5, 0 as "-8", "-5", "-2", "0".
    """

    def labels(values: Any) -> list[str]:
        finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        digits = next((d for d in range(_MAX_DIGITS) if _exact(finite, d)), _MAX_DIGITS)
        return [fmt_num(v, lang, digits) for v in values]

    return labels


def percent_labels(lang: str) -> Any:
    """Axis-label function for shares (0–1): percentages in the report language ("4,5%").

    The decimals are the fewest that write every break exactly, as :func:`number_labels`.
    """

    def labels(values: Any) -> list[str]:
        return [f"{v}%" for v in number_labels(lang)([float(v) * 100 for v in values])]

    return labels


_MAX_DIGITS = 4


def _exact(values: list[float], digits: int) -> bool:
    """Tell whether ``digits`` decimals write every value exactly (up to rounding noise)."""
    return all(abs(v - round(v, digits)) <= 1e-9 * max(1.0, abs(v)) for v in values)


def _month_dates(months: pd.Series) -> pd.Series:
    return pd.to_datetime(months.astype(str) + "-01", format="%Y-%m-%d")


def line_segments(trends: pd.DataFrame) -> pd.Series:
    """Return the number of each row's run of consecutive shown months (per outcome, group).

    A line drawn through the shown months only would join the months on either side
    of a hidden one and invite the reader to read the hidden value off it; one line
    per run breaks it there (and at a month with no row at all).

    Parameters
    ----------
    trends : pandas.DataFrame
        Columns ``outcome, month, group, mean``; a hidden month's ``mean`` is missing.

    Returns
    -------
    pandas.Series
        Per row, the number of its run (unique over outcomes and groups); ``-1`` for a
        row whose mean is missing.
    """
    mean = pd.to_numeric(trends["mean"], errors="coerce")
    order = trends.assign(_shown=mean.notna().to_numpy(), _month=_month_dates(trends["month"]))
    order = order.sort_values(["outcome", "group", "_month"], kind="stable")
    months = order["_month"].dt.year * 12 + order["_month"].dt.month
    same = (order["outcome"] == order["outcome"].shift()) & (
        order["group"] == order["group"].shift()
    )
    # a run goes on only from a shown month of the same line to the very next month
    goes_on = same & order["_shown"].shift(fill_value=False) & (months.diff() == 1)
    runs = (order["_shown"] & ~goes_on).cumsum()
    return runs.where(order["_shown"], -1).reindex(trends.index)


def trend_plot(
    trends: pd.DataFrame,
    labels: Mapping[str, str],
    pilot_start: str | None,
    lang: str,
    shares: bool = False,
) -> object:
    """Monthly outcome means, pilot vs comparison, with the pilot start dashed.

    The line breaks at every hidden month (:func:`line_segments`); a shown month
    between two hidden ones is a point without a line. With ``shares`` (every outcome
    yes/no) the axis reads percentages under "Aandeel", as the tables beside it do.

    Parameters
    ----------
    trends : pandas.DataFrame
        Columns ``outcome, month, group, mean`` (suppressed means already missing).
    labels : mapping
        Outcome id -> localised label (facet titles).
    pilot_start : str or None
        ``YYYY-MM`` of the pilot start.
    lang : str
        Language of labels.
    shares : bool, default False
        The means are shares of persons (yes/no outcomes): a percentage axis.

    Returns
    -------
    plotnine.ggplot
    """
    from plotnine import (
        aes,
        facet_wrap,
        geom_line,
        geom_point,
        geom_vline,
        ggplot,
        labs,
        scale_colour_manual,
        scale_x_datetime,
        scale_y_continuous,
    )

    data = trends.assign(
        mean=pd.to_numeric(trends["mean"], errors="coerce").astype(float),
        segment=line_segments(trends),
    )
    data = data.dropna(subset=["mean"]).copy()
    data["date"] = _month_dates(data["month"])
    data["outcome_label"] = pd.Categorical(
        [labels.get(o, o) for o in data["outcome"]],
        categories=list(dict.fromkeys(labels.get(o, o) for o in data["outcome"])),
    )
    names = {"pilot": t("ax.pilot", lang), "comparison": t("ax.comparison", lang)}
    data["group_label"] = pd.Categorical(
        [names.get(g, g) for g in data["group"]], categories=[names["pilot"], names["comparison"]]
    )
    plot = ggplot(data, aes("date", "mean", colour="group_label"))
    plot += [
        geom_line(aes(group="segment"), size=0.8),
        geom_point(size=1.2),
        facet_wrap("outcome_label", scales="free_y", ncol=1),
        scale_colour_manual(
            values={names["pilot"]: _COLOURS["pilot"], names["comparison"]: _COLOURS["comparison"]}
        ),
        scale_x_datetime(date_labels="%Y-%m"),
        scale_y_continuous(labels=percent_labels(lang) if shares else number_labels(lang)),
        labs(
            x=t("ax.month", lang),
            y=t("col.share_of_persons" if shares else "ax.mean", lang),
            colour=t("ax.group", lang),
        ),
    ]
    if pilot_start:
        start = pd.Timestamp(f"{pilot_start}-01")
        plot += geom_vline(xintercept=start, linetype="dashed", colour=LINES["event"])
    return plot


def event_study_plot(es: pd.DataFrame, labels: Mapping[str, str], lang: str) -> object:
    """Event-study estimates with 95% intervals, reference line at zero and at the start.

    Parameters
    ----------
    es : pandas.DataFrame
        Columns ``outcome, event_time, estimate, conf_low, conf_high``.
    labels : mapping
        Outcome id -> localised label.
    lang : str
        Language of labels.

    Returns
    -------
    plotnine.ggplot
    """
    from plotnine import (
        aes,
        facet_wrap,
        geom_hline,
        geom_point,
        geom_pointrange,
        geom_vline,
        ggplot,
        labs,
        scale_x_continuous,
        scale_y_continuous,
    )

    data = es.copy()
    for col in ("event_time", "estimate", "conf_low", "conf_high"):
        data[col] = pd.to_numeric(data.get(col), errors="coerce").astype(float)
    data = data.dropna(subset=["event_time", "estimate"])
    data["outcome_label"] = pd.Categorical(
        [labels.get(o, o) for o in data["outcome"]],
        categories=list(dict.fromkeys(labels.get(o, o) for o in data["outcome"])),
    )
    plot = ggplot(data, aes("event_time", "estimate"))
    plot += [
        geom_hline(yintercept=0, colour=LINES["zero"]),
        geom_vline(xintercept=-0.5, linetype="dashed", colour=LINES["event"]),
    ]
    ranges = data.dropna(subset=["conf_low", "conf_high"])
    if not ranges.empty:  # intervals where the bundle has them (not with Conley–Taber)
        plot += geom_pointrange(
            ranges, aes(ymin="conf_low", ymax="conf_high"), colour=_COLOURS["pilot"], size=0.4
        )
    plot += [
        geom_point(colour=_COLOURS["pilot"], size=1.5),
        facet_wrap("outcome_label", scales="free_y", ncol=1),
        scale_x_continuous(labels=number_labels(lang)),
        scale_y_continuous(labels=number_labels(lang)),
        labs(x=t("ax.event_time", lang), y=t("ax.effect", lang)),
    ]
    return plot


def effects_plot(effects: pd.DataFrame, lang: str, ylab: str | None = None) -> object:
    """Point estimates with 95% intervals per outcome (the summary's one figure).

    Parameters
    ----------
    effects : pandas.DataFrame
        Columns ``outcome_label, estimate, conf_low, conf_high``, one row per range to
        draw: a conformal confidence set with gaps has one row per piece (the same
        label and estimate), so that it is drawn as its pieces, not as their hull.
    lang : str
        Language of labels.
    ylab : str, optional
        Axis title of the effect (default: "Estimated effect").

    Returns
    -------
    plotnine.ggplot
    """
    from plotnine import (
        aes,
        coord_flip,
        geom_hline,
        geom_linerange,
        geom_point,
        ggplot,
        labs,
        scale_y_continuous,
    )

    data = effects.copy()
    for col in ("estimate", "conf_low", "conf_high"):
        data[col] = pd.to_numeric(data[col], errors="coerce").astype(float)
    labels = list(dict.fromkeys(data["outcome_label"]))
    data["outcome_label"] = pd.Categorical(data["outcome_label"], categories=labels[::-1])
    points = data.drop_duplicates("outcome_label")
    plot = ggplot(points, aes("outcome_label", "estimate"))
    plot += [
        geom_hline(yintercept=0, colour=LINES["zero"]),
        geom_linerange(
            data.dropna(subset=["conf_low", "conf_high"]),
            aes(ymin="conf_low", ymax="conf_high"),
            colour=_COLOURS["pilot"],
        ),
        geom_point(colour=_COLOURS["pilot"], size=2.5),
        scale_y_continuous(labels=number_labels(lang)),
        coord_flip(),
        labs(x="", y=ylab or t("ax.effect", lang)),
    ]
    return plot

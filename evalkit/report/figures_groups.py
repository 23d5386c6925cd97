"""The monitor's pilot-versus-comparison figures, and the one place their colours live.

Every function takes bundle tables (DataFrames) and returns a ``plotnine.ggplot`` or the
data behind it; nothing is estimated here. Small cells are masked before plotting: a
point based on 1 to ``threshold - 1`` persons is left out (a gap in the line), never the
whole figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalkit.report.i18n import t
from evalkit.report.palette import COLOURS, LINES

__all__ = [
    "GROUPS",
    "GROUP_COLOURS",
    "group_labels",
    "group_scale",
    "hidden_count",
    "norm_period_plot",
    "norm_share_periods",
    "wave_plot",
]

GROUPS = ("pilot", "comparison")
#: Pilot and comparison colours of every monitor figure: the report's palette.
GROUP_COLOURS = {g: COLOURS[g] for g in ("pilot", "comparison")}
#: At most this share of a series' periods may be hidden before coarser periods are used.
MAX_HIDDEN_SHARE = 0.25
WAVES = ("T0", "T3m", "T6m", "T12m", "exit")


def group_scale(kind: str, lang: str) -> Any:
    """Return a manual colour (or fill) scale with the pilot and comparison colours.

    Parameters
    ----------
    kind : {"colour", "fill"}
        Which aesthetic.
    lang : str
        Language of the legend entries.

    Returns
    -------
    plotnine scale
    """
    from plotnine import scale_colour_manual, scale_fill_manual

    values = {t(f"ax.{g}", lang): GROUP_COLOURS[g] for g in GROUPS}
    scale = scale_colour_manual if kind == "colour" else scale_fill_manual
    return scale(values=values, breaks=list(values), name=t("ax.group", lang))


def group_labels(groups: pd.Series, lang: str) -> pd.Categorical:
    """Return legend labels of ``pilot``/``comparison`` in a fixed order (pilot first)."""
    names = {g: t(f"ax.{g}", lang) for g in GROUPS}
    return pd.Categorical([names.get(str(g), str(g)) for g in groups], categories=names.values())


def _small(frame: pd.DataFrame, threshold: int) -> pd.Series:
    """Cells to leave out: small counts, and counts the release's plan hid (missing)."""
    within, breach = frame["n_within"], frame["n_breach"]
    masked = within.isna() | breach.isna()
    within, breach = within.fillna(0), breach.fillna(0)
    return masked | within.between(1, threshold - 1) | breach.between(1, threshold - 1)


def _series(table: pd.DataFrame, norm: str, column: str, threshold: int) -> pd.DataFrame:
    rows = table.loc[(table["norm"] == norm) & table["group"].isin(GROUPS)].copy()
    # A period with no decided case has no share; a period whose counts the plan hid
    # (missing) has one that is not shown: it keeps its row, drawn as a gap.
    none = rows["n_within"].fillna(-1).eq(0) & rows["n_breach"].fillna(-1).eq(0)
    rows = rows.loc[~none]
    rows["period"] = rows[column].astype(str)
    rows["hidden"] = _small(rows, threshold)
    return rows


def norm_share_periods(
    monthly: pd.DataFrame | None,
    quarterly: pd.DataFrame | None,
    *,
    norm: str,
    threshold: int,
) -> tuple[pd.DataFrame, str]:
    """Choose months or quarters for one norm's share over time, and mask small cells.

    Months are used when at most a quarter of the pilot's and of the comparison's
    months would be hidden (cases within or in breach numbering 1 to ``threshold - 1``);
    otherwise quarters, which pool three months of cases. Hidden periods keep their
    row with ``share_within`` missing, so the figure shows a gap and its caption can
    say how many periods are hidden.

    Parameters
    ----------
    monthly, quarterly : pandas.DataFrame or None
        The bundle's ``throughput.norms_monthly`` (``month``) and ``norms_quarterly``
        (``quarter``) tables.
    norm : str
        Which norm.
    threshold : int
        Disclosure threshold.

    Returns
    -------
    (pandas.DataFrame, str)
        Rows ``group, period, date, n, share_within, hidden`` (pilot and comparison,
        in period order) and ``"month"`` or ``"quarter"``; an empty frame when the norm
        has no decided cases.
    """
    columns = ["group", "period", "date", "n", "share_within", "hidden"]
    chosen: tuple[pd.DataFrame, str] | None = None
    for table, column in ((monthly, "month"), (quarterly, "quarter")):
        if table is None or column not in table.columns or table.empty:
            continue
        rows = _series(table, norm, column, threshold)
        if rows.empty:
            continue
        chosen = (rows, column)
        if rows.groupby("group")["hidden"].mean().max() <= MAX_HIDDEN_SHARE:
            break
    if chosen is None:
        return pd.DataFrame(columns=columns), "month"
    rows, freq = chosen
    rows["date"] = _period_start(rows["period"], freq)
    rows["share_within"] = pd.to_numeric(rows["share_within"], errors="coerce").mask(rows["hidden"])
    rows = rows.sort_values(["group", "date"], kind="stable")
    return rows[columns].reset_index(drop=True), freq


def _period_start(periods: pd.Series, freq: str) -> pd.Series:
    if freq == "quarter":
        return pd.PeriodIndex(periods.str.replace("-", "", regex=False), freq="Q").to_timestamp()
    return pd.to_datetime(periods + "-01", format="%Y-%m-%d")


def norm_period_plot(data: pd.DataFrame, *, pilot_start: str | None, lang: str) -> Any:
    """Share within one norm per period, pilot and comparison, the pilot start dashed.

    Parameters
    ----------
    data : pandas.DataFrame
        From :func:`norm_share_periods` (hidden periods have no share and are not drawn).
    pilot_start : str, optional
        ``YYYY-MM`` of the pilot start.
    lang : str
        Language of labels.

    Returns
    -------
    plotnine.ggplot
    """
    from plotnine import (
        aes,
        geom_line,
        geom_point,
        geom_vline,
        ggplot,
        labs,
        scale_x_datetime,
        scale_y_continuous,
    )

    shown = data.dropna(subset=["share_within"]).copy()
    shown["group_label"] = group_labels(shown["group"], lang)
    # a new line piece after each hidden period, so a gap is not bridged by a straight line
    pieces = data.assign(_gap=data["share_within"].isna()).groupby("group")["_gap"].cumsum()
    shown["piece"] = shown["group"].astype(str) + pieces.loc[shown.index].astype(str)
    plot = ggplot(shown, aes("date", "share_within", colour="group_label"))
    plot += [
        geom_line(aes(group="piece"), size=0.8),
        geom_point(size=1.4),
        group_scale("colour", lang),
        scale_x_datetime(date_labels="%Y-%m"),
        scale_y_continuous(limits=(0, 1), labels=lambda v: [f"{x:.0%}" for x in v]),
        labs(x=t("ax.start_period", lang), y=t("ax.share_within", lang)),
    ]
    if pilot_start:
        start = pd.Timestamp(f"{pilot_start}-01")
        plot += geom_vline(xintercept=start, linetype="dashed", colour=LINES["event"])
    return plot


def wave_plot(table: pd.DataFrame, *, value: str, y_label: str, lang: str) -> Any:
    """One value per questionnaire wave, pilot and comparison side by side (bars).

    Parameters
    ----------
    table : pandas.DataFrame
        Rows ``group, wave, <value>`` (masked values missing: not drawn).
    value : str
        The column to draw (``mean_score``, ``n_responded``).
    y_label : str
        The y-axis title (in the report language).
    lang : str
        Language of labels.

    Returns
    -------
    plotnine.ggplot
    """
    from plotnine import aes, geom_col, ggplot, labs, position_dodge

    data = table.loc[table["group"].isin(GROUPS)].copy()
    data[value] = pd.to_numeric(data[value], errors="coerce")
    data = data.dropna(subset=[value])
    order = [w for w in WAVES if w in set(data["wave"])]
    order += sorted(set(data["wave"]) - set(order))
    data["wave"] = pd.Categorical(data["wave"], categories=order)
    data["group_label"] = group_labels(data["group"], lang)
    plot = ggplot(data, aes("wave", value, fill="group_label"))
    plot += [
        geom_col(position=position_dodge(width=0.8), width=0.75),
        group_scale("fill", lang),
        labs(x=t("ax.wave", lang), y=y_label),
    ]
    return plot


def hidden_count(data: pd.DataFrame) -> int:
    """Count the periods a figure leaves out because their cells are small."""
    return int(np.asarray(data["hidden"], dtype=bool).sum()) if len(data) else 0

"""Monitoring figures (plotnine) from the bundle's throughput and questionnaire tables.

Every function takes bundle tables (DataFrames) and returns a ``plotnine.ggplot``;
nothing is estimated here. Disclosure control: Kaplan–Meier curves stop where fewer
than ``threshold`` cases are still at risk; shares, means and counts based on fewer
than ``threshold`` persons are left out. :func:`report_figures` is the hook the report
layer calls (``evalkit.report.monitoring.monitoring_figures``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from evalkit.report.figures import number_labels
from evalkit.report.figures_groups import GROUPS
from evalkit.report.i18n import TEXT, fill
from evalkit.report.palette import COLOURS, LINES, colours_for

__all__ = [
    "km_plot",
    "norm_name",
    "norm_series",
    "norm_share_plot",
    "report_figures",
    "response_funnel_plot",
    "zrm_domains_plot",
]

_COLOURS = COLOURS
_WAVES = ["T0", "T3m", "T6m", "T12m", "exit"]
_TEXT: dict[str, dict[str, str]] = {
    "days": {"nl": "Dagen sinds start", "en": "Days since start"},
    "waiting": {"nl": "Aandeel nog wachtend", "en": "Share still waiting"},
    "norm": {"nl": "norm", "en": "norm"},
    "month": {"nl": "Start van het dossier", "en": "Case start"},
    "share_within": {"nl": "Aandeel binnen de norm", "en": "Share within the norm"},
    "group": {"nl": "Groep", "en": "Group"},
    "period": {"nl": "Periode", "en": "Period"},
    "wave": {"nl": "Meting", "en": "Wave"},
    "mean_zrm": {"nl": "Gemiddelde score (1–5)", "en": "Mean score (1–5)"},
    "responded": {"nl": "Aantal respondenten", "en": "Respondents"},
    "domain": {"nl": "Domein", "en": "Domain"},
    # legend entries, capitalised as the other figures' (``ax.pilot``, ``ax.comparison``)
    "pilot": TEXT["ax.pilot"],
    "comparison": TEXT["ax.comparison"],
    "all": {"nl": "Alle", "en": "All"},
    "before": {"nl": "Vóór de pilot", "en": "Before the pilot"},
    "during": {"nl": "Tijdens de pilot", "en": "During the pilot"},
    "cap_km": {
        "nl": "Doorlooptijd {interval} (Kaplan–Meier; open dossiers gecensureerd; elke "
        "trede staat voor ten minste {threshold} dossiers). Stippellijn: de norm.",
        "en": "Throughput time {interval} (Kaplan–Meier; open cases censored; each step "
        "stands for at least {threshold} cases). Dashed line: the norm.",
    },
    "cap_norm": {
        "nl": "Aandeel binnen de norm over de tijd: {norm}. Stippellijn: start van de pilot.",
        "en": "Share within the norm over time: {norm}. Dashed line: pilot start.",
    },
    "cap_zrm": {
        "nl": "ZRM-domeinen: gemiddelde score van pilot en vergelijking per meting.",
        "en": "ZRM domains: mean score of pilot and comparison per wave.",
    },
    "cap_funnel": {"nl": "Respons per meting en groep.", "en": "Response per wave and group."},
}


def _t(key: str, lang: str, **values: Any) -> str:
    # the report's translation table names codes (intervals, norms, ZRM domains, org types)
    entry = _TEXT.get(key) or TEXT.get(f"code.{key}") or TEXT.get(f"v.{key}")
    if entry is None:
        return key.replace("_", " ")
    text = entry.get(lang, entry["en"])
    return fill(text, **values)


def _frame(records: Any) -> pd.DataFrame | None:
    if records is None:
        return None
    frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    return None if frame.empty else frame


def km_plot(
    km_curve: pd.DataFrame,
    *,
    interval: str,
    by: str = "period",
    norm_days: float | None = None,
    threshold: int = 0,
    lang: str = "nl",
) -> Any:
    """Kaplan–Meier curves (share still waiting) of one interval, the norm dashed.

    Parameters
    ----------
    km_curve : pandas.DataFrame
        The bundle's ``throughput.km_curve`` table.
    interval : str
        Which interval.
    by : {"period", "org_type", "group"}, default "period"
        One curve per level of this column (rows where the other grouping columns are
        ``"all"``).
    norm_days : float, optional
        Norm in calendar days (a vertical dashed line).
    threshold : int, default 0
        Curve points with fewer cases at risk are left out.
    lang : str, default "nl"
        Language of labels.

    Returns
    -------
    plotnine.ggplot
    """
    from plotnine import (
        aes,
        geom_step,
        geom_vline,
        ggplot,
        labs,
        scale_colour_manual,
        scale_y_continuous,
    )

    others = [c for c in ("org_type", "group", "period") if c != by and c in km_curve.columns]
    data = km_curve.loc[km_curve["interval"] == interval]
    for c in others:
        data = data.loc[data[c] == "all"]
    if by in km_curve.columns:
        data = data.loc[data[by] != "all"] if (data[by] != "all").any() else data
    # steps the release does not show (too few at risk, or too few events since the
    # last step shown) have no survival in the masked bundle: the curve runs past them
    data = data.loc[(data["n_risk"] >= threshold) & data["surv"].notna()].copy()
    if by == "group":  # pilot against comparison only, never pooled with "other"
        data = data.loc[data["group"].isin(GROUPS)]
    codes = [c for c in ("pilot", "comparison", "before", "during") if c in set(data[by])]
    codes += sorted(set(map(str, data[by])) - set(codes))
    labels = [_t(c, lang) for c in codes]
    data["curve"] = pd.Categorical([_t(str(v), lang) for v in data[by]], categories=labels)
    data = data.sort_values(["curve", "time"], kind="stable")
    plot = ggplot(data, aes("time", "surv", colour="curve"))
    plot += [
        geom_step(size=0.8),
        scale_colour_manual(values=dict(zip(labels, colours_for(codes), strict=True))),
        scale_y_continuous(limits=(0, 1), labels=number_labels(lang)),
        labs(x=_t("days", lang), y=_t("waiting", lang), colour=_t(by, lang)),
    ]
    if norm_days is not None:
        line = geom_vline(xintercept=float(norm_days), linetype="dashed", colour=LINES["norm"])
        plot += line
    return plot


def _period_start(values: pd.Series) -> pd.Series:
    text = values.astype(str)
    if text.str.contains("-Q").all():
        return pd.PeriodIndex(text.str.replace("-", "", regex=False), freq="Q").to_timestamp()
    return pd.to_datetime(text + "-01")


def _runs(data: pd.DataFrame, col: str) -> pd.Series:
    """Return the number of each row's run of consecutive shown periods, per group.

    A line through the shown periods only would join the periods on either side of a
    hidden or left-out one and invite a reader to read its share off the line, so a
    run breaks at every period without a shown share (as the trend figure's lines do).
    """
    text = data[col].astype(str)
    quarters = text.str.contains("-Q")
    year = pd.to_numeric(text.str[:4], errors="coerce")
    part = pd.to_numeric(text.str[-1].where(quarters, text.str[5:7]), errors="coerce")
    step = (year * 4 + part).where(quarters, year * 12 + part)
    shown = pd.to_numeric(data["share_within"], errors="coerce").notna()
    same = data["group"].eq(data["group"].shift())
    goes_on = same & shown.shift(fill_value=False) & step.diff().eq(1)
    return (shown & ~goes_on).cumsum().where(shown, -1)


def norm_series(norms_over_time: pd.DataFrame, *, norm: str, threshold: int) -> pd.DataFrame:
    """Select the periods of one norm that a figure may show, per group.

    A period is hidden when its cases within or in breach number 1 to ``threshold - 1``
    (as the report's tables suppress them). Because that hides mostly periods with a
    few breaches, the rest of such a series would be selected on its outcome: a group
    loses its whole series when more than a quarter of its periods are hidden.

    Parameters
    ----------
    norms_over_time : pandas.DataFrame
        ``throughput.norms_quarterly`` or ``throughput.norms_monthly``.
    norm : str
        Which norm.
    threshold : int
        Disclosure threshold.

    Returns
    -------
    pandas.DataFrame
        The rows to plot (pilot/comparison groups, else ``all``).
    """
    rows = norms_over_time.loc[norms_over_time["norm"] == norm]
    if (rows["group"] != "all").any():
        rows = rows.loc[rows["group"] != "all"]
    within, breach = rows["n_within"], rows["n_breach"]
    rows = rows.loc[within + breach > 0]
    small = (within.between(1, threshold - 1) | breach.between(1, threshold - 1)).loc[rows.index]
    hidden_share = small.groupby(rows["group"]).mean()
    keep_groups = hidden_share.index[hidden_share <= 0.25]
    return rows.loc[~small & rows["group"].isin(keep_groups)].copy()


def norm_share_plot(
    norms_over_time: pd.DataFrame,
    *,
    norm: str,
    threshold: int = 0,
    pilot_start: str | None = None,
    lang: str = "nl",
) -> Any:
    """Share within one norm over time, per group (periods with fewer known cases left out).

    Parameters
    ----------
    norms_over_time : pandas.DataFrame
        The bundle's ``throughput.norms_quarterly`` (column ``quarter``) or
        ``throughput.norms_monthly`` (column ``month``) table.
    norm : str
        Which norm.
    threshold : int, default 0
        Disclosure threshold (see :func:`norm_series`).
    pilot_start : str, optional
        ``YYYY-MM`` of the pilot start (a dashed vertical line).
    lang : str, default "nl"
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
        scale_colour_manual,
        scale_y_continuous,
    )

    col = "quarter" if "quarter" in norms_over_time.columns else "month"
    data = norm_series(norms_over_time, norm=norm, threshold=threshold)
    data["date"] = _period_start(data[col]) if len(data) else pd.Series(dtype="datetime64[ns]")
    data["group_label"] = [_t(str(g), lang) for g in data["group"]]
    data = data.sort_values(["group_label", "date"], kind="stable")
    data["segment"] = _runs(data, col)
    colours = {_t(g, lang): _COLOURS[g] for g in ("pilot", "comparison", "all", "other")}
    plot = ggplot(data, aes("date", "share_within", colour="group_label"))
    plot += [
        geom_line(aes(group="segment"), size=0.8),
        geom_point(size=1.2),
        scale_colour_manual(values=colours),
        scale_y_continuous(limits=(0, 1), labels=number_labels(lang)),
        labs(x=_t("month", lang), y=_t("share_within", lang), colour=_t("group", lang)),
    ]
    if pilot_start:
        start = pd.Timestamp(f"{pilot_start}-01")
        plot += geom_vline(xintercept=start, linetype="dashed", colour=LINES["event"])
    return plot


def zrm_domains_plot(
    zrm_domains: pd.DataFrame,
    *,
    group: str | None = None,
    waves: Sequence[str] | None = None,
    threshold: int = 0,
    lang: str = "nl",
) -> Any:
    """Mean ZRM score per domain, before (T0) and after (the later waves).

    Parameters
    ----------
    zrm_domains : pandas.DataFrame
        The bundle's ``questionnaire.zrm_domains`` table.
    group : str, optional
        One group only; default pilot and comparison side by side, one panel per wave
        (``"all"`` when the data have no groups).
    waves : sequence of str, optional
        Waves to show (default: T0 and the last wave present).
    threshold : int, default 0
        Domain-wave means based on fewer persons are left out.
    lang : str, default "nl"
        Language of labels.

    Returns
    -------
    plotnine.ggplot
    """
    from plotnine import (
        aes,
        coord_flip,
        facet_wrap,
        geom_col,
        ggplot,
        labs,
        position_dodge,
        scale_fill_manual,
    )

    chosen = [group] if group else ["pilot", "comparison"]
    data = zrm_domains.loc[zrm_domains["group"].isin(chosen)]
    if data.empty:
        data = zrm_domains.loc[zrm_domains["group"] == "all"]
    present = [w for w in _WAVES if w in set(data["wave"])]
    if waves is None:
        waves = present[:1] + present[-1:] if len(present) > 1 else present
    data = data.loc[data["wave"].isin(list(waves)) & (data["n"] >= threshold)].copy()
    data["wave"] = pd.Categorical(data["wave"], categories=list(waves))
    data["domain_label"] = [
        _t(str(d), lang) if f"code.{d}" in TEXT else str(d).removeprefix("zrm_").replace("_", " ")
        for d in data["domain"]
    ]
    codes = [g for g in ("pilot", "comparison", "all") if g in set(data["group"])]
    labels = [_t(g, lang) for g in codes]
    data["group_label"] = pd.Categorical([_t(str(g), lang) for g in data["group"]], labels)
    plot = ggplot(data, aes("domain_label", "mean", fill="group_label"))
    plot += [
        geom_col(position=position_dodge(width=0.8), width=0.75),
        facet_wrap("wave", nrow=1),
        coord_flip(),
        scale_fill_manual(values=dict(zip(labels, colours_for(codes), strict=True))),
        labs(x=_t("domain", lang), y=_t("mean_zrm", lang), fill=_t("group", lang)),
    ]
    return plot


def response_funnel_plot(response: pd.DataFrame, *, threshold: int = 0, lang: str = "nl") -> Any:
    """Respondents per wave and group (the response funnel).

    Parameters
    ----------
    response : pandas.DataFrame
        The bundle's ``questionnaire.response`` table.
    threshold : int, default 0
        Bars with fewer respondents are left out.
    lang : str, default "nl"
        Language of labels.

    Returns
    -------
    plotnine.ggplot
    """
    from plotnine import aes, geom_col, ggplot, labs, position_dodge, scale_fill_manual

    data = response.copy()
    if (data["group"] != "all").any():
        data = data.loc[data["group"] != "all"]
    data = data.loc[data["n_responded"] >= threshold].copy()
    waves = [w for w in _WAVES if w in set(data["wave"])] + sorted(set(data["wave"]) - set(_WAVES))
    data["wave"] = pd.Categorical(data["wave"], categories=waves)
    codes = [g for g in ("pilot", "comparison", "all") if g in set(data["group"])]
    labels = [_t(g, lang) for g in codes]
    data["group_label"] = pd.Categorical([_t(str(g), lang) for g in data["group"]], labels)
    plot = ggplot(data, aes("wave", "n_responded", fill="group_label"))
    plot += [
        geom_col(position=position_dodge(width=0.8), width=0.75),
        scale_fill_manual(values=dict(zip(labels, colours_for(codes), strict=True))),
        labs(x=_t("wave", lang), y=_t("responded", lang), fill=_t("group", lang)),
    ]
    return plot


def _norm_days(norm_defs: pd.DataFrame | None, interval: str) -> tuple[str | None, float | None]:
    if norm_defs is None:
        return None, None
    rows = norm_defs.loc[
        (norm_defs["interval"] == interval) & (norm_defs["unit"].isin(["days", "weeks"]))
    ]
    if rows.empty:
        return None, None
    row = rows.iloc[0]
    return str(row["norm"]), float(row["limit"]) * (7 if row["unit"] == "weeks" else 1)


def norm_name(norm: str, norm_defs: pd.DataFrame | None, lang: str) -> str:
    """Name a norm: its translation, else the protocol's label for it, else its id.

    Parameters
    ----------
    norm : str
        The norm's id.
    norm_defs : pandas.DataFrame or None
        The bundle's ``throughput.norm_definitions`` (columns ``norm``, ``label``).
    lang : str
        Report language.
    """
    if f"code.{norm}" in TEXT:
        return _t(norm, lang)
    if norm_defs is not None and "label" in norm_defs.columns:
        labels = norm_defs.loc[norm_defs["norm"] == norm, "label"].dropna()
        if not labels.empty and str(labels.iloc[0]).strip():
            return str(labels.iloc[0])
    return norm


def _km_by(curve: pd.DataFrame, section: str) -> str:
    """Pilot against comparison in the monitor (never pooled), before/during otherwise."""
    groups = set(curve["group"]) if "group" in curve.columns else set()
    return "group" if section == "monitor" and {"pilot", "comparison"} <= groups else "period"


def report_figures(
    bundle: Mapping[str, Any], *, section: str, lang: str, threshold: int
) -> list[tuple[str, str, Any]]:
    """Build the figures of one report section from the bundle.

    Parameters
    ----------
    bundle : mapping
        The results bundle (``throughput`` and ``questionnaire`` mappings of records).
    section : {"throughput", "questionnaire", "monitor"}
        ``throughput``/``monitor``: Kaplan–Meier curves with the norm and the monthly share
        within the norm; ``questionnaire``: ZRM domains before/after and the response funnel.
    lang : str
        Report language (``nl`` or ``en``).
    threshold : int
        Disclosure threshold.

    Returns
    -------
    list of (name, caption, plot)
        Figures whose tables are present; empty otherwise.
    """
    out: list[tuple[str, str, Any]] = []
    if section in ("throughput", "monitor"):
        tp = bundle.get("throughput") or {}
        curve = _frame(tp.get("km_curve"))
        defs = _frame(tp.get("norm_definitions"))
        over_time = _frame(tp.get("norms_quarterly"))
        if over_time is None:
            over_time = _frame(tp.get("norms_monthly"))
        start = (bundle.get("settings") or {}).get("pilot_start")
        if curve is not None:
            shown = ["registration_to_first_conversation", "application_to_decision"]
            for interval in [i for i in shown if i in set(curve["interval"])]:
                norm, days = _norm_days(defs, interval)
                plot = km_plot(
                    curve,
                    interval=interval,
                    by=_km_by(curve, section),
                    norm_days=days,
                    threshold=threshold,
                    lang=lang,
                )
                out.append(
                    (
                        f"km_{interval}",
                        _t("cap_km", lang, interval=_t(interval, lang), threshold=threshold),
                        plot,
                    )
                )
        if over_time is not None:
            norms_shown = [
                n
                for n in sorted(set(over_time["norm"]))
                if not norm_series(over_time, norm=n, threshold=threshold).empty
            ]
            for norm in norms_shown:
                plot = norm_share_plot(
                    over_time, norm=norm, threshold=threshold, pilot_start=start, lang=lang
                )
                name = norm_name(norm, defs, lang)
                out.append((f"norm_{norm}", _t("cap_norm", lang, norm=name), plot))
    if section == "questionnaire":
        qn = bundle.get("questionnaire") or {}
        zrm = _frame(qn.get("zrm_domains"))
        if zrm is not None:
            out.append(
                (
                    "zrm_domains",
                    _t("cap_zrm", lang),
                    zrm_domains_plot(zrm, threshold=threshold, lang=lang),
                )
            )
        resp = _frame(qn.get("response"))
        if resp is not None:
            out.append(
                (
                    "response_funnel",
                    _t("cap_funnel", lang),
                    response_funnel_plot(resp, threshold=threshold, lang=lang),
                )
            )
    return out

"""Sections of the evaluation report between the first page and the results.

The protocol in brief (design, outcomes, hypotheses, deviations), the quality of the
data read and the sample with its balance. Each function takes a ``ReportContext``
and returns markdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import yaml

from evalkit.report.context import ReportContext
from evalkit.report.formatting import (
    fmt_count,
    fmt_date,
    fmt_num,
    fmt_pct,
    is_missing,
)
from evalkit.report.i18n import TEXT, label
from evalkit.report.tables import make_table, records_frame
from evalkit.report.units import outcome_unit

__all__ = ["data_quality", "protocol_brief", "sample"]


def _covariate(ctx: ReportContext, variable: str) -> str:
    """Name a balance row: an outcome's label, or a covariate (``sex=M`` → ``geslacht: M``)."""
    name, _, level = variable.partition("=")
    if f"cov.{name}" not in TEXT:
        return ctx.outcome_label(variable)
    value = label("cov", level, ctx.lang) if f"cov.{level}" in TEXT else level
    return ctx.t(f"cov.{name}") + (f": {value}" if level else "")


def protocol_brief(ctx: ReportContext) -> str:
    """Show the protocol in brief, its outcomes and hypotheses, and the deviations table."""
    p = ctx.get("protocol", {}) or {}
    if not p:
        brief = ctx.not_available()
    else:
        rows = _brief_rows(ctx, p)
        frame = pd.DataFrame({"item": [ctx.t(k) for k, _ in rows], "value": [v for _, v in rows]})
        brief = ctx.table(
            make_table(
                "protocol", ctx.t("h.protocol"), frame, ctx.lang, ctx.threshold, count_columns=[]
            )
        )
    return "\n\n".join(
        [
            ctx.heading("h.protocol"),
            brief,
            _outcomes_table(ctx, p),
            ctx.heading("h.deviations", 3),
            _deviations_table(ctx),
        ]
    )


def _brief_rows(ctx: ReportContext, p: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Return the rows of "the protocol in brief": (translation key, value)."""
    lang = ctx.lang
    units = p.get("units", {}) or {}
    periods = p.get("periods", {}) or {}
    analysis = p.get("analysis", {}) or {}

    def span(part: str) -> str:
        rng = periods.get(part) or {}
        return ctx.t(
            "v.months", start=fmt_date(rng.get("start"), lang), end=fmt_date(rng.get("end"), lang)
        )

    treated = ", ".join(
        str(u.get("unit")) for u in units.get("treated", []) if isinstance(u, Mapping)
    )
    rows = [
        ("k.intervention", ctx.text(p.get("intervention"))),
        (
            "k.population",
            f"{(p.get('population') or {}).get('age_min', '?')}–"
            f"{(p.get('population') or {}).get('age_max', '?')}",
        ),
        ("k.units", label("code", units.get("level", "\u2013"), lang)),
        ("k.treated", treated or "\u2013"),
        ("k.comparison", ", ".join(map(str, units.get("comparison", []))) or "\u2013"),
        (
            "k.periods",
            " · ".join(
                # "label (span)", not "label: span": a cell shaped "pre: …" is read as a
                # status code with an English detail and shown as its code alone
                f"{label('v', part, lang)} ({span(part)})"
                for part in ("pre", "intervention", "post")
                if part in periods
            ),
        ),
        (
            "k.estimator",
            label("est", analysis.get("estimator", ctx.get("confirmatory.estimator")), lang),
        ),
        ("k.inference", label("inf", analysis.get("inference", "\u2013"), lang)),
        ("k.alpha", fmt_num(ctx.get("confirmatory.alpha", analysis.get("alpha")), lang, 2)),
        (
            "k.multiple",
            label(
                "mt",
                ctx.get("confirmatory.multiple_testing", analysis.get("multiple_testing")),
                lang,
            ),
        ),
    ]
    return rows


def _outcomes_table(ctx: ReportContext, p: Mapping[str, Any]) -> str:
    """Show each registered outcome: role, expected direction, smallest effect, hypotheses."""
    lang = ctx.lang
    hyp = _hypotheses_by_outcome(ctx, p.get("hypotheses", []) or [])
    outcomes = records_frame(
        [
            {
                "outcome": ctx.text(o.get("label", o.get("id"))),
                "role": label("role", o.get("role"), lang),
                "direction": label("dir", o.get("expected_direction"), lang),
                "smallest_effect": _in_unit(ctx, o),
                "hypothesis": hyp.get(o.get("id"), "\u2013"),
            }
            for o in p.get("outcomes", []) or []
            if isinstance(o, Mapping)
        ]
    )
    return ctx.table(
        make_table(
            "outcomes",
            ctx.t("c.outcomes"),
            outcomes,
            lang,
            ctx.threshold,
            count_columns=[],
            headers={"role": ctx.t("h.primary").split()[0]},
        )
    )


def _deviations_table(ctx: ReportContext) -> str:
    """Show the deviations from the registered protocol, or say there are none."""
    devs = [_readable(d) for d in ctx.get("registration.deviations", []) or []]
    if not devs:
        return str(ctx.t("s.no_deviations"))
    rows = [
        {**d, "reason": ctx.text(d.get("reason"))} if isinstance(d, Mapping) else d for d in devs
    ]
    return ctx.table(
        make_table(
            "deviations",
            ctx.t("c.deviations"),
            records_frame(rows),
            ctx.lang,
            ctx.threshold,
            columns=["date", "field", "old", "new", "reason"],
            count_columns=[],
        )
    )


def data_quality(ctx: ReportContext) -> str:
    """Rows read/accepted/rejected per source and the top rejection reasons."""
    lang = ctx.lang
    sources = ctx.get("data.sources", []) or []
    parts = [ctx.heading("h.data_quality")]
    if not sources:
        return "\n\n".join([*parts, ctx.not_available()])
    read = sum(int(s.get("rows_read") or 0) for s in sources)
    rejected = sum(int(s.get("rejected") or 0) for s in sources)
    frame = pd.DataFrame.from_records(sources)
    frame = frame.assign(kind=[label("kind", k, lang) for k in frame["kind"]])
    parts.append(
        ctx.table(
            make_table(
                "data_quality",
                ctx.t("c.quality"),
                frame,
                lang,
                ctx.threshold,
                columns=["kind", "file", "rows_read", "accepted", "rejected"],
                count_columns=[],
            )
        )
    )
    parts.append(
        ctx.t(
            "s.rejected_total",
            rejected=fmt_count(rejected, lang),
            read=fmt_count(read, lang),
            share=fmt_pct(rejected / read if read else 0, lang, 2),
        )
    )
    reasons = []
    for s in sources:
        listed = s.get("top_reasons", []) or []
        for r in listed:
            reasons.append(
                {
                    "kind": label("kind", s.get("kind"), lang),
                    "rule": r.get("rule"),
                    "column": r.get("column"),
                    "n": r.get("n"),
                }
            )
        other = int(s.get("rejected") or 0) - sum(int(r.get("n") or 0) for r in listed)
        if listed and other > 0:
            reasons.append(
                {"kind": label("kind", s.get("kind"), lang), "rule": "…", "column": "…", "n": other}
            )
        if listed:
            reasons.append(
                {
                    "kind": label("kind", s.get("kind"), lang),
                    "rule": "Σ",
                    "column": "",
                    "n": int(s.get("rejected") or 0),
                }
            )
    table = make_table(
        "rejection_reasons",
        ctx.t("c.reasons"),
        records_frame(reasons),
        lang,
        ctx.threshold,
        # rows of delivered files, not persons: shown whole, as the rejected totals are
        count_columns=[],
    )
    parts.append(ctx.table(table) if table is not None else "")
    return "\n\n".join(p for p in parts if p)


def sample(ctx: ReportContext) -> str:
    """Flow from rows in the store to rows analysed, and the pre-period balance tables."""
    lang = ctx.lang
    flow = records_frame(ctx.get("sample.flow"))
    if flow is not None:
        flow = flow.assign(step=[label("step", s, lang) for s in flow["step"]])
    flow_table = make_table(
        "sample_flow",
        ctx.t("c.flow"),
        flow,
        lang,
        ctx.threshold,
        columns=["step", "n_persons", "n_person_months"],
        plan=ctx.plan,
        source="sample.flow",
    )
    return "\n\n".join([ctx.heading("h.sample"), ctx.table(flow_table), *_balance(ctx)])


def _balance(ctx: ReportContext) -> list[str]:
    """Balance of means (age, …) and of shares (sex, binary outcomes) as two tables.

    A mean in years and a share of young people are different quantities: in one
    column with one number format, a 4.6% share in NEET read "0,0" beside an age of
    "22,3". The rows keep their bundle positions, so the release's suppression plan
    covers both tables as it covers the one bundle table.
    """
    balance = records_frame(ctx.get("sample.balance"))
    if balance is None:
        return [ctx.table(None)]
    outcomes = ctx.get("protocol.outcomes", []) or []
    binary = {str(o.get("id")) for o in outcomes if o.get("type") == "binary"}
    share = pd.Series(
        [("=" in str(v)) or (str(v) in binary) for v in balance["variable"]], index=balance.index
    )
    balance = balance.assign(variable=[_covariate(ctx, str(v)) for v in balance["variable"]])
    columns = ["variable", "pilot_mean", "comparison_mean", "std_diff", "n_pilot", "n_comparison"]
    as_pct: dict[str, Any] = {c: fmt_pct for c in ("pilot_mean", "comparison_mean")}
    share_headers = {
        "pilot_mean": ctx.t("col.share_pilot"),
        "comparison_mean": ctx.t("col.share_comparison"),
    }
    parts = []
    for name, caption, rows, formatters, headers in (
        ("balance", "c.balance", ~share, {}, {}),
        ("balance_shares", "c.balance_shares", share, as_pct, share_headers),
    ):
        if rows.any():
            table = make_table(
                name,
                ctx.t(caption),
                balance.loc[rows],
                ctx.lang,
                ctx.threshold,
                columns=columns,
                headers=headers,
                formatters=formatters,
                plan=ctx.plan,
                source="sample.balance",
            )
            parts.append(ctx.table(table))
    return parts


def _in_unit(ctx: ReportContext, outcome: Mapping[str, Any]) -> str | None:
    """Return an outcome's smallest relevant effect in its unit ("2.0 percentage points").

    One column holds shares and days: a number alone would read 0.02 as "0.0".
    """
    value = outcome.get("smallest_effect")
    if is_missing(value) or not isinstance(value, int | float):
        return None
    unit = outcome_unit(ctx, str(outcome.get("id")))
    return f"{fmt_num(value * unit.scale, ctx.lang, unit.digits)} {unit.text}".strip()


def _readable(deviation: Any) -> Any:
    """Write a deviation's old and new values as YAML flow text, as the protocol has them.

    A mapping printed by Python (``{'sensitivity': {...}}``) is not how anyone wrote it.
    """
    if not isinstance(deviation, Mapping):
        return deviation
    flow = {
        key: yaml.safe_dump(
            value, default_flow_style=True, allow_unicode=True, width=10_000, sort_keys=False
        )
        .strip()
        .removesuffix("...")
        .strip()
        for key, value in deviation.items()
        if key in ("old", "new") and isinstance(value, Mapping | list)
    }
    return {**deviation, **flow}


def _hypotheses_by_outcome(ctx: ReportContext, hypotheses: list[Any]) -> dict[Any, str]:
    """Return each outcome's registered hypotheses as one cell, each once.

    An outcome may carry several (the whole pilot, and a subgroup of it): each is
    shown with its id, so none disappears behind another.
    """
    texts: dict[Any, list[tuple[str, str]]] = {}
    for h in hypotheses:
        if isinstance(h, Mapping):
            texts.setdefault(h.get("outcome"), []).append(
                (str(h.get("id")), ctx.text(h.get("text")))
            )
    return {
        outcome: items[0][1] if len(items) == 1 else " · ".join(f"{i}: {t}" for i, t in items)
        for outcome, items in texts.items()
    }

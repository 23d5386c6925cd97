"""Sections of the evaluation report before the results.

First page, protocol in brief, data quality and sample. Each function takes a
``ReportContext`` and returns markdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import yaml

from evalkit.report.context import ReportContext
from evalkit.report.formatting import (
    fmt_ci,
    fmt_count,
    fmt_date,
    fmt_num,
    fmt_p,
    fmt_p_clause,
    fmt_pct,
    fmt_set,
    is_missing,
)
from evalkit.report.hypotheses import hypotheses_list
from evalkit.report.i18n import TEXT, label
from evalkit.report.registry import registry_markdown
from evalkit.report.tables import make_table, records_frame
from evalkit.report.units import outcome_unit
from evalkit.report.verdict import conf_pieces, disagreement, interval_kind

__all__ = [
    "data_quality",
    "effect_sentences",
    "first_page",
    "grouped_hash",
    "key_facts",
    "protocol_brief",
    "registry_link",
    "sample",
    "short_hash",
    "title",
    "warnings_block",
]


def short_hash(value: Any) -> str:
    """First 16 hex characters of a hash (the full value is in the manifest)."""
    return "\u2013" if is_missing(value) else f"{str(value)[:16]}…"


def grouped_hash(value: Any) -> str:
    """Show a full hash in groups of eight characters (readable, checkable, not a token)."""
    if is_missing(value):
        return "\u2013"
    text = str(value)
    return " ".join(text[i : i + 8] for i in range(0, len(text), 8))


def title(ctx: ReportContext, doc_key: str) -> str:
    """Return the document's H1: document kind and the protocol's title."""
    name = ctx.md(ctx.get("protocol.metadata.title") or ctx.get("protocol_id", ""))
    return f"# {ctx.t(doc_key)}: {name} {{#title}}"


def _status(ctx: ReportContext) -> str:
    return ctx.get("registration.status", "not_registered")


def _yes_no(ctx: ReportContext, value: Any) -> str:
    if value is None:
        return ctx.t("v.unknown")
    return ctx.t("v.yes" if value else "v.no")


def warnings_block(ctx: ReportContext) -> str:
    """Callouts for "not pre-registered", "registered after the data" and synthetic data."""
    out = []
    months = ctx.get("registration.months_after_pilot_start")
    replaced = ctx.get("registration.lock_replaced_at")
    if replaced:
        text = ctx.t("s.lock_replaced", seen=fmt_date(replaced, ctx.lang, with_time=True))
        out.append("::: {.callout-important}\n[" + text + "]{.retrospective}\n:::")
    if _status(ctx) == "not_registered":
        out.append("::: {.callout-important}\n" + ctx.t("s.not_preregistered") + "\n:::")
    elif ctx.get("registration.retrospective") and months is not None:
        text = ctx.t("s.retrospective", n=months, start=ctx.get("registration.pilot_start"))
        out.append("::: {.callout-important}\n[" + text + "]{.retrospective}\n:::")
    elif ctx.get("registration.registered_before_data") is False:
        out.append(
            "::: {.callout-warning}\n"
            + ctx.t(
                "s.registered_after_data",
                registered=fmt_date(
                    ctx.get("registration.registered_at"), ctx.lang, with_time=True
                ),
                first_data=fmt_date(
                    ctx.get("registration.first_data_ingest_at"), ctx.lang, with_time=True
                ),
            )
            + "\n:::"
        )
    if ctx.get("protocol.metadata.synthetic_data"):
        out.append("::: {.callout-note}\n" + ctx.t("s.synthetic") + "\n:::")
    return "\n\n".join(out)


def _registered_at(ctx: ReportContext, reg: Mapping[str, Any]) -> str:
    """Return the registration time, saying so when only the lock file vouches for it.

    Without a git commit of the lock, its time (and seal, which has no key) can be
    rewritten by anyone who can edit the file; the reader should know that.
    """
    shown = fmt_date(reg.get("registered_at"), ctx.lang, with_time=True)
    if reg.get("registered_at") and not reg.get("git_added_at"):
        shown += " (" + ctx.t("v.time_unconfirmed") + ")"
    return shown


def registry_link(ctx: ReportContext) -> str:
    """Return a line linking the external registration (OSF, AEA, DOI), if the protocol has one.

    Ids and DOIs link to their registry page (:func:`evalkit.report.registry.registry_url`);
    other text is shown escaped, never as markup.
    """
    value = ctx.get("registration.registry") or ctx.get("protocol.metadata.registry")
    if not value:
        return ""
    return f"{ctx.t('k.registry')}: {registry_markdown(str(value))}"


def key_facts(ctx: ReportContext) -> str:
    """Return the key-facts table of the first page."""
    lang = ctx.lang
    reg = ctx.get("registration", {}) or {}
    rows = [
        ("k.pilot", ctx.text(ctx.get("protocol.metadata.pilot", ctx.get("protocol_id")))),
        ("k.protocol", str(ctx.get("protocol_id", "\u2013"))),
        ("k.status", label("status", _status(ctx), lang)),
        ("k.reg_hash", grouped_hash(reg.get("sha256"))),
        ("k.reg_time", _registered_at(ctx, reg)),
        ("k.first_data", fmt_date(reg.get("first_data_ingest_at"), lang, with_time=True)),
        ("k.before_data", _yes_no(ctx, reg.get("registered_before_data"))),
        ("k.registry", str(reg.get("registry") or "\u2013")),
        ("k.version", str(ctx.get("evalkit_version", "\u2013"))),
        ("k.commit", str(ctx.get("generated.code_commit") or "\u2013")),
        ("k.seed", str(ctx.get("generated.seed", "\u2013"))),
        (
            "k.synthetic",
            ctx.t("v.synthetic" if ctx.get("protocol.metadata.synthetic_data") else "v.real"),
        ),
        ("k.threshold", fmt_count(ctx.threshold, lang)),
    ]
    frame = pd.DataFrame({"item": [ctx.t(k) for k, _ in rows], "value": [v for _, v in rows]})
    return ctx.table(
        make_table("key_facts", ctx.t("c.key_facts"), frame, lang, ctx.threshold, count_columns=[])
    )


def snapshot(ctx: ReportContext) -> str:
    """Per source: file hash and rows accepted/rejected."""
    frame = records_frame(ctx.get("data.sources"))
    if frame is not None:
        frame = frame.assign(
            sha256=[short_hash(h) for h in frame.get("sha256", [None] * len(frame))],
            kind=[label("kind", k, ctx.lang) for k in frame["kind"]],
        )
    return ctx.table(
        make_table(
            "data_snapshot",
            ctx.t("c.snapshot"),
            frame,
            ctx.lang,
            ctx.threshold,
            columns=["kind", "file", "sha256", "rows_read", "accepted", "rejected", "ingested_at"],
            count_columns=[],
        )
    )


def _unit(effect: Mapping[str, Any]) -> tuple[float, str]:
    return (100.0, "s.unit_pp") if effect.get("type") == "binary" else (1.0, "s.unit_abs")


def effect_sentences(ctx: ReportContext, role: str = "primary") -> str:
    """Plain-language sentences per effect: size, interval, direction, how sure."""
    effects = [e for e in ctx.get("confirmatory.effects", []) or [] if e.get("role") == role]
    if not effects:
        return ctx.not_available()
    lang, out = ctx.lang, []
    for e in effects:
        res = e.get("result", {}) or {}
        scale, unit_key = _unit(e)
        baseline = e.get("baseline_mean")
        base_txt = (
            fmt_pct(baseline, lang)
            if e.get("type") == "binary" and not is_missing(baseline)
            else fmt_num(baseline, lang, 2)
        )
        low, high = res.get("conf_low"), res.get("conf_high")
        pieces = conf_pieces(res)
        if low is None or high is None or is_missing(low) or is_missing(high):
            ci = ctx.t("s.ci_unbounded")
        elif pieces:  # a conformal set with gaps: the union, not its hull
            ci = fmt_set([(a * scale, b * scale) for a, b in pieces], lang, 1)
        else:
            ci = fmt_ci(float(low) * scale, float(high) * scale, lang, 1)
        if e.get("error") or is_missing(res.get("estimate")):
            out.append(
                "- "
                + ctx.t(
                    "s.not_estimated",
                    outcome=ctx.md(e.get("label") or e.get("outcome")),
                    error=ctx.md(e.get("error") or "\u2013"),
                )
            )
            continue
        parts = [
            ctx.t(
                "s.effect",
                outcome=ctx.md(e.get("label") or e.get("outcome")),
                effect=fmt_num(_scaled(res.get("estimate"), scale), lang, 1, signed=True),
                unit=ctx.t(unit_key),
                ci=ci,
                baseline=base_txt,
            ).replace("  ", " ")
        ]
        att, direction = res.get("estimate"), e.get("expected_direction")
        shown = None if att is None or is_missing(att) else round(_scaled(att, scale), 1)
        if shown == 0:  # the sign of what the text writes as 0,0 says nothing
            parts.append(ctx.t("s.direction_none"))
        elif shown is not None and direction in ("decrease", "increase"):
            good = (shown < 0) == (direction == "decrease")
            parts.append(ctx.t("s.direction_good" if good else "s.direction_bad"))
        p = e.get("p_adjusted") if not is_missing(e.get("p_adjusted")) else res.get("p_value")
        alpha = ctx.get("confirmatory.alpha", 0.05)
        if not is_missing(p):
            parts.append(
                ctx.t("s.sure_clear" if p <= alpha else "s.sure_unclear", p=fmt_p_clause(p, lang))
            )
        if why := why_interval_disagrees(ctx, e):
            parts.append(why)
        if not is_missing(e.get("smallest_effect")):
            parts.append(
                ctx.t(
                    "s.mde",
                    mde=fmt_num(e["smallest_effect"] * scale, lang, 1),
                    unit=ctx.t(unit_key),
                ).replace("  ", " ")
            )
        out.append("- " + " ".join(parts))
    return "\n".join(out)


def why_interval_disagrees(ctx: ReportContext, e: Mapping[str, Any]) -> str:
    """Explain an interval that seems to contradict the verdict, or return "" when it agrees.

    Parameters
    ----------
    ctx : ReportContext
        The report.
    e : mapping
        One record of ``confirmatory.effects``.

    Returns
    -------
    str
        A sentence (see :func:`evalkit.report.verdict.disagreement`), or "".
    """
    res = e.get("result") or {}
    interval = interval_kind(
        res.get("conf_low"),
        res.get("conf_high"),
        e.get("expected_direction"),
        e.get("smallest_effect"),
        conf_pieces(res),
    )
    alpha = float(ctx.get("confirmatory.alpha", 0.05))
    codes = [w.get("code") if isinstance(w, Mapping) else w for w in res.get("warning_codes") or ()]
    # a record without its set (an older bundle) only has the hull to go by
    gaps = "conformal_set_gaps" in codes and res.get("conf_set") is None
    why = disagreement(interval, res.get("p_value"), e.get("p_adjusted"), alpha, set_gaps=gaps)
    if why is None:
        return ""
    p = res.get("p_value") if is_missing(e.get("p_adjusted")) else e.get("p_adjusted")
    shown = fmt_p_clause(p, ctx.lang) if why == "uncorrected" else fmt_p(p, ctx.lang)
    return ctx.t(f"fx.why_{why}", p=shown)


def _scaled(value: Any, scale: float) -> Any:
    return None if is_missing(value) else float(value) * scale


def first_page(ctx: ReportContext) -> str:
    """Title, warnings, key facts, data snapshot and the plain-language summary."""
    return "\n\n".join(
        x
        for x in [
            title(ctx, "doc.evaluation"),
            warnings_block(ctx),
            ctx.heading("h.key_facts"),
            key_facts(ctx),
            registry_link(ctx),
            snapshot(ctx),
            ctx.heading("h.summary"),
            effect_sentences(ctx),
            hypotheses_list(ctx),
        ]
        if x
    )


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
    as_pct: dict[str, Any] = {c: _pct for c in ("pilot_mean", "comparison_mean")}
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


def _pct(value: Any, lang: str) -> str:
    return fmt_pct(value, lang)


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

"""The first page of the evaluation report: the answer, key facts and warnings.

Title, warnings, registration facts, the snapshot and the sentences that say what
each registered effect is and how sure it is (the summary uses them too). The
protocol in brief, data quality and sample follow in
:mod:`evalkit.report.sections_protocol`. Each function takes a ``ReportContext`` and
returns markdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

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
from evalkit.report.i18n import label
from evalkit.report.registry import registry_markdown
from evalkit.report.tables import make_table, records_frame
from evalkit.report.verdict import conf_pieces, disagreement, interval_kind

__all__ = [
    "effect_sentences",
    "first_page",
    "grouped_hash",
    "key_facts",
    "registry_link",
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

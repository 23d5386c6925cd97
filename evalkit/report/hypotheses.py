"""Every registered hypothesis in plain language: its estimate, or why there is none."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalkit.report.formatting import fmt_ci, fmt_num, fmt_p_clause, fmt_set, is_missing
from evalkit.report.i18n import label
from evalkit.report.units import outcome_unit
from evalkit.report.verdict import conf_pieces
from evalkit.report.warning_text import joined, warning_texts

__all__ = ["hypotheses_list"]


def hypotheses_list(ctx: Any) -> str:
    """List each registered hypothesis with its estimate and adjusted p-value, or the reason.

    Also says how many hypotheses the multiple-testing family holds and how they
    are corrected, so that a dropped hypothesis cannot go unnoticed.
    """
    rows = ctx.get("confirmatory.hypotheses", []) or []
    family = ctx.get("confirmatory.family") or {}
    if not rows:
        return ""
    lang = ctx.lang
    method = label("mt", family.get("method", "none"), lang)
    lines = [
        ctx.heading("h.hypotheses"),
        ctx.t("s.family", n=family.get("size", len(rows)), method=method),
        "",
    ]
    for h in rows:
        name = f"**{ctx.md(h['id'])}** ({ctx.md_outcome(h['outcome'])}"
        name += f", {ctx.md(_subgroup(ctx, h['subgroup']))})" if h.get("subgroup") else ")"
        if h.get("status") != "estimated" or is_missing(h.get("estimate")):
            reason = _reason(ctx, h)
            lines.append("- " + ctx.t("s.hypothesis_missing", name=name, reason=reason))
            continue
        low, high = h.get("conf_low"), h.get("conf_high")
        unit_of = outcome_unit(ctx, h["outcome"])
        scale, digits, unit = unit_of.scale, unit_of.digits, unit_of.suffix
        pieces = conf_pieces(h)
        if is_missing(low) or is_missing(high):
            ci = ctx.t("s.ci_unbounded")
        elif pieces:  # a conformal set with gaps: the union, not its hull
            ci = fmt_set([(a * scale, b * scale) for a, b in pieces], lang, digits) + unit
        else:
            ci = fmt_ci(low * scale, high * scale, lang, digits) + unit
        p = h.get("p_adjusted")
        said = ctx.t(
            "s.hypothesis_estimate",
            name=name,
            estimate=fmt_num(h["estimate"] * scale, lang, digits, signed=True) + unit,
            ci=ci,
            p=fmt_p_clause(p if not is_missing(p) else h.get("p_value"), lang),
        )
        lines.append(
            "- " + " ".join([said, *_direction(ctx, h, round(h["estimate"] * scale, digits))])
        )
    return "\n".join(lines)


def _direction(ctx: Any, h: Mapping[str, Any], rounded: float) -> list[str]:
    """Say whether the estimate lies in the hypothesis' registered direction.

    A p-value is two-sided: without this, an effect against a one-sided hypothesis
    (``direction: increase`` and a fall) would read as support for it.
    """
    direction = h.get("direction")
    if direction not in ("increase", "decrease") or rounded == 0:
        return []
    key = "with" if (rounded < 0) == (direction == "decrease") else "against"
    return [str(ctx.t(f"s.hypothesis_{key}", direction=label("dir", direction, ctx.lang)))]


def _reason(ctx: Any, h: Mapping[str, Any]) -> str:
    """Why a hypothesis has no estimate, in the document's language (outside text escaped)."""
    code, values = h.get("reason_code"), h.get("reason_values") or {}
    if not code:  # a bundle from before the reasons had codes
        return ctx.md(h.get("reason")) or "\u2013"
    shown = {
        "outcome": ctx.md_outcome(values.get("outcome", "")),
        "subgroup": ctx.md(_subgroup(ctx, values.get("subgroup", ""))),
        "detail": ctx.md(values.get("detail", "")),
    }
    why = _subgroup_note(ctx, values) if code == "subgroup_not_estimated" else ""
    if why:  # the subgroup row's note has a code: say it in the document's language
        return str(ctx.t("r.hypothesis_subgroup_why", **shown, why=ctx.md(why)))
    return str(ctx.t(f"r.hypothesis_{code}", **shown))


def _subgroup_note(ctx: Any, values: Mapping[str, Any]) -> str:
    """Return the worded note of the subgroup row a hypothesis could not use ("" if none)."""
    for rec in ctx.get("subgroups", []) or []:
        if not isinstance(rec, Mapping) or rec.get("estimate") is not None:
            continue
        if (rec.get("subgroup"), rec.get("outcome")) != (
            values.get("subgroup"),
            values.get("outcome"),
        ):
            continue
        if rec.get("warning_codes"):
            # it follows a colon and the sentence's own stop: "…geschat: niemand in …"
            text = joined(warning_texts(rec.get("warnings"), rec["warning_codes"], ctx.lang))
            return text[:1].lower() + text[1:].rstrip(".")
    return ""


def _subgroup(ctx: Any, code: str) -> str:
    """Name a subgroup by its label in the bundle (``turning_18`` → "Wordt 18 tijdens de pilot")."""
    for rec in ctx.get("subgroups", []) or []:
        if isinstance(rec, Mapping) and rec.get("subgroup") == code and rec.get("label"):
            return ctx.text(rec["label"])
    return str(code)

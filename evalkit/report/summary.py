"""The funders' summary: did it work, how sure are we, in numbers of young people."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalkit.report.escape import md_escape
from evalkit.report.figures import effects_plot
from evalkit.report.formatting import (
    fmt_ci,
    fmt_count,
    fmt_num,
    fmt_p,
    fmt_p_clause,
    fmt_pct,
    fmt_set,
    is_missing,
)
from evalkit.report.hypotheses import hypotheses_list
from evalkit.report.i18n import label
from evalkit.report.sections_back import limitation_items
from evalkit.report.sections_front import title, warnings_block, why_interval_disagrees
from evalkit.report.tables import records_frame
from evalkit.report.units import outcome_unit
from evalkit.report.verdict import (
    conf_pieces,
    interval_kind,
    min_pilot_p,
    power_kind,
    verdict_kind,
)

__all__ = [
    "effect_paragraph",
    "full_report_line",
    "headline",
    "power_sentence",
    "questionnaire_sentence",
    "summary_body",
]

Effect = Mapping[str, Any]


def summary_body(ctx: Any) -> str:
    """Title, the one-line answer, each main effect, one power sentence, hypotheses, caveats."""
    effects = _primary(ctx)
    parts = [
        title(ctx, "doc.summary"),
        warnings_block(ctx),
        _intro(ctx),
        headline(ctx, effects),
        ctx.heading("h.summary"),
        *(effect_paragraph(ctx, e) for e in effects),
        power_sentence(ctx, effects),
        questionnaire_sentence(ctx),
        _figure(ctx, effects),
        hypotheses_list(ctx),
        ctx.heading("h.what_next"),
        _caveats(ctx),
        full_report_line(ctx),
    ]
    return "\n\n".join(p for p in parts if p)


def full_report_line(ctx: Any) -> str:
    """Say what the full report holds: robustness analyses only when the bundle has them.

    A bundle whose robustness checks are the pre-trend test alone (the national
    protocol's) promises that test; one without any promises methods and tables only.
    """
    checks = ctx.get("robustness") or {}
    if any(rows for name, rows in checks.items() if name != "pretrend"):
        return str(ctx.t("s.full_report"))
    if checks.get("pretrend"):
        return str(ctx.t("s.full_report_pretrend"))
    return str(ctx.t("s.full_report_plain"))


def _intro(ctx: Any) -> str:
    status = ctx.get("registration.status", "not_registered")
    pilot = ctx.md(ctx.get("protocol.metadata.pilot") or ctx.get("protocol_id", ""))
    retro = ctx.get("registration.retrospective")
    key = "s.summary_intro_retrospective" if retro else "s.summary_intro"
    return str(ctx.t(key, pilot=pilot, status=label("status", status, ctx.lang)))


def _primary(ctx: Any) -> list[Effect]:
    return [e for e in ctx.get("confirmatory.effects", []) or [] if e.get("role") == "primary"]


def _name(ctx: Any, e: Effect) -> str:
    return str(ctx.text(e.get("label")) or ctx.outcome_label(str(e.get("outcome", ""))))


def _md_name(ctx: Any, e: Effect) -> str:
    """Return the outcome's name for prose: protocol text shown as text, never markup."""
    return md_escape(_name(ctx, e))


def _result(e: Effect) -> dict[str, Any]:
    return dict(e.get("result") or {})


def _binary(e: Effect) -> bool:
    return e.get("type") == "binary"


def _in_units(ctx: Any, e: Effect, value: Any, *, signed: bool = False) -> str:
    """Write a value of ``e``'s outcome in the one unit the summary uses for it.

    Shares in percentage points, other outcomes in their registered unit
    (:func:`evalkit.report.units.outcome_unit`).
    """
    if is_missing(value):
        return "\u2013"
    unit = outcome_unit(ctx, e["outcome"])
    return fmt_num(float(value) * unit.scale, ctx.lang, unit.digits, signed=signed) + unit.suffix


def _ci(ctx: Any, e: Effect, low: Any, high: Any) -> str:
    unit = outcome_unit(ctx, e["outcome"])
    pieces = conf_pieces(_result(e))
    if pieces:  # a conformal set with gaps: the union, not its hull
        scaled = [(a * unit.scale, b * unit.scale) for a, b in pieces]
        return fmt_set(scaled, ctx.lang, unit.digits) + unit.suffix
    text = fmt_ci(float(low) * unit.scale, float(high) * unit.scale, ctx.lang, unit.digits)
    return str(text) + unit.suffix


def _p(ctx: Any, e: Effect) -> Any:
    p = e.get("p_adjusted")
    return _result(e).get("p_value") if is_missing(p) else p


def _kinds(ctx: Any, e: Effect) -> tuple[str, str]:
    res = _result(e)
    interval = interval_kind(
        res.get("conf_low"),
        res.get("conf_high"),
        e.get("expected_direction"),
        e.get("smallest_effect"),
        conf_pieces(res),
    )
    return interval, verdict_kind(interval, _p(ctx, e), float(ctx.get("confirmatory.alpha", 0.05)))


def _per_1000(ctx: Any, value: float) -> str:
    n = round(abs(value) * 1000)
    if n == 0:  # "about 0 more" reads as a finding; say there is no measurable difference
        return str(ctx.t("fx.per_1000_none"))
    key = "fx.per_1000_fewer" if value < 0 else "fx.per_1000_more"
    return str(ctx.t(key, n=fmt_count(n, ctx.lang)))


def _size(ctx: Any, e: Effect) -> str:
    att = float(_result(e)["estimate"])
    return _per_1000(ctx, att) if _binary(e) else _in_units(ctx, e, att, signed=True)


def headline(ctx: Any, effects: list[Effect]) -> str:
    """One line answering "did it work, and how sure are we" for the main outcomes."""
    answers = []
    for e in effects:
        if _missing_estimate(e):
            answers.append(ctx.t("fx.cannot_tell", outcome=_md_name(ctx, e)))
            continue
        interval, verdict = _kinds(ctx, e)
        if verdict == "unclear" and interval == "split" and _rejects_zero(ctx, e):
            # not chance: zero is rejected, but the set lies on both sides of it
            verdict = "unclear_direction"
        answers.append(
            ctx.t(
                f"fx.{verdict}",
                outcome=_md_name(ctx, e),
                size=_size(ctx, e),
                p=fmt_p_clause(_p(ctx, e), ctx.lang),
                relevant=_relevant(ctx, e),
            )
        )
    return str(ctx.t("fx.headline", answers=" ".join(answers))) if answers else ""


def _rejects_zero(ctx: Any, e: Effect) -> bool:
    p = _p(ctx, e)
    return not is_missing(p) and float(p) <= float(ctx.get("confirmatory.alpha", 0.05))


def _relevant(ctx: Any, e: Effect) -> str:
    """Write the smallest relevant effect named in the protocol, in the effect's unit."""
    relevant = e.get("smallest_effect")
    return "" if is_missing(relevant) else _in_units(ctx, e, abs(float(relevant or 0)))


def _missing_estimate(e: Effect) -> bool:
    return bool(e.get("error")) or is_missing(_result(e).get("estimate"))


def effect_paragraph(ctx: Any, e: Effect) -> str:
    """Describe one effect: its size, in young people, and what its interval allows."""
    if _missing_estimate(e):
        error = ctx.md(e.get("error")) or "\u2013"
        return str(ctx.t("s.not_estimated", outcome=_md_name(ctx, e), error=error))
    res = _result(e)
    baseline = e.get("baseline_mean")
    base = fmt_pct(baseline, ctx.lang) if _binary(e) else _in_units(ctx, e, baseline)
    parts = [
        ctx.t(
            "fx.effect",
            outcome=_md_name(ctx, e),
            effect=_in_units(ctx, e, res["estimate"], signed=True),
            baseline=base,
        )
    ]
    if _binary(e):
        parts.append(ctx.t("fx.people", per_1000=_size(ctx, e), population=_population(ctx, e)))
    parts.append(_interval_sentence(ctx, e))
    return " ".join(str(p) for p in parts)


def _interval_sentence(ctx: Any, e: Effect) -> str:
    res = _result(e)
    interval = _kinds(ctx, e)[0]
    sentence = ctx.t(
        f"fx.iv_{interval}",
        ci="" if interval == "unbounded" else _ci(ctx, e, res["conf_low"], res["conf_high"]),
        relevant=_relevant(ctx, e),
    )
    return " ".join(part for part in (str(sentence), why_interval_disagrees(ctx, e)) if part)


def _pilot_population(ctx: Any, outcome: str) -> int | None:
    """Young people in the pilot per month after its start (the trend's mean over ``post``).

    The effect on a share is a change per young person per month, so the number it
    applies to is how many young people the pilot has in a month of the evaluated
    period. The balance table counts everyone seen before the pilot (the demo: 283,
    against about 230 a month after the start); it is the fall-back when the bundle
    has no trend for the outcome.
    """
    post = ctx.get("protocol.periods.post", {}) or {}
    start, end = str(post.get("start", "")), str(post.get("end", "9999-12"))
    counts = [
        float(r["n"])
        for r in ctx.get("trends", []) or []
        if r.get("outcome") == outcome
        and r.get("group") == "pilot"
        and start <= str(r.get("month", ""))[:7] <= end
        and not is_missing(r.get("n"))
    ]
    if start and counts:
        return round(sum(counts) / len(counts))
    rows = [r for r in ctx.get("sample.balance", []) or [] if not is_missing(r.get("n_pilot"))]
    own = [r for r in rows if r.get("variable") == outcome] or rows
    return int(own[0]["n_pilot"]) if own else None


def _population(ctx: Any, e: Effect) -> str:
    n = _pilot_population(ctx, str(e.get("outcome")))
    if n is None or n < ctx.threshold:
        return ""
    k = round(abs(float(_result(e)["estimate"])) * n)
    if k == 0:  # "about 0 of them" adds nothing to "virtually no difference"
        return ""
    return str(ctx.t("fx.population", n=fmt_count(n, ctx.lang), k=fmt_count(k, ctx.lang)))


def power_sentence(ctx: Any, effects: list[Effect]) -> str:
    """Power in one sentence, for the first main outcome with power figures."""
    alpha = float(ctx.get("confirmatory.alpha", 0.05))
    rows = ctx.get("power", []) or []
    for e in effects:
        kind, mde = power_kind(rows, str(e.get("outcome")))
        if kind == "mde":
            return str(ctx.t("fx.power_mde", mde=_in_units(ctx, e, mde), outcome=_md_name(ctx, e)))
        if kind == "none_detectable":
            return _none_detectable(ctx, e, alpha)
    return ""


def _none_detectable(ctx: Any, e: Effect, alpha: float) -> str:
    res = _result(e)
    n_all, n_treated = res.get("n_clusters"), res.get("n_treated_clusters")
    p_min = min_pilot_p(n_all, n_treated)
    if p_min is None:
        return str(ctx.t("fx.power_none_short", alpha=fmt_num(alpha, ctx.lang, 2)))
    return str(
        ctx.t(
            "fx.power_none",
            alpha=fmt_num(alpha, ctx.lang, 2),
            n_treated=fmt_count(n_treated, ctx.lang),
            n_comparison=fmt_count(int(n_all or 0) - int(n_treated or 0), ctx.lang),
            p_min=fmt_p(p_min, ctx.lang),
        )
    )


#: Questionnaire scales that are shares (0..1): their differences are percentage points.
_SHARE_SCALES = frozenset({"satisfaction_agree_share", "mhi5_unhealthy"})


def questionnaire_sentence(ctx: Any) -> str:
    """Name the questionnaire effects (difference in change, pilot vs comparison), per wave.

    One sentence for the first follow-up wave, a short one for each later wave.

    Only estimates the release's suppression plan shows: from at least the threshold
    of young people on each side; the number of pilot municipalities is a design fact.
    """
    frame = records_frame(ctx.get("questionnaire.change_did"))
    if frame is None or "estimate" not in frame.columns:
        return ""
    status = ctx.plan.status("questionnaire.change_did", frame)
    by_wave: dict[str, list[str]] = {}
    for i, row in frame.iterrows():
        if row.get("method") != "did_2x2" or is_missing(row.get("estimate")):
            continue
        if status.at[i, "estimate"]:
            continue
        name = label("scale", row.get("scale"), ctx.lang)
        # a difference of two shares is written as every share effect is: in percentage points
        scale, digits, unit = (
            (100.0, 1, f" {ctx.t('s.unit_pp')}")
            if str(row.get("scale")) in _SHARE_SCALES
            else (1.0, 2, "")
        )
        text = f"{name} {fmt_num(row['estimate'] * scale, ctx.lang, digits, signed=True)}{unit}"
        if not is_missing(row.get("conf_low")) and not is_missing(row.get("conf_high")):
            low, high = row["conf_low"] * scale, row["conf_high"] * scale
            text += " " + fmt_ci(low, high, ctx.lang, digits)
        p = row.get("p_value")
        if not is_missing(p) and not status.at[i, "p_value"]:
            text += f" (p {fmt_p_clause(p, ctx.lang)})"
        by_wave.setdefault(str(row.get("wave")), []).append(md_escape(text))
    # One sentence per follow-up wave: the same scale at T3m and T6m would otherwise
    # stand side by side with nothing to tell them apart.
    sentences = [
        ctx.t(
            "fx.questionnaire" if n == 0 else "fx.questionnaire_next",
            items="; ".join(items),
            wave=md_escape(wave),
        )
        for n, (wave, items) in enumerate(by_wave.items())
    ]
    return " ".join(str(s) for s in sentences)


def _figure(ctx: Any, effects: list[Effect]) -> str:
    """Effects with bounded intervals as intervals; the unbounded ones named, never a bare dot.

    A conformal confidence set with gaps is drawn as its pieces and named in the caption.
    """
    drawn, unbounded, split = [], [], []
    for e in effects:
        if _missing_estimate(e):
            continue
        if _kinds(ctx, e)[0] == "unbounded":
            unbounded.append(_name(ctx, e))
            continue
        res = e["result"]
        # a conformal set with gaps is drawn as its pieces: its hull holds effects the
        # test rejects, zero among them when the set lies on both sides of it
        pieces = conf_pieces(res)
        if pieces:
            split.append(_name(ctx, e))
        for low, high in pieces or [(res["conf_low"], res["conf_high"])]:
            drawn.append(
                {
                    "outcome_label": _name(ctx, e),
                    "estimate": res["estimate"],
                    "conf_low": low,
                    "conf_high": high,
                    "binary": _binary(e),
                }
            )
    frame = records_frame(drawn)
    if frame is None:
        return str(ctx.t("fx.all_unbounded")) if unbounded else ""
    ylab = None
    if bool(frame["binary"].all()):
        frame[["estimate", "conf_low", "conf_high"]] *= 100.0
        ylab = f"{ctx.t('ax.effect')} ({ctx.t('s.unit_pp')})"
    caption = ctx.t("s.figure_effects")
    if split:
        caption += ". " + ctx.t("fx.figure_split", outcomes=", ".join(split))
    if unbounded:
        caption += ". " + ctx.t("fx.figure_unbounded", outcomes=", ".join(unbounded))
    plot = effects_plot(frame, ctx.lang, ylab)
    return str(ctx.figure(plot, "effects", caption, height=1.2 + 0.6 * len(frame)))


def _caveats(ctx: Any) -> str:
    """List the limitations without the power rows: the power sentence says it once."""
    items = limitation_items(ctx, skip=("power_below_target",))
    return "\n".join(f"- {i}" for i in items) if items else str(ctx.t("lim.none"))

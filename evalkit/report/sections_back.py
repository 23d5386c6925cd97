"""Sections at the end of the evaluation report.

Limitations written from the bundle's facts, the privacy note and the appendix
(software versions and the full registered protocol).
"""

from __future__ import annotations

import re
from importlib import metadata

import yaml

from evalkit.report.context import ReportContext
from evalkit.report.formatting import fmt_count, fmt_date, fmt_num, fmt_pct, is_missing
from evalkit.report.i18n import label
from evalkit.report.tables import make_table, records_frame

__all__ = ["appendix", "limitations", "privacy"]

# Rows kept more than once under overlap rule keep_both, per kind: each worded with its count.
_REPEATED = ("repeated_person_months", "repeated_case_events", "repeated_questionnaire_answers")

_SOFTWARE = (
    "evalkit",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "pyfixest",
    "duckdb",
    "plotnine",
    "matplotlib",
    "nbclient",
    "ipykernel",
    "pypandoc-binary",
    "pyyaml",
)


def _status(ctx: ReportContext) -> str:
    return ctx.get("registration.status", "not_registered")


def limitation_items(ctx: ReportContext, skip: tuple[str, ...] = ()) -> list[str]:
    """One sentence per limitation code in the bundle (codes in ``skip`` left out)."""
    lang, items = ctx.lang, []
    codes = {lim.get("code") for lim in ctx.get("limitations", []) or []}
    if _status(ctx) == "not_registered" and "not_pre_registered" not in codes:
        items.append(ctx.t("lim.not_registered"))
    for lim in ctx.get("limitations", []) or []:
        code, values = lim.get("code"), dict(lim.get("values") or {})
        if code in skip:
            continue
        if code == "few_treated_clusters":
            n = int(values.get("n_treated_clusters", values.get("n_treated", 0)) or 0)
            items.append(
                ctx.t(
                    "lim.few_treated_clusters",
                    n_treated_clusters=n,
                )
            )
        elif code == "not_pre_registered":
            items.append(ctx.t("lim.not_registered"))
        elif code == "registered_after_data":
            items.append(ctx.t("lim.registered_after_data"))
        elif code == "retrospective_registration":
            items.append(ctx.t("lim.retrospective_registration", months=values.get("months")))
        elif code == "synthetic_data":
            items.append(ctx.t("s.synthetic"))
        elif code == "short_post_period":
            items.append(ctx.t("lim.short_post_period", months=values.get("months", "?")))
        elif code == "power_below_target" and is_missing(values.get("mde")):
            # no simulated effect reached significance: there is no smallest detectable one
            items.append(
                ctx.t(
                    "lim.power_none",
                    outcome=ctx.md_outcome(values.get("outcome", "")),
                    power=fmt_pct(values.get("power"), lang, 0),
                )
            )
        elif code == "power_below_target":
            items.append(
                ctx.t(
                    "lim.power_below_target",
                    outcome=ctx.md_outcome(values.get("outcome", "")),
                    power=fmt_pct(values.get("power"), lang, 0),
                    mde=fmt_num(values.get("mde"), lang, 3),
                )
            )
        elif code == "events_after_reference":
            items.append(
                ctx.t(
                    "lim.events_after_reference",
                    n_events=fmt_count(values.get("n_events"), lang),
                    reference_date=fmt_date(values.get("reference_date"), lang),
                )
            )
        elif code in _REPEATED:
            items.append(ctx.t(f"lim.{code}", n=fmt_count(values.get("n"), lang)))
        elif code == "data_quality":
            items.append(
                ctx.t(
                    "lim.data_quality",
                    rejected_share=fmt_pct(values.get("rejected_share"), lang, 2),
                )
            )
        else:
            vals = ", ".join(f"{k} = {v}" for k, v in sorted(values.items()))
            items.append(
                ctx.t("lim.generic", code=label("lim", code, lang), values=vals or "\u2013")
            )
    return items


def limitations(ctx: ReportContext) -> str:
    """Limitations written from the bundle's ``limitations`` codes and the registration status."""
    items = limitation_items(ctx)
    body = "\n".join(f"- {i}" for i in items) if items else ctx.t("lim.none")
    lang = ctx.lang
    power = records_frame(ctx.get("power"))
    if power is not None and "outcome" in power.columns:
        power["outcome"] = [ctx.outcome_label(o) for o in power["outcome"]]
        power_table = ctx.table(
            make_table(
                "power",
                ctx.t("c.power"),
                power,
                lang,
                ctx.threshold,
                columns=["outcome", "effect", "power", "mde", "n_sims"],
                count_columns=[],
            )
        )
        return "\n\n".join([ctx.heading("h.limitations"), body, power_table])
    return "\n\n".join([ctx.heading("h.limitations"), body])


def privacy(ctx: ReportContext) -> str:
    """Say what disclosure control did in this report (call last: it counts suppressed cells)."""
    return "\n\n".join(
        [
            ctx.heading("h.privacy", 3),
            ctx.t(
                "s.disclosure",
                threshold=ctx.threshold,
                n_cells=fmt_count(ctx.n_suppressed, ctx.lang),
                digest=ctx.plan.digest,
            ),
        ]
    )


def appendix(ctx: ReportContext) -> str:
    """Software versions of the rendering environment and the full registered protocol."""
    rows = [
        {
            "package": f"evalkit ({ctx.t('s.bundle_word')})",
            "version": str(ctx.get("evalkit_version", "\u2013")),
        }
    ]
    for name in _SOFTWARE:
        try:
            rows.append({"package": name, "version": metadata.version(name)})
        except metadata.PackageNotFoundError:
            continue
    protocol = ctx.get("protocol")
    text = (
        yaml.safe_dump(protocol, sort_keys=False, allow_unicode=True, width=100)
        if protocol
        else ctx.not_available()
    )
    # a fence longer than any run of backticks in the protocol's text: a line ``` in a
    # text (indented by 2 in the YAML) would otherwise end the block, the rest markdown
    fence = "`" * max([3] + [len(run) + 1 for run in re.findall(r"`+", text)])
    block = f"{fence}yaml\n{text}{fence}" if protocol else text
    return "\n\n".join(
        [
            ctx.heading("h.appendix"),
            ctx.heading("h.software", 3),
            ctx.table(
                make_table(
                    "software",
                    ctx.t("c.software"),
                    records_frame(rows),
                    ctx.lang,
                    ctx.threshold,
                    count_columns=[],
                )
            ),
            ctx.heading("h.full_protocol", 3),
            block,
        ]
    )

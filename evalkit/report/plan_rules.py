"""What each bundle table's cells are, for the suppression plan (see ``plan.py``).

A column of a bundle table is one of:

- a **count** of persons (or of their cases): suppressed when 1 … threshold − 1;
- **derived** from counts: a share, mean, median, interval, estimate or p-value.
  ``base`` values are hidden when they come from fewer than the threshold persons
  (their base count is 1 … threshold − 1); ``ratio`` values are exact functions of
  counts beside them (``share = k / n``) and are hidden whenever one of those counts
  is hidden, so that ``share × n`` or ``k / share`` gives nothing back;
- a **design fact**, parameter or label (numbers of municipalities, periods, cells,
  a norm's limit, the number of organisations a category stands for): never hidden.

Anything not named here is a label (text) or a design fact, except ``n`` and ``n_*``
in a table without a rule, which count persons (the bundle's naming convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DESIGN", "LINKS", "NONRESPONSE_YES_NO", "RULES", "TableRule", "rule_for"]

#: Numeric columns that are design facts, settings or category labels, whatever their name.
DESIGN = frozenset(
    {
        "n_treated_clusters",
        "n_clusters",
        "n_units",
        "n_obs",
        "n_cells",
        "n_cells_transition",
        "n_sims",
        "n_organisations",
        "n_holders",
        "n_below",
        "n_above",
        "k",
        "limit",
        "days",
        "benchmark_low",
        "benchmark_high",
        "event_time",
        "year",
        "time",
    }
)


@dataclass(frozen=True)
class TableRule:
    """The roles of one bundle table's columns.

    Attributes
    ----------
    counts : tuple of str
        Person counts.
    sums : tuple of (str, tuple of str)
        Within a row, ``total = sum(parts)``.
    base : dict
        Derived column -> the counts it is computed over (hidden below the threshold).
    ratio : dict
        Derived column -> the counts it is an exact function of (hidden with any of them).
    keys : tuple of str
        Numeric columns that label a row (with the text columns).
    withheld : tuple of str
        Count columns never released (their values follow from figures only at
        event-time resolution, see the Kaplan–Meier curve).
    steps : str
        For a step curve (rows ordered by ``keys``, one curve per set of labels): the
        events column. Its ``base`` values are released only at the rows where at least
        the threshold events have accumulated since the previous released row, so that
        no released step stands for fewer persons than the threshold.
    decimals : dict
        Derived column -> decimals it is released with (rounded where released).
    shares : dict
        Mean column -> its base count column, for means that may be shares of persons
        (a yes/no outcome or characteristic): in a row where the mean is ``k / n`` for a
        whole ``k``, both ``k`` and ``n − k`` are counts of persons, and the mean is
        hidden when either is 1 … threshold − 1 (a share beside its base gives them
        back, even as a rounded percentage).
    levels : str
        A label column whose ``name=level`` values are the levels of one characteristic
        (``sex=M``, ``sex=V``, ``sex=X``): their counts add up to the base, so where one
        level's share is hidden the smallest other one is hidden with it.
    with_shares : tuple of str
        Columns computed from a row's shares (a standardised difference), hidden with
        any of them.
    column_total : tuple of str
        Counts whose column total the documents show in a Σ row under the table.
    total_by : tuple of str
        Labels the Σ row is split by (one Σ per group when the document shows the
        groups side by side); empty: one Σ over all rows.
    """

    counts: tuple[str, ...]
    sums: tuple[tuple[str, tuple[str, ...]], ...] = ()
    base: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ratio: dict[str, tuple[str, ...]] = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()
    steps: str = ""
    decimals: dict[str, int] = field(default_factory=dict)
    shares: dict[str, str] = field(default_factory=dict)
    levels: str = ""
    with_shares: tuple[str, ...] = ()
    column_total: tuple[str, ...] = ()
    total_by: tuple[str, ...] = ()


def _all(counts: tuple[str, ...], *cols: str) -> dict[str, tuple[str, ...]]:
    return {c: counts for c in cols}


_NORM = ("n", "n_within", "n_breach", "n_breach_open", "n_unknown")
_NORM_RULE = TableRule(
    counts=_NORM,
    sums=(("n", ("n_within", "n_breach", "n_unknown")),),
    # the censoring-aware share reduces to n_within / (n − n_unknown) without censoring
    ratio=_all(("n", "n_within", "n_breach", "n_unknown"), "share_within", "conf_low", "conf_high"),
)
_KM = ("n", "n_events", "n_censored")
#: The persons with each answer of a yes/no scale in the non-response table (its mean is
#: their share); the document leaves them out (``sections_measures.DOC_OMIT``).
NONRESPONSE_YES_NO = (
    "n_responders_yes",
    "n_responders_no",
    "n_nonresponders_yes",
    "n_nonresponders_no",
)
#: Duration quantiles and their intervals: hidden when fewer than the threshold lie under them.
_QUANTILES = ("median", "median_ci_low", "median_ci_high", "p80", "p80_ci_low", "p80_ci_high")

RULES: dict[str, TableRule] = {
    "throughput.norms": _NORM_RULE,
    # the monitor's open cases right now: still within the norm plus past it
    "monitoring.breaches": TableRule(
        counts=("n_open", "n_within", "n_past_norm"),
        sums=(("n_open", ("n_within", "n_past_norm")),),
    ),
    "throughput.norms_monthly": _NORM_RULE,
    "throughput.norms_quarterly": _NORM_RULE,
    "throughput.durations": TableRule(
        counts=_KM,
        sums=(("n", ("n_events", "n_censored")),),
        base=_all(("n", "n_events"), "median", "p80"),
    ),
    "throughput.km_summary": TableRule(
        counts=_KM,
        sums=(("n", ("n_events", "n_censored")),),
        base=_all(("n", "n_events"), *_QUANTILES),
    ),
    # Each step of a Kaplan–Meier curve is S(t) = S(t−) × (1 − events / at risk), so a
    # survival value released to full precision gives its step's events and number at
    # risk back as an exact fraction, whatever the table hides (the demo's export gave
    # 2,442 event counts of 1–9 back so). The curve is released as a curve, coarsened
    # and rounded as statistical offices release survival curves: a step is shown only
    # where at least the threshold events have accumulated since the last one shown
    # (and at least the threshold are at risk), survival and interval to three
    # decimals (less than a pixel in the figures); its counts are never released.
    "throughput.km_curve": TableRule(
        counts=("n_risk", "n_events"),
        base=_all(("n_risk",), "surv", "conf_low", "conf_high"),
        keys=("time",),
        withheld=("n_risk", "n_events"),
        steps="n_events",
        decimals={"surv": 3, "conf_low": 3, "conf_high": 3},
    ),
    "throughput.handovers": TableRule(
        counts=("n", "n_arrived", "n_open"),
        sums=(("n", ("n_arrived", "n_open")),),
        base=_all(("n", "n_arrived"), *_QUANTILES),
    ),
    "throughput.out_of_sight": TableRule(
        counts=(
            "n",
            "n_followed_up",
            "n_out_of_sight",
            "n_not_yet_known",
            "n_persons_out_of_sight",
        ),
        sums=(("n", ("n_followed_up", "n_out_of_sight", "n_not_yet_known")),),
        ratio={"share_out_of_sight": ("n_followed_up", "n_out_of_sight")},
        keys=("days",),
    ),
    "throughput.switches": TableRule(
        counts=("n", "n_warm_handovers"),
        base=_all(("n",), "median_organisations", "mean_switches"),
        # exact functions of the distribution over numbers of organisations (see LINKS)
        ratio=_all(("n",), "mean_organisations", "share_3plus_organisations"),
        # switches per case × cases = the switches made: 1 … threshold − 1 of them were
        # made by as few persons
        shares={"mean_switches": "n"},
    ),
    "throughput.switches_distribution": TableRule(counts=("n_persons",), keys=("n_organisations",)),
    # coaches (holders) and how many of them sit below/within/above the benchmark are
    # staff, not young people; the caseload itself is young people
    "throughput.caseload": TableRule(
        counts=("n_active",),
        ratio=_all(("n_active",), "mean_caseload", "median_caseload", "max_caseload"),
    ),
    "throughput.did": TableRule(
        counts=("n_cases",),
        base=_all(("n_cases",), "estimate", "std_error", "conf_low", "conf_high", "p_value"),
    ),
    "questionnaire.response": TableRule(
        counts=("n_invited", "n_responded", "n_baseline", "n_baseline_responded"),
        ratio={
            "response_rate": ("n_invited", "n_responded"),
            "retention": ("n_baseline", "n_baseline_responded"),
        },
    ),
    # The mean of a yes/no scale (interviewed on paper, unhealthy MHI-5) is a share of
    # persons: its counts are in the table, and the mean and the standardised
    # difference are exact functions of them (missing counts: a scale with more values).
    "questionnaire.nonresponse": TableRule(
        counts=("n_responders", "n_nonresponders", *NONRESPONSE_YES_NO),
        sums=(
            ("n_responders", ("n_responders_yes", "n_responders_no")),
            ("n_nonresponders", ("n_nonresponders_yes", "n_nonresponders_no")),
        ),
        base={
            "mean_responders": ("n_responders",),
            "mean_nonresponders": ("n_nonresponders",),
            "std_diff": ("n_responders", "n_nonresponders"),
        },
        ratio={
            "mean_responders": ("n_responders_yes", "n_responders_no"),
            "mean_nonresponders": ("n_nonresponders_yes", "n_nonresponders_no"),
            "std_diff": NONRESPONSE_YES_NO,
        },
    ),
    "questionnaire.mhi5": TableRule(
        counts=("n", "n_incomplete", "n_unhealthy"),
        base=_all(("n",), "mean", "sd", "conf_low", "conf_high"),
        ratio={"share_unhealthy": ("n", "n_unhealthy")},
    ),
    "questionnaire.nps": TableRule(
        counts=("n", "n_promoters", "n_passives", "n_detractors"),
        sums=(("n", ("n_promoters", "n_passives", "n_detractors")),),
        ratio={"nps": ("n", "n_promoters", "n_passives", "n_detractors")},
    ),
    "questionnaire.reliability": TableRule(
        counts=("n",), base=_all(("n",), "alpha", "conf_low", "conf_high")
    ),
    "questionnaire.satisfaction": TableRule(
        counts=("n", "n_agree", "n_not_applicable"),
        ratio={"share_agree": ("n", "n_agree")},
    ),
    "questionnaire.zrm_domains": TableRule(
        counts=("n", "n_low"),
        base=_all(("n",), "mean", "sd"),
        ratio={"share_low": ("n", "n_low")},
    ),
    "questionnaire.zrm_summary": TableRule(
        counts=("n", "n_incomplete"), base=_all(("n",), "mean_score", "mean_n_low")
    ),
    "questionnaire.change": TableRule(
        counts=("n",),
        base=_all(
            ("n",),
            "mean_t0",
            "mean_later",
            "mean_change",
            "sd_change",
            "conf_low",
            "conf_high",
            "wilcoxon_statistic",
            "wilcoxon_p",
        ),
    ),
    "questionnaire.change_did": TableRule(
        counts=("n_pilot", "n_comparison"),
        base={
            "change_pilot": ("n_pilot",),
            "change_comparison": ("n_comparison",),
            **_all(
                ("n_pilot", "n_comparison"),
                "estimate",
                "std_error",
                "conf_low",
                "conf_high",
                "p_value",
            ),
        },
    ),
    # the monitor shows the months side by side per group, with each group's Σ of the
    # registrations (not of the active cases: those are the same persons month after month)
    "monitoring.registrations": TableRule(
        counts=("n_registrations", "n_active"),
        column_total=("n_registrations",),
        total_by=("group",),
    ),
    # rows of delivered files, not persons (as the data-quality table shows them)
    "monitoring.completeness": TableRule(counts=()),
    "sample.flow": TableRule(counts=("n_persons", "n_person_months")),
    # A characteristic's share beside its base gave its persons back ("sex=X 0.9 %" of
    # 342 pilot persons: 3; one homeless young person before the pilot).
    "sample.balance": TableRule(
        counts=("n_pilot", "n_comparison"),
        base={
            "pilot_mean": ("n_pilot",),
            "comparison_mean": ("n_comparison",),
            "std_diff": ("n_pilot", "n_comparison"),
        },
        shares={"pilot_mean": "n_pilot", "comparison_mean": "n_comparison"},
        levels="variable",
        with_shares=("std_diff",),
    ),
    "subgroups": TableRule(
        counts=("n_persons",),
        base=_all(("n_persons",), "estimate", "std_error", "conf_low", "conf_high", "p_value"),
    ),
    # a month's share of a yes/no outcome beside its persons: early school leaving in
    # the pilot municipality was 2 / 290 in a month
    "trends": TableRule(counts=("n",), base={"mean": ("n",)}, shares={"mean": "n"}),
}

#: The same persons counted in two tables: ``(source, column, {key: value}) ==
#: (source, column, {key: value})`` for rows whose other labels agree. The plan only
#: uses a link where the two values are equal in the bundle.
LINKS: tuple[tuple[str, str, dict[str, str], str, str, dict[str, str]], ...] = (
    ("throughput.durations", "n", {}, "throughput.km_summary", "n", {"org_type": "all"}),
    (
        "throughput.durations",
        "n_events",
        {},
        "throughput.km_summary",
        "n_events",
        {"org_type": "all"},
    ),
    (
        "throughput.durations",
        "n_censored",
        {},
        "throughput.km_summary",
        "n_censored",
        {"org_type": "all"},
    ),
    (
        "throughput.handovers",
        "n",
        {"from_org_type": "all", "to_org_type": "all"},
        "throughput.switches",
        "n_warm_handovers",
        {"group": "all", "period": "all"},
    ),
    ("questionnaire.response", "n_responded", {}, "questionnaire.zrm_summary", "n", {}),
)


def rule_for(source: str, columns: list[str]) -> TableRule:
    """Return the rule of ``source``; a table without one counts ``n`` and ``n_*``.

    In a table without a rule every other numeric column is taken as computed from
    its ``n`` (or from all its counts when it has no ``n``).
    """
    if source in RULES:
        return RULES[source]
    counts = tuple(c for c in columns if (c == "n" or c.startswith("n_")) and c not in DESIGN)
    base = tuple(c for c in counts if c == "n") or counts
    derived = [c for c in columns if c not in counts and c not in DESIGN]
    return TableRule(counts=counts, base={c: base for c in derived} if base else {})

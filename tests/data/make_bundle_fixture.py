"""Write tests/data/bundle_fixture.json: a results bundle shaped exactly like docs/bundle.md.

The numbers are made up but coherent (a single treated municipality, 11 comparisons, a
small decrease in problematic debt). Some counts are deliberately below the disclosure
threshold so the report tests can check suppression. Run: python tests/data/make_bundle_fixture.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import yaml

from evalkit.did.notes import Note

ROOT = Path(__file__).resolve().parents[2]
#: Estimator warnings as the estimators write them: English texts and their codes.
WILD_NOTES = (
    Note("wild_unreliable", {"treated": 1}),
    Note("wild_enumerated", {"clusters": 12, "draws": 4096}),
)


def coded(*notes: Note) -> dict:
    """``warnings`` and ``warning_codes`` of a result, as ``to_dict()`` writes them."""
    return {"warnings": [n.text for n in notes], "warning_codes": [n.to_dict() for n in notes]}


def months(start: str, end: str) -> list[str]:
    y, m = map(int, start.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def result(att: float, se: float, p: float) -> dict:
    return {
        "estimator": "twfe",
        "estimate": att,
        "std_error": se,
        "conf_low": att - 1.96 * se,
        "conf_high": att + 1.96 * se,
        "p_value": p,
        "n_obs": 52_800,
        "n_units": 2_200,
        "n_clusters": 12,
        "n_treated_clusters": 1,
        "inference": "wild_cluster_bootstrap",
        **coded(*WILD_NOTES),
    }


def main() -> None:
    protocol = yaml.safe_load((ROOT / "protocols" / "demo.yaml").read_text(encoding="utf-8"))
    outcomes = {o["id"]: o for o in protocol["outcomes"]}
    effects = []
    specs = [
        ("problematic_debt", -0.031, 0.011, 0.004, 0.012, 0.082),
        ("neet", -0.012, 0.009, 0.18, 0.36, 0.121),
        ("early_school_leaving", -0.004, 0.005, 0.42, None, 0.031),
        ("homeless", 0.001, 0.002, 0.61, None, 0.006),
    ]
    for oid, att, se, p, p_adj, base in specs:
        o = outcomes[oid]
        hyp = next((h["id"] for h in protocol["hypotheses"] if h.get("outcome") == oid), None)
        effects.append(
            {
                "outcome": oid,
                "label": o["label"],
                "role": o["role"],
                "domain": o["domain"],
                "type": o["type"],
                "expected_direction": o["expected_direction"],
                "smallest_effect": o["smallest_effect"],
                "hypothesis": hyp,
                "baseline_mean": base,
                "result": result(att, se, p),
                "p_adjusted": p_adj,
            }
        )
    event_study = []
    for oid, att in (("problematic_debt", -0.031), ("neet", -0.012)):
        for e in range(-6, 6):
            est = 0.0 if e == -1 else (0.002 * math.sin(e) if e < 0 else att * min(1, (e + 1) / 3))
            se = 0.0 if e == -1 else 0.008
            event_study.append(
                {
                    "outcome": oid,
                    "event_time": e,
                    "estimate": est,
                    "std_error": se,
                    "conf_low": est - 1.96 * se,
                    "conf_high": est + 1.96 * se,
                }
            )
    trends = []
    for oid, _, _, _, _, base in specs[:2]:
        for i, month in enumerate(months("2024-01", "2026-06")):
            post = month >= "2025-10"
            for group, n in (("pilot", 210), ("comparison", 1990)):
                eff = -0.03 if (post and group == "pilot" and oid == "problematic_debt") else 0.0
                mean = base + 0.004 * math.sin(i / 3) + eff + (0.003 if group == "pilot" else 0.0)
                trends.append(
                    {
                        "outcome": oid,
                        "month": month,
                        "group": group,
                        "mean": round(mean, 6),
                        "n": 7 if (group == "pilot" and month == "2024-01") else n,
                    }
                )
    bundle = {
        "bundle_version": 2,
        "evalkit_version": "0.1.0",
        "protocol_id": "demo",
        "generated": {"code_commit": "97e2856", "seed": 1},
        "protocol": protocol,
        "registration": {
            "status": "registered_with_deviations",
            "sha256": "4f0c2a1e9b7d3c5a8e6f1b2d4c6a8e0f2b4d6c8a0e2f4b6d8c0a2e4f6b8d0c2a",
            "registered_at": "2025-09-15T10:30:00+00:00",
            "evalkit_version": "0.1.0",
            "git_commit": "4f51096",
            "first_data_ingest_at": "2026-02-03T08:12:00+00:00",
            "registered_before_data": True,
            "deviations": [
                {
                    "date": "2026-01-20",
                    "field": "periods.post.end",
                    "old": "2026-09",
                    "new": "2026-06",
                    "reason": "The funder moved the report date forward.",
                }
            ],
        },
        "data": {
            "sources": [
                {
                    "kind": "outcome_panel",
                    "file": "data/raw/demo/outcome_panel.csv",
                    "sha256": "a" * 64,
                    "bytes": 4_812_331,
                    "rows_read": 66_000,
                    "accepted": 65_880,
                    "rejected": 120,
                    "ingested_at": "2026-02-03T08:12:00+00:00",
                    "schema_version": 1,
                    "top_reasons": [
                        {"rule": "age_range", "column": "age", "n": 96},
                        {"rule": "bsn_elfproef", "column": "person_id", "n": 18},
                        {"rule": "month_format", "column": "month", "n": 6},
                    ],
                },
                {
                    "kind": "questionnaire",
                    "file": "data/raw/demo/questionnaire.sav",
                    "sha256": "b" * 64,
                    "bytes": 210_442,
                    "rows_read": 1_240,
                    "accepted": 1_240,
                    "rejected": 0,
                    "ingested_at": "2026-02-03T08:13:00+00:00",
                    "schema_version": 1,
                    "top_reasons": [],
                },
                {
                    "kind": "case_events",
                    "file": "data/raw/demo/case_events.xlsx",
                    "sha256": "c" * 64,
                    "bytes": 901_113,
                    "rows_read": 9_310,
                    "accepted": 9_288,
                    "rejected": 22,
                    "ingested_at": "2026-02-03T08:14:00+00:00",
                    "schema_version": 1,
                    "top_reasons": [{"rule": "event_order", "column": "event_date", "n": 22}],
                },
            ]
        },
        "sample": {
            "flow": [
                {"step": "rows_in_store", "n_persons": 2_260, "n_person_months": 65_880},
                {"step": "age_16_27", "n_persons": 2_214, "n_person_months": 63_500},
                {"step": "in_study_municipalities", "n_persons": 2_200, "n_person_months": 63_350},
                {"step": "analysed", "n_persons": 2_200, "n_person_months": 52_800},
            ],
            "balance": [
                {
                    "variable": "problematic_debt",
                    "pilot_mean": 0.085,
                    "comparison_mean": 0.080,
                    "std_diff": 0.018,
                    "n_pilot": 210,
                    "n_comparison": 1_990,
                },
                {
                    "variable": "neet",
                    "pilot_mean": 0.124,
                    "comparison_mean": 0.119,
                    "std_diff": 0.015,
                    "n_pilot": 210,
                    "n_comparison": 1_990,
                },
                {
                    "variable": "age",
                    "pilot_mean": 20.9,
                    "comparison_mean": 21.2,
                    "std_diff": -0.09,
                    "n_pilot": 210,
                    "n_comparison": 1_990,
                },
            ],
        },
        "confirmatory": {
            "alpha": 0.05,
            "multiple_testing": "holm",
            "estimator": "twfe",
            "effects": effects,
            "event_study": event_study,
        },
        "robustness": {
            "pretrend": [
                {
                    "outcome": "problematic_debt",
                    "test": "joint_wald_pre",
                    "statistic": 4.1,
                    "p_value": 0.54,
                },
                {"outcome": "neet", "test": "joint_wald_pre", "statistic": 6.3, "p_value": 0.28},
            ],
            "placebo": [
                {
                    "outcome": "problematic_debt",
                    "placebo_start": "2025-04",
                    "estimate": 0.002,
                    "conf_low": -0.015,
                    "conf_high": 0.019,
                    "p_value": 0.81,
                }
            ],
            "inference_comparison": [
                {
                    "outcome": "problematic_debt",
                    "inference": "cluster_robust",
                    "estimate": -0.031,
                    "std_error": 0.006,
                    "conf_low": -0.043,
                    "conf_high": -0.019,
                    "p_value": 0.0001,
                    **coded(Note("few_treated_cr1", {"treated": 1, "clusters": 12})),
                },
                {
                    "outcome": "problematic_debt",
                    "inference": "wild_cluster_bootstrap",
                    "estimate": -0.031,
                    "std_error": 0.011,
                    "conf_low": -0.053,
                    "conf_high": -0.009,
                    "p_value": 0.004,
                    **coded(*WILD_NOTES),
                },
                {
                    "outcome": "problematic_debt",
                    "inference": "conley_taber",
                    "estimate": -0.031,
                    "std_error": None,
                    "conf_low": -0.058,
                    "conf_high": -0.002,
                    "p_value": 0.045,
                    **coded(
                        Note(
                            "few_treated_conley_taber",
                            {"treated": 1, "clusters": 12, "threshold": 5},
                        )
                    ),
                },
            ],
            "alternative_control": [
                {
                    "outcome": "problematic_debt",
                    "control": "neighbouring_municipalities",
                    "inference": "wild_cluster_bootstrap",
                    "estimate": -0.027,
                    "std_error": 0.013,
                    "conf_low": -0.052,
                    "conf_high": -0.002,
                    "p_value": 0.04,
                    **coded(Note("wild_unreliable", {"treated": 1})),
                }
            ],
            "bacon": [
                {
                    "outcome": "problematic_debt",
                    "type": "treated_vs_never",
                    "treated": "2025-10",
                    "control": "never",
                    "estimate": -0.031,
                    "weight": 1.0,
                }
            ],
        },
        "subgroups": [
            {
                "subgroup": "turning_18",
                "label": protocol["population"]["subgroups"][0]["label"],
                "outcome": "problematic_debt",
                "estimate": -0.044,
                "std_error": 0.02,
                "conf_low": -0.083,
                "conf_high": -0.005,
                "p_value": 0.03,
                "n_persons": 212,
            },
            {
                "subgroup": "turning_18",
                "label": protocol["population"]["subgroups"][0]["label"],
                "outcome": "neet",
                "estimate": -0.02,
                "std_error": 0.03,
                "conf_low": -0.079,
                "conf_high": 0.039,
                "p_value": 0.5,
                "n_persons": 7,
            },
        ],
        "trends": trends,
        "throughput": {
            "durations": [
                {
                    "sub_process": "registration_to_first_conversation",
                    "period": "pilot",
                    "n": 412,
                    "n_censored": 31,
                    "median_days": 9.0,
                    "p80_days": 21.0,
                },
                {
                    "sub_process": "registration_to_first_conversation",
                    "period": "before",
                    "n": 388,
                    "n_censored": 12,
                    "median_days": 16.0,
                    "p80_days": 35.0,
                },
                {
                    "sub_process": "application_to_decision",
                    "period": "pilot",
                    "n": 6,
                    "n_censored": 1,
                    "median_days": 40.0,
                    "p80_days": 52.0,
                },
            ],
            "norms": [
                {
                    "norm": "debt_first_conversation_4w",
                    "n": 412,
                    "n_within": 371,
                    "n_breach": 29,
                    "n_unknown": 12,
                    "share_within": 0.9275,
                },
                {
                    "norm": "participatiewet_decision_8w",
                    "n": 140,
                    "n_within": 131,
                    "n_breach": 4,
                    "n_unknown": 5,
                    "share_within": 0.9704,
                },
            ],
            "caseload": [
                {
                    "week": "2026-W01",
                    "coach": "coach 1",
                    "n_active": 31,
                    "benchmark_low": 30,
                    "benchmark_high": 35,
                },
                {
                    "week": "2026-W01",
                    "coach": "coach 2",
                    "n_active": 38,
                    "benchmark_low": 30,
                    "benchmark_high": 35,
                },
                {
                    "week": "2026-W02",
                    "coach": "coach 1",
                    "n_active": 33,
                    "benchmark_low": 30,
                    "benchmark_high": 35,
                },
                {
                    "week": "2026-W02",
                    "coach": "coach 2",
                    "n_active": 36,
                    "benchmark_low": 30,
                    "benchmark_high": 35,
                },
            ],
            "handovers": [
                {
                    "from_org": "school",
                    "to_org": "doorstroompunt",
                    "n": 88,
                    "median_days": 6.0,
                    "n_out_of_sight": 5,
                }
            ],
        },
        "questionnaire": {
            "response": [
                {"wave": "T0", "group": "pilot", "n_invited": 210, "n_responded": 168, "rate": 0.8},
                {
                    "wave": "T3m",
                    "group": "pilot",
                    "n_invited": 210,
                    "n_responded": 121,
                    "rate": 0.576,
                },
            ],
            "scores": [
                {"instrument": "mhi5", "wave": "T0", "n": 160, "mean": 61.2, "sd": 17.9},
                {"instrument": "mhi5", "wave": "T3m", "n": 115, "mean": 66.8, "sd": 16.2},
            ],
            "reliability": [
                {
                    "instrument": "mhi5",
                    "wave": "T0",
                    "n": 160,
                    "alpha": 0.81,
                    "conf_low": 0.76,
                    "conf_high": 0.85,
                }
            ],
        },
        "monitoring": {
            "registrations": [
                {"period": m, "n_registrations": r, "n_active": a}
                for m, r, a in (
                    ("2025-10", 48, 48),
                    ("2025-11", 61, 102),
                    ("2025-12", 8, 104),
                    ("2026-01", 55, 141),
                )
            ],
            "out_of_sight": [
                {"period": "2025-12", "n_ended": 21, "n_out_of_sight": 3},
                {"period": "2026-01", "n_ended": 34, "n_out_of_sight": 4},
            ],
            "completeness": [
                {"kind": "case_events", "column": "event_date", "n": 9_288, "share_missing": 0.0},
                {"kind": "questionnaire", "column": "mode", "n": 1_240, "share_missing": 0.12},
            ],
        },
        "power": [
            {
                "outcome": "problematic_debt",
                "effect": -0.01,
                "power": 0.34,
                "mde": 0.021,
                "n_sims": 500,
            },
            {"outcome": "neet", "effect": -0.01, "power": 0.27, "mde": 0.026, "n_sims": 500},
        ],
        "exploratory": [
            {
                "id": "debt_by_age",
                "title": {"nl": "Schulden naar leeftijd", "en": "Debts by age"},
                "file": "analyses/debt_by_age.py",
                "tables": [
                    {"age_band": "16-17", "n": 320, "share_debt": 0.03},
                    {"age_band": "18-20", "n": 880, "share_debt": 0.08},
                    {"age_band": "21-27", "n": 1000, "share_debt": 0.11},
                ],
            }
        ],
        "limitations": [
            {"code": "few_treated_clusters", "values": {"n_treated_clusters": 1}},
            {"code": "short_post_period", "values": {"months": 6}},
            {
                "code": "power_below_target",
                "values": {"outcome": "problematic_debt", "power": 0.34, "mde": 0.021},
            },
            {"code": "data_quality", "values": {"rejected_share": 0.0018}},
        ],
        "settings": {
            "disclosure_threshold": 10,
            "languages": ["nl", "en"],
            "pilot_start": "2025-10",
        },
    }
    out = Path(__file__).parent / "bundle_fixture.json"
    out.write_text(
        json.dumps(bundle, indent=1, ensure_ascii=False, sort_keys=True, default=str) + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()

"""The analysis frame: windows, inclusion, outcome definitions, treatment timing, flow."""

from __future__ import annotations

import dataclasses
import typing

import pandas as pd
import pytest
from protocol_helpers import protocol_dict

from evalkit.analysis.descriptives import balance_table, trend_table
from evalkit.analysis.effects import Design
from evalkit.analysis.measures import (
    COHORT,
    PERIOD,
    POST,
    TREAT,
    build_analysis_frame,
    month_index,
    parse_month,
    pre_post_mask,
)
from evalkit.analysis.plan import registered_spec
from evalkit.errors import ProtocolError
from evalkit.pipeline.assemble import BundleInputs
from evalkit.protocol import Protocol
from evalkit.protocol._build import analyse


def _outcome(id_: str, definition: str, role: str) -> dict:
    return {
        "id": id_,
        "label": {"nl": id_, "en": id_},
        "domain": "debts",
        "role": role,
        "type": "binary",
        "source": "outcome_panel",
        "definition": definition,
        "expected_direction": "decrease",
        "smallest_effect": 0.01,
    }


def _protocol(periods: dict | None = None, **units: object) -> Protocol:
    """A typed protocol (read and checked as from YAML): the analysis takes nothing else."""
    raw = protocol_dict(
        units={
            "column": "municipality",
            "treated": [{"unit": "GM9001", "start": "2025-03"}],
            "comparison": ["GM9002"],
            **units,
        },
        periods=periods
        or {
            "pre": {"start": "2025-01", "end": "2025-02"},
            "intervention": {"start": "2025-03", "end": "2025-03"},
            "post": {"start": "2025-04", "end": "2025-05"},
        },
        population={"age_min": 16, "age_max": 27, "inclusion": ["sex != 'X'"]},
        outcomes=[
            _outcome("debt", "problematic_debt", "primary"),
            _outcome("many", "n_creditors >= 3", "secondary"),
        ],
        hypotheses=[],
    )
    protocol, errors, _ = analyse(raw, None)
    assert protocol is not None, errors
    return protocol


def _panel() -> pd.DataFrame:
    rows = []
    people = [
        ("a", "GM9001", 20, "V"),
        ("b", "GM9001", 30, "M"),
        ("c", "GM9002", 17, "M"),
        ("d", "GM9002", 22, "X"),
        ("e", "GM9003", 19, "V"),
    ]
    for pid, gm, age, sex in people:
        for k, month in enumerate(pd.date_range("2024-12-01", "2025-06-01", freq="MS")):
            rows.append(
                {
                    "person_id": pid,
                    "month": month,
                    "municipality": gm,
                    "age": age,
                    "sex": sex,
                    "birth_month": pd.Timestamp("2005-01-01"),
                    "problematic_debt": k % 2 == 0,
                    "n_creditors": k,
                }
            )
    return pd.DataFrame(rows)


def test_month_helpers() -> None:
    origin = parse_month("2025-01")
    assert origin == pd.Timestamp("2025-01-01")
    assert parse_month(pd.Timestamp("2025-03-17")) == pd.Timestamp("2025-03-01")
    assert month_index(pd.Timestamp("2026-02-01"), origin) == 14
    assert list(month_index(pd.Series(pd.to_datetime(["2025-01-01", "2025-12-01"])), origin)) == [
        1,
        12,
    ]


def test_frame_keeps_windows_units_and_eligible_people() -> None:
    af = build_analysis_frame(_panel(), _protocol())
    data = af.data
    # GM9003 is neither pilot nor comparison; b is 30; d is excluded by the inclusion rule;
    # December 2024 and June 2025 fall outside the windows.
    assert sorted(data["person_id"].unique()) == ["a", "c"]
    assert data[PERIOD].min() == 1 and data[PERIOD].max() == 5
    steps = {s["step"]: s for s in af.flow}
    assert steps["rows_in_store"]["n_person_months"] == 35
    assert steps["in_pilot_or_comparison_units"]["n_persons"] == 4
    assert steps["in_protocol_windows"]["n_person_months"] == 20
    assert steps["eligible"]["n_persons"] == 2
    assert steps["analysed"]["n_person_months"] == 10


def test_treatment_timing_and_outcomes() -> None:
    af = build_analysis_frame(_panel(), _protocol())
    a = af.data.loc[af.data["person_id"] == "a"].set_index(PERIOD)
    c = af.data.loc[af.data["person_id"] == "c"].set_index(PERIOD)
    assert set(a[COHORT]) == {3} and set(c[COHORT]) == {0}
    assert list(a[TREAT]) == [0, 0, 1, 1, 1] and list(c[TREAT]) == [0] * 5
    assert list(a[POST]) == [0, 0, 1, 1, 1]
    # January 2025 is the panel's second month (k=1): debt false, 1 creditor.
    assert a.loc[1, "debt"] == 0.0 and a.loc[2, "debt"] == 1.0
    assert a.loc[3, "many"] == 1.0 and a.loc[1, "many"] == 0.0
    assert af.period_label(3) == "2025-03"


def test_anticipation_moves_treatment_earlier() -> None:
    af = build_analysis_frame(_panel(), _protocol(anticipation_months=1))
    a = af.data.loc[af.data["person_id"] == "a"]
    assert list(a[TREAT]) == [0, 1, 1, 1, 1]


def test_pre_and_post_masks_leave_out_the_intervention_months() -> None:
    af = build_analysis_frame(_panel(), _protocol())
    pre, post = pre_post_mask(af)
    periods = af.data[PERIOD].to_numpy()
    assert set(periods[pre]) == {1, 2} and set(periods[post]) == {4, 5}


def test_missing_treated_unit_is_named() -> None:
    protocol = _protocol(treated=[{"unit": "GM9999", "start": "2025-03"}])
    with pytest.raises(ProtocolError, match="GM9999"):
        build_analysis_frame(_panel(), protocol)


def test_trends_and_balance() -> None:
    protocol = _protocol()
    af = build_analysis_frame(_panel(), protocol)
    trends = pd.DataFrame(trend_table(af, ["debt"]))
    assert set(trends["group"]) == {"pilot", "comparison"}
    assert len(trends) == 10 and (trends["n"] == 1).all()
    balance = {r["variable"]: r for r in balance_table(af, ["debt"])}
    assert balance["age"]["pilot_mean"] == 20 and balance["age"]["comparison_mean"] == 17
    assert balance["age"]["n_pilot"] == 1 and balance["age"]["n_comparison"] == 1
    assert balance["sex=V"]["pilot_mean"] == 1.0 and balance["sex=V"]["comparison_mean"] == 0.0


def _estimator_rows(protocol: Protocol) -> tuple[set[int], set[int]]:
    """Periods of the registered 2×2's pre and post rows, and the descriptives' pre window."""
    af = build_analysis_frame(_panel(), protocol)
    spec = registered_spec(protocol).with_(estimator="2x2")
    rows, _ = Design.of(af, protocol).columns(af.data, "debt", spec)
    pre, _ = pre_post_mask(af)
    return set(rows[PERIOD]), set(af.data.loc[pre, PERIOD])


def test_one_windows_object_moves_every_reader_of_the_windows() -> None:
    base = _protocol()
    assert base.analysis.estimator == "twfe"
    assert _estimator_rows(base) == ({1, 2, 4, 5}, {1, 2})
    # anticipation: the estimator leaves the month before the start out, the
    # descriptives keep the registered pre window, and _treat starts a month earlier
    ahead = _protocol(anticipation_months=1)
    assert _estimator_rows(ahead) == ({1, 4, 5}, {1, 2})
    assert build_analysis_frame(_panel(), ahead).windows.untreated_end == 1
    # a shorter registered pre window moves both
    shorter = _protocol(
        periods={
            "pre": {"start": "2025-01", "end": "2025-01"},
            "intervention": {"start": "2025-02", "end": "2025-03"},
            "post": {"start": "2025-04", "end": "2025-05"},
        }
    )
    assert _estimator_rows(shorter) == ({1, 4, 5}, {1})
    windows = build_analysis_frame(_panel(), shorter).windows
    assert (windows.pre_end, windows.intervention_start, windows.post_start) == (1, 2, 4)


def test_the_estimator_refuses_a_frame_built_with_other_windows() -> None:
    af = build_analysis_frame(_panel(), _protocol())
    with pytest.raises(ValueError, match="other windows"):
        Design.of(af, _protocol(anticipation_months=1))


def test_the_bundle_is_computed_from_the_typed_protocol() -> None:
    hints = typing.get_type_hints(BundleInputs)
    assert hints["protocol"] is Protocol
    assert not [n for n, t in hints.items() if typing.get_origin(t) is dict and "protocol" in n]
    assert typing.get_type_hints(build_analysis_frame)["protocol"] is Protocol


def test_a_cluster_that_splits_a_unit_is_refused() -> None:
    # a person-level column varies within a municipality: every cluster would hold the
    # pilot municipality, and the few-treated and cluster-robust p-values would mean nothing
    protocol = _protocol()
    by_person = dataclasses.replace(
        protocol, analysis=dataclasses.replace(protocol.analysis, cluster="n_creditors")
    )
    with pytest.raises(ProtocolError, match=r"'n_creditors' takes 5 values within municipality"):
        build_analysis_frame(_panel(), by_person)
    panel = _panel().assign(region=lambda f: f["municipality"].map({"GM9001": "AM01"}))
    by_region = dataclasses.replace(
        protocol, analysis=dataclasses.replace(protocol.analysis, cluster="region")
    )
    with pytest.raises(ProtocolError, match="'region' is missing in"):
        build_analysis_frame(panel, by_region)
    panel["region"] = panel["region"].fillna("AM02")  # whole municipalities: accepted
    assert build_analysis_frame(panel, by_region).data["region"].nunique() == 2

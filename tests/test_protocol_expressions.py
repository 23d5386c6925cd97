"""The safe expression language: what it computes, what it refuses, and its messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import ProtocolError
from evalkit.protocol._schemas import load_schemas
from evalkit.protocol.expressions import check_expression, evaluate, names_used


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [16, 20, 30, None],
            "birth_month": pd.to_datetime(["2007-11-01", "2005-01-01", "2007-10-01", None]),
            "month": pd.to_datetime(["2025-10-01", "2025-11-01", "2026-01-01", "2026-02-01"]),
            "neet": [True, False, True, False],
            "employed": pd.array([False, True, None, True], dtype="boolean"),
            "school_type": ["pro", "vso", None, "mbo1"],
            "n_creditors": [0, 3, None, 12],
            "debt_sources": ["BKR;CJIB", None, "DUO", "zorgverzekeraar"],
        }
    )


def _list(series: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in series.tolist()]


def test_comparisons_and_logic_keep_missing(frame: pd.DataFrame):
    assert _list(evaluate("age >= 16 and age <= 27", frame)) == [True, True, False, None]
    assert _list(evaluate("16 <= age <= 27", frame)) == [True, True, False, None]
    assert _list(evaluate("neet or employed", frame)) == [True, True, True, True]
    assert _list(evaluate("not employed", frame)) == [True, False, None, False]
    # False and missing is False; True and missing is missing
    assert _list(evaluate("employed and neet", frame)) == [False, False, None, False]


def test_membership_arithmetic_and_if(frame: pd.DataFrame):
    assert _list(evaluate("school_type in ['pro', 'vso']", frame)) == [True, True, None, False]
    assert _list(evaluate("school_type not in ['pro']", frame)) == [False, True, None, True]
    assert _list(evaluate("n_creditors * 2 + 1", frame)) == [1.0, 7.0, None, 25.0]
    assert _list(evaluate("n_creditors / 0", frame)) == [None, None, None, None]
    assert _list(evaluate("1 if neet else 0", frame)) == [1, 0, 1, 0]


def test_month_functions(frame: pd.DataFrame):
    turns = evaluate("turns_18_between('2025-10', '2025-12')", frame)
    assert _list(turns) == [True, False, True, None]
    assert _list(evaluate("age_at('2025-10')", frame)) == [17.0, 20.0, 18.0, None]
    assert _list(evaluate("months_since('2025-10')", frame)) == [0.0, 1.0, 3.0, 4.0]
    assert _list(evaluate("month_between('2025-11', '2026-01')", frame)) == [
        False,
        True,
        True,
        False,
    ]
    assert _list(evaluate("month >= '2026-01'", frame)) == [False, False, True, True]


def test_months_as_text_and_periods(frame: pd.DataFrame):
    text = frame.assign(
        birth_month=["2007-11", "2005-01", "2007-10", None],
        month=frame["month"].dt.to_period("M"),
    )
    assert _list(evaluate("turns_18_between('2025-10', '2025-12')", text)) == [
        True,
        False,
        True,
        None,
    ]
    assert _list(evaluate("month >= '2026-01'", text)) == [False, False, True, True]


def test_other_functions(frame: pd.DataFrame):
    assert _list(evaluate("coalesce(n_creditors, 0)", frame)) == [0.0, 3.0, 0.0, 12.0]
    assert _list(evaluate("is_missing(school_type)", frame)) == [False, False, True, False]
    assert _list(evaluate("between(n_creditors, 1, 10)", frame)) == [False, True, None, False]
    assert _list(evaluate("count_of(neet, employed)", frame)) == [1.0, 1.0, 1.0, 1.0]
    assert _list(evaluate("any_of(neet, employed)", frame)) == [True, True, True, True]
    assert _list(evaluate("all_of(neet, employed)", frame)) == [False, False, None, False]
    assert _list(evaluate("contains(debt_sources, 'cjib')", frame)) == [True, None, False, False]
    assert _list(evaluate("mean_of(age, n_creditors)", frame)) == [8.0, 11.5, 30.0, 12.0]
    assert _list(evaluate("abs(0 - n_creditors)", frame)) == [0.0, 3.0, None, 12.0]


def test_days_between_per_case():
    events = pd.DataFrame(
        {
            "case_id": ["a", "a", "a", "b", "b"],
            "event_type": ["registration", "first_conversation", "plan", "registration", "exit"],
            "event_date": pd.to_datetime(
                ["2025-01-01", "2025-01-15", "2025-02-01", "2025-03-01", "2025-03-10"]
            ),
        }
    )
    days = evaluate("days_between('registration', 'first_conversation')", events)
    assert _list(days) == [14.0, 14.0, 14.0, None, None]


def test_scale_mean_uses_the_schema_items():
    items = load_schemas()["questionnaire"].instruments["zrm"]
    frame = pd.DataFrame({item: [2.0, 4.0] for item in items})
    frame.loc[1, items[0]] = np.nan
    assert _list(evaluate("scale_mean('zrm')", frame)) == [2.0, 4.0]


def test_evaluate_refuses_unsafe_and_missing_columns(frame: pd.DataFrame):
    with pytest.raises(ProtocolError, match="is not allowed") as info:
        evaluate("__import__('os').system('true')", frame)
    assert any("attribute access" in p for p in info.value.problems)
    with pytest.raises(ProtocolError, match="uses column\\(s\\) the data lack: income"):
        evaluate("income > 0", frame)
    with pytest.raises(ProtocolError, match="cannot parse"):
        evaluate("age >", frame)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "empty expression"),
        ("age >", "cannot parse 'age >'"),
        ("neet & employed", "'&' is not allowed; use 'and'"),
        ("neet | employed", "'|' is not allowed; use 'or'"),
        ("age ** 2", "'**' is not allowed"),
        ("neet[0]", "indexing (a[...]) is not allowed"),
        ("[x for x in age]", "comprehensions are not allowed"),
        ("lambda: 1", "lambda is not allowed"),
        ("age is None", "'is' is not allowed; use is_missing(x) or =="),
        ("open('f')", "unknown function 'open'"),
        ("coalesce(age)", "coalesce() takes at least 2 argument(s), got 1"),
        ("age_at(month)", "argument 1 of age_at() must be a quoted text"),
        ("turns_18_between('2025-10', '2025-13')", "must be a month 'YYYY-MM', got '2025-13'"),
        ("agee > 16", "unknown column 'agee' (did you mean 'age'?)"),
        ("sex == 'F'", "'sex' never equals 'F'"),
        ("school_type in 'pro'", "'in' needs a list of values"),
        ("scale_mean('zrn')", "unknown instrument 'zrn'"),
        ("between(age, 1)", "between() takes 3 argument(s), got 2"),
        ("age_at('2025-01', base=1)", "takes no keyword arguments"),
    ],
)
def test_check_expression_messages(expr: str, message: str):
    columns = load_schemas()["outcome_panel"].columns
    problems = check_expression(expr, columns)
    assert any(message in p for p in problems), problems


def test_check_expression_accepts_valid_rules_and_plain_column_lists():
    columns = load_schemas()["outcome_panel"].columns
    for expr in [
        "problematic_debt",
        "age >= 16 and age <= 27",
        "turns_18_between('2025-10', '2025-12') and school_type in ['pro', 'vso']",
        "debt_help_status in ['arrangement', 'completed']",
        "coalesce(n_creditors, 0) > 2",
    ]:
        assert check_expression(expr, columns) == [], expr
    assert check_expression("a > b", ["a", "b"]) == []
    events = load_schemas()["case_events"].columns
    assert check_expression("days_between('registration', 'plan')", events) == []
    assert any(
        "unknown event type 'plna'" in p
        for p in check_expression("days_between('registration', 'plna')", events)
    )


def test_names_used_includes_implicit_columns():
    assert names_used("turns_18_between('2025-10', '2025-12') and neet") == {"birth_month", "neet"}

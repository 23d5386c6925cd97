"""Every estimator warning has a stable code and values; the English text is rendered from them."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.did import estimate
from evalkit.did.notes import TEMPLATES, Note, Notes, fields
from evalkit.errors import DroppedRowsWarning, EstimationError

#: A value for every placeholder name the catalogue uses.
SAMPLE = {
    "n": 3,
    "total": 60,
    "kept": 57,
    "left_out": 2,
    "outcome": "y",
    "cohorts": [4, 7],
    "cohort": 2005,
    "treated": 1,
    "clusters": 12,
    "threshold": 5,
    "comparison": 11,
    "placebos": 11,
    "assignments": 12,
    "smallest": 1 / 12,
    "size": 1 / 35,
    "alpha": 0.05,
    "level": 0.95,
    "draws": 4096,
    "failed": 2,
    "method": "conley_taber",
    "reason": "too large to compute here",
    "event_times": [-5, -4],
    "first_period": 2003,
    "periods": 5,
    "pre_periods": 2,
    "post_periods": 28,
    "anticipation": 0,
    "group": 2004,
    "time": 2006,
    "range_low": -1.0,
    "range_high": 1.0,
    "units": "municipality",
    "definition": "age > 99",
    "value": 0.0,
    "outside": 9,
    "rmse": 48.2,
    "spread": 1.3,
}


def _panel(n_clusters: int, treated: dict[int, int], sizes: list[int]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for g in range(n_clusters):
        for i in range(sizes[g]):
            a = rng.normal()
            for t in range(1, 7):
                c = treated.get(g, 0)
                d = float(c > 0 and t >= c)
                rows.append((f"c{g}u{i}", f"m{g}", t, c, a + 0.3 * t + 0.5 * d + rng.normal()))
    return pd.DataFrame(rows, columns=["id", "muni", "t", "cohort", "y"])


def _aligned(out: dict) -> None:
    assert len(out["warning_codes"]) == len(out["warnings"]) > 0
    for text, entry in zip(out["warnings"], out["warning_codes"], strict=True):
        assert entry["code"] in TEMPLATES
        assert Note(entry["code"], entry["values"]).text == text
    assert json.loads(json.dumps(out, allow_nan=False))["warning_codes"] == out["warning_codes"]


def test_every_template_renders_from_its_values() -> None:
    unknown = {name for code in TEMPLATES for name in fields(code)} - set(SAMPLE)
    assert not unknown, f"add a sample value for {sorted(unknown)}"
    for code in TEMPLATES:
        text = Note(code, {k: SAMPLE[k] for k in fields(code)}).text
        assert "{" not in text and "}" not in text, code


def test_unbounded_note_reads_as_before() -> None:
    values = {k: SAMPLE[k] for k in fields("conley_taber_unbounded")}
    assert Note("conley_taber_unbounded", values).text == (
        "Conley–Taber: with 1 treated and 11 comparison clusters there are only 11 placebo "
        "estimates, so the smallest p-value this design can produce is 1/12 = 0.083, above "
        "alpha = 0.05; no effect of any size can be declared significant at the 95% level and "
        "the interval is unbounded"
    )


def test_a_note_without_its_values_or_with_an_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError, match="treated"):
        Note("wild_unreliable", {})
    with pytest.raises(ValueError, match="no warning template"):
        Note("no_such_code")


@pytest.mark.parametrize(
    ("estimator", "inference"),
    [("twfe", None), ("twfe", "wild"), ("twfe", "analytic"), ("event_study", None)],
)
def test_warnings_and_warning_codes_align(estimator: str, inference: str | None) -> None:
    df = _panel(12, {0: 4}, sizes=[1] + [3] * 11)
    res = estimate(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        cluster="muni",
        estimator=estimator,
        inference=inference,
    )
    out = res.to_dict()
    _aligned(out)
    assert list(out).index("warning_codes") == list(out).index("warnings") + 1
    # the note on the data comes first: notes are listed in the order they arose
    assert out["warning_codes"][0] == {"code": "single_unit_cohorts", "values": {"cohorts": [4]}}
    if inference is None:
        assert out["warning_codes"][1] == {
            "code": "few_treated_permutation",
            "values": {"treated": 1, "comparison": 11, "clusters": 12, "threshold": 10},
        }


def test_callaway_santanna_codes_align_with_permutation_and_dropped_rows() -> None:
    df = _panel(10, {0: 3, 1: 5}, sizes=[3] * 10)
    df.loc[[0, 7], "y"] = np.nan
    res = estimate(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        cluster="muni",
        estimator="callaway_santanna",
        allow_unbalanced_panel=True,
    )
    out = res.to_dict()
    _aligned(out)
    codes = [c["code"] for c in out["warning_codes"]]
    assert codes[0] == "cs_few_treated_permutation" and "cs_dropped_missing" in codes
    assert codes[-1] == "cs_rows_descriptive"


@pytest.mark.parametrize(
    "estimator", ["twfe", "2x2", "event_study", "imputation", "sun_abraham", "callaway_santanna"]
)
def test_notes_come_on_the_result_and_no_python_warning_is_issued(estimator: str) -> None:
    df = _panel(12, {0: 4, 1: 3, 2: 3}, sizes=[1] + [3] * 11)
    df.loc[[45, 70], "y"] = np.nan  # two rows of comparison units
    design: dict = {"cohort": "cohort"}
    if estimator == "2x2":
        df = df.assign(grp=(df["cohort"] > 0).astype(int), post=(df["t"] >= 4).astype(int))
        design = {"treated": "grp", "post": "post"}
    extra = {"allow_unbalanced_panel": True} if estimator == "callaway_santanna" else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = estimate(df, outcome="y", unit="id", time="t", estimator=estimator, **design, **extra)
    assert not caught, [str(w.message) for w in caught]
    coded = {n.code: n for n in res.notes}
    dropped = (
        "cs_dropped_missing" if estimator == "callaway_santanna" else "dropped_missing_outcome"
    )
    assert dropped in coded
    if estimator == "callaway_santanna":
        assert coded[dropped].values == {"n": 2, "total": len(df)}
    else:
        assert coded[dropped].values == {
            "n": 2,
            "outcome": "y",
            "kept": len(df) - 2,
            "total": len(df),
        }
    if estimator != "2x2":  # a 2×2 has groups, not cohorts
        small = (
            "cs_single_unit_cohorts" if estimator == "callaway_santanna" else "single_unit_cohorts"
        )
        assert coded[small].values == {"cohorts": [4]}
    out = res.to_dict()
    assert out["warnings"] == [n.text for n in res.notes]
    assert out["warning_codes"] == [n.to_dict() for n in res.notes]
    for code, note in coded.items():
        assert Note(code, note.values).text == note.text
        assert pickle.loads(pickle.dumps(note)) == note


def test_notes_before_a_failure_reach_the_collector() -> None:
    df = _panel(12, {0: 4}, sizes=[1] + [3] * 11)
    df.loc[[5, 9], "y"] = np.nan
    noted = Notes()
    with pytest.raises(EstimationError, match="weights must be one of"):
        estimate(
            df,
            outcome="y",
            unit="id",
            time="t",
            cohort="cohort",
            cluster="muni",
            estimator="twfe",
            inference="wild",
            weights="no such weights",
            notes=noted,
        )
    assert [n.code for n in noted] == ["dropped_missing_outcome", "single_unit_cohorts"]


def test_a_warning_class_still_works_without_a_code() -> None:
    with pytest.warns(DroppedRowsWarning, match="plain") as record:
        warnings.warn("plain", DroppedRowsWarning, stacklevel=1)
    assert record[0].message.code is None and record[0].message.values == {}

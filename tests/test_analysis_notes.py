"""Bundle rows carry every note of an estimate, taken from the result (no Python warnings)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from evalkit.analysis.did_bridge import did_record
from evalkit.analysis.quiet import estimate_quietly, fit_quietly, infer_quietly
from evalkit.spec import Spec

COLUMNS = {"outcome": "y", "unit": "id", "time": "t", "cohort": "cohort"}


def _panel() -> pd.DataFrame:
    """12 municipalities of 3 persons; m0 starts at 3, except one person of it at 4."""
    rng = np.random.default_rng(7)
    rows = []
    for g in range(12):
        for i in range(3):
            a = rng.normal()
            c = (4 if i == 0 else 3) if g == 0 else 0
            for t in range(1, 7):
                d = float(c > 0 and t >= c)
                rows.append((f"c{g}u{i}", f"m{g}", t, c, a + 0.3 * t + 0.5 * d + rng.normal()))
    df = pd.DataFrame(rows, columns=["id", "muni", "t", "cohort", "y"])
    df.loc[[40, 41], "y"] = np.nan  # two rows of a comparison person
    return df


def test_did_record_lists_the_notes_in_the_order_they_arose() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = did_record(_panel(), **COLUMNS, estimator="twfe", cluster="muni")
    assert not caught, [str(w.message) for w in caught]
    assert rec["status"] == "ok"
    codes = [c["code"] for c in rec["warning_codes"]]
    assert codes[:2] == ["dropped_missing_outcome", "single_unit_cohorts"]
    assert codes[2] == "few_treated_permutation"
    assert rec["warnings"].split("; ")[0].startswith("2 row(s) with a missing outcome 'y'")


def test_did_record_keeps_the_notes_made_before_the_estimate_failed() -> None:
    # permutation needs one start per cluster; m0 has two, found after the data were prepared
    rec = did_record(_panel(), **COLUMNS, estimator="twfe", cluster="muni", inference="permutation")
    assert rec["status"].startswith("not_estimable: inference='permutation' needs a treatment")
    assert [c["code"] for c in rec["warning_codes"]] == [
        "dropped_missing_outcome",
        "single_unit_cohorts",
    ]
    assert rec["estimate"] is None


def test_bundle_rows_list_the_estimates_notes_before_those_on_the_data() -> None:
    spec = Spec("twfe", cluster="muni", inference="analytic")
    row, on_data = estimate_quietly(_panel(), spec, **COLUMNS)
    assert row is not None
    codes = [c["code"] for c in row["warning_codes"]]
    assert codes == ["few_treated_cr1", "dropped_missing_outcome", "single_unit_cohorts"]
    assert row["warnings"][1:] == on_data
    assert len(row["warnings"]) == len(row["warning_codes"])
    fitted = fit_quietly(_panel(), spec, **COLUMNS)
    both = {m: infer_quietly(fitted, m) for m in ("analytic", "wild")}
    assert both["analytic"][0] is not None and both["wild"][0] is not None
    assert both["analytic"][0]["warning_codes"] == row["warning_codes"]
    wild = [c["code"] for c in both["wild"][0]["warning_codes"]]
    assert wild[-2:] == ["dropped_missing_outcome", "single_unit_cohorts"]
    assert "wild_unreliable" in wild and "few_treated_cr1" not in wild


def test_an_estimate_that_cannot_run_says_why() -> None:
    spec = Spec("twfe", cluster="muni", inference="permutation")
    row, errors = estimate_quietly(_panel(), spec, **COLUMNS)
    assert row is None
    assert errors == [
        "EstimationError: inference='permutation' needs a treatment that starts at the same "
        "period for every row of a cluster; use inference='wild' or 'analytic'"
    ]
    # inferred on one fit, the failure reads the same and the fit stays usable
    fitted = fit_quietly(_panel(), spec, **COLUMNS)
    assert infer_quietly(fitted) == (None, errors)
    assert infer_quietly(fitted, "analytic")[0] is not None

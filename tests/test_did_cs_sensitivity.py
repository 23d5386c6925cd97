"""HonestDiD sensitivity of a Callaway–Sant'Anna dynamic aggregation (issue #16, item 1).

The covariance handed to HonestDiD is checked against R ``did`` 2.5.1 on ``mpdta``
(scenario S6 of tests/reference/mpdta: no covariates, never-treated comparison,
doubly robust, universal base period): its diagonal gives R's event-time standard
errors, and the variance of the mean of the post-period rows gives R's standard error
of the dynamic aggregation's overall value, which checks the covariances too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.did import estimate, sensitivity
from evalkit.errors import EstimationError

REF = Path(__file__).parent / "reference" / "mpdta"
COLUMNS = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REF / "mpdta.csv")


@pytest.fixture(scope="module")
def r_dynamic() -> pd.DataFrame:
    ref = pd.read_csv(REF / "r_aggte.csv")
    return ref[(ref["scenario"] == "S6") & (ref["agg"] == "dynamic")].set_index("label")


def _cs(data: pd.DataFrame, **options: object):
    choices: dict[str, object] = {
        "estimator": "callaway_santanna",
        "control": "never",
        "method": "dr",
        "base_period": "universal",
        "inference": "analytic",
        **options,
    }
    return estimate(data, **COLUMNS, **choices)


def test_dynamic_covariance_gives_r_did_standard_errors(
    mpdta: pd.DataFrame, r_dynamic: pd.DataFrame
) -> None:
    res = _cs(mpdta)
    rows = res.aggregations["dynamic"]["rows"]
    cov = np.asarray(res.dynamic_vcov)
    for i, e in enumerate(rows["event_time"]):
        theirs = r_dynamic.loc[str(e), "se"]
        if pd.isna(theirs):  # the reference period −1: an estimate of 0 by construction
            assert cov[i, i] == pytest.approx(0.0, abs=1e-20)
            continue
        assert np.sqrt(cov[i, i]) == pytest.approx(float(theirs), rel=1e-6)
    post = (rows["event_time"] >= 0).to_numpy(float)
    mean = post / post.sum()
    overall = float(r_dynamic.loc["overall", "se"])
    assert np.sqrt(mean @ cov @ mean) == pytest.approx(overall, rel=1e-6)


@pytest.mark.parametrize(
    ("restriction", "bounds"), [("relative_magnitudes", [0.5, 1.0, 2.0]), ("smoothness", [0.0])]
)
def test_sensitivity_is_honestdid_on_the_dynamic_rows(
    mpdta: pd.DataFrame, restriction: str, bounds: list[float]
) -> None:
    res = _cs(mpdta, sensitivity=restriction, bounds=bounds)
    rows = res.aggregations["dynamic"]["rows"]
    keep = (rows["event_time"] != -1).to_numpy()
    cov = np.asarray(res.dynamic_vcov)[np.ix_(keep, keep)]
    n_pre = int((rows["event_time"] < -1).sum())
    n_post = int((rows["event_time"] >= 0).sum())
    direct = sensitivity(
        rows["att"].to_numpy()[keep],
        cov,
        num_pre=n_pre,
        num_post=n_post,
        restriction=restriction,
        bounds=bounds,
        l_vec=[1 / n_post] * n_post,
    ).to_dict()
    out = res.to_dict()
    assert [r["bound"] for r in out["sensitivity"]] == bounds
    for mine, theirs in zip(out["sensitivity"], direct["rows"], strict=True):
        assert mine["lb"] == pytest.approx(theirs["lb"], abs=1e-12)
        assert mine["ub"] == pytest.approx(theirs["ub"], abs=1e-12)
    # the original interval is the dynamic aggregation's overall 95 % interval
    overall = res.aggregations["dynamic"]["overall"]
    assert out["sensitivity_analysis"]["original"]["lb"] == pytest.approx(overall["conf_low"])
    assert out["sensitivity_analysis"]["original"]["ub"] == pytest.approx(overall["conf_high"])


def test_varying_base_period_is_refused_with_the_reason(mpdta: pd.DataFrame) -> None:
    with pytest.raises(EstimationError, match="base_period='universal'"):
        _cs(mpdta, base_period="varying", sensitivity="relative_magnitudes")


def test_without_sensitivity_the_json_has_no_sensitivity_keys(mpdta: pd.DataFrame) -> None:
    out = _cs(mpdta).to_dict()
    assert "sensitivity" not in out and "sensitivity_analysis" not in out


def test_cli_adds_the_sensitivity_list(
    mpdta: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mpdta.csv"
    mpdta.to_csv(path, index=False)
    args = ["did", "--data", str(path), "--outcome", "lemp", "--unit", "countyreal"]
    args += ["--time", "year", "--cohort", "first.treat", "--estimator", "callaway_santanna"]
    args += ["--base-period", "universal", "--inference", "analytic"]
    args += ["--sensitivity", "relative_magnitudes", "--bounds", "0.5,1", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    python = _cs(mpdta, sensitivity="relative_magnitudes", bounds=[0.5, 1.0]).to_dict()
    assert out["sensitivity"] == python["sensitivity"]
    assert len(out["sensitivity"]) == 2

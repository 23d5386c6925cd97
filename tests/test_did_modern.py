"""Imputation (Borusyak–Jaravel–Spiess) and Sun–Abraham against didimputation and fixest's sunab."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from evalkit.cli import main
from evalkit.did import estimate, sensitivity
from evalkit.did._data import prepare
from evalkit.did.imputation import imputation
from evalkit.errors import EstimationError

REF = Path(__file__).parent / "reference"
IMP = json.loads((REF / "didimputation" / "published.json").read_text(encoding="utf-8"))
HON = json.loads((REF / "honestdid" / "published.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def df_het() -> pd.DataFrame:
    return pd.read_csv(REF / "didimputation" / "df_het.csv.gz")


@pytest.fixture(scope="module")
def ehec() -> pd.DataFrame:
    return pd.read_csv(REF / "honestdid" / "ehec_data.csv")


def _imp(df: pd.DataFrame, **kw: object) -> dict:
    res = estimate(
        df,
        outcome="dep_var",
        unit="unit",
        time="year",
        cohort="g",
        estimator="imputation",
        **kw,
    )
    return res.to_dict()


def test_static_imputation_equals_didimputation(df_het: pd.DataFrame) -> None:
    ref = IMP["static"]
    got = _imp(df_het)
    assert got["estimator"] == "imputation"
    assert got["att"] == pytest.approx(ref["estimate"], abs=5e-7)  # 7 significant digits printed
    assert got["se"] == pytest.approx(ref["std_error"], rel=1e-6)
    assert got["ci_low"] == pytest.approx(ref["conf_low"], abs=1e-4)  # R uses 1.96
    assert got["n_obs"] == len(df_het) and got["n_clusters"] == 1000


def test_imputation_event_study_equals_didimputation(df_het: pd.DataFrame) -> None:
    rows = {r["term"]: r for r in IMP["event_study"]["rows"]}
    got = {r["event_time"]: r for r in _imp(df_het)["event_study"]}
    assert sorted(got) == sorted(rows)
    for e, ref in rows.items():
        assert got[e]["att"] == pytest.approx(ref["estimate"], abs=1e-6), e  # fixest demeaning
        if e >= 0:
            assert got[e]["se"] == pytest.approx(ref["std_error"], rel=1e-6), e
    # The README's lead standard errors are the iid ones of the pre-trend regression;
    # evalkit clusters them by unit, and reproduces the README with lead_vcov="iid".
    prep = prepare(
        df_het,
        outcome="dep_var",
        unit="unit",
        time="year",
        cohort="g",
        treated=None,
        post=None,
        covariates=(),
        cluster=None,
    )
    iid = imputation(prep, lead_vcov="iid").horizons.set_index("event_time")
    for e in range(-5, 0):
        assert iid.loc[e, "se"] == pytest.approx(rows[e]["std_error"], rel=1e-6)
        assert got[e]["se"] != pytest.approx(rows[e]["std_error"], rel=1e-3)


def test_imputation_point_estimate_equals_pyfixest_did2s(df_het: pd.DataFrame) -> None:
    """Two routes to one number: Gardner's two-stage estimator has the same point estimate."""
    d = df_het.assign(treat=((df_het["g"] > 0) & (df_het["year"] >= df_het["g"])).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.did2s(
            d,
            yname="dep_var",
            first_stage="~ 0 | unit + year",
            second_stage="~ treat",
            treatment="treat",
            cluster="unit",
        )
    assert _imp(df_het)["att"] == pytest.approx(
        float(fit.coef()["treat"]), abs=1e-6
    )  # both demean iteratively


def test_sun_abraham_equals_fixest_sunab(ehec: pd.DataFrame) -> None:
    """The HonestDiD README's sunab event study (all cohorts of the Medicaid data)."""
    ref = HON["sunab_relative_magnitudes"]
    res = estimate(
        ehec,
        outcome="dins",
        unit="stfips",
        time="year",
        cohort="yexp2",
        estimator="sun_abraham",
    )
    es = res.to_dict()["event_study"]
    assert [r["event_time"] for r in es] == [int(e) for e in ref["event_times"]]
    np.testing.assert_allclose([r["att"] for r in es], ref["betahat"], atol=1e-6, rtol=0)
    np.testing.assert_allclose([r["se"] for r in es], np.sqrt(np.diag(ref["sigma"])), rtol=1e-4)


def test_sun_abraham_sensitivity_reproduces_the_readme(
    ehec: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """From the data to HonestDiD's Sun–Abraham table through the command line."""
    ref = HON["sunab_relative_magnitudes"]
    path = tmp_path / "ehec.csv"
    ehec.to_csv(path, index=False)
    code = main(
        [
            "did",
            "--data",
            str(path),
            "--outcome",
            "dins",
            "--unit",
            "stfips",
            "--time",
            "year",
            "--cohort",
            "yexp2",
            "--estimator",
            "sun_abraham",
            "--sensitivity",
            "relative_magnitudes",
            "--bounds",
            "0.5,1",
            "--sensitivity-target",
            "first",
            "--json",
        ]
    )
    assert code == 0
    got = json.loads(capsys.readouterr().out)
    # Same as HonestDiD on the README's cached fixest inputs (compared with R's own table
    # in test_did_honest), to one step of the grid.
    direct = sensitivity(
        ref["betahat"], np.array(ref["sigma"]), num_pre=10, num_post=6, bounds=[0.5, 1]
    )
    step = 40 * float(np.sqrt(ref["sigma"][10][10])) / 999
    for row, lb, ub in zip(got["sensitivity"], direct.table["lb"], direct.table["ub"], strict=True):
        assert abs(row["lb"] - lb) <= step + 1e-9 and abs(row["ub"] - ub) <= step + 1e-9
    assert got["sensitivity_analysis"]["original"]["lb"] == pytest.approx(
        ref["original"][0], abs=1e-6
    )


def test_json_keys_and_errors(df_het: pd.DataFrame) -> None:
    got = _imp(df_het.head(3100))
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
        "event_study",
    ):
        assert key in got
    assert set(got["event_study"][0]) >= {"event_time", "att", "se"}
    with pytest.raises(EstimationError, match="not available for imputation"):
        estimate(
            df_het,
            outcome="dep_var",
            unit="unit",
            time="year",
            cohort="g",
            estimator="imputation",
            inference="conley_taber",
        )
    never = df_het[df_het["g"] > 0]
    with pytest.raises(EstimationError, match="never-treated"):
        estimate(
            never, outcome="dep_var", unit="unit", time="year", cohort="g", estimator="sun_abraham"
        )

"""``evalkit did`` on real files (Dutch CSV, XLSX, SAV, Parquet) prints result.to_dict()."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.did import estimate
from evalkit.errors import EstimationError

KEYS = (
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
)


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(40):
        muni = f"gemeente-{i % 8}"
        cohort = 4 if i % 8 in (0, 1) else 0
        for t in range(1, 7):
            d = int(cohort > 0 and t >= cohort)
            rows.append((f"p{i:03d}", muni, t, cohort, d, round(rng.normal() + 0.8 * d, 4)))
    return pd.DataFrame(rows, columns=["person", "muni", "month", "cohort", "treat", "score"])


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["did", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_equals_to_dict_for_a_dutch_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = _frame()
    path = tmp_path / "panel.csv"
    df.to_csv(path, sep=";", decimal=",", index=False)
    code, out, err = _run(
        capsys,
        "--data",
        str(path),
        "--outcome",
        "score",
        "--unit",
        "person",
        "--time",
        "month",
        "--cohort",
        "cohort",
        "--cluster",
        "muni",
        "--estimator",
        "twfe",
        "--json",
    )
    assert code == 0, err
    got = json.loads(out)
    assert all(k in got for k in KEYS)
    want = estimate(
        df,
        outcome="score",
        unit="person",
        time="month",
        cohort="cohort",
        cluster="muni",
        estimator="twfe",
    ).to_dict()
    assert got == want
    assert got["inference"] == "permutation" and got["n_treated_clusters"] == 2
    assert any("only 2 treated and 6 comparison clusters" in w for w in got["warnings"])


@pytest.mark.parametrize("as_json", [True, False])
def test_notes_are_shown_in_words_and_no_python_warning_is_issued(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    df = _frame()
    df.loc[[3, 10], "score"] = np.nan
    path = tmp_path / "panel.csv"
    df.to_csv(path, sep=";", decimal=",", index=False)
    args = ["--data", str(path), "--outcome", "score", "--unit", "person", "--time", "month"]
    args += ["--cohort", "cohort", "--cluster", "muni", "--estimator", "twfe"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = _run(capsys, *args, *(["--json"] if as_json else []))
    assert code == 0, err
    assert not caught, [str(w.message) for w in caught]
    dropped = "2 row(s) with a missing outcome 'score' were dropped (238 of 240 rows remain)"
    few = "only 2 treated and 6 comparison clusters"
    if as_json:
        got = json.loads(out)
        assert got["warnings"][0] == dropped
        assert got["warning_codes"][0]["code"] == "dropped_missing_outcome"
        lines = err.splitlines()
        assert lines[0] == f"warning: {dropped}" and few in lines[1]
        assert len(lines) == len(got["warnings"])
    else:
        assert f"warning: {dropped}" in out and few in out
        assert err == ""


@pytest.mark.parametrize("fmt", ["parquet", "xlsx", "sav"])
def test_other_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    df = _frame()
    path = tmp_path / f"panel.{fmt}"
    if fmt == "parquet":
        df.to_parquet(path)
    elif fmt == "xlsx":
        df.to_excel(path, index=False)
    else:
        import pyreadstat

        pyreadstat.write_sav(df, str(path))
    code, out, err = _run(
        capsys,
        "--data",
        str(path),
        "--outcome",
        "score",
        "--unit",
        "person",
        "--time",
        "month",
        "--treated",
        "treat",
        "--estimator",
        "twfe",
        "--cluster",
        "muni",
        "--inference",
        "permutation",
        "--json",
    )
    assert code == 0, err
    got = json.loads(out)
    assert got["inference"] == "permutation"
    assert got["inference_detail"]["assignments"] == 28
    assert got["att"] == pytest.approx(0.8, abs=0.6)


def test_two_by_two_and_summary_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = _frame()
    df["pilot"] = (df["cohort"] > 0).astype(int)
    df["post"] = (df["month"] >= 4).astype(int)
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    code, out, err = _run(
        capsys,
        "--data",
        str(path),
        "--outcome",
        "score",
        "--treated",
        "pilot",
        "--post",
        "post",
        "--estimator",
        "2x2",
        "--vcov",
        "hetero",
    )
    assert code == 0, err
    assert "evalkit DiD: 2x2" in out and "ATT (group × post)" in out


def test_user_error_is_one_line_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = _frame()
    df.loc[3, "cohort"] = 5
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    code, _, err = _run(
        capsys,
        "--data",
        str(path),
        "--outcome",
        "score",
        "--unit",
        "person",
        "--time",
        "month",
        "--cohort",
        "cohort",
        "--json",
    )
    assert code == 1
    assert err.startswith("evalkit did:") and "'p000'" in err and "0 or empty" in err
    assert "Traceback" not in err
    code, _, err = _run(
        capsys, "--data", str(tmp_path / "missing.csv"), "--outcome", "y", "--cohort", "g"
    )
    assert code == 1 and "no such file" in err


def test_bad_choice_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["did", "--data", "x.csv", "--outcome", "y", "--cohort", "g", "--estimator", "ols"])
    assert info.value.code == 2


@pytest.mark.parametrize("option", [["--alpha", "0"], ["--alpha", "1.5"], ["--n-placebo", "0"]])
def test_an_out_of_range_number_is_a_usage_error(option: list[str]) -> None:
    # --n-placebo 0 was a traceback (IndexError) and --alpha 0 an exit 1 "data" error
    with pytest.raises(SystemExit) as info:
        main(["did", "--data", "x.csv", "--outcome", "y", "--treated", "d", *option])
    assert info.value.code == 2


def test_the_api_refuses_zero_placebos_in_words() -> None:

    rows = [
        (u, t, float(u == 0 and t > 3), u + t + 0.1 * (u * t % 3))
        for u in range(5)
        for t in range(6)
    ]
    data = pd.DataFrame(rows, columns=["u", "t", "d", "y"])
    with pytest.raises(EstimationError, match="n_placebo must be a whole number >= 1"):
        estimate(
            data,
            outcome="y",
            unit="u",
            time="t",
            treated="d",
            estimator="synthetic_did",
            n_placebo=0,
        )

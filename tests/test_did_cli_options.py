"""``evalkit did`` refuses an option its estimator would not read (exit 2, one line)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_did_synthetic import _panel

from evalkit.cli import main
from evalkit.spec import READ_BY


@pytest.fixture(scope="module")
def panel_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = _panel(n_units=12, effect=1.0)
    data["region"] = "r" + (data["unit"].str[1:].astype(int) % 3).astype(str)
    data["x"] = range(len(data))
    data["g"] = (data["d"].groupby(data["unit"]).transform("max") * 21).astype(int)
    path = tmp_path_factory.mktemp("cli") / "panel.csv"
    data.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def cells_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = _panel(n_units=12, effect=1.0)
    data["region"] = "r" + (data["unit"].str[1:].astype(int) % 3).astype(str)
    data["g"] = (data["d"].groupby(data["unit"]).transform("max") * 21).astype(int)
    data["sub"] = 0
    targeted = data.assign(sub=1, y=data["y"] + 0.1 * data.index.to_series() % 0.7)
    path = tmp_path_factory.mktemp("cli") / "cells.csv"
    pd.concat([data, targeted]).to_csv(path, index=False)
    return path


def _run(capsys, path: Path, *args: str) -> tuple[int, str, str]:
    base = ["did", "--data", str(path), "--outcome", "y", "--unit", "unit", "--time", "time"]
    code = main([*base, "--cohort", "g", "--json", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


# every combination that was silently ignored (the same JSON as without the option)
IGNORED = [
    ("synthetic_control", ["--cluster", "region"], "--cluster"),
    ("synthetic_did", ["--cluster", "region"], "--cluster"),
    ("triple_differences", ["--cluster", "region"], "--cluster"),
    ("twfe", ["--inference", "conformal", "--cluster", "region"], "--cluster"),
    ("synthetic_control", ["--vcov", "hetero"], "--vcov"),
    ("synthetic_did", ["--vcov", "iid"], "--vcov"),
    ("synthetic_did", ["--few-treated-threshold", "50"], "--few-treated-threshold"),
    ("synthetic_did", ["--subgroup", "d"], "--subgroup"),
    ("synthetic_control", ["--base", "synthetic_did"], "--base"),
    ("synthetic_did", ["--inference", "conformal", "--n-placebo", "5"], "--n-placebo"),
    ("synthetic_did", ["--control", "notyet"], "--control"),
    ("twfe", ["--method", "reg"], "--method"),
    ("event_study", ["--base-period", "universal"], "--base-period"),
    ("callaway_santanna", ["--vcov", "hetero"], "--vcov"),
    ("imputation", ["--covariates", "x"], "--covariates"),
    ("sun_abraham", ["--covariates", "x"], "--covariates"),
    ("sun_abraham", ["--vcov", "iid"], "--vcov"),
    # analytic, conformal and jackknife inference draw nothing: the seed changed no number
    ("imputation", ["--inference", "analytic", "--seed", "7"], "--seed"),
    ("twfe", ["--inference", "analytic", "--seed", "7"], "--seed"),
    ("callaway_santanna", ["--inference", "analytic", "--seed", "7"], "--seed"),
    ("twfe", ["--inference", "conformal", "--seed", "7"], "--seed"),
    ("synthetic_did", ["--inference", "conformal", "--seed", "7"], "--seed"),
    ("synthetic_control", ["--inference", "jackknife", "--seed", "7"], "--seed"),
]


@pytest.mark.parametrize(("estimator", "extra", "flag"), IGNORED)
def test_an_option_the_estimator_would_ignore_is_a_usage_error(
    capsys, panel_csv: Path, cells_csv: Path, estimator: str, extra: list[str], flag: str
) -> None:
    path = panel_csv
    if estimator == "triple_differences":  # a valid design: both subgroups in every cell
        path, extra = cells_csv, [*extra, "--subgroup", "sub"]
        assert _run(capsys, path, "--estimator", estimator, "--subgroup", "sub")[0] == 0
    code, out, err = _run(capsys, path, "--estimator", estimator, *extra)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"evalkit did: {flag} does not apply to --estimator {estimator}")


def test_sensitivity_target_without_sensitivity_is_refused(capsys, panel_csv: Path) -> None:
    code, out, err = _run(capsys, panel_csv, "--estimator", "twfe", "--sensitivity-target", "first")
    assert (code, out) == (2, "")
    assert err.strip() == "evalkit did: --sensitivity-target needs --sensitivity"


def test_options_the_estimator_reads_still_run(capsys, panel_csv: Path) -> None:
    code, out, _ = _run(
        capsys, panel_csv, "--estimator", "synthetic_did", "--n-placebo", "5", "--seed", "3"
    )
    assert code == 0 and json.loads(out)["inference_detail"]["placebos"] == 5
    code, out, _ = _run(capsys, panel_csv, "--estimator", "twfe", "--cluster", "region")
    assert code == 0 and json.loads(out)["n_clusters"] == 3


def test_every_declared_choice_is_an_option_of_the_command(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["did", "--help"])
    text = capsys.readouterr().out
    for name in READ_BY:
        assert f"--{name.replace('_', '-')}" in text


def test_a_seed_is_read_where_something_is_drawn() -> None:
    """Resampling inference, the few-treated rule and a sensitivity analysis draw from it."""
    from evalkit.spec import Spec, unread

    def refused(**kw: object) -> list[str]:
        return [name for name, _ in unread(Spec(seed=7, **kw))]  # type: ignore[arg-type]

    assert refused(estimator="twfe", inference="analytic") == ["seed"]
    assert refused(estimator="synthetic_did", inference="jackknife") == ["seed"]
    for inference in (None, "wild", "bootstrap", "permutation", "conley_taber"):
        assert refused(estimator="twfe", inference=inference) == [], inference
    assert refused(estimator="synthetic_did", inference="placebo") == []
    sensitivity = {"sensitivity": "relative_magnitudes"}
    assert refused(estimator="event_study", inference="analytic", options=sensitivity) == []

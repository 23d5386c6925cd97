"""``evalkit did --estimator event_study --sensitivity ...`` adds the HonestDiD robust intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.did import estimate, sensitivity
from evalkit.errors import EstimationError


def _panel(treated: int, seed: int = 4) -> pd.DataFrame:
    """20 municipalities × 4 people × 8 periods; treatment from period 5; effect 1."""
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0, 0.3, (20, 8))
    rows = []
    for g in range(20):
        for p in range(4):
            a = rng.normal()
            for t in range(1, 9):
                cohort = 5 if g < treated else 0
                y = a + 0.1 * t + shocks[g, t - 1] + rng.normal(0, 0.5)
                y += 1.0 if cohort and t >= cohort else 0.0
                rows.append((f"p{g}-{p}", f"m{g}", t, cohort, y))
    return pd.DataFrame(rows, columns=["unit", "muni", "time", "cohort", "y"])


def _cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], df: pd.DataFrame, *extra: str):
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    args = ["did", "--data", str(path), "--outcome", "y", "--unit", "unit", "--time", "time"]
    args += ["--cohort", "cohort", "--cluster", "muni", "--estimator", "event_study", *extra]
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sensitivity_list_in_the_json_equals_the_python_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = _panel(treated=8)
    code, out, _ = _cli(
        tmp_path,
        capsys,
        df,
        "--sensitivity",
        "relative_magnitudes",
        "--bounds",
        "0.5,1,1.5,2",
        "--inference",
        "analytic",
        "--json",
    )
    assert code == 0
    got = json.loads(out)
    assert [r["bound"] for r in got["sensitivity"]] == [0.5, 1.0, 1.5, 2.0]
    assert set(got["sensitivity"][0]) == {"bound", "lb", "ub"}
    # the same numbers from the event study's coefficients and covariance directly
    res = estimate(
        df,
        outcome="y",
        unit="unit",
        time="time",
        cohort="cohort",
        cluster="muni",
        estimator="event_study",
        inference="analytic",
    )
    rows = sorted(res.to_dict()["event_study"], key=lambda r: r["event_time"])
    assert [r["event_time"] for r in rows] == [-4, -3, -2, 0, 1, 2, 3]
    direct_se = [r["se"] for r in rows]
    assert all(s > 0 for s in direct_se)
    analysis = got["sensitivity_analysis"]
    assert analysis["method"] == "C-LF" and analysis["restriction"] == "relative_magnitudes"
    lo, hi = analysis["original"]["lb"], analysis["original"]["ub"]
    assert lo < analysis["estimate"] < hi
    assert analysis["estimate"] == pytest.approx(got["att"])  # target: mean of e >= 0


def test_few_treated_uses_the_placebo_distribution_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(
        tmp_path,
        capsys,
        _panel(treated=2),
        "--sensitivity",
        "smoothness",
        "--bounds",
        "0,0.05",
        "--inference",
        "conley_taber",
        "--json",
    )
    assert code == 0
    got = json.loads(out)
    assert got["inference"] == "conley_taber"
    assert got["sensitivity_analysis"]["method"] == "placebo"
    codes = [w["code"] for w in got["warning_codes"]]
    assert "sensitivity_few_treated_placebo" in codes
    first = got["sensitivity"][0]
    assert first["lb"] is not None and first["lb"] < first["ub"]


def test_few_treated_bounds_use_placebos_whatever_inference_gave_the_p_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default few-treated test (permutation) has no covariance; the bounds still hold."""
    bounds = ("--sensitivity", "smoothness", "--bounds", "0,0.05", "--json")
    got = {}
    for inference in ("permutation", "conley_taber"):
        code, out, _ = _cli(tmp_path, capsys, _panel(treated=2), *bounds, "--inference", inference)
        assert code == 0
        got[inference] = json.loads(out)
    perm, ct = got["permutation"], got["conley_taber"]
    assert perm["inference"] == "permutation"
    assert perm["sensitivity_analysis"]["method"] == "placebo"
    assert perm["sensitivity"] == ct["sensitivity"]  # same draws, same seed: same bounds
    default = json.loads(_cli(tmp_path, capsys, _panel(treated=2), *bounds)[1])
    assert default["inference"] == "permutation"
    assert default["sensitivity_analysis"]["method"] == "placebo"


def test_bounds_without_sensitivity_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(tmp_path, capsys, _panel(treated=8), "--bounds", "1,2")
    assert code == 2 and "--bounds needs --sensitivity" in err
    with pytest.raises(SystemExit) as exc:
        _cli(tmp_path, capsys, _panel(treated=8), "--sensitivity", "smoothness", "--bounds", "a")
    assert exc.value.code == 2


def test_sensitivity_needs_an_event_study_and_smoothness_needs_bounds() -> None:
    df = _panel(treated=8)
    common = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}
    with pytest.raises(EstimationError, match="needs an event study"):
        estimate(df, estimator="twfe", sensitivity="smoothness", **common)
    with pytest.raises(EstimationError, match="give bounds="):
        estimate(df, estimator="event_study", sensitivity="smoothness", **common)


def test_sensitivity_result_renders() -> None:
    res = sensitivity(
        [0.0, 0.01, 0.5], np.diag([0.01, 0.01, 0.02]), num_pre=2, num_post=1, bounds=[0.5, 1.0]
    )
    assert "Mbar=0.5" in res.summary() and "<table" in res._repr_html_()
    assert repr(res).startswith("<SensitivityResult relative_magnitudes C-LF")
    assert list(res.tidy().columns) == ["bound", "lb", "ub", "method"]


def test_a_long_window_gets_the_projection_interval_instead_of_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """20 pre-period and 10 post-period coefficients: the exact C-LF test would run
    320 times over 184,756 bases (it ran for over nine minutes); the projection
    interval comes at once, with its note."""
    from evalkit.did.honest.api import CLF_WORK, _clf_too_large

    rng = np.random.default_rng(8)
    rows = []
    for g in range(12):
        for t in range(1, 32):
            cohort = 22 if g == 0 else 0
            y = rng.normal() + (1.0 if cohort and t >= cohort else 0.0)
            rows.append((f"m{g}", f"m{g}", t, cohort, y))
    df = pd.DataFrame(rows, columns=["unit", "muni", "time", "cohort", "y"])
    code, out, err = _cli(
        tmp_path, capsys, df, "--inference", "analytic", "--sensitivity", "relative_magnitudes"
    )
    assert code == 0, err
    assert "projection intervals" in out
    assert _clf_too_large(20, 10, 4) and _clf_too_large(20, 8, 4)
    assert not _clf_too_large(4, 4, 10) and 4 * 2 * 10 * 70 < CLF_WORK

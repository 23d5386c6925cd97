"""The standard-library normal and chi-squared functions of Callaway–Sant'Anna, against SciPy.

``evalkit.did._distributions`` stands in for ``scipy.special.ndtr``, ``ndtri`` and
``chdtrc`` so that ``evalkit did`` with Callaway–Sant'Anna starts without SciPy; these
tests hold it to SciPy's values and check that the command indeed runs without it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from evalkit.did._distributions import chi2_sf, normal_cdf, normal_quantile


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 12, 35, 120])
def test_chi2_sf_equals_scipy_chdtrc(df: int) -> None:
    for x in np.geomspace(1e-6, 3 * df + 400, 200):
        assert chi2_sf(df, float(x)) == pytest.approx(special.chdtrc(df, x), rel=1e-11, abs=0)


def test_chi2_sf_edges() -> None:
    assert chi2_sf(3, 0.0) == 1.0
    assert np.isnan(chi2_sf(3, -1e-12)) and np.isnan(special.chdtrc(3, -1e-12))
    assert chi2_sf(4, float("inf")) == special.chdtrc(4, np.inf) == 0.0
    assert np.isnan(chi2_sf(3, float("nan")))
    with pytest.raises(ValueError, match="positive integer df"):
        chi2_sf(0, 1.0)


def test_normal_cdf_and_quantile_equal_scipy_in_both_tails() -> None:
    for x in np.linspace(-37.0, 8.0, 500):
        assert normal_cdf(float(x)) == pytest.approx(special.ndtr(x), rel=1e-12, abs=0)
    for p in (*np.geomspace(1e-300, 0.5, 200), *(1 - np.geomspace(1e-15, 0.5, 200))):
        assert normal_quantile(float(p)) == pytest.approx(special.ndtri(p), rel=1e-14, abs=1e-15)


def _panel(path: Path) -> None:
    rng = np.random.default_rng(5)
    rows = []
    for i in range(60):
        cohort = (4, 5, 0)[i % 3]
        for t in range(1, 8):
            treated = cohort > 0 and t >= cohort
            rows.append((i, t, cohort, rng.normal() + 0.5 * treated))
    pd.DataFrame(rows, columns=["unit", "time", "cohort", "y"]).to_parquet(path, index=False)


# The whole command, as `make bench` times it against diff-diff: start-up is most of it.
_RUN = """
import contextlib, io, json, sys
from evalkit.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["did", "--data", sys.argv[1], "--outcome", "y", "--unit", "unit",
                 "--time", "time", "--cohort", "cohort", "--estimator", "callaway_santanna",
                 "--json"] + sys.argv[2:])
print(json.dumps({"code": code, "scipy": sorted(m for m in sys.modules if m == "scipy"),
                  "result": json.loads(out.getvalue())}))
"""


def _command(path: Path, *extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(path), *extra],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_callaway_santanna_command_runs_without_scipy_and_equals_estimate(
    tmp_path: Path,
) -> None:
    from evalkit.did import estimate

    path = tmp_path / "panel.parquet"
    _panel(path)
    run = _command(path)
    assert run["code"] == 0
    assert run["scipy"] == []
    expected = estimate(
        pd.read_parquet(path),
        outcome="y",
        unit="unit",
        time="time",
        cohort="cohort",
        estimator="callaway_santanna",
    ).to_dict()
    for key in ("att", "se", "ci_low", "ci_high", "p_value"):
        assert run["result"][key] == pytest.approx(expected[key], rel=1e-12)
    # the clustered path imports SciPy's sparse matrices where it uses them
    clustered = _command(path, "--cluster", "unit")
    assert clustered["code"] == 0
    assert clustered["result"]["se"] == pytest.approx(expected["se"], rel=1e-12)

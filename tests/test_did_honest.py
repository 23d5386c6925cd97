"""HonestDiD sensitivity analysis against the R package's published results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from evalkit.did import sensitivity
from evalkit.did.honest._flci import folded_normal_cv, second_difference_map
from evalkit.did.honest._placebo import placebo_quantile
from evalkit.errors import EstimationError

REF = Path(__file__).parent / "reference" / "honestdid"
PUB = json.loads((REF / "published.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def twfe() -> tuple[np.ndarray, np.ndarray]:
    """The README's TWFE event study on the Medicaid data (fixest call reproduced with pyfixest)."""
    df = pd.read_csv(REF / "ehec_data.csv")
    d = df[(df["year"] < 2016) & (df["yexp2"].isna() | (df["yexp2"] != 2015))].copy()
    years = [y for y in range(2008, 2016) if y != 2013]
    for y in years:
        d[f"y{y}"] = ((d["year"] == y) & (d["yexp2"] == 2014)).astype(float)
    fit = pf.feols(
        "dins ~ " + " + ".join(f"y{y}" for y in years) + " | stfips + year",
        data=d,
        vcov={"CRV1": "stfips"},
    )
    return fit.coef().to_numpy(), np.asarray(fit._vcov)


def _grid_step(sigma: np.ndarray, num_pre: int, l_vec: list[float], points: int) -> float:
    lv = np.asarray(l_vec, dtype=float)
    return 40 * math.sqrt(float(lv @ sigma[num_pre:, num_pre:] @ lv)) / (points - 1)


def test_original_interval_equals_the_r_package(twfe: tuple[np.ndarray, np.ndarray]) -> None:
    ref = PUB["twfe_relative_magnitudes_average"]
    res = sensitivity(*twfe, num_pre=5, num_post=2, l_vec=ref["l_vec"], bounds=[0])
    assert res.original == pytest.approx(tuple(ref["original"]), abs=1e-7)  # pyfixest vs fixest
    sun = PUB["sunab_relative_magnitudes"]
    res = sensitivity(sun["betahat"], np.array(sun["sigma"]), num_pre=10, num_post=6, bounds=[0])
    assert res.original == pytest.approx(tuple(sun["original"]), abs=1e-12)


@pytest.mark.parametrize(
    ("key", "steps"),
    [
        ("twfe_relative_magnitudes", 1.0),
        ("twfe_relative_magnitudes_printed", 1.5),
        ("twfe_relative_magnitudes_average", 1.5),
    ],
)
def test_relative_magnitudes_match_honestdid_within_its_grid(
    twfe: tuple[np.ndarray, np.ndarray], key: str, steps: float
) -> None:
    """R reports the outermost accepted point of a 1000-point grid; agreement is to its spacing."""
    ref = PUB[key]
    res = sensitivity(*twfe, num_pre=5, num_post=2, l_vec=ref["l_vec"], bounds=ref["Mbar"])
    tol = steps * _grid_step(twfe[1], 5, ref["l_vec"], 1000) + 1e-9
    assert res.method == ref["method"] == "C-LF"
    np.testing.assert_allclose(res.table["lb"], ref["lb"], atol=tol, rtol=0)
    np.testing.assert_allclose(res.table["ub"], ref["ub"], atol=tol, rtol=0)


def test_relative_magnitudes_on_the_16_coefficient_sun_abraham_event_study() -> None:
    """The README's fixest sunab event study (10 pre, 6 post) on R's 100-point grid.

    At Mbar = 2 the interval reaches the end of that grid (±20 standard errors); ours then
    widens the grid, R's cached run had a wider one, so there agreement is to one step.
    """
    ref = PUB["sunab_relative_magnitudes"]
    sigma = np.array(ref["sigma"])
    res = sensitivity(
        ref["betahat"], sigma, num_pre=10, num_post=6, bounds=ref["Mbar"], grid_points=100
    )
    step = _grid_step(sigma, 10, ref["l_vec"], 100)
    # Where our interval reached ±20 standard errors the grid was widened to ±40 (step × 2).
    widths = np.array(res.detail["grid_half_widths"]) / (20 * math.sqrt(sigma[10, 10]))
    tol = widths * step + 1e-9
    assert (np.abs(res.table["lb"] - ref["lb"]) <= tol).all()
    assert (np.abs(res.table["ub"] - ref["ub"]) <= tol).all()
    assert res.breakdown is not None and 0.5 < res.breakdown < 1.0  # README: between 0.5 and 1


def test_smoothness_flci_matches_honestdid(twfe: tuple[np.ndarray, np.ndarray]) -> None:
    """R's folded-normal quantile is simulated (10^6 draws); ours is exact: 5e-5 apart at most."""
    ref = PUB["twfe_smoothness"]
    res = sensitivity(*twfe, num_pre=5, num_post=2, restriction="smoothness", bounds=ref["M"])
    assert res.method == "FLCI"
    np.testing.assert_allclose(res.table["lb"], ref["lb"], atol=5e-5, rtol=0)
    np.testing.assert_allclose(res.table["ub"], ref["ub"], atol=5e-5, rtol=0)
    # README: "the breakdown value for a significant effect is M ≈ 0.03"
    assert res.breakdown is not None and 0.02 < res.breakdown < 0.03


def test_smoothness_with_controls_matches_the_printed_readme_table() -> None:
    ref = PUB["control_smoothness_printed"]
    res = sensitivity(
        ref["betahat"],
        np.array(ref["sigma"]),
        num_pre=5,
        num_post=2,
        restriction="smoothness",
        bounds=ref["M"],
    )
    for got, want in [(res.table["lb"], ref["lb"]), (res.table["ub"], ref["ub"])]:
        for g, w in zip(got, want, strict=True):
            digits = 3 - math.floor(math.log10(abs(w))) - 1  # 3 significant digits printed
            assert abs(g - w) <= 0.5 * 10.0**-digits + 5e-5


def test_breakdown_matches_the_readme_reading(twfe: tuple[np.ndarray, np.ndarray]) -> None:
    """README: the significant result survives Mbar up to about 2 (the Mbar = 2 interval has 0)."""
    res = sensitivity(*twfe, num_pre=5, num_post=2, bounds=[0.5, 1, 1.5, 2])
    assert res.breakdown is not None and 1.5 < res.breakdown < 2.0
    assert not res.breakdown_censored
    d = res.to_dict()
    assert [r["bound"] for r in d["rows"]] == [0.5, 1, 1.5, 2]
    assert d["original"]["lb"] == pytest.approx(res.original[0])


def test_folded_normal_and_second_differences() -> None:
    assert folded_normal_cv(0.0, 0.05) == pytest.approx(1.959963984540054, abs=1e-12)
    from scipy import stats

    c = folded_normal_cv(1.3, 0.1)
    assert stats.norm.cdf(c - 1.3) - stats.norm.cdf(-c - 1.3) == pytest.approx(0.9, abs=1e-12)
    # delta_t = slope * t is the linear trend; a second difference bends it.
    b0, big_b = second_difference_map(2, 2)
    np.testing.assert_array_equal(b0, [-2, -1, 1, 2])
    np.testing.assert_array_equal(big_b, [[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 2, 1]])


def test_placebo_quantile_is_the_rank_test_order_statistic() -> None:
    vals = np.arange(1.0, 20.0)  # 19 placebos: the 95 % order statistic is the 19th
    assert placebo_quantile(vals, 0.05) == 19.0
    assert placebo_quantile(vals[:10], 0.05) == math.inf


def test_placebo_intervals_contain_the_normal_ones_when_placebos_are_normal(
    twfe: tuple[np.ndarray, np.ndarray],
) -> None:
    """Many normal placebos with the same covariance give about the normal answer."""
    b, v = twfe
    rng = np.random.default_rng(3)
    draws = rng.multivariate_normal(np.zeros(7), v, size=20000)
    res = sensitivity(
        b, None, num_pre=5, num_post=2, placebo=draws, bounds=[0, 0.01], restriction="smoothness"
    )
    normal = sensitivity(b, v, num_pre=5, num_post=2, bounds=[0, 0.01], restriction="smoothness")
    assert res.method == "placebo"
    # M = 0: no bias, the placebo quantile of |v'e| is about 1.96 sd.
    assert res.table["lb"][0] == pytest.approx(normal.table["lb"][0], abs=3e-4)
    assert res.original == pytest.approx(normal.original, abs=3e-4)
    # M > 0: bias + quantile of |v'e| is wider than the folded-normal quantile (conservative).
    assert res.table["lb"][1] < normal.table["lb"][1] and res.table["ub"][1] > normal.table["ub"][1]
    rm = sensitivity(b, None, num_pre=5, num_post=2, placebo=draws, bounds=[0.5, 1])
    assert (rm.table["lb"] < rm.table["ub"]).all() and rm.table["lb"].is_monotonic_decreasing


def test_few_treated_says_the_normal_approximation_fails(
    twfe: tuple[np.ndarray, np.ndarray],
) -> None:
    res = sensitivity(*twfe, num_pre=5, num_post=2, bounds=[1], n_treated_clusters=2, n_clusters=30)
    assert [n.code for n in res.notes] == ["sensitivity_few_treated_normal"]
    assert "normal approximation" in res.warnings[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_pre": 4, "num_post": 2}, r"expected num_pre \+ num_post = 6"),
        ({"num_pre": 5, "num_post": 2, "restriction": "linear"}, "restriction"),
        ({"num_pre": 5, "num_post": 2, "bounds": [-1]}, "non-negative"),
        ({"num_pre": 5, "num_post": 2, "l_vec": [1]}, "l_vec must have num_post = 2"),
    ],
)
def test_bad_options_say_what_is_wrong(
    twfe: tuple[np.ndarray, np.ndarray], kwargs: dict, message: str
) -> None:
    with pytest.raises(EstimationError, match=message):
        sensitivity(*twfe, **kwargs)


def test_truncated_normal_quantile_equals_scipy_stats() -> None:
    from scipy import stats

    from evalkit.did.honest._arp import _truncnorm_ppf

    lo = np.array([-np.inf, -1.0, 0.5, 3.0, 8.0, -20.0])
    hi = np.array([np.inf, 2.0, np.inf, 5.0, np.inf, -7.0])
    for p in (0.05, 0.5, 0.955):
        np.testing.assert_allclose(
            _truncnorm_ppf(p, lo, hi), stats.truncnorm.ppf(p, lo, hi), rtol=1e-9
        )


def test_many_post_periods_fall_back_to_a_projection_interval() -> None:
    """C(2·12, 12) bases are too many for the exact test; the projection interval is valid."""
    rng = np.random.default_rng(5)
    n_pre, n_post = 3, 12
    sigma = 0.01 * (np.eye(n_pre + n_post) + 0.3)
    beta = np.r_[rng.normal(0, 0.05, n_pre), np.full(n_post, 1.0)]
    res = sensitivity(
        beta,
        sigma,
        num_pre=n_pre,
        num_post=n_post,
        bounds=[0.5, 1],
        l_vec=np.full(n_post, 1 / n_post),
    )
    assert res.method == "projection"
    assert [n.code for n in res.notes] == ["sensitivity_projection"]
    assert (res.table["lb"] < 1.0).all() and (res.table["ub"] > 1.0).all()
    assert res.table["lb"].is_monotonic_decreasing

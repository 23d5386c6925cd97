"""Fit once, infer many: each inference on one fit equals its own estimate(..., inference=m)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.did import estimate, fit
from evalkit.did.fitted import CallawaySantAnnaFit, RegressionFit
from evalkit.errors import EstimationError

METHODS = ("analytic", "wild", "permutation", "conley_taber")


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for g in range(8):
        start = 4 if g < 2 else 0  # two treated clusters, same start
        for i in range(6):
            a = rng.normal()
            for t in range(1, 9):
                d = float(start and t >= start)
                y = a + 0.2 * t + 0.6 * d + 0.3 * rng.normal() + (0.4 * g if t > 5 else 0)
                rows.append(
                    (f"g{g}p{i}", f"gm{g}", t, start, y if (g, i, t) != (3, 2, 5) else None)
                )
    return pd.DataFrame(rows, columns=["person", "muni", "month", "cohort", "y"])


def _staggered() -> pd.DataFrame:
    """Twelve municipalities of five people; starts in month 5 (three) and 7 (two)."""
    rng = np.random.default_rng(11)
    rows = []
    for m in range(12):
        start = 5 if m < 3 else (7 if m < 5 else 0)
        for i in range(5):
            a = rng.normal()
            for t in range(1, 11):
                d = float(start > 0 and t >= start)
                rows.append(
                    (f"m{m:02d}p{i}", f"m{m:02d}", t, start, a + 0.1 * t + d + rng.normal())
                )
    return pd.DataFrame(rows, columns=["person", "muni", "month", "cohort", "y"])


@pytest.mark.parametrize("estimator", ["twfe", "2x2"])
def test_each_inference_on_one_fit_equals_its_own_estimate(estimator: str) -> None:
    data = _panel()
    kwargs = {"outcome": "y", "unit": "person", "time": "month", "cluster": "muni", "seed": 5}
    if estimator == "2x2":
        data = data.assign(group=(data["cohort"] > 0).astype(int), post=(data["month"] >= 4) * 1)
        kwargs.update(treated="group", post="post")
    else:
        kwargs.update(cohort="cohort")
    fitted = fit(data, estimator=estimator, n_boot=499, **kwargs)
    assert isinstance(fitted, RegressionFit)
    for method in (*METHODS, None):
        alone = estimate(data, estimator=estimator, inference=method, n_boot=499, **kwargs)
        assert fitted.infer(method).to_dict() == alone.to_dict(), method
        # the one missing outcome is noted on every result of the shared fit
        assert fitted.infer(method).notes[0].code == "dropped_missing_outcome", method
    # without an argument: the spec's own inference (here the few-treated rule)
    assert fitted.infer().to_dict() == fitted.infer(None).to_dict()


@pytest.mark.parametrize("inference", ["analytic", "bootstrap", "permutation", None])
def test_callaway_santanna_infers_on_one_fit(inference: str | None) -> None:
    data = _staggered()
    kwargs = {"outcome": "y", "unit": "person", "time": "month", "cohort": "cohort"}
    kwargs.update(cluster="muni", seed=3, n_boot=199, n_perm=199)
    fitted = fit(data, estimator="callaway_santanna", **kwargs)
    assert isinstance(fitted, CallawaySantAnnaFit)
    alone = estimate(data, estimator="callaway_santanna", inference=inference, **kwargs)
    shared = fitted.infer(inference)
    assert shared.to_dict() == alone.to_dict()
    assert shared.inference == ("permutation" if inference is None else inference)


def test_permutation_over_units_numbers_them_as_a_unit_cluster_column_would() -> None:
    """Without a cluster column each unit is its own cluster, in the order of its id.

    The fit's prepared data are permuted (nothing is prepared again), so the unit
    numbering must be the one a cluster column equal to the unit column gives, or
    the same seed would draw other assignments.
    """
    data = _staggered().sample(frac=1.0, random_state=4)  # ids not in first-seen order
    kwargs = {"outcome": "y", "unit": "person", "time": "month", "cohort": "cohort"}
    kwargs.update(seed=9, n_perm=99, max_enumerate=10, inference="permutation")
    own = estimate(data, estimator="callaway_santanna", **kwargs)
    named = estimate(data, estimator="callaway_santanna", cluster="person", **kwargs)
    assert own.options["permutation"]["enumerated"] is False
    assert own.p_value == named.p_value
    assert (own.ci_low, own.ci_high) == (named.ci_low, named.ci_high)


def test_fit_names_the_estimators_that_infer_inside_their_estimate() -> None:
    with pytest.raises(EstimationError, match="infers inside its estimate: use estimate"):
        fit(_panel(), estimator="event_study", outcome="y", unit="person", time="month")


def test_callaway_santanna_refuses_an_unknown_option_by_name() -> None:
    with pytest.raises(EstimationError, match=r"unknown option.*bogus.*allowed: outcome"):
        estimate(
            _staggered(),
            estimator="callaway_santanna",
            outcome="y",
            unit="person",
            time="month",
            cohort="cohort",
            bogus=1,
        )


@pytest.mark.parametrize(("threshold", "few"), [(4, False), (6, True)])
def test_the_few_treated_threshold_reaches_cs_and_its_sensitivity(threshold: int, few: bool):
    """Four treated municipalities: not few under a threshold of 4, few under 6 (no literal 5)."""
    data = _staggered()
    kwargs = {"outcome": "y", "unit": "person", "time": "month", "cohort": "cohort"}
    data = data.loc[(data["cohort"] != 7) | data["muni"].eq("m03")]  # treated: m00-m03
    res = estimate(
        data,
        estimator="callaway_santanna",
        inference="analytic",
        cluster="muni",
        few_treated_threshold=threshold,
        sensitivity="relative_magnitudes",
        bounds=[0.5],
        base_period="universal",
        **kwargs,
    )
    assert res.n_treated_clusters == 4  # m00-m02 (month 5) and m03 (month 7)
    codes = {n.code for n in res.notes}
    assert ("cs_few_treated_clusters" in codes) is few
    assert any(c.startswith("sensitivity_few_treated") for c in codes) is few


def test_analytic_rows_from_one_reading_of_the_fit_equal_rows_read_per_term() -> None:
    """Equivalence: an event study reads coefficients, SEs and df once for all its rows."""
    from evalkit.did._common import analytic_row, quiet_coefs, t_df
    from evalkit.did.regression import feols

    frame = _staggered()
    treated = frame["cohort"] > 0
    frame["e_early"] = (treated & (frame["month"] == frame["cohort"] - 2)).astype(float)
    frame["e_late"] = (treated & (frame["month"] >= frame["cohort"])).astype(float)
    model = feols("y ~ e_early + e_late | person + month", frame, {"CRV1": "muni"})
    fitted = (*quiet_coefs(model), t_df(model))
    for term in ("e_early", "e_late"):
        for strict in (True, False):
            once = analytic_row(model, term, 0.05, strict, fitted=fitted)
            assert once == analytic_row(model, term, 0.05, strict)

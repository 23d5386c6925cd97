"""One fit, several inference methods: each result equals estimate(..., inference=method)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.did import estimate
from evalkit.did.several import estimate_inferences
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


@pytest.mark.parametrize("estimator", ["twfe", "2x2"])
def test_each_result_equals_its_own_estimate(estimator: str) -> None:
    data = _panel()
    kwargs = {"outcome": "y", "unit": "person", "time": "month", "cluster": "muni", "seed": 5}
    if estimator == "2x2":
        data = data.assign(group=(data["cohort"] > 0).astype(int), post=(data["month"] >= 4) * 1)
        kwargs.update(treated="group", post="post")
    else:
        kwargs.update(cohort="cohort")
    several = estimate_inferences(
        data, inferences=METHODS, estimator=estimator, n_boot=499, **kwargs
    )
    assert list(several) == list(METHODS)
    for method in METHODS:
        alone = estimate(data, estimator=estimator, inference=method, n_boot=499, **kwargs)
        assert several[method].to_dict() == alone.to_dict(), method
        # the one missing outcome is noted on every result of the shared fit
        assert several[method].notes[0].code == "dropped_missing_outcome", method


def test_only_2x2_and_twfe() -> None:
    with pytest.raises(EstimationError, match="'2x2' or 'twfe'"):
        estimate_inferences(_panel(), inferences=["analytic"], estimator="event_study", outcome="y")  # type: ignore[arg-type]

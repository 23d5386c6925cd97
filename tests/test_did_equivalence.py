"""Two routes to the same number: the regression estimators against Callaway–Sant'Anna.

* The 2×2 DiD equals the Callaway–Sant'Anna ATT(g, t) cell on the same two periods.
* With one cohort and never-treated controls, the saturated TWFE event study
  (reference −1) equals the dynamic Callaway–Sant'Anna aggregation with a
  universal base period.
* ``estimate(estimator="callaway_santanna")`` is exactly ``callaway_santanna(...)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.did import estimate

cs = pytest.importorskip("evalkit.did.cs")


def _panel(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(60):
        g = 4 if i < 25 else 0
        a = rng.normal()
        for t in range(1, 8):
            eff = 0.5 * (t - g + 1) if g and t >= g else 0.0
            rows.append((i, t, g, a + 0.2 * t + eff + rng.normal()))
    return pd.DataFrame(rows, columns=["id", "t", "cohort", "y"])


def test_two_by_two_equals_the_callaway_santanna_cell() -> None:
    df = _panel()
    two = df[df["t"].isin([3, 4])]
    dd = estimate(
        two,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="2x2",
        inference="analytic",
    )
    res = estimate(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="callaway_santanna",
        control="never",
        method="reg",
    )
    cell = [r for r in res.to_dict()["group_time"] if r["group"] == 4 and r["time"] == 4]
    assert cell and cell[0]["att"] == pytest.approx(dd.att, abs=1e-10)


def test_event_study_equals_dynamic_callaway_santanna_universal_base() -> None:
    df = _panel(1)
    es = estimate(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="event_study",
        inference="analytic",
    )
    res = estimate(
        df,
        outcome="y",
        unit="id",
        time="t",
        cohort="cohort",
        estimator="callaway_santanna",
        control="never",
        method="reg",
        base_period="universal",
    )
    dyn = {r["event_time"]: r["att"] for r in res.to_dict()["aggregations"]["dynamic"]["rows"]}
    rows = es.tidy().dropna(subset=["event_time"])
    assert len(rows) == 6
    for r in rows.itertuples():
        assert r.estimate == pytest.approx(dyn[int(r.event_time)], abs=1e-10)


def test_estimate_dispatches_to_callaway_santanna() -> None:
    df = _panel(2)
    kw = dict(
        outcome="y", unit="id", time="t", cohort="cohort", control="notyet", method="dr", seed=3
    )
    via = estimate(df, estimator="callaway_santanna", **kw).to_dict()
    direct = cs.callaway_santanna(df, **kw).to_dict()
    assert via == direct

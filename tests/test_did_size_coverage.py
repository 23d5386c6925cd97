"""Fast version of the size-and-coverage harness (``make bench`` runs the full grid).

Seeded Monte Carlo on the issue's designs: TWFE on person-month panels with
municipality-by-month AR(1) shocks, analysed by the package's own inference
functions (:mod:`benchmarks.size_coverage`). Sizes count rejections at p ≤ 0.05.
"""

from __future__ import annotations

import pytest

from benchmarks.size_coverage import (
    Design,
    default_method,
    default_on_estimate,
    run_callaway_santanna,
    run_design,
)

DRAWS = 150


@pytest.mark.parametrize(
    ("treated", "comparison", "unequal", "before", "now"),
    [
        (4, 4, False, 1.00, 0.20),
        (4, 4, True, 0.45, 0.20),
        (3, 4, False, 0.38, 0.20),
        (4, 8, False, 0.15, 0.10),
    ],
)
def test_conley_taber_no_longer_collapses_with_several_treated(
    treated: int, comparison: int, unequal: bool, before: float, now: float
) -> None:
    # `before`: share of p <= 0.05 under no effect with the old placebos drawn without
    # replacement (4 + 4: every placebo exactly 0, an interval of width 0). Conley–Taber
    # is asymptotic in the comparison clusters, so with 4 of them it still over-rejects
    # (about 10 %); that is why it is not the default there.
    cell = run_design(
        Design(treated, comparison, unequal), DRAWS, n_sim=199, methods=("conley_taber",)
    )["conley_taber"]
    assert cell.size <= now < before, cell
    assert cell.coverage >= 1 - now, cell


@pytest.mark.parametrize(
    ("treated", "comparison", "unequal"),
    [(4, 4, True), (2, 10, False), (3, 8, True), (6, 20, True)],
)
def test_the_default_holds_its_size_and_is_what_estimate_picks(
    treated: int, comparison: int, unequal: bool
) -> None:
    design = Design(treated, comparison, unequal)
    chosen = default_method(design)
    assert chosen == "permutation"
    assert default_on_estimate(design) == chosen
    cell = run_design(design, DRAWS, n_sim=199, methods=(chosen,))[chosen]
    assert cell.attainable
    assert 0.01 <= cell.size <= 0.08, cell
    assert 0.92 <= cell.coverage <= 0.99, cell


def test_one_treated_of_four_says_no_test_instead_of_a_number() -> None:
    cells = run_design(Design(1, 4, False), 20, n_sim=199, methods=("permutation", "conley_taber"))
    for cell in cells.values():
        assert not cell.attainable  # smallest p-value 1/5: nothing can be rejected
        assert cell.text().startswith("no test")
        assert cell.size == 0.0 and cell.coverage == 1.0


def test_many_clusters_on_both_sides_keep_cluster_robust_inference() -> None:
    design = Design(10, 10, False)
    assert default_method(design) == "analytic" == default_on_estimate(design)


@pytest.mark.parametrize(
    ("treated", "comparison", "expected"),
    [(6, 12, "permutation"), (2, 8, "permutation"), (10, 10, "analytic")],
)
def test_callaway_santanna_default_follows_the_same_rule(
    treated: int, comparison: int, expected: str
) -> None:
    # 6 treated of 18 got influence-function intervals before, which rejected a true
    # null 7.3 % (equal) and 11.3 % (unequal sizes) of the time in the harness.
    design = Design(treated, comparison, True)
    assert default_method(design) == expected
    cell = run_callaway_santanna(design, 2, n_perm=19)
    assert cell.method == expected

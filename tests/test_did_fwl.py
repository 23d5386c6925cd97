"""The compiled demeaning gives the sparse-product alternating projections to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from evalkit.did._fwl import Residualizer
from evalkit.errors import EstimationError


def _sparse_demean(x: np.ndarray, factors: list[np.ndarray], tol: float = 1e-11) -> np.ndarray:
    """The alternating projections written with scipy's sparse indicator products."""
    x = np.array(x, dtype="float64", copy=True)
    ops = []
    for codes in factors:
        ind = sp.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)))
        ops.append((ind, np.maximum(np.asarray(ind.sum(axis=0)).ravel(), 1.0)))
    scale = max(1.0, float(np.abs(x).max(initial=0.0)))
    for _ in range(10_000):
        change = 0.0
        for ind, counts in ops:
            step = ind @ ((ind.T @ x) / counts[:, None])
            x -= step
            change = max(change, float(np.abs(step).max(initial=0.0)))
        if change <= tol * scale or len(factors) == 1:
            return x
    raise AssertionError("reference did not converge")


def _unbalanced_panel(seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(30), 12)
    period = np.tile(np.arange(12), 30)
    keep = rng.random(len(unit)) > 0.2  # holes make the projections iterate
    x = rng.normal(size=(int(keep.sum()), 7)) * 50.0
    return [unit[keep], period[keep]], x


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_factors_equal_the_sparse_products_bit_for_bit(seed: int) -> None:
    factors, x = _unbalanced_panel(seed)
    got = Residualizer(factors, np.zeros((len(x), 0)))(x)
    assert np.array_equal(got, _sparse_demean(x, factors))


def test_one_factor_and_a_vector_equal_the_sparse_products() -> None:
    factors, x = _unbalanced_panel(4)
    got = Residualizer(factors[:1], np.zeros((len(x), 0)))(x[:, 0])
    assert got.shape == (len(x),)
    assert np.array_equal(got, _sparse_demean(x[:, :1], factors[:1]).ravel())


def test_input_is_left_alone() -> None:
    factors, x = _unbalanced_panel(5)
    before = x.copy()
    Residualizer(factors, np.zeros((len(x), 0)))(x)
    assert np.array_equal(x, before)


def test_no_convergence_is_an_estimation_error() -> None:
    factors, x = _unbalanced_panel(6)
    with pytest.raises(EstimationError, match="did not converge"):
        Residualizer(factors, np.zeros((len(x), 0)), maxiter=1)(x)

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


def _exact_residual_maker(factors: list[np.ndarray], nuisance: np.ndarray) -> np.ndarray:
    """``I - P`` with P the projection on every factor's dummies and the nuisance columns."""
    dummies = [np.eye(int(c.max()) + 1)[c] for c in factors]
    span = np.column_stack([*dummies, nuisance]) if dummies or nuisance.shape[1] else None
    if span is None:
        return np.eye(len(nuisance))
    return np.eye(len(span)) - span @ np.linalg.pinv(span)


@pytest.mark.parametrize("n_factors", [0, 1, 2])
@pytest.mark.parametrize("covariates", [0, 2])
def test_products_equal_the_exact_projection(n_factors: int, covariates: int) -> None:
    factors, x = _unbalanced_panel(7)
    rng = np.random.default_rng(8)
    nuisance = rng.normal(size=(len(x), covariates))
    a = (rng.random(size=(len(x), 9)) < 0.1).astype(float)  # sparse 0/1 block columns
    res = Residualizer(factors[:n_factors], nuisance)
    gram, cross = res.products(sp.csr_matrix(a), x)
    maker = _exact_residual_maker(factors[:n_factors], nuisance)
    np.testing.assert_allclose(gram, a.T @ maker @ a, rtol=0, atol=1e-10 * np.abs(a.T @ a).max())
    np.testing.assert_allclose(cross, a.T @ maker @ x, rtol=0, atol=1e-10 * np.abs(x).max())


def test_products_equal_the_residualised_columns_within_their_tolerance() -> None:
    factors, x = _unbalanced_panel(9)
    a = (np.random.default_rng(10).random(size=(len(x), 6)) < 0.2).astype(float)
    res = Residualizer(factors, np.zeros((len(x), 0)))
    q = res(a)  # the alternating projections the resampling used to run on every column
    gram, cross = res.products(a, res(x))
    np.testing.assert_allclose(gram, q.T @ q, rtol=0, atol=1e-9)
    np.testing.assert_allclose(cross, q.T @ res(x), rtol=0, atol=1e-9 * np.abs(x).max())


def test_a_column_inside_the_fixed_effects_has_no_residual() -> None:
    factors, x = _unbalanced_panel(11)
    last = factors[1] == factors[1].max()  # a period dummy: absorbed by the period effects
    a = np.column_stack([last, factors[0] == 0]).astype(float)
    gram, _ = Residualizer(factors, np.zeros((len(x), 0))).products(a, x)
    assert abs(gram[0, 0]) < 1e-12 * last.sum()
    assert abs(gram[1, 1]) < 1e-12 * a[:, 1].sum()


def test_products_drop_a_covariate_the_fixed_effects_already_hold() -> None:
    factors, x = _unbalanced_panel(12)
    trend = factors[1].astype(float)[:, None]  # a period trend: inside the period dummies
    a = (np.random.default_rng(13).random(size=(len(x), 5)) < 0.2).astype(float)
    gram, cross = Residualizer(factors, trend).products(a, x)
    maker = _exact_residual_maker(factors, trend)
    np.testing.assert_allclose(gram, a.T @ maker @ a, rtol=0, atol=1e-10 * np.abs(a.T @ a).max())
    np.testing.assert_allclose(cross, a.T @ maker @ x, rtol=0, atol=1e-10 * np.abs(x).max())

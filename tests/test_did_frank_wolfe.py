"""The compiled Frank–Wolfe step loop computes what its Python source computes.

Interpreted, numpy's scalar arithmetic may round a power differently in the last bit,
so the two agree to 1e-12 rather than bit for bit; the published Prop 99 numbers
(tests/test_did_synthetic.py) check the compiled solver against R ``synthdid``.
"""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.did import _frank_wolfe as fw


def _problems(rng: np.random.Generator, shared: bool) -> fw.SimplexProblems:
    p, k, m = 4, 7, 12
    a = rng.normal(size=(m, k)) if shared else rng.normal(size=(p, m, k))
    b = rng.normal(size=(p, m))
    gram = a.T @ a if shared else np.einsum("pmk,pml->pkl", a, a)
    cross = np.einsum("mk,pm->pk", a, b) if shared else np.einsum("pmk,pm->pk", a, b)
    allowed = np.ones((p, k), dtype=bool)
    allowed[np.arange(p), np.arange(p)] = False  # a placebo may not weigh itself
    return fw.SimplexProblems(
        gram=gram,
        cross=cross,
        target=np.einsum("pm,pm->p", b, b),
        rows=m,
        zeta=np.full(p, 0.3),
        allowed=allowed,
    )


@pytest.mark.parametrize("shared", [True, False])
def test_compiled_loop_equals_its_python_source(
    monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    problems = _problems(np.random.default_rng(3), shared)
    start = problems.allowed / problems.allowed.sum(axis=1, keepdims=True)
    compiled = fw.solve(problems, start, min_decrease=1e-6, max_iter=500)
    monkeypatch.setattr(fw, "_steps", lambda: fw._step_loop)
    interpreted = fw.solve(problems, start, min_decrease=1e-6, max_iter=500)
    np.testing.assert_allclose(compiled, interpreted, rtol=0, atol=1e-12)
    assert np.allclose(compiled.sum(axis=1), 1.0)
    assert (compiled[~problems.allowed] == 0).all() and (compiled >= 0).all()

    # the weights improve on the start: the objective of each problem went down
    def objective(x: np.ndarray) -> np.ndarray:
        gram = problems.gram
        gx = x @ gram if shared else np.einsum("pk,pkl->pl", x, gram)
        quad = np.einsum("pk,pk->p", x, gx) - 2 * np.einsum("pk,pk->p", x, problems.cross)
        ridge = problems.zeta**2 * np.einsum("pk,pk->p", x, x)
        return ridge + (quad + problems.target) / problems.rows

    assert (objective(compiled) < objective(start)).all()

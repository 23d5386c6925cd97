"""Conley–Taber (2011) inference with the Ferman–Pinto (2019) correction, for many coefficients.

With few treated clusters the distribution of ``estimate − effect`` is taken
from placebo estimates: the treated clusters' treatment timing is given to
comparison clusters and the regression residuals of those clusters are
regressed on it. Ferman & Pinto's correction rescales each comparison cluster's
placebo to the variance expected for the size of the treated cluster it stands
in for, using ``Var = A + B / M`` (``M`` = rows in the cluster) fitted on the
comparison clusters' single-cluster placebos.

The p-value of ``effect = tau`` is ``(1 + #{|placebo| ≥ |estimate − tau|}) / (n + 1)``
over the ``n`` placebos, so it is never below ``1/(n + 1)``; the interval is
``estimate ± c`` with ``c`` the matching order statistic of ``|placebo|``, and
unbounded when ``1/(n + 1) > alpha``. The computation keeps only one cluster's
residualised regressors in memory at a time, so it also serves the event study
(one column per event time).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evalkit.did.inference import InferenceOutcome, LinearDesign, unbounded_values
from evalkit.did.notes import Note
from evalkit.errors import EstimationError

__all__ = ["Placebos", "conley_taber", "conley_taber_combinations", "conley_taber_placebos"]


def conley_taber(
    design: LinearDesign,
    *,
    ferman_pinto: bool = True,
    n_sim: int = 1999,
    max_enumerate: int = 20_000,
    seed: int = 0,
    alpha: float = 0.05,
) -> InferenceOutcome:
    """Conley–Taber inference on the treatment coefficient (the last regressor).

    Parameters
    ----------
    design : LinearDesign
        The regression; ``role`` and ``block`` must be set.
    ferman_pinto : bool
        Rescale placebo estimates for unequal cluster sizes (``Var = A + B/M``).
    n_sim : int
        Random placebo assignments when exact enumeration is too large.
    max_enumerate : int
        Enumerate all placebo assignments when there are at most this many.
    seed : int
        Seed of the random placebo assignments.
    alpha : float
        1 − confidence level.

    Returns
    -------
    InferenceOutcome
        p-value of "no effect" and the interval ``estimate ± c``.
    """
    m = design.regressors.shape[1]
    weights = np.zeros(m)
    weights[-1] = 1.0
    outcomes, _ = conley_taber_combinations(
        design,
        [weights],
        ferman_pinto=ferman_pinto,
        n_sim=n_sim,
        max_enumerate=max_enumerate,
        seed=seed,
        alpha=alpha,
    )
    return outcomes[0]


def _two_way_parts(
    design: LinearDesign,
    pairs: Sequence[tuple[int, int]],
    rows: dict[int, np.ndarray],
    local: dict[tuple[int, int], np.ndarray],
) -> tuple[dict, dict, np.ndarray] | None:
    """Closed-form pieces of ``B_a' M B_b`` for unit + period effects, units nested in clusters.

    By FWL, ``M = M_U - M_U T (T' M_U T)^+ T' M_U`` (U unit, T period dummies), and
    ``M_U B`` stays inside the cluster's own units, so every piece is local:
    ``B_a' M B_b = 1[a, b same cluster] B_a' M_U B_b - (T' M_U B_a)' G^+ (T' M_U B_b)``.
    Returns None when the design has other nuisance terms or units cross clusters.
    """
    res = design.residualizer
    if len(res.factors) != 2 or res.nuisance.shape[1]:
        return None
    unit, period = (np.asarray(f) for f in res.factors)
    n_units, n_periods = int(unit.max()) + 1, int(period.max()) + 1
    home = np.full(n_units, -1)
    home[unit] = design.cluster
    if np.any(home[unit] != design.cluster):
        return None
    n_u = np.bincount(unit, minlength=n_units).astype(float)
    counts = np.zeros((n_units, n_periods))
    np.add.at(counts, (unit, period), 1.0)
    gram_t = np.diag(counts.sum(axis=0)) - counts.T @ (counts / n_u[:, None])
    g_inv = np.linalg.pinv(gram_t)
    demeaned: dict[tuple[int, int], np.ndarray] = {}
    tb: dict[tuple[int, int], np.ndarray] = {}
    for p in pairs:
        r_units, r_periods = unit[rows[p[0]]], period[rows[p[0]]]
        block = local[p]
        codes, inv = np.unique(r_units, return_inverse=True)
        sums = np.zeros((len(codes), block.shape[1]))
        np.add.at(sums, inv, block)
        mub = block - (sums / n_u[codes][:, None])[inv]
        demeaned[p] = mub
        t_sum = np.zeros((n_periods, block.shape[1]))
        np.add.at(t_sum, r_periods, mub)
        tb[p] = t_sum
    # einsum, not BLAS: many small products are faster without BLAS threads
    own = {
        (a, b): np.einsum("ij,ik->jk", local[a], demeaned[b])
        for a in pairs
        for b in pairs
        if a[0] == b[0]
    }
    return own, tb, g_inv


def _placebo_parts(
    design: LinearDesign, pairs: Sequence[tuple[int, int]], resid: np.ndarray, cross: bool
) -> tuple[dict, dict]:
    """Local inner products ``B'u`` and residualised Grams ``B_a' M B_b`` of cluster blocks."""
    rows = {g: np.flatnonzero(design.cluster == g) for g in {g for g, _ in pairs}}
    if design.block is None:
        raise EstimationError("Conley–Taber inference needs the treatment pattern per cluster")
    local = {p: design.block(*p)[rows[p[0]]] for p in pairs}
    vec = {p: local[p].T @ resid[rows[p[0]]] for p in pairs}
    gram: dict[tuple[tuple[int, int], tuple[int, int]], np.ndarray] = {}
    fast = _two_way_parts(design, pairs, rows, local)
    if fast is not None:
        own, tb, g_inv = fast
        for b in pairs:
            for a in pairs if cross else [b]:
                gram[(a, b)] = own.get((a, b), 0.0) - tb[a].T @ g_inv @ tb[b]
        return vec, gram
    n, m = design.regressors.shape
    for b in pairs:
        dense = np.zeros((n, m))
        dense[rows[b[0]]] = local[b]
        mb = design.residualizer(dense)
        for a in pairs if cross else [b]:
            gram[(a, b)] = local[a].T @ mb[rows[a[0]]]
    return vec, gram


@dataclass(frozen=True)
class Placebos:
    """Conley–Taber placebo draws of the estimation error of every regressor's coefficient.

    Attributes
    ----------
    theta : numpy.ndarray
        The coefficients (length m).
    placebo : numpy.ndarray
        One row per placebo (n × m): the comparison clusters' coefficients when they
        are given the treated clusters' timing (rescaled when ``ferman_pinto``).
    enumerated, ferman_pinto : bool
        Whether every assignment was enumerated, whether the correction was used.
    comparison : int
        Number of comparison clusters.
    treated : int
        Number of treated clusters.
    messages : tuple of Note
        Notes (e.g. a non-positive Ferman–Pinto variance).
    """

    theta: np.ndarray
    placebo: np.ndarray
    enumerated: bool
    ferman_pinto: bool
    comparison: int
    treated: int
    messages: tuple[Note, ...]


def conley_taber_placebos(
    design: LinearDesign,
    weights: np.ndarray,
    *,
    ferman_pinto: bool = True,
    n_sim: int = 1999,
    max_enumerate: int = 20_000,
    seed: int = 0,
) -> Placebos:
    """Placebo event studies (or regressions) on the comparison clusters.

    Parameters
    ----------
    design : LinearDesign
        The regression; ``role`` and ``block`` must be set.
    weights : numpy.ndarray
        The combination that drives the Ferman–Pinto variance model.
    ferman_pinto, n_sim, max_enumerate, seed
        As in :func:`conley_taber`.

    Returns
    -------
    Placebos
        The coefficients and their placebo draws.
    """
    if design.role is None:
        raise EstimationError(
            "this inference needs a treatment that switches on at the same period for every "
            "row of a cluster (cohort per cluster); here it does not"
        )
    role = np.asarray(design.role)
    y, z = design.partialled()
    theta, *_ = np.linalg.lstsq(z, y, rcond=None)
    resid = y - z @ theta
    treated = [int(g) for g in np.flatnonzero(role)]
    controls = [int(g) for g in np.flatnonzero(role == 0)]
    if len(controls) < 2:
        raise EstimationError("Conley–Taber inference needs at least 2 comparison clusters")
    k = len(treated)
    roles_needed = sorted({int(role[g]) for g in treated})
    pairs = [(j, r) for j in controls for r in roles_needed]
    n_rows, m = design.regressors.shape
    if len(pairs) * n_rows * m > 2_000_000_000 or (k > 1 and len(pairs) > 3000):
        raise EstimationError(
            f"Conley–Taber inference over {len(controls)} comparison clusters on {n_rows} rows "
            "is too large to compute here; cluster at a coarser level (e.g. municipality)"
        )
    vec, gram = _placebo_parts(design, pairs, resid, cross=k > 1)
    sizes = np.bincount(design.cluster, minlength=design.n_clusters).astype(float)

    def coef(sel: list[tuple[int, int]], scales: list[float]) -> np.ndarray:
        g_sum = sum(gram[(a, b)] for a in sel for b in sel)
        v_sum = sum(s * vec[a] for a, s in zip(sel, scales, strict=True))
        return np.linalg.lstsq(np.atleast_2d(g_sum), np.atleast_1d(v_sum), rcond=None)[0]

    messages: list[Note] = []
    scale = np.ones(design.n_clusters)
    fp_used = False
    if ferman_pinto:
        eta2 = np.array([float(weights @ coef([p], [1.0])) ** 2 for p in pairs])
        inv_m = np.array([1.0 / sizes[j] for j, _ in pairs])
        if len(controls) >= 3 and np.ptp(inv_m) > 0:
            x = np.column_stack([np.ones_like(inv_m), inv_m])
            (a_hat, b_hat), *_ = np.linalg.lstsq(x, eta2, rcond=None)
            var = a_hat + b_hat / sizes
            if np.all(var[controls + treated] > 0):
                fp_used, scale = True, var
            else:
                messages.append(Note("ferman_pinto_nonpositive"))

    n_maps = math.perm(len(controls), k)
    enumerated = n_maps <= max_enumerate
    if enumerated:
        maps = list(itertools.permutations(controls, k))
    else:
        rng = np.random.default_rng(seed)
        maps = [
            tuple(int(c) for c in rng.choice(controls, size=k, replace=False)) for _ in range(n_sim)
        ]
    placebo = np.array(
        [
            coef(
                [(j, int(role[h])) for j, h in zip(mp, treated, strict=True)],
                [
                    math.sqrt(scale[h] / scale[j]) if fp_used else 1.0
                    for j, h in zip(mp, treated, strict=True)
                ],
            )
            for mp in maps
        ]
    )
    return Placebos(theta, placebo, enumerated, fp_used, len(controls), k, tuple(messages))


def conley_taber_combinations(
    design: LinearDesign,
    combinations: Sequence[np.ndarray],
    *,
    ferman_pinto: bool = True,
    n_sim: int = 1999,
    max_enumerate: int = 20_000,
    seed: int = 0,
    alpha: float = 0.05,
    joint: Sequence[int] = (),
    draws: Placebos | None = None,
) -> tuple[list[InferenceOutcome], float | None]:
    """Conley–Taber inference on linear combinations ``w'theta`` of the regressors' coefficients.

    Parameters
    ----------
    design : LinearDesign
        The regression; ``role`` and ``block`` must be set.
    combinations : sequence of numpy.ndarray
        Weight vectors (length m each); the first one drives the Ferman–Pinto variance model.
    ferman_pinto, n_sim, max_enumerate, seed, alpha
        As in :func:`conley_taber`.
    joint : sequence of int
        Coefficients (positions) tested jointly for zero (e.g. the pre-period event
        times): statistic ``sum(theta_j**2 / s_j**2)`` with ``s_j**2`` the mean squared
        placebo, compared with the same statistic of every placebo.

    Returns
    -------
    outcomes : list of InferenceOutcome
        One per combination, in order.
    joint_p : float or None
        p-value of the joint test (None when ``joint`` is empty).
    """
    combos = [np.asarray(w, dtype=float) for w in combinations]
    draws = draws or conley_taber_placebos(
        design,
        combos[0],
        ferman_pinto=ferman_pinto,
        n_sim=n_sim,
        max_enumerate=max_enumerate,
        seed=seed,
    )
    theta, placebo, k = draws.theta, draws.placebo, draws.treated
    messages = list(draws.messages)
    enumerated, fp_used, n_controls = draws.enumerated, draws.ferman_pinto, draws.comparison
    n = len(placebo)
    smallest = 1.0 / (n + 1)
    allowed = math.floor(alpha * (n + 1) + 1e-9) - 1
    if allowed < 0:
        values = {"treated": k, "comparison": n_controls, "placebos": n}
        messages.append(
            Note("conley_taber_unbounded", {**values, **unbounded_values(n + 1, alpha)})
        )
    detail = {
        "method": "Conley–Taber" + (" with Ferman–Pinto correction" if fp_used else ""),
        "placebos": int(n),
        "enumerated": bool(enumerated),
        "ferman_pinto": bool(fp_used),
        "smallest_p_value": smallest,
        "seed": int(seed),
        "comparison_clusters": n_controls,
    }
    out = []
    for w in combos:
        est = float(w @ theta)
        absval = np.sort(np.abs(placebo @ w))[::-1]
        hits = int((absval >= abs(est) - 1e-12 * max(1.0, abs(est))).sum())
        p = (1 + hits) / (n + 1)
        if allowed < 0:
            lo, hi = -math.inf, math.inf
        else:
            crit = float(absval[allowed])
            lo, hi = est - crit, est + crit
        out.append(InferenceOutcome(p, lo, hi, dict(detail), tuple(messages)))
    joint_p = None
    if joint:
        idx = list(joint)
        s2 = np.mean(placebo[:, idx] ** 2, axis=0)
        s2 = np.where(s2 > 0, s2, np.inf)
        obs = float((theta[idx] ** 2 / s2).sum())
        pl = (placebo[:, idx] ** 2 / s2).sum(axis=1)
        joint_p = (1 + int((pl >= obs - 1e-12 * max(1.0, obs)).sum())) / (n + 1)
    return out, joint_p

"""Conley–Taber (2011) inference with the Ferman–Pinto (2019) correction, for many coefficients.

With few treated clusters the distribution of ``estimate − effect`` is taken
from the comparison clusters' residuals. By FWL the estimate's error is a sum
over the treated clusters of their own error contrasts (weighted by each
cluster's share of the treatment's variation); Conley & Taber estimate the
distribution of that sum by drawing, independently for every treated cluster
and with replacement, the residual contrast of a comparison cluster given that
treated cluster's timing. With ``k`` treated and ``J`` comparison clusters all
``J**k`` draws are enumerated when there are at most ``max_enumerate``, else
``n_sim`` are sampled. Ferman & Pinto's correction rescales each comparison
contrast to the variance expected for the size of the treated cluster it stands
in for, using ``Var = A + B / M`` (``M`` = rows in the cluster) fitted on the
comparison clusters' contrasts.

The p-value of ``effect = tau`` is ``(1 + #{|placebo| ≥ |estimate − tau|}) / (n + 1)``
over the ``n`` placebos, so it is never below ``1/(n + 1)``; the test rejects at
``p ≤ alpha`` and the interval (the values of ``tau`` it does not reject) is
``estimate ± c`` with ``c`` the matching order statistic of ``|placebo|``, and
unbounded when ``1/(n + 1) > alpha``. The method is asymptotic in the number of
comparison clusters: with few of them the placebos understate the error's
spread (see :func:`evalkit.did.estimate.few_treated_default` for where it is
the default). The computation keeps only one cluster's residualised regressors
in memory at a time, so it also serves the event study (one column per event time).
"""

from __future__ import annotations

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
    if design.pattern is None:
        raise EstimationError("Conley–Taber inference needs the treatment pattern per cluster")
    patterns = {r: design.pattern(r) for r in sorted({r for _, r in pairs})}
    local = {p: patterns[p[1]][rows[p[0]]] for p in pairs}
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


def _contributions(
    design: LinearDesign,
    resid: np.ndarray,
    treated: list[int],
    controls: list[int],
    role: np.ndarray,
    w0: np.ndarray,
    ferman_pinto: bool,
) -> tuple[np.ndarray, list[Note], bool]:
    """Placebo contribution of each comparison cluster standing in for each treated cluster.

    By FWL the estimate's error is ``G_T^{-1} sum_h B_h' M e``, the sum over treated
    clusters ``h`` of ``G_T^{-1} g_h eta_h``: ``G_T`` the residualised Gram of all treated
    blocks, ``g_h`` that of cluster ``h`` alone and ``eta_h`` its own error contrast.
    Conley & Taber take ``eta_h`` from the comparison clusters' residual contrasts
    ``eta_j = g_j^+ B_j' u``; Ferman & Pinto rescale ``eta_j`` by
    ``sqrt(Var_h / Var_j)`` with ``Var = A + B / M`` fitted on the comparison clusters.

    Returns
    -------
    contrib : numpy.ndarray
        k × J × m: treated position × comparison cluster × coefficient.
    messages : list of Note
        Notes on the Ferman–Pinto fit.
    fp_used : bool
        Whether the Ferman–Pinto rescaling was applied.
    """
    roles_needed = sorted({int(role[g]) for g in treated})
    c_pairs = [(j, r) for j in controls for r in roles_needed]
    t_pairs = [(h, int(role[h])) for h in treated]
    c_vec, c_gram = _placebo_parts(design, c_pairs, resid, cross=False)
    _, t_gram = _placebo_parts(design, t_pairs, resid, cross=True)
    g_total = sum(t_gram[(a, b)] for a in t_pairs for b in t_pairs)
    g_inv = np.linalg.pinv(np.atleast_2d(g_total))
    eta = {
        p: np.linalg.pinv(np.atleast_2d(c_gram[(p, p)])) @ np.atleast_1d(c_vec[p]) for p in c_pairs
    }
    sizes = np.bincount(design.cluster, minlength=design.n_clusters).astype(float)
    messages: list[Note] = []
    scale = np.ones(design.n_clusters)
    fp_used = False
    if ferman_pinto:
        eta2 = np.array([float(w0 @ eta[p]) ** 2 for p in c_pairs])
        inv_m = np.array([1.0 / sizes[j] for j, _ in c_pairs])
        if len(controls) >= 3 and np.ptp(inv_m) > 0:
            x = np.column_stack([np.ones_like(inv_m), inv_m])
            (a_hat, b_hat), *_ = np.linalg.lstsq(x, eta2, rcond=None)
            var = a_hat + b_hat / sizes
            if np.all(var[controls + treated] > 0):
                fp_used, scale = True, var
            else:
                messages.append(Note("ferman_pinto_nonpositive"))
    m = design.regressors.shape[1]
    contrib = np.zeros((len(treated), len(controls), m))
    for i, (h, r) in enumerate(t_pairs):
        weight = g_inv @ np.atleast_2d(t_gram[((h, r), (h, r))])
        for c, j in enumerate(controls):
            factor = math.sqrt(scale[h] / scale[j]) if fp_used else 1.0
            contrib[i, c] = factor * (weight @ eta[(j, r)])
    return contrib, messages, fp_used


def _draws(k: int, n_controls: int, n_sim: int, max_enumerate: int, seed: int) -> np.ndarray:
    """Comparison-cluster positions (n × k) drawn for the k treated clusters, with replacement."""
    if n_controls**k <= max_enumerate:
        grids = np.meshgrid(*[np.arange(n_controls)] * k, indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=1)
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_controls, size=(n_sim, k))


@dataclass(frozen=True)
class Placebos:
    """Conley–Taber placebo draws of the estimation error of every regressor's coefficient.

    Attributes
    ----------
    theta : numpy.ndarray
        The coefficients (length m).
    placebo : numpy.ndarray
        One row per placebo (n × m): the sum over treated clusters of the comparison
        cluster's contribution drawn for each (rescaled when ``ferman_pinto``).
    enumerated, ferman_pinto : bool
        Whether every draw was enumerated, whether the correction was used.
    comparison : int
        Number of comparison clusters.
    treated : int
        Number of treated clusters.
    messages : tuple of Note
        Notes (e.g. a non-positive Ferman–Pinto variance).
    groups : numpy.ndarray or None
        The comparison clusters (positions 0..comparison-1) each row is built from
        (n × treated), so a row can be judged apart from the clusters it uses.
    """

    theta: np.ndarray
    placebo: np.ndarray
    enumerated: bool
    ferman_pinto: bool
    comparison: int
    treated: int
    messages: tuple[Note, ...]
    groups: np.ndarray | None = None


def conley_taber_placebos(
    design: LinearDesign,
    weights: np.ndarray,
    *,
    ferman_pinto: bool = True,
    n_sim: int = 1999,
    max_enumerate: int = 20_000,
    seed: int = 0,
) -> Placebos:
    """Placebo draws of the coefficients' estimation error from the comparison clusters.

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
    n_rows, m = design.regressors.shape
    if len(controls) * n_rows * m > 2_000_000_000:
        raise EstimationError(
            f"Conley–Taber inference over {len(controls)} comparison clusters on {n_rows} rows "
            "is too large to compute here; cluster at a coarser level (e.g. municipality)"
        )
    contrib, messages, fp_used = _contributions(
        design, resid, treated, controls, role, np.asarray(weights, dtype=float), ferman_pinto
    )
    k = len(treated)
    draws = _draws(k, len(controls), n_sim, max_enumerate, seed)
    enumerated = len(controls) ** k <= max_enumerate
    placebo = contrib[np.arange(k)[None, :], draws].sum(axis=1)  # n × m
    return Placebos(
        theta, placebo, enumerated, fp_used, len(controls), k, tuple(messages), groups=draws
    )


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
    draws : Placebos, optional
        Placebo draws already made (:func:`conley_taber_placebos`), e.g. shared with the
        sensitivity analysis; made here when None.

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
    enumerated, fp_used = draws.enumerated, draws.ferman_pinto
    n = len(placebo)
    allowed = math.floor(alpha * (n + 1) + 1e-9) - 1
    if allowed < 0:
        values = {"treated": k, "comparison": draws.comparison, "placebos": n}
        messages.append(
            Note("conley_taber_unbounded", {**values, **unbounded_values(n + 1, alpha)})
        )
    detail = {
        "method": "Conley–Taber" + (" with Ferman–Pinto correction" if fp_used else ""),
        "placebos": int(n),
        "enumerated": bool(enumerated),
        "ferman_pinto": bool(fp_used),
        "smallest_p_value": 1.0 / (n + 1),
        "seed": int(seed),
        "comparison_clusters": draws.comparison,
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

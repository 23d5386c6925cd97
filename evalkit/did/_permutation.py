"""Randomization inference over the assignment of cohorts to clusters: the shared steps.

TWFE and the event study (:mod:`evalkit.did.inference`), Callaway–Sant'Anna
(:mod:`evalkit.did.cs._randomization`), imputation and Sun–Abraham
(:mod:`evalkit.did._modern_inference`) test one sharp null the same way: every cluster
keeps its units, the cohorts (first treated periods, 0 = never) are re-assigned among
the clusters keeping how many start in each period, and the statistic is recomputed
under each assignment. What differs is the statistic; what they share is here, so that
one rule holds for all: which assignments are used, ``p(tau)`` of the sharp null
``Y(0) = Y - tau * D``, its inversion into an interval, the exact size of the test,
and the notes that say when no p-value can reach alpha or the test is coarse.

Written here rather than taken from a library: pyfixest's ``Feols.ritest`` permutes one
regressor of a pyfixest model (whole clusters at a time) and tests one value of it; it
cannot re-assign cohorts, whose treatment indicator changes over time within a cluster,
nor re-run Callaway–Sant'Anna, imputation or Sun–Abraham, nor invert the test.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from evalkit.did.notes import Note
from evalkit.errors import EstimationError

__all__ = [
    "cohort_roles",
    "distinct_assignments",
    "draw_assignments",
    "exact_size",
    "invert",
    "sharp_null_p",
    "size_note",
    "unbounded_note",
    "unbounded_values",
]

#: A coarse test: its exact size is below this share of alpha, which the notes say.
_COARSE = 0.6


def cohort_roles(cluster: np.ndarray, cohort: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the cohort code of every cluster and the cohort value of each code.

    Parameters
    ----------
    cluster : numpy.ndarray
        Dense cluster code (0, 1, …) of every unit or row.
    cohort : numpy.ndarray
        Its cohort: first treated period, 0 = never treated.

    Returns
    -------
    role : numpy.ndarray
        Per cluster, 0 (never treated) or the code r ≥ 1 of its cohort.
    values : numpy.ndarray
        The cohort value of each code (``values[0] == 0``).
    """
    g = np.asarray(cohort, dtype=float)
    n_clusters = int(cluster.max()) + 1
    low = np.full(n_clusters, np.inf)
    high = np.full(n_clusters, -np.inf)
    np.minimum.at(low, cluster, g)
    np.maximum.at(high, cluster, g)
    if np.any(low != high):
        raise EstimationError(
            "permutation inference re-assigns cohorts to clusters, so every unit of a cluster "
            "must have the same cohort (first treated period; 0 or empty = never treated); "
            "here some clusters mix cohorts"
        )
    values = np.unique(low)
    values = np.concatenate([[0.0], values[values > 0]])
    return np.searchsorted(values, low).astype(np.int64), values


def distinct_assignments(role: np.ndarray, limit: int) -> list[np.ndarray] | None:
    """Return every distinct permutation of ``role``, or None when there are more than ``limit``.

    Parameters
    ----------
    role : numpy.ndarray
        Per cluster, 0 (comparison) or the code r ≥ 1 of its treatment pattern (cohort).
    limit : int
        Largest number of assignments to list.

    Returns
    -------
    list of numpy.ndarray or None
        The assignments (the observed one among them), or None.
    """
    g_count = len(role)
    counts = {int(r): int((role == r).sum()) for r in np.unique(role) if r > 0}
    total = math.factorial(g_count) // math.prod(
        math.factorial(c) for c in [*counts.values(), int((role == 0).sum())]
    )
    if total > limit:
        return None
    out: list[np.ndarray] = []

    def place(free: list[int], roles: list[tuple[int, int]], current: np.ndarray) -> None:
        if not roles:
            out.append(current.copy())
            return
        (r, c), rest = roles[0], roles[1:]
        for chosen in itertools.combinations(free, c):
            current[list(chosen)] = r
            place([f for f in free if f not in chosen], rest, current)
            current[list(chosen)] = 0

    place(list(range(g_count)), sorted(counts.items()), np.zeros(g_count, dtype=int))
    return out


def draw_assignments(
    role: np.ndarray, max_enumerate: int, n_perm: int, seed: int
) -> tuple[list[np.ndarray], bool]:
    """Return the assignments to test over, and whether they are every distinct one.

    Every distinct assignment when there are at most ``max_enumerate``; otherwise the
    observed one first and ``n_perm`` seeded random permutations of it.
    """
    listed = distinct_assignments(role, max_enumerate)
    if listed is not None:
        return listed, True
    rng = np.random.default_rng(seed)
    return [role] + [rng.permutation(role) for _ in range(n_perm)], False


def sharp_null_p(
    by_y: np.ndarray,
    by_d: np.ndarray,
    obs_y: float,
    obs_d: float,
    missing_is_extreme: bool = False,
) -> Callable[[float], float]:
    """Return ``p(tau)``: the share of assignments at least as extreme as the observed one.

    Under the sharp null ``Y(0) = Y - tau * D`` the statistic of an assignment is
    ``|by_y - tau * by_d|`` (the estimators are linear in the outcome for a fixed
    assignment), the observed one ``|obs_y - tau * obs_d|``.

    Parameters
    ----------
    by_y, by_d : numpy.ndarray
        The statistic on ``Y`` and on the observed ``D`` under every assignment (the
        observed one included).
    obs_y, obs_d : float
        The same under the observed assignment.
    missing_is_extreme : bool
        Count an assignment whose statistic is NaN as at least as extreme.
    """
    n = by_y.size

    def pfun(tau: float) -> float:
        stat = np.abs(by_y - tau * by_d)
        ref = abs(obs_y - tau * obs_d)
        hits = stat >= ref - 1e-10 * max(1.0, ref)
        if missing_is_extreme:
            hits |= np.isnan(stat)
        return int(hits.sum()) / n

    return pfun


def invert(
    pfun: Callable[[float], float], center: float, scale: float, alpha: float
) -> tuple[float, float]:
    """Return the interval {tau: p(tau) > alpha} around ``center`` by bracketing and bisection."""
    scale = scale if np.isfinite(scale) and scale > 0 else max(abs(center), 1.0)
    bounds = []
    for sign in (-1.0, 1.0):
        inner, step = center, scale
        outer = None
        for _ in range(60):
            trial = center + sign * step
            if pfun(trial) <= alpha:
                outer = trial
                break
            inner, step = trial, step * 2
        if outer is None:
            bounds.append(sign * math.inf)
            continue
        for _ in range(60):
            mid = 0.5 * (inner + outer)
            if pfun(mid) <= alpha:
                outer = mid
            else:
                inner = mid
            if abs(outer - inner) <= 1e-9 * max(1.0, abs(center), scale):
                break
        bounds.append(0.5 * (inner + outer))
    return bounds[0], bounds[1]


def exact_size(stat: np.ndarray, alpha: float, always: int = 0) -> float:
    """Return the exact size of the test rejecting at ``p ≤ alpha`` (statistic per assignment).

    With ``n`` equally likely assignments the p-value of the observed one is
    ``#{stat ≥ stat_obs} / n``; the test's size is the largest attainable p-value at or
    below ``alpha`` (ties, e.g. mirror-image assignments, make steps coarser than ``1/n``).

    Parameters
    ----------
    stat : numpy.ndarray
        ``|statistic|`` under each assignment (the observed one included).
    alpha : float
        Nominal level.
    always : int
        Further assignments that count as at least as extreme whatever the observed
        value (their statistic is not defined), as Callaway–Sant'Anna counts them.

    Returns
    -------
    float
        The exact size (0 when no p-value is at or below ``alpha``).
    """
    s = np.sort(np.asarray(stat, dtype=float))
    tol = 1e-10 * max(1.0, float(np.abs(s).max(initial=0.0)))
    p = (len(s) - np.searchsorted(s, s - tol, side="left") + always) / (len(s) + always)
    ok = p[p <= alpha + 1e-12]
    return float(ok.max()) if ok.size else 0.0


def size_note(stat: np.ndarray, alpha: float, always: int = 0) -> tuple[float, Note | None]:
    """Return the exact size of the test and, when it is coarse, the note that says so.

    Parameters
    ----------
    stat : numpy.ndarray
        ``|statistic|`` under each assignment (the observed one included).
    alpha : float
        Nominal level.
    always : int
        As in :func:`exact_size`.
    """
    size = exact_size(stat, alpha, always)
    if size >= _COARSE * alpha:
        return size, None
    coarse = {"assignments": len(stat) + always, "alpha": float(alpha), "size": size}
    return size, Note("permutation_conservative", coarse)


def unbounded_values(assignments: int, alpha: float) -> dict[str, Any]:
    """Values of the notes that say why no p-value below ``alpha`` (and no bounded interval) exists.

    Parameters
    ----------
    assignments : int
        Number of equally likely assignments (the observed one included); the
        smallest p-value is ``1 / assignments``.
    alpha : float
        1 − confidence level.

    Returns
    -------
    dict
        ``assignments``, ``smallest``, ``alpha`` and ``level`` (1 − alpha).
    """
    return {
        "assignments": int(assignments),
        "smallest": 1.0 / assignments,
        "alpha": float(alpha),
        "level": 1 - alpha,
    }


def unbounded_note(key: str, assignments: int, alpha: float, role: np.ndarray) -> Note | None:
    """Return the note ``key`` when no p-value can reach ``alpha``, else None.

    Parameters
    ----------
    key : str
        The note's code (each estimator words it for its own statistic).
    assignments : int
        Number of assignments tested over; the smallest p-value is its inverse.
    alpha : float
        1 − confidence level.
    role : numpy.ndarray
        Per cluster, 0 or its cohort code (for the numbers of treated and all clusters).
    """
    if 1.0 / assignments <= alpha:
        return None
    counts = {"treated": int((np.asarray(role) > 0).sum()), "clusters": len(role)}
    return Note(key, counts | unbounded_values(assignments, alpha))

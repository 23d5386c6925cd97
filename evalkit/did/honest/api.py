"""The entry point :func:`sensitivity`: robust intervals per bound, the original, the breakdown."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special
from threadpoolctl import threadpool_limits

from evalkit.did._common import check_choice
from evalkit.did.honest._arp import MAX_VERTICES, normal_draws
from evalkit.did.honest._flci import optimal_flci
from evalkit.did.honest._placebo import placebo_original, placebo_relmag, placebo_smooth
from evalkit.did.honest._relmag import relmag_accept
from evalkit.did.honest.result import SensitivityResult
from evalkit.did.notes import Note
from evalkit.errors import EstimationError
from evalkit.spec import FEW_TREATED_THRESHOLD, Restriction

__all__ = ["Restriction", "sensitivity"]

#: Bisection steps for the breakdown value (precision 2^-7 of the bracket between two bounds).
_BISECT = 7


def sensitivity(
    betahat: Sequence[float] | np.ndarray,
    sigma: np.ndarray | None,
    *,
    num_pre: int,
    num_post: int,
    restriction: Restriction = "relative_magnitudes",
    bounds: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
    alpha: float = 0.05,
    l_vec: Sequence[float] | None = None,
    placebo: np.ndarray | None = None,
    placebo_groups: np.ndarray | None = None,
    n_treated_clusters: int | None = None,
    n_clusters: int | None = None,
    few_treated_threshold: int = FEW_TREATED_THRESHOLD,
    grid_points: int = 1000,
    sims: int = 5000,
    seed: int = 0,
    breakdown: bool = True,
) -> SensitivityResult:
    """HonestDiD sensitivity analysis (Rambachan & Roth 2023) of an event study.

    Parameters
    ----------
    betahat : array-like
        Event-study coefficients: ``num_pre`` pre-period ones (oldest first, the
        reference period −1 left out), then ``num_post`` post-period ones.
    sigma : numpy.ndarray or None
        Their covariance (None only with ``placebo``).
    num_pre, num_post : int
        Numbers of pre- and post-period coefficients.
    restriction : {"relative_magnitudes", "smoothness"}
        ``"relative_magnitudes"``: post-period violations of parallel trends change
        per period by at most ``bound`` times the largest pre-period change
        (Delta^RM(Mbar); conditional least-favourable hybrid intervals, "C-LF").
        ``"smoothness"``: the slope of the violations changes by at most ``bound``
        per period (Delta^SD(M); optimal fixed-length intervals, "FLCI").
    bounds : sequence of float
        Values of Mbar (or M) to report.
    alpha : float
        1 − confidence level.
    l_vec : sequence of float, optional
        Weights of the post-period effects in the target; default the first post
        period (as the R package). ``[1/num_post] * num_post`` is their mean.
    placebo : numpy.ndarray, optional
        Placebo error vectors (rows; one column per coefficient), e.g. Conley–Taber
        placebo event studies. When given, the intervals come from their
        distribution instead of the normal approximation (valid with few treated
        clusters; see :mod:`evalkit.did.honest._placebo`).
    placebo_groups : numpy.ndarray, optional
        For each placebo row, the comparison clusters it is built from (rows × treated
        clusters, e.g. :attr:`evalkit.did.conley_taber.Placebos.groups`): the smoothness
        weights that judge a row are then fitted on rows sharing none of its clusters.
    n_treated_clusters, n_clusters : int, optional
        When fewer than ``few_treated_threshold`` clusters are treated and no
        ``placebo`` is given, a note says that the normal approximation fails.
    few_treated_threshold : int
        The registered few-treated threshold (default
        :data:`evalkit.spec.FEW_TREATED_THRESHOLD`).
    grid_points : int
        Grid of the C-LF test inversion (as the R package: ``±20`` standard errors
        of the target around zero, widened while an interval reaches its end).
    sims : int
        Draws for the least-favourable critical value.
    seed : int
        Seed of those draws.
    breakdown : bool
        Whether to search the breakdown value between the bounds (by bisection; about
        as costly again as the table for relative magnitudes).

    Returns
    -------
    SensitivityResult
        ``tidy()`` has ``bound, lb, ub, method`` (the original interval first).

    Raises
    ------
    EstimationError
        Inconsistent shapes or options (the message says which).
    """
    check_choice("restriction", restriction, Restriction)
    # The matrices are small: BLAS threads only contend (tenfold slower on a busy machine).
    with threadpool_limits(limits=1, user_api="blas"):
        return _sensitivity(
            betahat,
            sigma,
            num_pre,
            num_post,
            restriction,
            bounds,
            alpha,
            l_vec,
            placebo,
            placebo_groups,
            n_treated_clusters,
            n_clusters,
            few_treated_threshold,
            grid_points,
            sims,
            seed,
            breakdown,
        )


def _sensitivity(
    betahat: Sequence[float] | np.ndarray,
    sigma: np.ndarray | None,
    num_pre: int,
    num_post: int,
    restriction: str,
    bounds: Sequence[float],
    alpha: float,
    l_vec: Sequence[float] | None,
    placebo: np.ndarray | None,
    placebo_groups: np.ndarray | None,
    n_treated_clusters: int | None,
    n_clusters: int | None,
    few_treated_threshold: int,
    grid_points: int,
    sims: int,
    seed: int,
    breakdown: bool,
) -> SensitivityResult:
    beta, sig, lv = _check(betahat, sigma, num_pre, num_post, l_vec, placebo, alpha)
    bounds = [float(b) for b in bounds]
    if not bounds or any(b < 0 or not math.isfinite(b) for b in bounds):
        raise EstimationError(f"bounds must be non-negative numbers; got {bounds!r}")
    notes: list[Note] = []
    few = n_treated_clusters is not None and n_treated_clusters < few_treated_threshold
    facts = {"treated": n_treated_clusters or 0, "clusters": n_clusters or 0}
    problem = _Problem(beta, sig, num_pre, lv, restriction, alpha)
    # Beyond a few post periods the exact C-LF test has too many pieces (bases) to enumerate;
    # the placebo rule with normal draws is then a valid (conservative) projection interval.
    projection = (
        placebo is None
        and sig is not None
        and restriction == "relative_magnitudes"
        and _clf_too_large(num_pre, num_post, len(bounds))
    )
    if projection and sig is not None:
        placebo = normal_draws(sig, sims, seed).T
        notes.append(Note("sensitivity_projection", {"n": num_post}))
    if placebo is not None:
        if few:
            code = "normal" if projection else "placebo"
            notes.append(Note(f"sensitivity_few_treated_{code}", facts))
        draws = np.asarray(placebo, dtype=float)
        method = _placebo_method(problem, draws, placebo_groups, projection)
    else:
        if sig is None:  # _check allows this only with placebo
            raise EstimationError("give sigma (the covariance of betahat) or placebo draws")
        if few:
            notes.append(Note("sensitivity_few_treated_normal", facts))
        if restriction == "smoothness":
            method = _flci_method(problem, sig)
        else:
            method = _clf_method(problem, sig, grid_points, sims, seed, notes)
    rows = [method.interval(b) for b in bounds]
    table = pd.DataFrame({"bound": bounds, "lb": [r[0] for r in rows], "ub": [r[1] for r in rows]})
    if table["lb"].isna().any():
        notes.append(Note("sensitivity_empty"))
    point, censored = _breakdown(bounds, rows, method.excludes_zero) if breakdown else (None, False)
    return SensitivityResult(
        restriction=restriction,
        method=method.name,
        table=table,
        original=(float(method.original[0]), float(method.original[1])),
        estimate=problem.estimate,
        breakdown=point,
        breakdown_censored=censored,
        alpha=alpha,
        notes=tuple(dict.fromkeys(notes)),
        detail={
            "l_vec": lv.tolist(),
            "num_pre": num_pre,
            "num_post": num_post,
            "grid_half_widths": method.grids,
            "grid_points": grid_points,
        },
    )


@dataclass(frozen=True)
class _Problem:
    """The event study and the question: the effect ``l_vec'beta_post`` under a restriction."""

    beta: np.ndarray
    sigma: np.ndarray | None
    num_pre: int
    l_vec: np.ndarray
    restriction: str
    alpha: float

    @property
    def estimate(self) -> float:
        return float(self.l_vec @ self.beta[self.num_pre :])


@dataclass
class _Method:
    """How the robust interval at one bound is made, and the interval without restriction."""

    name: str
    original: tuple[float, float]
    interval: Callable[[float], tuple[float, float]]
    excludes_zero: Callable[[float], bool]
    grids: list[float] = field(default_factory=list)  # C-LF: the half-width of each grid


def _zero_outside(interval: Callable[[float], tuple[float, float]]) -> Callable[[float], bool]:
    """Return whether the interval at a bound excludes zero."""

    def excludes_zero(b: float) -> bool:
        lo, hi = interval(b)
        return lo > 0 or hi < 0

    return excludes_zero


def _placebo_method(
    q: _Problem, draws: np.ndarray, groups: np.ndarray | None, projection: bool
) -> _Method:
    """Intervals from placebo draws (few treated clusters), or normal draws (projection)."""
    beta, n, lv, alpha = q.beta, q.num_pre, q.l_vec, q.alpha

    def interval(b: float) -> tuple[float, float]:
        if q.restriction == "smoothness":
            return placebo_smooth(beta, draws, n, lv, b, alpha, groups=groups)
        return placebo_relmag(beta, draws, n, lv, b, alpha)

    original = placebo_original(beta, draws, n, lv, alpha)
    name = "projection" if projection else "placebo"
    return _Method(name, original, interval, _zero_outside(interval))


def _normal_se(q: _Problem, sig: np.ndarray) -> float:
    """Return the standard error of the effect without restriction."""
    return math.sqrt(float(q.l_vec @ sig[q.num_pre :, q.num_pre :] @ q.l_vec))


def _normal_original(q: _Problem, se: float) -> tuple[float, float]:
    """Return the interval without restriction, from the normal approximation."""
    z = float(special.ndtri(1 - q.alpha / 2))
    return q.estimate - z * se, q.estimate + z * se


def _flci_method(q: _Problem, sig: np.ndarray) -> _Method:
    """Smoothness: the optimal fixed-length confidence interval (Rambachan–Roth)."""

    def interval(b: float) -> tuple[float, float]:
        f = optimal_flci(q.beta, sig, q.num_pre, q.l_vec, b, q.alpha)
        return f.centre - f.half_length, f.centre + f.half_length

    original = _normal_original(q, _normal_se(q, sig))
    return _Method("FLCI", original, interval, _zero_outside(interval))


def _clf_method(
    q: _Problem, sig: np.ndarray, grid_points: int, sims: int, seed: int, notes: list[Note]
) -> _Method:
    """Relative magnitudes: the conditional least-favourable test, inverted on a grid."""
    se = _normal_se(q, sig)
    grid_base = 20 * se
    grids: list[float] = []

    def interval(b: float) -> tuple[float, float]:
        lo, hi, width = _clf_interval(
            q.beta, sig, q.num_pre, q.l_vec, b, q.alpha, grid_base, grid_points, sims, seed, notes
        )
        grids.append(width)
        return lo, hi

    def excludes_zero(b: float) -> bool:
        acc = relmag_accept(
            q.beta, sig, q.num_pre, q.l_vec, b, np.zeros(1), alpha=q.alpha, sims=sims, seed=seed
        )
        return not bool(acc[0])

    return _Method("C-LF", _normal_original(q, se), interval, excludes_zero, grids)


def _check(
    betahat: Sequence[float] | np.ndarray,
    sigma: np.ndarray | None,
    num_pre: int,
    num_post: int,
    l_vec: Sequence[float] | None,
    placebo: np.ndarray | None,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    beta = np.asarray(betahat, dtype=float).ravel()
    n = num_pre + num_post
    if num_pre < 1 or num_post < 1 or len(beta) != n:
        raise EstimationError(
            f"betahat has {len(beta)} coefficients; expected num_pre + num_post = {n} "
            "(at least one of each; the reference period −1 left out)"
        )
    if not 0 < alpha < 1:
        raise EstimationError(f"alpha must be between 0 and 1; got {alpha!r}")
    sig = None
    if sigma is not None:
        sig = np.asarray(sigma, dtype=float)
        if sig.shape != (n, n) or not np.allclose(sig, sig.T, rtol=1e-8, atol=1e-14):
            raise EstimationError(
                f"sigma must be a symmetric {n}×{n} matrix; got shape {sig.shape}"
            )
    elif placebo is None:
        raise EstimationError("give sigma (the covariance of betahat) or placebo draws")
    shape = None if placebo is None else np.asarray(placebo).shape
    if shape is not None and (len(shape) != 2 or shape[1] != n or shape[0] < 1):
        raise EstimationError(f"placebo must have one column per coefficient ({n})")
    lv = np.eye(num_post)[0] if l_vec is None else np.asarray(l_vec, dtype=float).ravel()
    if len(lv) != num_post or not np.any(lv != 0):
        raise EstimationError(f"l_vec must have num_post = {num_post} weights, not all zero")
    return beta, sig, lv


def _clf_interval(
    beta: np.ndarray,
    sig: np.ndarray,
    num_pre: int,
    lv: np.ndarray,
    mbar: float,
    alpha: float,
    half_width: float,
    grid_points: int,
    sims: int,
    seed: int,
    notes: list[Note],
) -> tuple[float, float, float]:
    """Invert the C-LF test on the R package's grid, widening it while the interval is open.

    Returns the interval's ends and the half-width of the grid used.
    """
    for _ in range(4):
        grid = np.linspace(-half_width, half_width, grid_points)
        acc = relmag_accept(beta, sig, num_pre, lv, mbar, grid, alpha=alpha, sims=sims, seed=seed)
        if not acc.any():
            return math.nan, math.nan, half_width
        if not (acc[0] or acc[-1]):
            break
        half_width *= 2
    else:
        notes.append(Note("sensitivity_open_grid"))
    return float(grid[acc].min()), float(grid[acc].max()), half_width


def _breakdown(
    bounds: list[float],
    rows: list[tuple[float, float]],
    excludes_zero: Callable[[float], bool],
) -> tuple[float | None, bool]:
    """Largest bound at which zero stays outside the interval, refined between the table's rows."""
    order = np.argsort(bounds)
    excl = [not (math.isnan(rows[i][0]) or rows[i][0] <= 0 <= rows[i][1]) for i in order]
    if not excl[0]:
        lo = 0.0
        if bounds[order[0]] == 0 or not excludes_zero(0.0):
            return None, False
        hi = bounds[order[0]]
    elif all(excl):
        return bounds[order[-1]], True
    else:
        first_in = excl.index(False)
        lo, hi = bounds[order[first_in - 1]], bounds[order[first_in]]
    for _ in range(_BISECT):
        mid = (lo + hi) / 2
        if excludes_zero(mid):
            lo = mid
        else:
            hi = mid
    return lo, False


#: Bases times tests above which the exact C-LF test gives way to the projection
#: interval. The test runs once per bound, per event time of the largest pre-period
#: change and per sign, each time over every basis of the post-period polytope; at
#: about 20 µs per basis and test, this is some 20 s of CPU. Twenty pre-period and
#: eight post-period coefficients (12,870 bases, 322 tests) took 90 s; ten post-period
#: ones (184,756 bases) ran for over nine minutes without an answer.
CLF_WORK = 1_000_000


def _clf_too_large(num_pre: int, num_post: int, n_bounds: int) -> bool:
    """Tell whether the exact C-LF test of relative magnitudes would take too long."""
    bases = math.comb(2 * num_post, num_post)
    return bases > MAX_VERTICES or bases * 2 * num_pre * n_bounds > CLF_WORK

"""Inference for a synthetic fit that stays valid with one treated unit.

* ``placebo`` (in space; Abadie, Diamond & Hainmueller 2010; Arkhangelsky et al. 2021,
  Algorithm 4): the whole estimator is refitted with comparison units pretending to be
  treated (all of them when there are few, else a random draw). The p-value is the
  share of placebo estimates at least as large in absolute value as the estimate (the
  estimate counted in); the interval inverts that test. A constant effect τ₀ taken off
  the treated cells moves the estimate by exactly τ₀ and leaves the placebos alone, so
  the inverted interval is ``att ± d₍ₖ₎`` with ``d₍ₖ₎`` the k-th largest absolute
  placebo, ``k = ⌊α(D + 1)⌋``; when k = 0 no effect can be rejected. The standard error
  is the placebo standard deviation (Algorithm 4).
* ``conformal`` (Chernozhukov, Wüthrich & Zhu 2021, JASA): under H₀ "the effect is τ₀
  in every treated period" the treated series less τ₀ is fitted on *all* periods with
  the estimator's unit-weight model (DiD: equal weights and a level; synthetic control:
  simplex weights; synthetic DiD: simplex weights, a level and the ridge ζ_ω), and the
  mean absolute post-period residual is compared with its value under every
  moving-block (cyclic) shift of time. The p-value is the share of shifts at least as
  extreme, so it can go down to 1/T with T periods. The confidence set collects the
  τ₀ not rejected on a grid (zero among the values tested), refined where the verdict
  changes; it need not be one interval, so it is kept as pieces (``conf_set``) and
  the interval reported is their hull.
* ``jackknife`` (Algorithm 3, weights held fixed): only with more than one treated
  unit; refused otherwise, because leaving out the one treated unit leaves no estimate.

Rejection rule everywhere: reject at ``p ≤ alpha``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import special

from evalkit.did._frank_wolfe import SimplexProblems
from evalkit.did._synth_weights import two_rounds
from evalkit.did.notes import Note
from evalkit.did.synthetic import SyntheticFit, cohort_estimates, overall
from evalkit.errors import EstimationError

__all__ = [
    "SynthInference",
    "SynthInferenceName",
    "conformal",
    "conformal_set",
    "jackknife",
    "placebo",
]

SynthInferenceName = Literal["placebo", "conformal", "jackknife"]

_CONFORMAL_STEPS = 1000


@dataclass(frozen=True)
class SynthInference:
    """p-value, interval and standard error of one inference method, and what lies behind them."""

    se: float
    p_value: float
    ci_low: float
    ci_high: float
    detail: dict[str, Any]
    notes: tuple[Note, ...] = ()
    #: Conformal only: the effects not rejected as sorted disjoint ``(low, high)`` pieces
    #: (±inf for an open end; empty when every effect tested is rejected). ``ci_low`` and
    #: ``ci_high`` are its hull.
    conf_set: tuple[tuple[float, float], ...] | None = None


def _draws(
    fit: SyntheticFit, n_placebo: int, rng: np.random.Generator
) -> tuple[list[tuple[np.ndarray, np.ndarray]], int, bool]:
    """Placebo assignments per cohort (treated, excluded positions), their number, sampled."""
    n0 = len(fit.panel.controls)
    sizes = [len(c.treated) for c in fit.cohorts]
    if n0 <= sum(sizes):
        raise EstimationError(
            f"placebo inference needs more comparison units ({n0}) than treated units "
            f"({sum(sizes)})"
        )
    possible = math.factorial(n0) // math.factorial(n0 - sum(sizes))
    for s in sizes:
        possible //= math.factorial(s)
    if len(sizes) == 1 and sizes[0] == 1 and n0 <= n_placebo:
        chosen = np.arange(n0)[:, None]
        return [(chosen, chosen)], n0, False
    if possible <= n_placebo:
        # all assignments, each once: drawing more than exist would repeat them and let
        # p go below 1/(assignments + 1), which no exact test can (staggered cohorts too)
        picks = np.array(list(_assignments(n0, sizes)))
        bounds = np.cumsum([0, *sizes])
        pairs = itertools.pairwise(int(b) for b in bounds)
        return [(picks[:, a:b], picks) for a, b in pairs], possible, False
    picks = np.array([rng.permutation(n0)[: sum(sizes)] for _ in range(n_placebo)])
    bounds = np.cumsum([0, *sizes])
    pairs = itertools.pairwise(int(b) for b in bounds)
    return [(picks[:, a:b], picks) for a, b in pairs], possible, True


def _assignments(n0: int, sizes: list[int]) -> Iterator[tuple[int, ...]]:
    """Every way to pick disjoint sets of ``sizes`` comparison positions, one per cohort."""
    if not sizes:
        yield ()
        return
    for first in itertools.combinations(range(n0), sizes[0]):
        for rest in _assignments(n0, sizes[1:]):
            if not set(first) & set(rest):
                yield first + rest


def _spread(fit: SyntheticFit) -> float:
    """Return the standard deviation of the outcome panel: the scale of rounding tolerances."""
    return float(np.std(fit.panel.y))


def _unbounded(alpha: float, assignments: int) -> dict[str, Any]:
    return {
        "assignments": assignments,
        "smallest": 1 / assignments,
        "alpha": alpha,
        "level": 1 - alpha,
    }


def placebo(
    fit: SyntheticFit, *, alpha: float, n_placebo: int = 199, seed: int = 0
) -> SynthInference:
    """In-space placebo inference (see the module text).

    Parameters
    ----------
    fit : SyntheticFit
        The fit.
    alpha : float
        1 − confidence level.
    n_placebo : int
        Placebo assignments; all are used when there are at most this many.
    seed : int
        Seed of the random draw.

    Returns
    -------
    SynthInference
        The inference.
    """
    controls = fit.panel.controls
    draws, possible, sampled = _draws(fit, n_placebo, np.random.default_rng(seed))
    per_cohort = []
    for c, (treated_pos, excluded) in zip(fit.cohorts, draws, strict=True):
        w = cohort_estimates(
            fit.panel, fit.method, c.start, controls[treated_pos], excluded, fit.eta_omega
        )
        per_cohort.append(w.tau)
    taus = overall(fit, per_cohort)
    d = len(taus)
    size = np.abs(taus)
    # ties within rounding, relative to the data so that rescaling the outcome (1e-12 or
    # 1e12) leaves p unchanged; an absolute floor made every tiny-scale placebo a tie
    tol = 1e-9 * max(abs(fit.att), _spread(fit))
    p = (1 + int(np.sum(size >= abs(fit.att) - tol))) / (d + 1)
    k = math.floor(alpha * (d + 1) + 1e-12)
    notes: list[Note] = []
    if sampled:
        notes.append(Note("placebo_sampled", {"placebos": d, "assignments": possible}))
    if k == 0:
        low, high = -math.inf, math.inf
        notes.append(
            Note(
                "placebo_unbounded",
                {"treated": fit.n_treated, "placebos": d, **_unbounded(alpha, d + 1)},
            )
        )
    else:
        radius = float(np.sort(size)[::-1][k - 1])
        low, high = fit.att - radius, fit.att + radius
    se = float(np.sqrt((d - 1) / d) * np.std(taus, ddof=1)) if d > 1 else math.nan
    if d > 1 and np.ptp(taus) <= tol:  # identical comparison units: an SD of 0 is no SE
        se = math.nan
        notes.append(Note("placebo_degenerate", {"value": float(taus[0])}))
    detail: dict[str, Any] = {"placebos": d, "sampled": sampled, "smallest_p": 1 / (d + 1)}
    if sampled:  # what reproduces the draw: the seed, over the units in sorted label order
        detail |= {"seed": seed, "draw_order": "sorted unit labels"}
    return SynthInference(se, p, low, high, detail, tuple(notes))


def jackknife(fit: SyntheticFit, *, alpha: float) -> SynthInference:
    """Fixed-weight jackknife (Algorithm 3); only with more than one treated unit.

    Parameters
    ----------
    fit : SyntheticFit
        The fit.
    alpha : float
        1 − confidence level.

    Returns
    -------
    SynthInference
        Standard error and the normal interval.

    Raises
    ------
    EstimationError
        With one treated unit, when one comparison unit carries all the weight, or when
        every leave-one-out estimate is the same (standard error 0).
    """
    if fit.n_treated < 2:
        raise EstimationError(
            "jackknife inference is not defined with one treated unit: leaving it out leaves "
            "nothing to estimate; use inference='placebo' or 'conformal'"
        )
    y, controls = fit.panel.y, fit.panel.controls
    omega = sum(c.weight * c.omega for c in fit.cohorts)
    if int(np.sum(np.asarray(omega) > 0)) < 2:
        raise EstimationError(
            "jackknife inference is not defined when one comparison unit carries all the "
            "unit weight; use inference='placebo'"
        )
    estimates = []
    for leave in range(y.shape[0]):
        parts, shares = [], []
        for c in fit.cohorts:
            treated = c.treated[c.treated != leave]
            if treated.size == 0:
                continue
            keep = controls != leave
            w = c.omega[keep]
            w = w / w.sum() if w.sum() > 0 else np.full(w.size, 1 / w.size)
            gap = y[:, c.start :].mean(axis=1) - y[:, : c.start] @ c.lam
            parts.append(gap[treated].mean() - w @ gap[controls[keep]])
            shares.append(c.weight * treated.size / c.treated.size)
        estimates.append(np.dot(parts, shares) / np.sum(shares))
    u = np.asarray(estimates)
    n = u.size
    se = float(np.sqrt((n - 1) / n * np.sum((u - u.mean()) ** 2)))
    if se <= 1e-12 * _spread(fit):  # a p-value of NaN and an interval of one point
        raise EstimationError(
            "jackknife inference is not defined here: every leave-one-out estimate is the same "
            "(standard error 0); use inference='placebo' or 'conformal'"
        )
    z = special.ndtri(1 - alpha / 2)
    p = float(2 * special.ndtr(-abs(fit.att) / se))
    return SynthInference(se, p, fit.att - z * se, fit.att + z * se, {"replicates": n})


def _conformal_problems(fit: SyntheticFit, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counterfactual of every null-adjusted treated series (rows of ``series``) on all periods."""
    c = fit.cohorts[0]
    y0 = fit.panel.y[fit.panel.controls]
    if fit.method == "did":
        base = y0.mean(axis=0)
        return base + (series - base).mean(axis=1, keepdims=True), np.full(len(y0), 1 / len(y0))
    intercept = fit.method == "synthetic_did"
    a = y0 - y0.mean(axis=1, keepdims=True) if intercept else y0
    b = series - series.mean(axis=1, keepdims=True) if intercept else series
    noise = np.std(np.diff(y0[:, : c.start], axis=1), ddof=1)
    eta = (len(c.treated) * (y0.shape[1] - c.start)) ** 0.25 if intercept else 1e-6
    if fit.eta_omega is not None:
        eta = fit.eta_omega
    problems = SimplexProblems(
        gram=a @ a.T,
        cross=b @ a.T,
        target=np.einsum("dt,dt->d", b, b),
        rows=a.shape[1],
        zeta=np.full(len(series), eta * noise),
    )
    start = np.full((len(series), len(y0)), 1 / len(y0))
    # The conformal model is fitted once per null value and not compared with any
    # reference number, so its second Frank–Wolfe round stops after _CONFORMAL_STEPS.
    omega = two_rounds(
        problems, start, np.full(len(series), 1e-5 * noise), max_iter=_CONFORMAL_STEPS
    )
    synthetic = omega @ y0
    if intercept:
        synthetic = synthetic + (series - synthetic).mean(axis=1, keepdims=True)
    return synthetic, omega[0]


def conformal_pvalues(fit: SyntheticFit, nulls: np.ndarray) -> np.ndarray:
    """Conformal p-value of "the effect is τ₀ in every treated period" for each τ₀ in ``nulls``.

    Parameters
    ----------
    fit : SyntheticFit
        A block-adoption fit.
    nulls : numpy.ndarray
        The values τ₀.

    Returns
    -------
    numpy.ndarray
        One p-value per τ₀.
    """
    c = fit.cohorts[0]
    n_periods = fit.panel.y.shape[1]
    post = np.arange(n_periods) >= c.start
    treated = fit.panel.y[c.treated].mean(axis=0)
    series = treated[None, :] - np.outer(nulls, post)
    synthetic, _ = _conformal_problems(fit, series)
    resid = np.abs(series - synthetic)
    shifts = np.stack([np.roll(resid, -j, axis=1)[:, post].mean(axis=1) for j in range(n_periods)])
    observed = shifts[0]
    tol = 1e-12 * np.maximum(np.abs(observed), _spread(fit))
    return (shifts >= observed - tol).mean(axis=0)


def conformal(fit: SyntheticFit, *, alpha: float, grid: int = 41) -> SynthInference:
    """Conformal inference by moving-block permutations of time (see the module text).

    Parameters
    ----------
    fit : SyntheticFit
        A fit with one adoption date.
    alpha : float
        1 − confidence level.
    grid : int
        Number of values τ₀ tested for the interval.

    Returns
    -------
    SynthInference
        p-value of no effect and the inverted interval (no standard error).

    Raises
    ------
    EstimationError
        With staggered adoption.
    """
    if len(fit.cohorts) != 1:
        raise EstimationError(
            "conformal inference permutes time around one start date; with staggered adoption "
            "use inference='placebo'"
        )
    n_periods = fit.panel.y.shape[1]
    notes: list[Note] = []
    p0 = float(conformal_pvalues(fit, np.array([0.0]))[0])
    pre = fit.cohorts[0].start
    # With a level in the model (DiD, synthetic DiD) fitted on all periods, a wrong τ₀ moves
    # the level, and the residuals land in the shorter of pre- and post-period: when the
    # post-period is not the shorter, p rises towards 1 as τ₀ moves away, and no effect can
    # be rejected however large.
    level = fit.method in ("did", "synthetic_did") and pre <= n_periods - pre
    if level:
        values = {"pre_periods": pre, "post_periods": n_periods - pre}
        notes.append(Note("conformal_short_pre", values))
    if 1 / n_periods > alpha:
        notes.append(
            Note(
                "conformal_unbounded",
                {"periods": n_periods, **_unbounded(alpha, n_periods)},
            )
        )
    if 1 / n_periods > alpha or level:
        return SynthInference(
            math.nan,
            p0,
            -math.inf,
            math.inf,
            _cdetail(n_periods),
            tuple(notes),
            ((-math.inf, math.inf),),
        )
    c = fit.cohorts[0]
    gaps = fit.panel.y[c.treated].mean(axis=0) - fit.panel.y[fit.panel.controls].mean(axis=0)
    radius = 4 * (np.ptp(gaps) + abs(fit.att)) or 1e-9 * max(_spread(fit), 1e-300)
    nulls = fit.att + np.linspace(-radius, radius, grid)
    ok = conformal_pvalues(fit, nulls) > alpha
    if not ok.any() and p0 <= alpha:  # zero is a tested value too
        notes.append(Note("conformal_empty_set", {"alpha": alpha}))
        return SynthInference(
            math.nan, p0, math.nan, math.nan, _cdetail(n_periods, grid), tuple(notes), ()
        )
    if ok[0] or ok[-1]:
        notes.append(Note("conformal_open_interval"))
    pieces = conformal_set(fit, nulls, ok, p0 > alpha, alpha=alpha, grid=grid)
    # The effects not rejected need not form one interval (the statistic is not monotone
    # in τ₀). ci_low/ci_high are the hull of the set, as CWZ's own software reports it,
    # so they can hold rejected effects, zero among them; the set itself is conf_set.
    if len(pieces) > 1:
        notes.append(Note("conformal_set_gaps"))
    detail = _cdetail(n_periods, grid)
    return SynthInference(
        math.nan, p0, pieces[0][0], pieces[-1][1], detail, tuple(notes), tuple(pieces)
    )


def conformal_set(
    fit: SyntheticFit,
    nulls: np.ndarray,
    ok: np.ndarray,
    zero_ok: bool,
    *,
    alpha: float,
    grid: int,
) -> list[tuple[float, float]]:
    """Return the effects not rejected as sorted disjoint intervals ``(low, high)``.

    Parameters
    ----------
    fit : SyntheticFit
        A block-adoption fit.
    nulls : numpy.ndarray
        The coarse grid of τ₀ (increasing), which holds zero between its ends.
    ok : numpy.ndarray
        Whether each is not rejected (``p > alpha``).
    zero_ok : bool
        Whether τ₀ = 0 is not rejected: zero is a tested point, so the set agrees with
        the p-value of no effect even where its gap is narrower than the grid.
    alpha : float
        1 − confidence level.
    grid : int
        Points of each refinement.

    Returns
    -------
    list of tuple of float
        Each piece runs from an accepted tested value to an accepted tested value whose
        tested neighbours outside are rejected; a piece reaching an end of the coarse
        grid is open there (±inf).
    """
    # refine every change between coarse neighbours (as the hull's ends always were),
    # then add zero and refine between it and a neighbour that disagrees with it
    change = np.flatnonzero(ok[:-1] != ok[1:])
    points, accepted = _refine(fit, nulls, ok, change, alpha, grid)
    at = int(np.searchsorted(points, 0.0))
    points = np.insert(points, at, 0.0)
    accepted = np.insert(accepted, at, zero_ok)
    around = [i for i in (at - 1, at) if 0 <= i < len(points) - 1]
    change = np.array([i for i in around if accepted[i] != accepted[i + 1]], dtype=int)
    points, accepted = _refine(fit, points, accepted, change, alpha, grid)
    pieces = []
    edges = np.diff(np.concatenate([[0], accepted.astype(int), [0]]))
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True):
        low = -math.inf if points[a] <= nulls[0] else float(points[a])
        high = math.inf if points[b] >= nulls[-1] else float(points[b])
        pieces.append((low, high))
    return pieces


def _refine(
    fit: SyntheticFit,
    points: np.ndarray,
    accepted: np.ndarray,
    change: np.ndarray,
    alpha: float,
    grid: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Test ``grid`` values between ``points[i]`` and ``points[i + 1]`` for each i in ``change``."""
    if not change.size:
        return points, accepted
    fine = np.linspace(0.0, 1.0, grid)
    refined = np.concatenate([points[i] + fine * (points[i + 1] - points[i]) for i in change])
    points = np.concatenate([points, refined])
    accepted = np.concatenate([accepted, conformal_pvalues(fit, refined) > alpha])
    order = np.argsort(points, kind="stable")
    return points[order], accepted[order]


def _cdetail(n_periods: int, grid: int = 0) -> dict[str, Any]:
    return {
        "permutations": n_periods,
        "scheme": "moving_block",
        "statistic": "mean_abs_post_residual",
        "smallest_p": 1 / n_periods,
        "grid": grid,
    }

"""HonestDiD sensitivity analysis of an event study's coefficients (the ``sensitivity`` option)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from evalkit.did._common import check_choice
from evalkit.errors import EstimationError
from evalkit.spec import FEW_TREATED_THRESHOLD, Restriction, SensitivityTarget

if TYPE_CHECKING:
    from evalkit.did.honest import SensitivityResult

__all__ = ["SENSITIVITY_OPTIONS", "event_sensitivity"]

#: Options of :func:`evalkit.did.estimate` that configure the sensitivity analysis.
SENSITIVITY_OPTIONS = ("sensitivity", "bounds", "sensitivity_target")


def event_sensitivity(
    event_times: Sequence[int],
    coefs: np.ndarray,
    vcov: np.ndarray,
    options: Mapping[str, Any],
    *,
    alpha: float,
    placebo: np.ndarray | None,
    placebo_groups: np.ndarray | None = None,
    treated: int,
    clusters: int,
    seed: int,
    anticipation: int = 0,
    few_treated_threshold: int = FEW_TREATED_THRESHOLD,
) -> SensitivityResult:
    """Run :func:`evalkit.did.sensitivity` on event-study coefficients with reference period −1.

    Parameters
    ----------
    event_times : sequence of int
        Event time of each coefficient (−1 left out).
    coefs, vcov : numpy.ndarray
        The coefficients and their covariance, in the order of ``event_times``.
    options : dict
        ``sensitivity`` (the restriction), ``bounds`` (default 0.5, 1, 1.5, 2 for
        relative magnitudes; smoothness bounds are in the outcome's units and must
        be given), ``sensitivity_target`` (``"mean"`` of the post-period effects, the
        event study's headline, or ``"first"``).
    alpha : float
        1 − confidence level.
    placebo : numpy.ndarray or None
        Conley–Taber placebo draws (rows) when the event study used them.
    placebo_groups : numpy.ndarray or None
        The comparison clusters each placebo row is built from (rows × treated).
    treated, clusters : int
        Treated and all clusters (a few-treated note below ``few_treated_threshold``).
    seed : int
        Seed of the least-favourable draws.
    anticipation : int
        Anticipation periods: event times are counted from the moved start, so the
        first ``anticipation`` post-period coefficients are anticipation effects and
        the target starts after them.

    Returns
    -------
    SensitivityResult
        Robust intervals per bound.
    """
    restriction = options["sensitivity"]
    check_choice("sensitivity", restriction, Restriction)
    target = options.get("sensitivity_target", "mean")
    check_choice("sensitivity_target", target, SensitivityTarget)
    times = [int(e) for e in event_times]
    order = np.argsort(times)
    times = [times[i] for i in order]
    pre = [e for e in times if e < -1]
    post = [e for e in times if e >= 0]
    if (
        not pre
        or not post
        or pre != list(range(-len(pre) - 1, -1))
        or post != list(range(len(post)))
    ):
        raise EstimationError(
            "the sensitivity analysis needs consecutive event times around the reference "
            f"period −1 (at least one before, one from 0 on); the event study has {times}"
        )
    bounds = options.get("bounds")
    if bounds is None:
        if restriction == "smoothness":
            raise EstimationError("give bounds= (values of M) for the smoothness restriction")
        bounds = (0.5, 1.0, 1.5, 2.0)
    beta = np.asarray(coefs, dtype=float)[order]
    sigma = np.asarray(vcov, dtype=float)[np.ix_(order, order)]
    if anticipation >= len(post):
        raise EstimationError("no post-period effect after the anticipation periods")
    l_vec = np.zeros(len(post))
    if target == "mean":
        l_vec[anticipation:] = 1 / (len(post) - anticipation)
    else:
        l_vec[anticipation] = 1.0
    # HonestDiD (and with it SciPy) loads when a sensitivity analysis is asked for: every
    # estimate checks these options, few run them (see evalkit.did._distributions)
    from evalkit.did.honest import sensitivity

    return sensitivity(
        beta,
        None if placebo is not None else sigma,
        num_pre=len(pre),
        num_post=len(post),
        restriction=restriction,
        bounds=[float(b) for b in bounds],
        alpha=alpha,
        l_vec=l_vec.tolist(),
        placebo=None if placebo is None else np.asarray(placebo)[:, order],
        placebo_groups=placebo_groups,
        n_treated_clusters=treated,
        n_clusters=clusters,
        few_treated_threshold=few_treated_threshold,
        seed=seed,
    )

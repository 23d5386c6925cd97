"""Coverage, power and minimal detectable effect from simulated confidence sets.

A design's confidence set in :mod:`evalkit.analysis.design_power` is a list of pieces
``[low, high]`` (one piece for an interval; a conformal set can have gaps). The sets
of pilots simulated under no effect give coverage (the share that contain 0) and,
since every set moves by δ with a constant effect δ, the power at δ (the share that
exclude −δ) and the minimal detectable effect.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["mde_from_intervals", "mde_from_sets", "set_pieces"]


def mde_from_intervals(low: np.ndarray, high: np.ndarray, sign: float, target: float) -> float:
    """Smallest |δ| in direction ``sign`` whose shifted intervals exclude 0 in ``target`` of pilots.

    Parameters
    ----------
    low, high : numpy.ndarray
        Interval ends of the pilots simulated under no effect (±inf allowed).
    sign : float
        +1 for an expected increase, −1 for a decrease.
    target : float
        Target power.

    Returns
    -------
    float
        The MDE (positive), ``inf`` when no effect size reaches the target.
    """
    return mde_from_sets(np.stack([low, high], axis=-1)[:, None, :], sign, target)


def mde_from_sets(pieces: np.ndarray, sign: float, target: float) -> float:
    """Smallest |δ| in direction ``sign`` whose shifted sets exclude 0 in ``target`` of pilots.

    Parameters
    ----------
    pieces : numpy.ndarray
        Shape ``(pilots, pieces, 2)``: per pilot simulated under no effect the pieces
        ``[low, high]`` of its confidence set (±inf allowed; NaN rows pad a set with
        fewer pieces).
    sign : float
        +1 for an expected increase, −1 for a decrease.
    target : float
        Target power.

    Returns
    -------
    float
        The MDE (positive), ``inf`` when no effect size reaches the target.
    """
    low, high = pieces[..., 0], pieces[..., 1]
    ends = np.unique(np.abs(pieces[np.isfinite(pieces)]))
    # an effect δ = sign·m is rejected when −δ lies outside the null set; the share
    # changes only at a piece end, so the first value past each end is tried in turn
    for m in np.sort(ends):
        x = -sign * np.nextafter(m, math.inf)
        power = np.mean(~np.any((low <= x) & (x <= high), axis=1))
        if power >= target:
            return float(np.nextafter(m, math.inf))
    return math.inf


def set_pieces(results: np.ndarray) -> np.ndarray:
    """Return the confidence sets of :func:`simulate_designs` results, ``(pilots, pieces, 2)``.

    Parameters
    ----------
    results : numpy.ndarray
        Shape ``(pilots, 2 + 2k)``: estimate, p-value, then k pieces' ends.

    Returns
    -------
    numpy.ndarray
        The pieces (NaN-padded).
    """
    return results[:, 2:].reshape(len(results), -1, 2)

"""The normal and chi-squared tail probabilities Callaway–Sant'Anna's summary needs, without SciPy.

``evalkit did`` on a file is one short process, and importing SciPy costs it about
0.35 s of CPU here (``scipy.special`` and ``scipy.sparse`` both load SciPy's array-API
layer, which imports ``numpy.f2py`` and ``numpy.testing``): a third of the command. The
Callaway–Sant'Anna path needs only three functions of SciPy's, which the standard
library gives as well: the normal distribution (:class:`statistics.NormalDist`, whose
quantile is Wichura's AS 241, and :func:`math.erfc` for tails without cancellation)
and the chi-squared survival function at integer degrees of freedom, a finite sum
(Abramowitz & Stegun 1964, 26.4.4 and 26.4.5). ``tests/test_did_distributions.py``
checks them against ``scipy.special`` (``ndtr``, ``ndtri``, ``chdtrc``). The other
estimators use SciPy directly.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

__all__ = ["chi2_sf", "normal_cdf", "normal_quantile"]

_STANDARD = NormalDist()


def normal_cdf(x: float) -> float:
    """Return the standard normal distribution function at ``x`` (``scipy.special.ndtr``).

    Parameters
    ----------
    x : float
        The value; NaN gives NaN.

    Returns
    -------
    float
        ``P(Z <= x)``, accurate in both tails (``erfc`` does not cancel).
    """
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """Return the standard normal quantile of ``p`` (``scipy.special.ndtri``).

    Parameters
    ----------
    p : float
        A probability in (0, 1).

    Returns
    -------
    float
        ``z`` with ``P(Z <= z) = p``.
    """
    return _STANDARD.inv_cdf(p)


def chi2_sf(df: int, x: float) -> float:
    """Return ``P(X > x)`` for ``X`` chi-squared with ``df`` degrees of freedom (``chdtrc``).

    Parameters
    ----------
    df : int
        Degrees of freedom, a positive integer.
    x : float
        The statistic.

    Returns
    -------
    float
        The upper tail probability; NaN for a NaN or negative statistic.

    Notes
    -----
    With ``h = x / 2``: for even ``df``, ``exp(-h) * sum_{k < df/2} h^k / k!`` (A&S
    26.4.5); for odd ``df``, ``erfc(sqrt(h)) + exp(-h) * sum_{k=1}^{(df-1)/2}
    h^(k-1/2) / Gamma(k + 1/2)`` (A&S 26.4.4). Every term is positive and is taken in
    logs, so the sum neither cancels nor overflows.
    """
    if df < 1 or df != int(df):
        raise ValueError(f"chi2_sf takes a positive integer df, got {df!r}")
    if math.isnan(x) or x < 0:  # as chdtrc: a negative statistic has no probability
        return math.nan
    if x == 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    h = x / 2.0
    if df % 2 == 0:
        k = np.arange(df // 2)
        logs = k * math.log(h) - np.array([math.lgamma(v + 1.0) for v in k]) - h
        return float(min(1.0, np.exp(logs).sum()))
    k = np.arange(1, (df - 1) // 2 + 1)
    logs = (k - 0.5) * math.log(h) - np.array([math.lgamma(v + 0.5) for v in k]) - h
    return float(min(1.0, math.erfc(math.sqrt(h)) + np.exp(logs).sum()))

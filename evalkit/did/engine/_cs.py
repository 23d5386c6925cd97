"""Callaway–Sant'Anna without covariates from a panel's sufficient statistics.

Without covariates each ATT(g, t) is the mean outcome change of cohort g minus that of
its comparison cohorts, and the influence function of unit i in cell j is
``a[c_i, j] * (y_i[t] - y_i[b] - mu[c_i, j])`` (see :mod:`evalkit.did.cs._fast`). Summed
over the units of a cluster it needs only the cluster's outcome sums per cohort and
period and its units per cohort, so the clustered standard errors of every cell and
aggregation follow from the grouped sums. Aggregation and inference are the in-memory
estimator's own (:func:`evalkit.did.cs._summary.summarise`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from evalkit.did.cs import _inference as inf_
from evalkit.did.cs._aggregate import Cohorts
from evalkit.did.cs._attgt import GroupTime, cells_of
from evalkit.did.cs._data import COHORT_RULE
from evalkit.did.cs._fast import comparison_cohorts, no_comparison
from evalkit.did.cs._result import CsResult
from evalkit.did.cs._summary import Bootstrap, Units, summarise
from evalkit.did.engine._stats import PanelStats
from evalkit.errors import EstimationError

__all__ = ["cs_in_engine"]


def _cells(
    stats: PanelStats, control: str, base_period: str, anticipation: int
) -> tuple[GroupTime, np.ndarray]:
    """Return the cells and their influence functions summed per cluster (clusters × cells)."""
    periods = stats.periods
    values, counts = stats.cohorts, stats.cohort_sizes
    present = counts > 0
    values, counts, s, n_cl = (
        values[present],
        counts[present],
        stats.s[:, present],
        stats.n[:, present],
    )
    cells, skipped = cells_of(periods, values[values > 0], base_period, anticipation)
    means = s.sum(axis=0) / counts[:, None]
    n = counts.sum()
    k = len(cells)
    att, keep = np.zeros(k), np.ones(k, dtype=bool)
    psi = np.zeros((s.shape[0], k))
    for j, (g, c, b) in enumerate(cells):
        if c == b:
            continue
        gi = int(np.searchsorted(values, g))
        ctrl = comparison_cohorts(values, g, periods[max(c, b)], control, anticipation)
        n0 = counts[ctrl].sum()
        if n0 == 0:
            skipped.append(no_comparison(g, periods[c]))
            keep[j] = False
            continue
        change = means[:, c] - means[:, b]
        mu0 = float(counts[ctrl] @ change[ctrl]) / n0
        att[j] = change[gi] - mu0
        delta = s[:, :, c] - s[:, :, b]  # clusters × cohorts
        psi[:, j] = (n / counts[gi]) * (delta[:, gi] - n_cl[:, gi] * change[gi])
        psi[:, j] -= (n / n0) * (delta[:, ctrl].sum(axis=1) - n_cl[:, ctrl].sum(axis=1) * mu0)
    groups = np.array([c[0] for c in cells])
    gt = GroupTime(
        groups[keep],
        periods[[c[1] for c in cells]][keep],
        periods[[c[2] for c in cells]][keep],
        att[keep],
        psi[:, keep],
        np.array([c[1] == c[2] for c in cells], dtype=bool)[keep],
        skipped,
    )
    return gt, n_cl


def _moments(psi: np.ndarray, n_cl: np.ndarray) -> inf_.Moments:
    """Cross-products of cluster-summed influence functions (as ``Moments.of`` per cluster)."""
    counts = sparse.csr_matrix(n_cl)
    gram = psi.T @ psi
    cross = np.asarray((counts.T @ psi).T)
    count_gram = np.asarray((counts.T @ counts).todense())
    return inf_.Moments(psi, counts, gram, cross, count_gram, int(n_cl.sum()), psi.shape[0])


def cs_in_engine(
    stats: PanelStats,
    *,
    control: str = "never",
    base_period: str = "varying",
    anticipation: int = 0,
    alpha: float = 0.05,
    cluster: str | None = None,
    bootstrap: bool = False,
    n_boot: int = 999,
    seed: int = 0,
    boot_weights: str = "mammen",
    min_e: int | None = None,
    max_e: int | None = None,
    balance_e: int | None = None,
) -> CsResult:
    """Estimate Callaway–Sant'Anna (no covariates) from sufficient statistics.

    Parameters
    ----------
    stats : PanelStats
        From :func:`evalkit.did.engine.panel_statistics`.
    control : {"never", "notyet"}
        Comparison group.
    base_period : {"varying", "universal"}
        Base-period rule.
    anticipation : int
        Periods of anticipation.
    alpha : float
        1 − confidence level.
    cluster : str, optional
        Name of the cluster column (reported only; the sums are already per cluster).
    bootstrap, n_boot, seed, boot_weights
        Multiplier bootstrap over clusters instead of analytic standard errors.
    min_e, max_e, balance_e : int, optional
        Event-time window of the aggregations.

    Returns
    -------
    CsResult
        As :func:`evalkit.did.cs.callaway_santanna` with the same options;
        ``options['path']`` names the engine.
    """
    if control not in ("never", "notyet"):
        raise EstimationError(f"control={control!r} is not allowed; choose 'never' or 'notyet'")
    if not (stats.cohorts > 0).any():
        raise EstimationError(f"no treated unit ({COHORT_RULE})")
    gt, n_cl = _cells(stats, control, base_period, int(anticipation))
    if gt.att.size == 0:
        reasons = "; ".join(n.text for n in gt.skipped)
        raise EstimationError(f"no ATT(g, t) could be estimated: {reasons}")
    values = stats.cohorts[stats.cohort_sizes > 0]
    sizes = n_cl.sum(axis=0).astype(np.int64)
    unit_cohort = np.repeat(values, sizes)
    unit_cluster = np.concatenate(
        [
            np.repeat(np.arange(n_cl.shape[0]), n_cl[:, j].astype(np.int64))
            for j in range(len(values))
        ]
    )
    coh = Cohorts(values, np.repeat(np.arange(values.size), sizes), sizes / sizes.sum())
    detail: dict[str, Any] = {
        "control": control,
        "method": "dr",
        "base_period": base_period,
        "anticipation": int(anticipation),
        "panel": True,
        "allow_unbalanced_panel": False,
        "covariates": [],
        "cluster": cluster,
        "cohort_rule": COHORT_RULE,
        "path": f"engine:{stats.backend}",
    }
    units = Units(stats.periods, stats.n_units * stats.periods.size, unit_cohort, unit_cluster)
    return summarise(
        gt,
        coh,
        _moments(gt.inf if gt.inf is not None else np.zeros((0, 0)), n_cl),
        units,
        notes=list(gt.skipped),
        detail=detail,
        alpha=alpha,
        bootstrap=Bootstrap(bootstrap, int(n_boot), int(seed), boot_weights),
        window=(min_e, max_e, balance_e),
    )

"""Goodman-Bacon (2021) decomposition of the static TWFE estimate under staggered timing.

On a balanced panel without covariates the TWFE coefficient equals a weighted
average of all 2×2 DiD comparisons between timing groups (Theorem 1):

* treated vs never treated (``Treated vs Untreated``),
* an earlier cohort against a later one before the later one starts
  (``Earlier vs Later Treated``),
* a later cohort against an earlier, already treated one (``Later vs Earlier
  Treated``; ``Later vs Always Treated`` when the earlier group is treated in every
  period) — the "forbidden" comparisons that make TWFE misleading when effects
  change over time.

Weights use the group shares and the variance of treatment within each pair, each
divided by the variance of the two-way demeaned treatment; they sum to one and
the weighted sum of the estimates is the TWFE coefficient (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.did._data import COHORT, COHORT_RULE, TIME, UNIT, D, Prepared, Y
from evalkit.errors import EstimationError

__all__ = ["COMPONENT_COLUMNS", "bacon_decomposition"]

#: Columns of the components frame.
COMPONENT_COLUMNS = ("type", "treated", "control", "estimate", "weight")


def _dd(
    means: pd.DataFrame, treat: object, ctrl: object, pre: np.ndarray, post: np.ndarray
) -> float:  # all periods: pre/post masks over the full panel
    """2×2 DiD of group means over the given pre and post period masks."""
    a = means.loc[treat].to_numpy()
    b = means.loc[ctrl].to_numpy()
    return float((a[post].mean() - a[pre].mean()) - (b[post].mean() - b[pre].mean()))


def bacon_decomposition(prep: Prepared) -> pd.DataFrame:
    """Return the 2×2 comparisons behind the TWFE estimate, with their weights.

    Parameters
    ----------
    prep : Prepared
        A balanced panel with cohorts (cohort= or an absorbing treated= indicator),
        no covariates.

    Returns
    -------
    pandas.DataFrame
        Columns ``type, treated, control, estimate, weight``; ``treated``/``control``
        are cohorts in the time column's units (``"never"``/``"always"`` for the
        untreated and always-treated groups).

    Raises
    ------
    EstimationError
        Unbalanced panel, covariates, no cohorts, or no staggered variation.
    """
    groups = _TimingGroups.of(prep)
    rows = [row for k in groups.cohorts for row in _comparisons(groups, k)]
    out = pd.DataFrame(rows, columns=list(COMPONENT_COLUMNS))
    out["treated"] = out["treated"].astype(str)
    out["control"] = out["control"].astype(str)
    return out


@dataclass(frozen=True)
class _TimingGroups:
    """What the decomposition needs of a balanced panel, per timing group.

    Timing groups are ``never`` (no start, or a start after the panel), ``always``
    (treated from the first period) and one per cohort inside the panel.
    """

    periods: np.ndarray
    means: pd.DataFrame  # group × period mean outcome
    share: pd.Series  # group → share of the units
    treated_share: pd.Series  # group → share of its unit-periods that are treated
    cohorts: list[int]
    v_d: float  # variance of the two-way demeaned treatment

    @classmethod
    def of(cls, prep: Prepared) -> _TimingGroups:
        """Check the panel and compute the groups; raise when it cannot be decomposed."""
        if not (prep.has_unit and prep.has_time and prep.has_cohort):
            raise EstimationError(
                f"the Bacon decomposition needs unit=, time= and cohorts ({COHORT_RULE})"
            )
        if prep.covariates:
            raise EstimationError("the Bacon decomposition is defined without covariates")
        f = prep.frame
        periods = np.sort(f[TIME].unique())
        n_units = f[UNIT].nunique()
        if len(f) != n_units * len(periods):
            raise EstimationError(
                "the Bacon decomposition needs a balanced panel (every unit in every period); "
                f"{n_units} units × {len(periods)} periods ≠ {len(f)} rows"
            )
        t_min, t_max = periods[0], periods[-1]
        label = (
            f.groupby(UNIT)[COHORT]
            .first()
            .map(lambda g: "never" if g == 0 or g > t_max else ("always" if g <= t_min else int(g)))
        )
        f = f.assign(_grp=f[UNIT].map(label))
        share = label.value_counts() / n_units
        cohorts = sorted(g for g in share.index if g not in ("never", "always"))
        if not cohorts:
            raise EstimationError(f"no cohort starts inside the panel ({COHORT_RULE})")
        return cls(
            periods=periods,
            means=f.pivot_table(index="_grp", columns=TIME, values=Y, aggfunc="mean"),
            share=share,
            treated_share=f.groupby("_grp")[D].mean(),
            cohorts=cohorts,
            v_d=_demeaned_treatment_variance(f),
        )


def _demeaned_treatment_variance(f: pd.DataFrame) -> float:
    """Variance of the two-way demeaned treatment (balanced panel: closed form)."""
    d = f.pivot_table(index=UNIT, columns=TIME, values=D).to_numpy()
    dd = d - d.mean(axis=1, keepdims=True) - d.mean(axis=0, keepdims=True) + d.mean()
    v_d = float((dd**2).mean())
    if v_d <= 0:
        raise EstimationError("the treatment has no variation left after unit and time effects")
    return v_d


def _comparisons(g: _TimingGroups, k: int) -> list[dict[str, object]]:
    """Return cohort ``k``'s 2×2 comparisons: with the untreated, later cohorts, always-treated.

    Weights are Goodman-Bacon's (2021) equations 10a–10c: the pair's squared size,
    the variance of group membership within the pair and of treatment within it.
    """
    periods, v_d = g.periods, g.v_d
    nk, dk = float(g.share[k]), float(g.treated_share[k])
    rows = []
    if "never" in g.share.index:
        nku = nk / (nk + float(g.share["never"]))
        w = (nk + float(g.share["never"])) ** 2 * nku * (1 - nku) * dk * (1 - dk) / v_d
        est = _dd(g.means, k, "never", periods < k, periods >= k)
        rows.append(_row("Treated vs Untreated", k, "never", est, w))
    for late in [c for c in g.cohorts if c > k]:
        nl, dl = float(g.share[late]), float(g.treated_share[late])
        nkl = nk / (nk + nl)
        w_early = (
            ((nk + nl) * (1 - dl)) ** 2
            * nkl
            * (1 - nkl)
            * ((dk - dl) / (1 - dl))
            * ((1 - dk) / (1 - dl))
            / v_d
        )
        est_early = _window_dd(g.means, k, late, periods, periods < late, k)
        rows.append(_row("Earlier vs Later Treated", k, late, est_early, w_early))
        w_late = ((nk + nl) * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * ((dk - dl) / dk) / v_d
        est_late = _window_dd(g.means, late, k, periods, periods >= k, late)
        rows.append(_row("Later vs Earlier Treated", late, k, est_late, w_late))
    if "always" in g.share.index:
        nka = nk / (nk + float(g.share["always"]))
        w = (nk + float(g.share["always"])) ** 2 * nka * (1 - nka) * dk * (1 - dk) / v_d
        est = _dd(g.means, k, "always", periods < k, periods >= k)
        rows.append(_row("Later vs Always Treated", k, "always", est, w))
    return rows


def _row(kind: str, treated: object, control: object, est: float, w: float) -> dict[str, object]:
    return {"type": kind, "treated": treated, "control": control, "estimate": est, "weight": w}


def _window_dd(
    means: pd.DataFrame,
    treat: object,
    ctrl: object,
    periods: np.ndarray,
    window: np.ndarray,
    start: object,
) -> float:
    """2×2 DiD of ``treat`` vs ``ctrl`` within ``window``, post = periods ≥ ``start``."""
    sub = means.loc[[treat, ctrl], periods[window]]
    post = periods[window] >= start
    a, b = sub.loc[treat].to_numpy(), sub.loc[ctrl].to_numpy()
    return float((a[post].mean() - a[~post].mean()) - (b[post].mean() - b[~post].mean()))

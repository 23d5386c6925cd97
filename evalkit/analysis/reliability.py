"""Cronbach's alpha with Feldt's confidence interval.

alpha = k / (k − 1) · (1 − Σ var(item) / var(total)), sample variances (ddof = 1),
listwise complete cases. Feldt (1965; Feldt, Woodruff & Salih 1987): with
df1 = n − 1 and df2 = (n − 1)(k − 1), the (1 − a) interval is
[1 − (1 − alpha)·F⁻¹(1 − a/2; df1, df2), 1 − (1 − alpha)·F⁻¹(a/2; df1, df2)].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.analysis.scoring import item_matrix, prepare_responses

__all__ = ["cronbach_alpha", "reliability_table"]


def cronbach_alpha(items: pd.DataFrame | np.ndarray, *, ci: float = 0.95) -> dict[str, float]:
    """Cronbach's alpha of a respondents × items matrix, with Feldt's interval.

    Parameters
    ----------
    items : pandas.DataFrame or numpy.ndarray
        One row per respondent, one column per item. Rows with a missing item are
        left out (listwise).
    ci : float, default 0.95
        Confidence level.

    Returns
    -------
    dict
        ``n`` (complete respondents), ``k`` (items), ``alpha``, ``conf_low``, ``conf_high``
        (NaN when fewer than 2 items, 3 respondents or no variance).
    """
    x = np.asarray(items, dtype=float)
    x = x[~np.isnan(x).any(axis=1)]
    n, k = x.shape
    out = {"n": int(n), "k": int(k), "alpha": np.nan, "conf_low": np.nan, "conf_high": np.nan}
    if k < 2 or n < 3:
        return out
    total_var = x.sum(axis=1).var(ddof=1)
    if total_var <= 0:
        return out
    alpha = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total_var)
    df1, df2 = n - 1, (n - 1) * (k - 1)
    out["alpha"] = float(alpha)
    out["conf_low"] = float(1 - (1 - alpha) * stats.f.isf((1 - ci) / 2, df1, df2))
    out["conf_high"] = float(1 - (1 - alpha) * stats.f.isf((1 + ci) / 2, df1, df2))
    return out


def reliability_table(
    responses: pd.DataFrame, instruments: Mapping[str, Any], *, ci: float = 0.95
) -> pd.DataFrame:
    """Cronbach's alpha per multi-item scale and wave (all groups together).

    Parameters
    ----------
    responses : pandas.DataFrame
        Long questionnaire rows.
    instruments : mapping
        The schema's ``instruments`` block; reversed items are recoded first.
    ci : float, default 0.95
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        ``instrument, wave, n, k, alpha, conf_low, conf_high``.
    """
    r = prepare_responses(responses, instruments)
    rows = []
    for name, spec in instruments.items():
        if len(spec["items"]) < 2 or not (r["instrument"] == name).any():
            continue
        m = item_matrix(r, name, spec)
        for wave, sub in m.groupby(level="wave", sort=True):
            rows.append({"instrument": name, "wave": wave, **cronbach_alpha(sub, ci=ci)})
    return pd.DataFrame(
        rows, columns=["instrument", "wave", "n", "k", "alpha", "conf_low", "conf_high"]
    )

"""Change from baseline (T0) to later waves: paired, and pilot vs comparison.

Paired change: for every person scored at T0 and at the later wave, the difference
later − T0; its mean with a t-based confidence interval, and the Wilcoxon signed-rank
test (scipy; zero differences dropped, ``zero_method="wilcox"``).

Difference-in-differences (when a comparison group answered too): the mean change in
the pilot group minus the mean change in the comparison group, with a Welch interval
(``method = "welch_change"``, persons independent), and the same contrast from the
estimator suite (:func:`evalkit.did.estimate`, ``estimator="2x2"`` on the person ×
wave panel, clustered by municipality, ``method = "did_2x2"``) so that few treated
municipalities get honest inference.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.analysis.did_bridge import did_record
from evalkit.analysis.scoring import WAVE_ORDER
from evalkit.did.notes import Note
from evalkit.spec import FEW_TREATED_THRESHOLD

__all__ = ["change_did_table", "paired_change_table", "paired_frame"]

CHANGE_SCALES = ("mhi5", "zrm_mean", "zrm_n_low", "nps", "satisfaction_agree_share")
CHANGE_DID_COLUMNS = [
    "scale",
    "wave",
    "method",
    "n_pilot",
    "n_comparison",
    "change_pilot",
    "change_comparison",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "n_treated_clusters",
    "status",
    "warnings",
    "warning_codes",
]


def paired_frame(scores: pd.DataFrame, scale: str, wave: str) -> pd.DataFrame:
    """Persons scored on ``scale`` at T0 and at ``wave``: one row each with both values.

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`evalkit.analysis.scoring.score_responses`.
    scale : str
        The scale.
    wave : str
        The later wave.

    Returns
    -------
    pandas.DataFrame
        ``person_id, municipality, group, t0, later, change``.
    """
    s = scores.loc[(scores["scale"] == scale) & scores["value"].notna()]
    a = s.loc[s["wave"] == "T0", ["person_id", "municipality", "group", "value"]]
    b = s.loc[s["wave"] == wave, ["person_id", "value"]]
    m = a.merge(b, on="person_id", suffixes=("_t0", "_later"))
    m = m.rename(columns={"value_t0": "t0", "value_later": "later"})
    m["change"] = m["later"] - m["t0"]
    return m


def _wilcoxon(d: np.ndarray) -> tuple[float, float]:
    d = d[d != 0]
    if d.size < 1:
        return np.nan, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy/scipy: ties, few pairs
        warnings.simplefilter("ignore", UserWarning)  # scipy: small-sample approximation notes
        res = stats.wilcoxon(d, zero_method="wilcox")
    return float(res.statistic), float(res.pvalue)


def _later_waves(scores: pd.DataFrame) -> list[str]:
    present = set(scores["wave"].unique())
    return [w for w in WAVE_ORDER if w != "T0" and w in present]


def paired_change_table(scores: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Paired change T0 → each later wave per group and scale.

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`evalkit.analysis.scoring.score_responses`.
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    pandas.DataFrame
        ``group, scale, wave, n, mean_t0, mean_later, mean_change, sd_change, conf_low,
        conf_high, wilcoxon_statistic, wilcoxon_p``.
    """
    rows = []
    for scale in CHANGE_SCALES:
        for wave in _later_waves(scores):
            pf = paired_frame(scores, scale, wave)
            for grp, g in [("all", pf), *list(pf.groupby("group", sort=True))]:
                d = g["change"].to_numpy(float)
                n = d.size
                if n == 0:
                    continue
                mean = d.mean()
                sd = d.std(ddof=1) if n > 1 else np.nan
                half = stats.t.ppf(1 - alpha / 2, n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
                w, p = _wilcoxon(d)
                rows.append(
                    {
                        "group": grp,
                        "scale": scale,
                        "wave": wave,
                        "n": n,
                        "mean_t0": g["t0"].mean(),
                        "mean_later": g["later"].mean(),
                        "mean_change": mean,
                        "sd_change": sd,
                        "conf_low": mean - half,
                        "conf_high": mean + half,
                        "wilcoxon_statistic": w,
                        "wilcoxon_p": p,
                    }
                )
    cols = [
        "group",
        "scale",
        "wave",
        "n",
        "mean_t0",
        "mean_later",
        "mean_change",
        "sd_change",
        "conf_low",
        "conf_high",
        "wilcoxon_statistic",
        "wilcoxon_p",
    ]
    return pd.DataFrame(rows, columns=cols).drop_duplicates(["group", "scale", "wave"])


def change_did_table(
    scores: pd.DataFrame, *, alpha: float = 0.05, few_treated_threshold: int = FEW_TREATED_THRESHOLD
) -> pd.DataFrame:
    """Pilot minus comparison mean change T0 → later wave, per scale.

    The Welch row treats persons as independent. When fewer than
    ``few_treated_threshold`` municipalities run the pilot, that ignores shocks shared
    within a municipality and overstates certainty, so the row keeps its estimate and
    standard error but no interval or p-value (``status = "descriptive_only"``, with a
    warning); the ``did_2x2`` row carries the inference the design supports.

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`evalkit.analysis.scoring.score_responses`.
    alpha : float, default 0.05
        1 - confidence level.
    few_treated_threshold : int, default FEW_TREATED_THRESHOLD (5)
        Pilot municipalities needed before person-level inference is shown.

    Returns
    -------
    pandas.DataFrame
        ``scale, wave, method, n_pilot, n_comparison, change_pilot, change_comparison,
        estimate, std_error, conf_low, conf_high, p_value, n_treated_clusters, status,
        warnings``; empty when no comparison group answered.
    """
    if not {"pilot", "comparison"} <= set(scores["group"]):
        return pd.DataFrame(columns=CHANGE_DID_COLUMNS)
    rows = []
    n_pilot_units = scores.loc[scores["group"] == "pilot", "municipality"].nunique()
    few = n_pilot_units < few_treated_threshold
    units = "municipality" if n_pilot_units == 1 else "municipalities"
    few_note = (
        Note("person_level_few_clusters", {"n": int(n_pilot_units), "units": units})
        if few
        else None
    )
    for scale in CHANGE_SCALES:
        for wave in _later_waves(scores):
            pf = paired_frame(scores, scale, wave)
            a = pf.loc[pf["group"] == "pilot", "change"].to_numpy(float)
            b = pf.loc[pf["group"] == "comparison", "change"].to_numpy(float)
            if a.size < 2 or b.size < 2:
                continue
            base = {
                "scale": scale,
                "wave": wave,
                "n_pilot": a.size,
                "n_comparison": b.size,
                "change_pilot": a.mean(),
                "change_comparison": b.mean(),
            }
            welch = _welch_change(a, b, alpha, shown=not few)
            rows.append(
                {
                    **base,
                    **welch,
                    "n_treated_clusters": n_pilot_units,
                    "status": "descriptive_only" if few else "ok",
                    "warnings": few_note.text if few_note else "",
                    "warning_codes": [few_note.to_dict()] if few_note else [],
                }
            )
            rows.append({**base, **_did_change(pf)})
    return pd.DataFrame(rows, columns=CHANGE_DID_COLUMNS)


def _welch_change(a: np.ndarray, b: np.ndarray, alpha: float, *, shown: bool) -> dict:
    """Return Welch's difference of mean changes; interval and p-value only when ``shown``."""
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = np.sqrt(va + vb)
    est = a.mean() - b.mean()
    if se > 0:
        dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
        tcrit = stats.t.ppf(1 - alpha / 2, dof)
        p = 2 * stats.t.sf(abs(est / se), dof)
    else:
        tcrit, p = np.nan, np.nan
    return {
        "method": "welch_change",
        "estimate": est,
        "std_error": se,
        "conf_low": est - tcrit * se if shown else np.nan,
        "conf_high": est + tcrit * se if shown else np.nan,
        "p_value": p if shown else np.nan,
    }


def _did_change(pf: pd.DataFrame) -> dict:
    """Return the 2×2 DiD of the paired scores, clustered by municipality, with its inference."""
    panel = pd.concat([pf.assign(time=0, value=pf["t0"]), pf.assign(time=1, value=pf["later"])])
    panel = panel.loc[panel["group"].isin(["pilot", "comparison"])]
    panel = panel.assign(treated=(panel["group"] == "pilot").astype(int), post=panel["time"])
    rec = did_record(
        panel,
        outcome="value",
        unit="person_id",
        time="time",
        treated="treated",
        post="post",
        estimator="2x2",
        cluster="municipality",
    )
    kept = ("estimate", "std_error", "conf_low", "conf_high", "p_value", "n_treated_clusters")
    return {
        "method": "did_2x2",
        **{k: rec[k] for k in kept},
        "status": rec["status"],
        "warnings": rec["warnings"],
        "warning_codes": rec["warning_codes"],
    }

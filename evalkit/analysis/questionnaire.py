"""Questionnaire monitoring: all bundle tables from long responses in one call.

:func:`questionnaire_tables` is what the pipeline calls. Tables (tidy, counts in
``n``/``n_*`` columns, no person-level rows; ``group == "all"`` pools the groups):

``zrm_domains``   per group, wave, ZRM domain: ``n, mean, sd, n_low, share_low`` (1–2).
``zrm_summary``   per group, wave: ``n, mean_score, mean_n_low, n_incomplete``.
``mhi5``          per group, wave: ``n, n_incomplete, mean, sd, conf_low, conf_high,
                  n_unhealthy, share_unhealthy`` (MHI-5 < cut-off).
``nps``           per group, wave: ``n, n_promoters, n_passives, n_detractors, nps``.
``satisfaction``  per group, wave, item: ``n, n_agree, n_not_applicable, share_agree``.
``reliability``   Cronbach's alpha with Feldt CI per instrument and wave.
``response``      response and baseline retention per group and wave.
``nonresponse``   baseline scores of later responders vs non-responders.
``change``        paired change T0 → later waves with CI and Wilcoxon signed-rank.
``change_did``    pilot vs comparison difference in change (when a comparison answered).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.analysis.change import change_did_table, paired_change_table
from evalkit.analysis.reliability import reliability_table
from evalkit.analysis.response import nonresponse_table, response_table
from evalkit.analysis.scoring import KEYS, item_matrix, prepare_responses, score_responses
from evalkit.errors import EvalkitError

__all__ = ["QUESTIONNAIRE_TABLES", "questionnaire_tables"]

QUESTIONNAIRE_TABLES = (
    "zrm_domains",
    "zrm_summary",
    "mhi5",
    "nps",
    "satisfaction",
    "reliability",
    "response",
    "nonresponse",
    "change",
    "change_did",
)


def _with_all(frame: pd.DataFrame) -> pd.DataFrame:
    if (frame["group"] == "all").all():
        return frame
    return pd.concat([frame.assign(group="all"), frame], ignore_index=True)


def _zrm_tables(r: pd.DataFrame, spec: Mapping[str, Any], scores: pd.DataFrame):
    m = item_matrix(r, "zrm", spec).reset_index()
    long = m.melt(id_vars=KEYS, var_name="domain", value_name="value").dropna(subset=["value"])
    long = _with_all(long)
    g = long.groupby(["group", "wave", "domain"], sort=True)["value"]
    dom = g.agg(n="size", mean="mean", sd="std").reset_index()
    dom["n_low"] = g.apply(lambda s: int((s <= 2).sum())).to_numpy()
    dom["share_low"] = dom["n_low"] / dom["n"]
    wide = (
        scores.loc[scores["scale"].str.startswith("zrm_")]
        .pivot_table(index=KEYS, columns="scale", values="value", aggfunc="first")
        .reset_index()
    )
    wide = _with_all(wide.dropna(subset=["zrm_mean"]))
    gs = wide.groupby(["group", "wave"], sort=True)
    summ = pd.DataFrame(
        {
            "n": gs.size(),
            "mean_score": gs["zrm_mean"].mean(),
            "mean_n_low": gs["zrm_n_low"].mean(),
            "n_incomplete": gs["zrm_incomplete"].sum(),
        }
    ).reset_index()
    summ["n_incomplete"] = summ["n_incomplete"].astype(int)
    return dom, summ


def _mhi5_per_person_wave(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per person-wave that has the MHI-5 (score NaN when incomplete).

    Joined, not pivoted: a pivot keeps every combination of person, municipality,
    group and wave, so "incomplete" would count person-waves that never existed.
    """
    own = scores.loc[scores["scale"] == "mhi5", [*KEYS, "value"]].rename(columns={"value": "mhi5"})
    flag = scores.loc[scores["scale"] == "mhi5_unhealthy", [*KEYS, "value"]]
    if flag.empty:
        return own
    return own.merge(flag.rename(columns={"value": "mhi5_unhealthy"}), on=KEYS, how="left")


def _mhi5_table(scores: pd.DataFrame, alpha: float) -> pd.DataFrame:
    cols = [
        "group",
        "wave",
        "n",
        "n_incomplete",
        "mean",
        "sd",
        "conf_low",
        "conf_high",
        "n_unhealthy",
        "share_unhealthy",
    ]
    if not (scores["scale"] == "mhi5").any():
        return pd.DataFrame(columns=cols)
    s = _with_all(_mhi5_per_person_wave(scores))
    rows = []
    for (grp, wave), g in s.groupby(["group", "wave"], sort=True):
        v = g["mhi5"].dropna()
        n = len(v)
        sd = v.std(ddof=1) if n > 1 else np.nan
        half = stats.t.ppf(1 - alpha / 2, n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
        unhealthy = g["mhi5_unhealthy"].dropna() if "mhi5_unhealthy" in g else pd.Series([])
        rows.append(
            {
                "group": grp,
                "wave": wave,
                "n": n,
                "n_incomplete": int(len(g) - n),
                "mean": v.mean() if n else np.nan,
                "sd": sd,
                "conf_low": v.mean() - half,
                "conf_high": v.mean() + half,
                "n_unhealthy": int(unhealthy.sum()),
                "share_unhealthy": unhealthy.mean() if len(unhealthy) else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def _nps_table(scores: pd.DataFrame) -> pd.DataFrame:
    s = _with_all(scores.loc[(scores["scale"] == "nps") & scores["value"].notna()])
    if s.empty:
        return pd.DataFrame(
            columns=["group", "wave", "n", "n_promoters", "n_passives", "n_detractors", "nps"]
        )
    g = s.groupby(["group", "wave"], sort=True)["value"]
    out = g.agg(n="size").reset_index()
    out["n_promoters"] = g.apply(lambda v: int((v >= 9).sum())).to_numpy()
    out["n_detractors"] = g.apply(lambda v: int((v <= 6).sum())).to_numpy()
    out["n_passives"] = out["n"] - out["n_promoters"] - out["n_detractors"]
    out["nps"] = 100.0 * (out["n_promoters"] - out["n_detractors"]) / out["n"]
    return out[["group", "wave", "n", "n_promoters", "n_passives", "n_detractors", "nps"]]


def _satisfaction_table(r: pd.DataFrame) -> pd.DataFrame:
    s = _with_all(r.loc[r["instrument"] == "satisfaction"])
    rows = []
    for (grp, wave, item), g in s.groupby(["group", "wave", "item"], sort=True):
        v = g["value"].dropna()
        n_agree = int((v >= 4).sum())
        rows.append(
            {
                "group": grp,
                "wave": wave,
                "item": item,
                "n": len(v),
                "n_agree": n_agree,
                "n_not_applicable": int((g["missing_reason"] == "not_applicable").sum()),
                "share_agree": n_agree / len(v) if len(v) else np.nan,
            }
        )
    return pd.DataFrame(
        rows, columns=["group", "wave", "item", "n", "n_agree", "n_not_applicable", "share_agree"]
    )


def questionnaire_tables(
    responses: pd.DataFrame,
    *,
    instruments: Mapping[str, Any],
    mhi5_cutoff: float | None = 60.0,
    alpha: float = 0.05,
) -> dict[str, pd.DataFrame]:
    """Compute every questionnaire table for the results bundle.

    Parameters
    ----------
    responses : pandas.DataFrame
        Long questionnaire rows (canonical columns of ``data_schemas/questionnaire.yaml``).
    instruments : mapping
        The schema's ``instruments`` block (read it with yaml).
    mhi5_cutoff : float or None, default 60
        MHI-5 "psychologically unhealthy" cut-off (score below it); None: not reported.
    alpha : float, default 0.05
        1 - confidence level of every interval.

    Returns
    -------
    dict of str to pandas.DataFrame
        The tables named in :data:`QUESTIONNAIRE_TABLES` (see the module docstring).
    """
    if not isinstance(instruments, Mapping) or not instruments:
        raise EvalkitError(
            "questionnaire_tables: instruments must be the schema's non-empty "
            "'instruments' mapping (data_schemas/questionnaire.yaml)"
        )
    for name, spec in instruments.items():
        if not isinstance(spec, Mapping) or not spec.get("items"):
            raise EvalkitError(f"questionnaire_tables: instruments.{name} has no 'items' list")
    r = prepare_responses(responses, instruments)
    scores = score_responses(r, instruments, mhi5_cutoff=mhi5_cutoff)
    out: dict[str, pd.DataFrame] = {}
    if "zrm" in instruments and (r["instrument"] == "zrm").any():
        out["zrm_domains"], out["zrm_summary"] = _zrm_tables(r, instruments["zrm"], scores)
    else:
        out["zrm_domains"] = pd.DataFrame(
            columns=["group", "wave", "domain", "n", "mean", "sd", "n_low", "share_low"]
        )
        out["zrm_summary"] = pd.DataFrame(
            columns=["group", "wave", "n", "mean_score", "mean_n_low", "n_incomplete"]
        )
    out["mhi5"] = _mhi5_table(scores, alpha)
    out["nps"] = _nps_table(scores)
    out["satisfaction"] = _satisfaction_table(r)
    out["reliability"] = reliability_table(r, instruments, ci=1 - alpha)
    out["response"] = response_table(r)
    out["nonresponse"] = nonresponse_table(r, scores)
    out["change"] = paired_change_table(scores, alpha=alpha)
    out["change_did"] = change_did_table(scores, alpha=alpha)
    return out

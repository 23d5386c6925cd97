"""Scoring questionnaire responses from the item dictionaries (``data_schemas/questionnaire.yaml``).

* ZRM (Zelfredzaamheid-Matrix 2017): 13 domains scored 1–5. Per person and wave: the
  mean over the domains scored, the number of domains at 1–2 (acute problems or not
  self-reliant), the number scored, and a flag when fewer than 13 are scored.
* MHI-5: items 1 (all the time) … 6 (never). The positively worded items (calm,
  happy: ``reverse`` in the schema) are reversed so that a higher value is better
  health; score = (sum − 5) × 4 on 0–100, **only when all five items are answered**.
  Optionally flag "psychologically unhealthy" below the cut-off (default 60).
* NPS: the 0–10 recommendation item; per group a score of % promoters (9–10) minus
  % detractors (0–6), −100…100.
* Client satisfaction: per item the share (fully) agreeing (4–5 on 1–5); "n.v.t."
  (``missing_reason == "not_applicable"`` or the schema's ``not_applicable_code``) is
  excluded from the denominator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import DataValidationError

__all__ = ["KEYS", "item_matrix", "prepare_responses", "score_responses"]

#: Person-wave identification columns kept on every scored row.
KEYS = ["person_id", "municipality", "group", "wave"]
WAVE_ORDER = ["T0", "T3m", "T6m", "T12m", "exit"]
_REQUIRED = ("person_id", "wave", "instrument", "item", "value")


def prepare_responses(responses: pd.DataFrame, instruments: Mapping[str, Any]) -> pd.DataFrame:
    """Type the long responses, turn n.v.t. codes into missing reasons and check ranges.

    Parameters
    ----------
    responses : pandas.DataFrame
        Long questionnaire rows (canonical columns of ``data_schemas/questionnaire.yaml``).
    instruments : mapping
        The schema's ``instruments`` block.

    Returns
    -------
    pandas.DataFrame
        A copy with ``value`` float (NaN when missing), ``missing_reason`` filled,
        ``group`` defaulting to ``"all"``.

    Raises
    ------
    DataValidationError
        A required column is missing or a value lies outside its instrument's range.
    """
    missing = [c for c in _REQUIRED if c not in responses.columns]
    if missing:
        raise DataValidationError(
            f"questionnaire: required column(s) missing: {', '.join(missing)}"
        )
    r = responses.copy()
    if "municipality" not in r.columns:
        r["municipality"] = None
    if "group" not in r.columns:
        r["group"] = "all"
    r["group"] = r["group"].fillna("all").astype(str)
    if "missing_reason" not in r.columns:
        r["missing_reason"] = None
    r["value"] = pd.to_numeric(r["value"], errors="coerce").astype(float)
    reason = r["missing_reason"].astype(object)
    r["missing_reason"] = reason.where(reason.notna(), None)
    problems = []
    for name, spec in instruments.items():
        sel = r["instrument"] == name
        na_code = spec.get("not_applicable_code")
        if na_code is not None:
            coded = sel & (r["value"] == float(na_code))
            r.loc[coded, "missing_reason"] = "not_applicable"
            r.loc[coded, "value"] = np.nan
        lo, hi = spec.get("range", [-np.inf, np.inf])
        bad = sel & r["value"].notna() & ((r["value"] < lo) | (r["value"] > hi))
        for idx in r.index[bad][:5]:
            problems.append(
                f"row {idx}: {name}.{r.at[idx, 'item']} = {r.at[idx, 'value']:g} outside {lo}..{hi}"
            )
    if problems:
        raise DataValidationError(
            "questionnaire: values outside the instrument range: " + "; ".join(problems)
        )
    r.loc[r["value"].isna() & r["missing_reason"].isna(), "missing_reason"] = "not_asked"
    return r


def item_matrix(r: pd.DataFrame, name: str, spec: Mapping[str, Any]) -> pd.DataFrame:
    """One row per person and wave, one column per item of an instrument (NaN if missing).

    Parameters
    ----------
    r : pandas.DataFrame
        Output of :func:`prepare_responses`.
    name : str
        Instrument name.
    spec : mapping
        Its schema entry (``items``, ``reverse`` ...). Reversed items are recoded here
        as ``lo + hi - value``.

    Returns
    -------
    pandas.DataFrame
        Index ``KEYS``; columns the schema's items in order.
    """
    sub = r.loc[r["instrument"] == name]
    items = list(spec["items"])
    wide = sub.pivot_table(
        index=KEYS, columns="item", values="value", aggfunc="first", dropna=False
    )
    persons = sub[KEYS].drop_duplicates().set_index(KEYS).index
    wide = wide.reindex(index=persons, columns=items)
    lo, hi = spec.get("range", [np.nan, np.nan])
    for it in spec.get("reverse") or []:
        wide[it] = lo + hi - wide[it]
    wide.columns.name = None
    return wide


def score_responses(
    responses: pd.DataFrame,
    instruments: Mapping[str, Any],
    *,
    mhi5_cutoff: float | None = 60.0,
) -> pd.DataFrame:
    """Score every person and wave on every instrument present.

    Parameters
    ----------
    responses : pandas.DataFrame
        Long questionnaire rows.
    instruments : mapping
        The schema's ``instruments`` block (``zrm``, ``mhi5``, ``nps``, ``satisfaction``;
        other instruments get the mean of their items when all are answered).
    mhi5_cutoff : float or None, default 60
        MHI-5 scores below this are flagged ``mhi5_unhealthy``; None leaves the flag out.

    Returns
    -------
    pandas.DataFrame
        Long: ``person_id, municipality, group, wave, scale, value``. Scales:
        ``zrm_mean, zrm_n_low, zrm_n_scored, zrm_incomplete, mhi5, mhi5_unhealthy, nps,
        satisfaction_agree_share`` and ``<instrument>_mean`` for others. A scale is
        absent (not NaN) for a person-wave without the instrument; NaN means not scorable.
    """
    r = prepare_responses(responses, instruments)
    parts: list[pd.DataFrame] = []

    def add(scale: str, values: pd.Series) -> None:
        parts.append(values.rename("value").reset_index().assign(scale=scale))

    for name, spec in instruments.items():
        if not (r["instrument"] == name).any():
            continue
        m = item_matrix(r, name, spec)
        k = len(spec["items"])
        if name == "zrm":
            scored = m.notna().sum(axis=1)
            add("zrm_mean", m.mean(axis=1))
            add("zrm_n_low", (m <= 2).sum(axis=1).astype(float).where(scored > 0))
            add("zrm_n_scored", scored.astype(float))
            add("zrm_incomplete", (scored < k).astype(float))
        elif name == "mhi5":
            lo, hi = spec.get("range", [1, 6])
            complete = m.notna().all(axis=1)
            score = ((m.sum(axis=1) - k * lo) * 100.0 / (k * (hi - lo))).where(complete)
            add("mhi5", score)
            if mhi5_cutoff is not None:
                add("mhi5_unhealthy", (score < mhi5_cutoff).astype(float).where(complete))
        elif name == "nps":
            add("nps", m.iloc[:, 0])
        elif name == "satisfaction":
            answered = m.notna().sum(axis=1)
            agree = (m >= 4).sum(axis=1)
            add("satisfaction_agree_share", (agree / answered.where(answered > 0)).astype(float))
        else:
            add(f"{name}_mean", m.mean(axis=1).where(m.notna().all(axis=1)))
    if not parts:
        return pd.DataFrame(columns=[*KEYS, "scale", "value"])
    out = pd.concat(parts, ignore_index=True)[[*KEYS, "scale", "value"]]
    return out.sort_values(["scale", "wave", "person_id"], ignore_index=True)

"""Response per wave and group, and how baseline responders who drop out differ.

A person *responded* in a wave when at least one item has a value. A person-wave
row whose items are all missing counts as invited but not responding (exports often
carry such rows for non-response); a later wave is also invited to everyone in the
baseline cohort, whether or not the export has a row for them. The baseline cohort
is everyone who responded at T0; retention is the share of that cohort responding in a later wave.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.analysis.scoring import WAVE_ORDER

__all__ = ["nonresponse_table", "response_table"]


def _responded(r: pd.DataFrame) -> pd.DataFrame:
    answered = r.assign(responded=r["value"].notna())
    return (
        answered.groupby(["person_id", "group", "wave"], sort=False)["responded"]
        .any()
        .reset_index()
    )


def _wave_key(w: pd.Series) -> pd.Series:
    order = {w: i for i, w in enumerate(WAVE_ORDER)}
    return w.map(lambda x: order.get(x, len(order)))


def _n_invited(g: pd.DataFrame, cohort: set, *, first: bool) -> float:
    """Persons invited to a wave: its rows, plus the baseline cohort in later waves.

    Exports often hold respondents only, so a later wave is invited to the whole
    baseline cohort, not just to those who answered. At baseline the invitations are
    known only when the export carries non-response rows; otherwise NaN, because
    "invited = responded, rate 1" would be a guess presented as a fact.
    """
    if first and bool(g["responded"].all()):
        return np.nan
    persons = set(g["person_id"]) if first else set(g["person_id"]) | cohort
    return float(len(persons))


def response_table(r: pd.DataFrame) -> pd.DataFrame:
    """Response and baseline retention per group and wave.

    Parameters
    ----------
    r : pandas.DataFrame
        Output of :func:`evalkit.analysis.scoring.prepare_responses`.

    Returns
    -------
    pandas.DataFrame
        ``group, wave, n_invited, n_responded, response_rate, n_baseline,
        n_baseline_responded, retention`` (``group == "all"`` rows pool the groups).
    """
    resp = _responded(r)
    resp = pd.concat([resp, resp.assign(group="all")]).drop_duplicates(
        ["person_id", "group", "wave"]
    )
    base = set(
        map(
            tuple,
            resp.loc[(resp["wave"] == "T0") & resp["responded"], ["person_id", "group"]].to_numpy(),
        )
    )
    resp["in_baseline"] = [
        (p, g) in base for p, g in zip(resp["person_id"], resp["group"], strict=True)
    ]
    rows = []
    for (group, wave), g in resp.groupby(["group", "wave"], sort=True):
        cohort = {p for p, gg in base if gg == group}
        n_base = len(cohort)
        n_resp = int(g["responded"].sum())
        n_br = int((g["responded"] & g["in_baseline"]).sum())
        invited = _n_invited(g, cohort, first=wave == "T0")
        rows.append(
            {
                "group": group,
                "wave": wave,
                "n_invited": invited,
                "n_responded": n_resp,
                "response_rate": n_resp / invited if invited else np.nan,
                "n_baseline": n_base,
                "n_baseline_responded": n_br,
                "retention": n_br / n_base if n_base else np.nan,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "group",
            "wave",
            "n_invited",
            "n_responded",
            "response_rate",
            "n_baseline",
            "n_baseline_responded",
            "retention",
        ],
    )
    return out.sort_values(
        ["group", "wave"], key=lambda c: _wave_key(c) if c.name == "wave" else c, ignore_index=True
    )


def nonresponse_table(r: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Baseline scores of later responders vs later non-responders.

    Parameters
    ----------
    r : pandas.DataFrame
        Output of :func:`evalkit.analysis.scoring.prepare_responses`.
    scores : pandas.DataFrame
        Output of :func:`evalkit.analysis.scoring.score_responses`.

    Returns
    -------
    pandas.DataFrame
        Per ``group, wave`` (the later wave) and baseline ``scale``: ``n_responders,
        n_nonresponders, mean_responders, mean_nonresponders, std_diff`` (difference
        in means over the pooled standard deviation), and for a yes/no scale the
        persons with each answer (``n_responders_yes``, ``n_responders_no``,
        ``n_nonresponders_yes``, ``n_nonresponders_no``; missing for other scales).
        Scales are the baseline scores and ``mode_<mode>`` (share interviewed in that
        mode at baseline).
    """
    resp = _responded(r)
    later = resp.loc[resp["wave"] != "T0"]
    base = scores.loc[scores["wave"] == "T0"].dropna(subset=["value"])
    if "mode" in r.columns:  # how the baseline was taken is known for everyone
        modes = r.loc[
            (r["wave"] == "T0") & r["mode"].notna(), ["person_id", "group", "mode"]
        ].drop_duplicates("person_id")
        dummies = [
            modes.assign(scale=f"mode_{m}", value=(modes["mode"] == m).astype(float))
            for m in sorted(modes["mode"].astype(str).unique())
        ]
        if dummies:
            base = pd.concat([base, *[d.drop(columns="mode") for d in dummies]], ignore_index=True)
    rows = []
    for wave in sorted(later["wave"].unique(), key=lambda w: _wave_key(pd.Series([w])).iloc[0]):
        answered = set(later.loc[(later["wave"] == wave) & later["responded"], "person_id"])
        b = base.assign(later=base["person_id"].isin(answered))
        for grp_name, bg in [("all", b), *list(b.groupby("group", sort=True))]:
            for scale, s in bg.groupby("scale", sort=True):
                a = s.loc[s["later"], "value"]
                n = s.loc[~s["later"], "value"]
                pooled = (
                    np.sqrt((a.var(ddof=1) + n.var(ddof=1)) / 2)
                    if len(a) > 1 and len(n) > 1
                    else np.nan
                )
                diff = a.mean() - n.mean() if len(a) and len(n) else np.nan
                rows.append(
                    {
                        "group": grp_name,
                        "wave": wave,
                        "scale": scale,
                        "n_responders": len(a),
                        "n_nonresponders": len(n),
                        "mean_responders": a.mean() if len(a) else np.nan,
                        "mean_nonresponders": n.mean() if len(n) else np.nan,
                        "std_diff": diff / pooled if pooled and pooled > 0 else np.nan,
                        **_yes_no(a, "n_responders"),
                        **_yes_no(n, "n_nonresponders"),
                    }
                )
    cols = [
        "group",
        "wave",
        "scale",
        "n_responders",
        "n_nonresponders",
        "mean_responders",
        "mean_nonresponders",
        "std_diff",
        *_YES_NO,
    ]
    return pd.DataFrame(rows, columns=cols).drop_duplicates(["group", "wave", "scale"])


_YES_NO = ("n_responders_yes", "n_responders_no", "n_nonresponders_yes", "n_nonresponders_no")


def _yes_no(values: pd.Series, prefix: str) -> dict[str, float]:
    """Return the persons with 1 and with 0 of a yes/no scale (missing for other scales).

    The mean of a yes/no scale is a share of persons: beside its base it gives the
    number with each answer back, so these counts are in the table for the suppression
    plan to protect (a mean beside its base is hidden with them).
    """
    if values.empty or not values.isin((0.0, 1.0)).all():
        return {f"{prefix}_yes": np.nan, f"{prefix}_no": np.nan}
    yes = int((values == 1.0).sum())
    return {f"{prefix}_yes": float(yes), f"{prefix}_no": float(len(values) - yes)}

"""Run synthetic control, synthetic DiD or triple differences with their inference."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalkit.did import _synth_inference as si
from evalkit.did._common import check_choice
from evalkit.did._data import refuse_infinite
from evalkit.did._synth_panel import plain
from evalkit.did.notes import Note
from evalkit.did.results import DidResult, tidy_frame
from evalkit.did.synthetic import SyntheticFit, synthetic_fit
from evalkit.errors import EstimationError
from evalkit.spec import SYNTHETIC_ESTIMATORS, SYNTHETIC_INFERENCE, Spec

__all__ = ["SYNTHETIC_ESTIMATORS", "SYNTHETIC_INFERENCE", "synthetic_result", "triple_panel"]

Base = Literal["did", "synthetic_did", "synthetic_control"]
_OPTIONS = {"n_placebo", "grid", "eta_omega", "subgroup", "base"}


def triple_panel(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    subgroup: str,
    treated: str | None,
    cohort: str | None,
) -> tuple[pd.DataFrame, int]:
    """Within each unit and period: mean outcome of the subgroup minus that of the others.

    Parameters
    ----------
    data : pandas.DataFrame
        Rows of persons or cells with a 0/1 ``subgroup`` column (1: the group the
        pilot targets inside a pilot unit, e.g. those turning 18 during the pilot).
    outcome, unit, time, subgroup : str
        Columns.
    treated, cohort : str, optional
        The treatment columns, as for :func:`~evalkit.did.synthetic.synthetic_fit`.

    Returns
    -------
    pandas.DataFrame
        One row per unit and period: ``unit, time, y`` (the difference) and the
        treatment column (maximum over the rows of the cell).
    int
        Rows left out for a missing outcome.

    Raises
    ------
    EstimationError
        When the subgroup column is missing or not 0/1, the outcome is not numeric or
        infinite, or a unit-period lacks either group (the message names the first).
    """
    for col in (subgroup, outcome, unit, time):
        if col not in data.columns:
            raise EstimationError(
                f"triple_differences: column {col!r} not found; columns are: "
                f"{', '.join(map(str, data.columns))}"
            )
    g = pd.to_numeric(data[subgroup], errors="coerce")
    if not g.isin([0, 1]).all():
        seen = sorted(map(str, pd.unique(data.loc[~g.isin([0, 1]), subgroup])))[:5]
        raise EstimationError(
            f"triple_differences: subgroup column {subgroup!r} must be 0 or 1 in every row; "
            f"it also has {', '.join(seen)}"
        )
    y = pd.to_numeric(data[outcome], errors="coerce")
    text = y.isna() & data[outcome].notna()
    if text.any():
        raise EstimationError(
            f"column {outcome!r} must be numeric; row {data.index[text][0]!r} has "
            f"{data.loc[text, outcome].iloc[0]!r}"
        )
    refuse_infinite(y, outcome)
    treat = treated or cohort
    frame = pd.DataFrame(
        {
            "unit": data[unit].to_numpy(),
            "time": data[time].to_numpy(),
            "g": g.to_numpy(),
            "y": y.to_numpy(),
            "d": data[treat].to_numpy() if treat else 0,
        }
    )
    # each cell's mean is summed in the order of its values, not of the export's rows, so
    # the same data in another row order give the same bits (and the same placebo draws)
    frame = frame.sort_values("y", kind="stable", ignore_index=True)
    # rows without an outcome are left out of their cell's mean, and counted for a note
    means = frame.pivot_table(index=["unit", "time"], columns="g", values="y", aggfunc="mean")
    means = means.reindex(columns=[0, 1]).reindex(
        pd.MultiIndex.from_frame(frame[["unit", "time"]].drop_duplicates()).sort_values()
    )
    empty = means.isna().to_numpy()
    if empty.any():
        row, col = np.argwhere(empty)[0]
        cell_unit, cell_time = (plain(v) for v in means.index[row])
        raise EstimationError(
            f"triple_differences: unit {cell_unit!r} has no row of subgroup {subgroup!r} = {col} "
            f"with an outcome in period {cell_time!r} ({int(empty.sum())} such cell(s)); every "
            "unit and period needs rows of both subgroups"
        )
    out = (means[1] - means[0]).rename("y").reset_index()
    d = frame.groupby(["unit", "time"], sort=True)["d"].max().reset_index()
    cells = out.merge(d, on=["unit", "time"]).rename(columns={"d": treat or "treated"})
    return cells, int(y.isna().sum())


def _count(options: dict[str, Any], name: str, default: int, least: int) -> int:
    """Return a whole-number option of at least ``least`` (0 placebos crashed the draw)."""
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise EstimationError(f"{name} must be a whole number >= {least}; got {value!r}")
    return int(value)


def _inference(
    fit: SyntheticFit, chosen: str, alpha: float, seed: int, options: dict[str, Any]
) -> si.SynthInference:
    if chosen == "placebo":
        n_placebo = _count(options, "n_placebo", 199, 1)
        return si.placebo(fit, alpha=alpha, n_placebo=n_placebo, seed=seed)
    if chosen == "conformal":
        return si.conformal(fit, alpha=alpha, grid=_count(options, "grid", 41, 3))
    return si.jackknife(fit, alpha=alpha)


def synthetic_result(
    data: pd.DataFrame,
    spec: Spec,
    *,
    outcome: str,
    unit: str | None,
    time: str | None,
    treated: str | None = None,
    cohort: str | None = None,
) -> DidResult:
    """Fit a synthetic estimator, apply its inference and return the result.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel (for triple differences: rows of both subgroups).
    spec : Spec
        ``estimator`` (``synthetic_control``, ``synthetic_did``,
        ``triple_differences``, or ``twfe`` with conformal inference), ``inference``
        (``placebo``, the default, ``conformal`` or ``jackknife``), ``seed``,
        ``alpha`` and ``options``: ``n_placebo`` (199), ``grid`` (41),
        ``eta_omega``; triple differences also ``subgroup`` (required) and ``base``
        (``"did"``, ``"synthetic_did"`` or ``"synthetic_control"``; default ``"did"``).
    outcome, unit, time, treated, cohort : str or None
        Columns, as for :func:`evalkit.did.estimate`.

    Returns
    -------
    DidResult
        With ``unit_weights``, ``time_weights``, ``trajectory`` and ``cohorts`` in ``extra``.
    """
    estimator, inference, options = spec.estimator, spec.inference, dict(spec.options)
    seed, alpha = spec.seed, spec.alpha
    if spec.covariates or spec.anticipation:
        raise EstimationError(
            f"{estimator} balances the treated units on their own pre-period outcomes: it takes "
            "no covariates and no anticipation (start the cohort earlier instead)"
        )
    unknown = set(options) - _OPTIONS
    if unknown:
        raise EstimationError(
            f"unknown option(s) {', '.join(sorted(unknown))} for estimator {estimator!r}; "
            f"allowed: {', '.join(sorted(_OPTIONS))}"
        )
    chosen = inference or "placebo"
    if chosen not in SYNTHETIC_INFERENCE:
        raise EstimationError(
            f"inference={chosen!r} is not available for {estimator}; allowed: "
            + ", ".join(repr(i) for i in SYNTHETIC_INFERENCE)
        )
    eta = options.get("eta_omega")
    frame, n_obs = data, len(data)
    data_notes: tuple[Note, ...] = ()
    # twfe with conformal inference: the equal-weight DiD, which equals TWFE on a balanced panel
    method: str = "did" if estimator == "twfe" else estimator
    if estimator == "triple_differences":
        if not options.get("subgroup"):
            raise EstimationError(
                "triple_differences needs subgroup= (a 0/1 column: 1 for the group the pilot "
                "targets inside each unit)"
            )
        base = options.get("base", "did")
        check_choice("base", base, Base)
        if unit is None or time is None:
            raise EstimationError("triple_differences needs unit= and time=")
        frame, dropped = triple_panel(
            data,
            outcome=outcome,
            unit=unit,
            time=time,
            subgroup=str(options["subgroup"]),
            treated=treated,
            cohort=cohort,
        )
        if dropped:
            values = {"n": dropped, "outcome": outcome, "kept": n_obs - dropped, "total": n_obs}
            data_notes, n_obs = (Note("dropped_missing_outcome", values),), n_obs - dropped
        outcome, unit, time, method = "y", "unit", "time", base
    fit = synthetic_fit(
        frame,
        outcome=outcome,
        unit=unit,
        time=time,
        treated=treated,
        cohort=cohort,
        method=method,  # type: ignore[arg-type]
        eta_omega=None if eta is None else float(eta),
    )
    out = _inference(fit, chosen, alpha, seed, options)
    notes = (*data_notes, *outside_range(fit), *out.notes)
    return _result(estimator, fit, chosen, replace(out, notes=notes), alpha, n_obs)


def outside_range(fit: SyntheticFit) -> tuple[Note, ...]:
    """Say when synthetic control cannot fit: the pilot lies outside the comparisons' range.

    Synthetic control has no level: its counterfactual is a weighted average of the
    comparison units, which stays between their smallest and largest outcome in every
    period. When the treated units' mean lies outside that range in more than half of
    the pre-periods, the pre-period gap is carried into the estimate.

    Parameters
    ----------
    fit : SyntheticFit
        The fit.

    Returns
    -------
    tuple of Note
        ``synthetic_outside_range`` or nothing.
    """
    if fit.method != "synthetic_control":
        return ()
    y, controls = fit.panel.y, fit.panel.controls
    spread = float(np.std(y[controls]))
    tol = 1e-9 * max(spread, float(np.abs(y).max()))
    outside, pre, gaps = 0, 0, []
    for c in fit.cohorts:
        treated, donors = y[c.treated, : c.start].mean(axis=0), y[controls, : c.start]
        above, below = treated > donors.max(axis=0) + tol, treated < donors.min(axis=0) - tol
        outside, pre = outside + int((above | below).sum()), pre + c.start
        gaps.append(treated - c.omega @ donors)
    if 2 * outside <= pre:
        return ()
    rmse = float(np.sqrt(np.mean(np.concatenate(gaps) ** 2)))
    values = {"outside": outside, "pre_periods": pre, "rmse": rmse, "spread": spread}
    return (Note("synthetic_outside_range", values),)


def _result(
    estimator: str, fit: SyntheticFit, chosen: str, out: si.SynthInference, alpha: float, n_obs: int
) -> DidResult:
    stat = fit.att / out.se if out.se and math.isfinite(out.se) and out.se > 0 else math.nan
    rows: list[dict[str, Any]] = [
        {
            "term": "ATT",
            "estimate": fit.att,
            "std_error": out.se,
            "statistic": stat,
            "p_value": out.p_value,
            "conf_low": out.ci_low,
            "conf_high": out.ci_high,
        }
    ]
    times = fit.panel.times
    if len(fit.cohorts) > 1:
        rows += [{"term": f"cohort::{times[c.start]}", "estimate": c.tau} for c in fit.cohorts]
    n_units = len(fit.panel.units)
    extra = {
        "method": fit.method,
        "unit_weights": fit.unit_weights().to_dict("records"),
        "time_weights": fit.time_weights().to_dict("records"),
        "trajectory": fit.trajectories().to_dict("records"),
        "effective": weights_summary(fit),
        "cohorts": [
            {
                "cohort": times[c.start],
                "att": c.tau,
                "weight": c.weight,
                "n_treated": int(c.treated.size),
            }
            for c in fit.cohorts
        ],
    }
    if out.conf_set is not None:
        # the confidence set itself; ci_low/ci_high are its hull
        extra["conf_set"] = [[low, high] for low, high in out.conf_set]
    return DidResult(
        estimator=estimator,
        att=fit.att,
        se=out.se,
        ci_low=out.ci_low,
        ci_high=out.ci_high,
        p_value=out.p_value,
        n_obs=n_obs,
        n_units=n_units,
        n_clusters=n_units,
        n_treated_clusters=fit.n_treated,
        inference=chosen,
        alpha=alpha,
        notes=out.notes,
        table=tidy_frame(rows),
        inference_detail={**out.detail, "rule": "reject at p <= alpha"},
        extra=extra,
    )


def weights_summary(fit: SyntheticFit) -> dict[str, float]:
    """Effective numbers of comparison units and pre-periods (1 / Σw²), as R ``synthdid`` prints."""
    omega = fit.unit_weights()["weight"].to_numpy()
    lam = fit.time_weights()["weight"].to_numpy()
    return {
        "effective_units": float(1 / np.sum(omega**2)),
        "effective_periods": float(1 / np.sum(lam**2)) if lam.any() else math.nan,
    }

"""The entry point :func:`estimate`: check options, run an estimator, choose honest inference."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.did import inference as inf
from evalkit.did._data import Prepared, prepare
from evalkit.did.bacon import bacon_decomposition
from evalkit.did.conley_taber import conley_taber, conley_taber_combinations
from evalkit.did.regression import Fit, _name, event_design, event_study, twfe, two_by_two
from evalkit.did.results import DidResult, tidy_frame
from evalkit.errors import EstimationError, FewTreatedClustersWarning

__all__ = ["Estimator", "Inference", "Vcov", "estimate"]

Estimator = Literal["2x2", "twfe", "event_study", "callaway_santanna", "bacon"]
Control = Literal["never", "notyet"]
Method = Literal["dr", "ipw", "reg"]
Vcov = Literal["iid", "hetero", "cluster"]
Inference = Literal["analytic", "bootstrap", "wild", "permutation", "conley_taber"]
WildWeights = Literal["rademacher", "webb"]

_REG_OPTIONS = {
    "weights",
    "n_boot",
    "n_perm",
    "n_sim",
    "max_enumerate",
    "ferman_pinto",
    "min_e",
    "max_e",
}


def _check(name: str, value: object, allowed: Any) -> None:
    choices = get_args(allowed)
    if value not in choices:
        raise EstimationError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}"
        )


def estimate(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str | None = None,
    time: str | None = None,
    cohort: str | None = None,
    treated: str | None = None,
    post: str | None = None,
    estimator: Estimator,
    control: Control = "never",
    method: Method = "dr",
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    vcov: Vcov | None = None,
    inference: Inference | None = None,
    seed: int = 0,
    alpha: float = 0.05,
    few_treated_threshold: int = 5,
    **options: Any,
) -> Any:
    """Estimate a difference-in-differences effect.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per unit and period (or per respondent for a 2×2 on
        repeated cross-sections).
    outcome : str
        Outcome column (rows with a missing outcome are dropped with a
        :class:`~evalkit.errors.DroppedRowsWarning`).
    unit, time : str, optional
        Unit id (strings work) and period columns. Periods are numbers, or any
        sortable values (dates, ``"2025-10"``) counted in positions.
    cohort : str, optional
        First treated period of each unit, in the time column's units; 0 or empty
        means never treated. Exclusive with ``treated``.
    treated : str, optional
        Treatment indicator per row (1 when that unit is treated in that period);
        with ``post`` it is the group indicator and the treatment is ``treated × post``.
    post : str, optional
        Post-period indicator (2×2).
    estimator : {"2x2", "twfe", "event_study", "callaway_santanna", "bacon"}
        The estimator. ``"callaway_santanna"`` dispatches to
        :func:`evalkit.did.cs.callaway_santanna`.
    control : {"never", "notyet"}
        Comparison group (Callaway–Sant'Anna).
    method : {"dr", "ipw", "reg"}
        Doubly robust, inverse probability weighting or outcome regression (Callaway–Sant'Anna).
    covariates : sequence of str
        Covariate columns.
    cluster : str, optional
        Cluster column (e.g. municipality); defaults to the unit.
    vcov : {"iid", "hetero", "cluster"}, optional
        Analytic variance; default ``"cluster"`` (CR1) when there is a unit or
        cluster column, else ``"hetero"`` (HC1).
    inference : {"analytic", "bootstrap", "wild", "permutation", "conley_taber"}, optional
        Inference method. Default: ``"analytic"``, unless fewer than
        ``few_treated_threshold`` clusters are treated; then ``"conley_taber"``
        (with the Ferman–Pinto correction) and a :class:`FewTreatedClustersWarning`
        saying why. For 2×2/TWFE ``"bootstrap"`` means the wild cluster bootstrap.
        Resampling methods apply to the headline coefficient of 2×2, TWFE and
        Bacon; the event study offers ``"analytic"`` and ``"conley_taber"`` (every
        event time, the headline mean and a placebo pre-trend test).
    seed : int
        Seed of every random draw.
    alpha : float
        1 − confidence level.
    few_treated_threshold : int
        Fewer treated clusters than this switch the default inference.
    **options
        2×2/TWFE: ``weights`` ("rademacher"/"webb"), ``n_boot`` (9999), ``n_perm``
        (1999), ``n_sim`` (1999), ``max_enumerate`` (20000), ``ferman_pinto``
        (True); event study: ``min_e``, ``max_e`` (binned end points).
        Callaway–Sant'Anna: passed on (``base_period``, ``anticipation``, ``panel``,
        ``bootstrap``/``n_boot``, ``min_e``/``max_e``/``balance_e``, ...).

    Returns
    -------
    DidResult or CsResult
        A frozen result with ``tidy()``, ``summary()``, ``to_dict()``, ``_repr_html_()``.

    Raises
    ------
    EstimationError
        Bad options or data (the message names the column, unit or rows).
    """
    _check("estimator", estimator, Estimator)
    _check("control", control, Control)
    _check("method", method, Method)
    if vcov is not None:
        _check("vcov", vcov, Vcov)
    if inference is not None:
        _check("inference", inference, Inference)
    if not 0 < alpha < 1:
        raise EstimationError(f"alpha must be between 0 and 1; got {alpha!r}")
    if isinstance(covariates, str):
        covariates = (covariates,)
    if estimator == "callaway_santanna":
        return _callaway_santanna(
            data,
            outcome=outcome,
            unit=unit,
            time=time,
            cohort=cohort,
            treated=treated,
            control=control,
            method=method,
            covariates=covariates,
            cluster=cluster,
            seed=seed,
            alpha=alpha,
            inference=inference,
            **options,
        )
    unknown = set(options) - _REG_OPTIONS
    if unknown:
        raise EstimationError(
            f"unknown option(s) {', '.join(sorted(unknown))} for estimator {estimator!r}; "
            f"allowed: {', '.join(sorted(_REG_OPTIONS))}"
        )
    prep = prepare(
        data,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        treated=treated,
        post=post,
        covariates=covariates,
        cluster=cluster,
    )
    if vcov is None:
        vcov = "cluster" if (prep.has_unit or prep.cluster_given) else "hetero"
    if estimator == "event_study":
        return _event_study(prep, vcov, alpha, inference, few_treated_threshold, seed, options)
    fit = two_by_two(prep, vcov) if estimator == "2x2" else twfe(prep, vcov)
    components = bacon_decomposition(prep) if estimator == "bacon" else None
    return _coefficient_result(
        estimator,
        prep,
        fit,
        vcov,
        inference,
        seed,
        alpha,
        few_treated_threshold,
        options,
        components,
    )


def _callaway_santanna(
    data: pd.DataFrame,
    *,
    cohort: str | None,
    treated: str | None,
    inference: str | None,
    **kwargs: Any,
) -> Any:
    from evalkit.did.cs import callaway_santanna

    if cohort is None:
        raise EstimationError(
            "callaway_santanna needs cohort= (the first treated period of each unit; 0 or "
            "empty means never treated)"
        )
    if inference in ("bootstrap", "wild") and "bootstrap" not in kwargs:
        kwargs["bootstrap"] = True
    elif inference not in (None, "analytic", "bootstrap", "wild"):
        raise EstimationError(
            f"inference={inference!r} is not available for callaway_santanna; allowed: "
            "'analytic', 'bootstrap'"
        )
    return callaway_santanna(data, cohort=cohort, **kwargs)


def _quiet_coefs(model: Any) -> tuple[pd.Series, pd.Series]:
    """Coefficients and standard errors, without pyfixest's 0/0 warning on a zero SE."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"pyfixest\..*")
        return model.coef(), model.se()


def _analytic(model: Any, term: str, alpha: float, strict: bool = True) -> dict[str, Any]:
    coefs, ses = _quiet_coefs(model)
    coef, se = float(coefs[term]), float(ses[term])
    if strict and not (np.isfinite(se) and se > 0):
        raise EstimationError(
            "the outcome has no variation left once the model's fixed effects and controls are "
            "taken out (the standard error is zero); there is no effect to estimate"
        )
    df = _df(model)
    tstat = coef / se if se > 0 else math.nan
    if not np.isfinite(tstat):
        return {
            "estimate": coef,
            "std_error": se,
            "statistic": math.nan,
            "p_value": math.nan,
            "conf_low": math.nan,
            "conf_high": math.nan,
        }
    crit = stats.t.ppf(1 - alpha / 2, df)
    return {
        "estimate": coef,
        "std_error": se,
        "statistic": tstat,
        "p_value": float(2 * stats.t.sf(abs(tstat), df)),
        "conf_low": coef - crit * se,
        "conf_high": coef + crit * se,
    }


def _df(model: Any) -> float:
    return float(getattr(model, "_df_t", None) or max(int(model._N) - len(model.coef()), 1))


def _few_treated_note(prep: Prepared, threshold: int) -> str:
    k, g = prep.n_treated_clusters, prep.n_clusters
    return (
        f"only {k} of {g} clusters are treated (fewer than {threshold}); cluster-robust "
        "standard errors are far too small in this case, so the p-value and interval come "
        "from how the estimate compares with placebo estimates on the comparison clusters "
        "(Conley–Taber, with the Ferman–Pinto correction when cluster sizes differ)"
    )


def _coefficient_result(
    estimator: str,
    prep: Prepared,
    fit: Fit,
    vcov: str,
    inference: str | None,
    seed: int,
    alpha: float,
    threshold: int,
    options: dict[str, Any],
    components: pd.DataFrame | None,
) -> DidResult:
    row = _analytic(fit.model, fit.term, alpha)
    messages: list[str] = []
    k = prep.n_treated_clusters
    few = prep.has_unit or prep.cluster_given
    few = few and k < threshold
    chosen = inference or ("conley_taber" if few else "analytic")
    if chosen == "bootstrap":
        chosen = "wild"
    if inference is None and few:
        note = _few_treated_note(prep, threshold)
        warnings.warn(note, FewTreatedClustersWarning, stacklevel=3)
        messages.append(note)
    elif chosen == "analytic" and vcov == "cluster" and k < threshold:
        note = (
            f"only {k} of {prep.n_clusters} clusters are treated; cluster-robust (CR1) "
            "intervals over-reject badly with so few treated clusters — prefer "
            "inference='conley_taber' or 'permutation'"
        )
        warnings.warn(note, FewTreatedClustersWarning, stacklevel=3)
        messages.append(note)
    detail: dict[str, Any] = {"vcov": vcov, "df": _df(fit.model)}
    outcome: inf.InferenceOutcome | None = None
    notes: list[str] = []
    if chosen != "analytic" and inference is None:
        for method in ("conley_taber", "wild"):
            try:
                outcome = _resample(method, fit, seed, alpha, options)
            except EstimationError as exc:
                notes.append(f"{method} inference could not run ({exc})")
                continue
            if outcome is not None:
                chosen = method
                break
            notes.append(
                "Conley–Taber inference needs a treatment that starts at the same "
                "period in every row of a cluster"
            )
        if outcome is None:
            chosen = "analytic"
            notes.append(
                "no few-treated inference could run, so the interval is cluster-"
                "robust (CR1) and far too narrow with so few treated clusters; do not "
                "read its p-value as evidence"
            )
    elif chosen != "analytic":
        outcome = _resample(chosen, fit, seed, alpha, options)
        if outcome is None:
            raise EstimationError(
                f"inference={chosen!r} needs a treatment that starts at the same period for "
                "every row of a cluster; use inference='wild' or 'analytic'"
            )
    if chosen == "wild" and k < threshold:
        notes.append(
            f"the wild cluster bootstrap is unreliable with {k} treated cluster(s) "
            "(MacKinnon–Webb): its p-value can be far too small or too large; compare with "
            "inference='conley_taber' or 'permutation'"
        )
    if outcome is not None:
        notes.extend(outcome.messages)
    for note in notes:
        warnings.warn(note, FewTreatedClustersWarning, stacklevel=3)
    messages.extend(notes)
    if outcome is not None:
        detail = {**outcome.detail, "analytic_se": row["std_error"], "vcov": vcov}
        row.update(p_value=outcome.p_value, conf_low=outcome.ci_low, conf_high=outcome.ci_high)
        if chosen in ("permutation", "conley_taber"):
            row.update(std_error=math.nan, statistic=math.nan)
    row["term"] = "ATT" if estimator != "2x2" else "ATT (group × post)"
    extra: dict[str, Any] = {}
    if components is not None:
        extra["components"] = components.to_dict("records")
        total = float((components["weight"] * components["estimate"]).sum())
        if not np.isclose(total, row["estimate"], rtol=1e-6, atol=1e-8):
            raise EstimationError("internal check failed: Bacon components do not add up to TWFE")
    return DidResult(
        estimator=estimator,
        att=row["estimate"],
        se=row["std_error"],
        ci_low=row["conf_low"],
        ci_high=row["conf_high"],
        p_value=row["p_value"],
        n_obs=len(prep.frame),
        n_units=prep.n_units,
        n_clusters=prep.n_clusters,
        n_treated_clusters=k,
        inference=chosen,
        alpha=alpha,
        warnings=tuple(messages),
        table=tidy_frame([row]),
        inference_detail=detail,
        extra=extra,
    )


def _resample(
    chosen: str, fit: Fit, seed: int, alpha: float, options: dict[str, Any]
) -> inf.InferenceOutcome | None:
    design = fit.design
    if design is None:
        return None
    if chosen == "wild":
        weights = options.get("weights", "rademacher")
        _check("weights", weights, WildWeights)
        return inf.wild_bootstrap(
            design, weights=weights, n_boot=int(options.get("n_boot", 9999)), seed=seed, alpha=alpha
        )
    if design.role is None:
        return None
    if chosen == "permutation":
        return inf.randomization(
            design,
            n_perm=int(options.get("n_perm", 1999)),
            max_enumerate=int(options.get("max_enumerate", 20_000)),
            seed=seed,
            alpha=alpha,
        )
    return conley_taber(
        design,
        ferman_pinto=bool(options.get("ferman_pinto", True)),
        n_sim=int(options.get("n_sim", 1999)),
        max_enumerate=int(options.get("max_enumerate", 20_000)),
        seed=seed,
        alpha=alpha,
    )


def _event_study(
    prep: Prepared,
    vcov: str,
    alpha: float,
    inference: str | None,
    threshold: int,
    seed: int,
    options: dict[str, Any],
) -> DidResult:
    if inference not in (None, "analytic", "conley_taber"):
        raise EstimationError(
            f"inference={inference!r} is not available for the event study; allowed: "
            "'analytic', 'conley_taber' (use estimator='twfe' for the other methods)"
        )
    min_e, max_e = options.get("min_e"), options.get("max_e")
    model, times = event_study(prep, vcov, min_e, max_e)
    coefs, _ = _quiet_coefs(model)
    kept = [e for e in times if _name(e) in coefs.index and np.isfinite(coefs[_name(e)])]
    messages: list[str] = []
    dropped = sorted(set(times) - set(kept))
    if dropped:
        messages.append(
            f"event times {dropped} could not be estimated (collinear with the "
            "fixed effects; add never-treated units or bin the end points)"
        )
    k = prep.n_treated_clusters
    few = k < threshold and (prep.has_unit or prep.cluster_given)
    rows = []
    for e in kept:
        r = _analytic(model, _name(e), alpha, strict=False)
        rows.append({"term": f"event_time::{e}", **r, "event_time": e})
    post = [i for i, e in enumerate(kept) if e >= 0]
    if not post:
        raise EstimationError("no post-treatment event time (e ≥ 0) could be estimated")
    names = list(coefs.index)
    pos = [names.index(_name(e)) for e in kept]
    w_kept = np.zeros(len(kept))
    w_kept[post] = 1.0 / len(post)
    w = np.zeros(len(names))
    w[pos] = w_kept
    vc = np.asarray(model._vcov)
    att = float(w @ coefs.to_numpy())
    se = float(np.sqrt(max(float(w @ vc @ w), 0.0)))
    if not (np.isfinite(se) and se > 0):
        raise EstimationError(
            "the outcome has no variation left once unit and period effects are taken out; "
            "there is no effect to estimate"
        )
    df = _df(model)
    crit = stats.t.ppf(1 - alpha / 2, df)
    head = {
        "term": "ATT (mean of e ≥ 0)",
        "estimate": att,
        "std_error": se,
        "statistic": att / se,
        "p_value": float(2 * stats.t.sf(abs(att / se), df)),
        "conf_low": att - crit * se,
        "conf_high": att + crit * se,
        "event_time": None,
    }
    pre = [i for i, e in enumerate(kept) if e < -1]
    pretrend: dict[str, Any] = {"statistic": None, "p_value": None, "df": 0}
    if pre:
        b = coefs.to_numpy()[[pos[i] for i in pre]]
        v = vc[np.ix_([pos[i] for i in pre], [pos[i] for i in pre])]
        stat = float(b @ np.linalg.pinv(v) @ b) / len(pre)
        pretrend = {
            "statistic": stat,
            "p_value": float(stats.f.sf(stat, len(pre), df)),
            "df": len(pre),
            "test": "Wald F, all pre-period (e < -1) effects zero",
        }
    chosen = inference or ("conley_taber" if few else "analytic")
    detail: dict[str, Any] = {"vcov": vcov, "df": df}
    design = event_design(prep, kept, min_e, max_e) if chosen == "conley_taber" else None
    if chosen == "conley_taber" and design is not None and design.role is None:
        if inference is not None:
            raise EstimationError(
                "inference='conley_taber' needs a treatment that starts at the same period for "
                "every row of a cluster"
            )
        chosen = "analytic"
    if chosen == "conley_taber" and design is not None:
        if inference is None:
            messages.append(_few_treated_note(prep, threshold))
        units = [np.eye(len(kept))[i] for i in range(len(kept))]
        outcomes, joint_p = conley_taber_combinations(
            design,
            [w_kept, *units],
            ferman_pinto=bool(options.get("ferman_pinto", True)),
            n_sim=int(options.get("n_sim", 1999)),
            max_enumerate=int(options.get("max_enumerate", 20_000)),
            seed=seed,
            alpha=alpha,
            joint=pre,
        )
        for row, out in zip([head, *rows], outcomes, strict=True):
            row.update(
                std_error=math.nan,
                statistic=math.nan,
                p_value=out.p_value,
                conf_low=out.ci_low,
                conf_high=out.ci_high,
            )
        messages.extend(outcomes[0].messages)
        detail = {**outcomes[0].detail, "analytic_se": se, "vcov": vcov}
        if pre:
            pretrend = {
                "statistic": None,
                "p_value": joint_p,
                "df": len(pre),
                "test": "Conley–Taber placebo test, all pre-period (e < -1) effects zero",
            }
    elif few:
        messages.append(
            f"only {k} of {prep.n_clusters} clusters are treated; the event-time intervals are "
            "cluster-robust (CR1) and far too narrow with so few treated clusters — read them "
            "as descriptive"
        )
    for m in messages:
        warnings.warn(m, FewTreatedClustersWarning, stacklevel=3)
    table = tidy_frame([head, *rows])
    extra = {
        "event_study": [
            {
                "event_time": r["event_time"],
                "att": r["estimate"],
                "se": r["std_error"],
                "ci_low": r["conf_low"],
                "ci_high": r["conf_high"],
                "p_value": r["p_value"],
            }
            for r in rows
        ],
        "pretrend": pretrend,
        "reference_period": -1,
    }
    return DidResult(
        estimator="event_study",
        att=att,
        se=head["std_error"],
        ci_low=head["conf_low"],
        ci_high=head["conf_high"],
        p_value=head["p_value"],
        n_obs=len(prep.frame),
        n_units=prep.n_units,
        n_clusters=prep.n_clusters,
        n_treated_clusters=k,
        inference=chosen,
        alpha=alpha,
        warnings=tuple(messages),
        table=table,
        inference_detail=detail,
        extra=extra,
    )

"""The 2×2 building blocks of Callaway–Sant'Anna: one ATT and its influence function.

Each function estimates the average effect on the treated in one comparison of
a treated group (``d == 1``) with a control group (``d == 0``) between a base
period and a later period, and returns the estimate together with its
influence function ``psi`` over the observations it was given, normalised so
that ``att_hat - att ≈ mean(psi)``.

Panel estimators (Sant'Anna & Zhao 2020, J. Econometrics 219(1)) take the
outcome change ``dy`` of each unit; repeated cross-section estimators take the
outcome ``y`` and a ``post`` indicator of each row. ``x`` always holds an
intercept column first. The inverse-probability weights are normalised (Hájek),
propensity scores above 0.995 among controls are trimmed and scores are capped
at ``1 - 1e-6``, as in R's ``DRDID`` package that R ``did`` calls.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evalkit.errors import EstimationError

__all__ = [
    "TRIM_LEVEL",
    "dr_panel",
    "dr_rc",
    "ipw_panel",
    "ipw_rc",
    "logit",
    "reg_panel",
    "reg_rc",
]

Array = NDArray[np.float64]

#: Controls with a propensity score at or above this level get weight zero.
TRIM_LEVEL = 0.995


def _solve(a: Array, b: Array, what: str) -> Array:
    try:
        return np.asarray(np.linalg.solve(a, b), dtype=np.float64)
    except np.linalg.LinAlgError as exc:
        raise EstimationError(
            f"{what} is singular: a covariate is constant or collinear within one "
            "comparison of a cohort with its controls; drop or recode it"
        ) from exc


def ols(y: Array, x: Array, mask: NDArray[np.bool_]) -> tuple[Array, Array]:
    """Fit OLS of ``y`` on ``x`` among the rows in ``mask``.

    Parameters
    ----------
    y : ndarray
        Outcome.
    x : ndarray
        Design matrix (intercept first).
    mask : ndarray of bool
        Rows used for the fit.

    Returns
    -------
    beta : ndarray
        Coefficients.
    bread : ndarray
        ``(X'X / n)^{-1}`` over the masked rows, with ``n`` all rows given.
    """
    xm = x[mask]
    n = x.shape[0]
    xtx = xm.T @ xm / n
    bread = _solve(xtx, np.eye(x.shape[1]), "The outcome regression")
    beta = bread @ (xm.T @ y[mask]) / n
    return beta, bread


def logit(d: Array, x: Array, *, tol: float = 1e-12, max_iter: int = 100) -> tuple[Array, Array]:
    """Fit a logit of ``d`` on ``x`` by Newton–Raphson (maximum likelihood).

    Parameters
    ----------
    d : ndarray
        0/1 outcome.
    x : ndarray
        Design matrix (intercept first).
    tol : float
        Convergence tolerance on the largest Newton step.
    max_iter : int
        Iteration limit.

    Returns
    -------
    ps : ndarray
        Fitted probabilities.
    hessian_inv : ndarray
        ``(X' W X / n)^{-1}`` with ``W = p (1 - p)`` (``n`` times the usual
        variance of the coefficients).
    """
    n, k = x.shape
    beta = np.zeros(k)
    p1 = d.mean()
    if 0.0 < p1 < 1.0:
        beta[0] = np.log(p1 / (1.0 - p1))
    for _ in range(max_iter):
        eta = x @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1.0 - p)
        grad = x.T @ (d - p)
        hess = (x * w[:, None]).T @ x
        step = _solve(hess, grad, "The propensity-score model")
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    else:  # pragma: no cover - separation
        raise EstimationError(
            "The propensity-score model did not converge (the covariates separate a "
            "cohort from its controls); use method='reg' or fewer covariates"
        )
    p = 1.0 / (1.0 + np.exp(-(x @ beta)))
    w = p * (1.0 - p)
    hess_inv = _solve((x * w[:, None]).T @ x / n, np.eye(k), "The propensity-score model")
    return p, hess_inv


def _pscore(d: Array, x: Array) -> tuple[Array, Array, Array]:
    """Propensity scores, the trimming indicator and the linear representation of the logit."""
    if x.shape[1] == 1:
        p = np.full(d.shape[0], d.mean())
        hess_inv = np.array([[1.0 / (p[0] * (1.0 - p[0]))]])
    else:
        p, hess_inv = logit(d, x)
    p = np.minimum(p, 1.0 - 1e-6)
    keep = np.where(d == 1.0, p < 1.01, p < TRIM_LEVEL).astype(np.float64)
    lin_ps = ((d - p)[:, None] * x) @ hess_inv
    return p, keep, lin_ps


def reg_panel(dy: Array, d: Array, x: Array) -> tuple[float, Array]:
    """Outcome-regression DiD for panel data (Heckman, Ichimura & Todd 1997).

    Parameters
    ----------
    dy : ndarray
        Outcome change of each unit between the base and the later period.
    d : ndarray
        1 for units of the treated cohort, 0 for controls.
    x : ndarray
        Covariates at the base period, intercept first.

    Returns
    -------
    att : float
        The estimate.
    psi : ndarray
        Its influence function.
    """
    ctrl = d == 0.0
    beta, bread = ols(dy, x, ctrl)
    fit = x @ beta
    pd1 = d.mean()
    att = float(np.mean(d * (dy - fit)) / pd1)
    lin_ols = ((1.0 - d) * (dy - fit))[:, None] * x @ bread
    m1 = (d[:, None] * x).mean(axis=0)
    psi = (d * (dy - fit) - d * att - lin_ols @ m1) / pd1
    return att, psi


def ipw_panel(dy: Array, d: Array, x: Array) -> tuple[float, Array]:
    """Normalised (Hájek) inverse-probability-weighted DiD for panel data (Abadie 2005).

    Parameters
    ----------
    dy : ndarray
        Outcome change of each unit.
    d : ndarray
        1 for treated, 0 for controls.
    x : ndarray
        Covariates at the base period, intercept first.

    Returns
    -------
    att : float
        The estimate.
    psi : ndarray
        Its influence function (including the estimation of the propensity score).
    """
    p, keep, lin_ps = _pscore(d, x)
    w1 = keep * d
    w0 = keep * p * (1.0 - d) / (1.0 - p)
    m_w1, m_w0 = w1.mean(), w0.mean()
    eta1 = float(np.mean(w1 * dy) / m_w1)
    eta0 = float(np.mean(w0 * dy) / m_w0)
    inf1 = (w1 * dy - w1 * eta1) / m_w1
    inf0 = (w0 * dy - w0 * eta0) / m_w0
    m2 = (w0 * (dy - eta0))[:, None] * x
    inf0 = inf0 + lin_ps @ (m2.mean(axis=0) / m_w0)
    return eta1 - eta0, inf1 - inf0


def dr_panel(dy: Array, d: Array, x: Array) -> tuple[float, Array]:
    """Doubly robust DiD for panel data (Sant'Anna & Zhao 2020, the estimator R ``did`` uses).

    Parameters
    ----------
    dy : ndarray
        Outcome change of each unit.
    d : ndarray
        1 for treated, 0 for controls.
    x : ndarray
        Covariates at the base period, intercept first.

    Returns
    -------
    att : float
        The estimate.
    psi : ndarray
        Its influence function, including the estimation of the propensity score
        and of the outcome regression.
    """
    p, keep, lin_ps = _pscore(d, x)
    beta, bread = ols(dy, x, d == 0.0)
    fit = x @ beta
    resid = dy - fit
    w1 = keep * d
    w0 = keep * p * (1.0 - d) / (1.0 - p)
    m_w1, m_w0 = w1.mean(), w0.mean()
    eta1 = float(np.mean(w1 * resid) / m_w1)
    eta0 = float(np.mean(w0 * resid) / m_w0)
    lin_ols = ((1.0 - d) * resid)[:, None] * x @ bread
    inf_treat = (w1 * resid - w1 * eta1 - lin_ols @ (w1[:, None] * x).mean(axis=0)) / m_w1
    m2 = ((w0 * (resid - eta0))[:, None] * x).mean(axis=0)
    m3 = (w0[:, None] * x).mean(axis=0)
    inf_ctrl = (w0 * resid - w0 * eta0 + lin_ps @ m2 - lin_ols @ m3) / m_w0
    return eta1 - eta0, inf_treat - inf_ctrl


def reg_rc(y: Array, post: Array, d: Array, x: Array) -> tuple[float, Array]:
    """Outcome-regression DiD for repeated cross-sections.

    Parameters
    ----------
    y : ndarray
        Outcome of each row.
    post : ndarray
        1 for rows of the later period, 0 for the base period.
    d : ndarray
        1 for rows of the treated cohort, 0 for controls.
    x : ndarray
        Covariates, intercept first.

    Returns
    -------
    att : float
        The estimate.
    psi : ndarray
        Its influence function over the rows.
    """
    c0 = (d == 0.0) & (post == 0.0)
    c1 = (d == 0.0) & (post == 1.0)
    b0, bread0 = ols(y, x, c0)
    b1, bread1 = ols(y, x, c1)
    f0, f1 = x @ b0, x @ b1
    wt0, wt1, wc = d * (1.0 - post), d * post, d
    m_t0, m_t1, m_c = wt0.mean(), wt1.mean(), wc.mean()
    eta_t0 = float(np.mean(wt0 * y) / m_t0)
    eta_t1 = float(np.mean(wt1 * y) / m_t1)
    eta_c = float(np.mean(wc * (f1 - f0)) / m_c)
    att = (eta_t1 - eta_t0) - eta_c
    lin0 = (c0 * (y - f0))[:, None] * x @ bread0
    lin1 = (c1 * (y - f1))[:, None] * x @ bread1
    m1 = (wc[:, None] * x).mean(axis=0)
    inf_t0 = (wt0 * y - wt0 * eta_t0) / m_t0
    inf_t1 = (wt1 * y - wt1 * eta_t1) / m_t1
    inf_c = (wc * (f1 - f0) - wc * eta_c + lin1 @ m1 - lin0 @ m1) / m_c
    return att, (inf_t1 - inf_t0) - inf_c


def ipw_rc(y: Array, post: Array, d: Array, x: Array) -> tuple[float, Array]:
    """Normalised inverse-probability-weighted DiD for repeated cross-sections.

    Parameters
    ----------
    y : ndarray
        Outcome of each row.
    post : ndarray
        1 for rows of the later period, 0 for the base period.
    d : ndarray
        1 for treated rows, 0 for controls.
    x : ndarray
        Covariates, intercept first.

    Returns
    -------
    att : float
        The estimate.
    psi : ndarray
        Its influence function over the rows.
    """
    p, keep, lin_ps = _pscore(d, x)
    odds = p / (1.0 - p)
    ws = {
        "t0": keep * d * (1.0 - post),
        "t1": keep * d * post,
        "c0": keep * odds * (1.0 - d) * (1.0 - post),
        "c1": keep * odds * (1.0 - d) * post,
    }
    eta = {k: float(np.mean(w * y) / w.mean()) for k, w in ws.items()}
    inf = {k: (w * y - w * eta[k]) / w.mean() for k, w in ws.items()}
    att = (eta["t1"] - eta["t0"]) - (eta["c1"] - eta["c0"])
    m_pre = ((ws["c0"] * (y - eta["c0"]))[:, None] * x).mean(axis=0) / ws["c0"].mean()
    m_post = ((ws["c1"] * (y - eta["c1"]))[:, None] * x).mean(axis=0) / ws["c1"].mean()
    inf_c = (inf["c1"] - inf["c0"]) + lin_ps @ (m_post - m_pre)
    return att, (inf["t1"] - inf["t0"]) - inf_c


def dr_rc(y: Array, post: Array, d: Array, x: Array) -> tuple[float, Array]:
    """Locally efficient doubly robust DiD for repeated cross-sections (Sant'Anna & Zhao 2020).

    Parameters
    ----------
    y : ndarray
        Outcome of each row.
    post : ndarray
        1 for rows of the later period, 0 for the base period.
    d : ndarray
        1 for treated rows, 0 for controls.
    x : ndarray
        Covariates, intercept first.

    Returns
    -------
    att : float
        The estimate.
    psi : ndarray
        Its influence function over the rows, including the estimation of the
        propensity score and of the four outcome regressions.
    """
    p, keep, lin_ps = _pscore(d, x)
    fits, lins = _cell_regressions(y, post, d, x)
    f_c = post * fits["c1"] + (1.0 - post) * fits["c0"]
    odds = p / (1.0 - p)
    w = {
        "t0": keep * d * (1.0 - post),
        "t1": keep * d * post,
        "c0": keep * odds * (1.0 - d) * (1.0 - post),
        "c1": keep * odds * (1.0 - d) * post,
        "d": keep * d,
        "dt1": keep * d * post,
        "dt0": keep * d * (1.0 - post),
    }
    gap1 = fits["t1"] - fits["c1"]
    gap0 = fits["t0"] - fits["c0"]
    num = {
        "t0": w["t0"] * (y - f_c),
        "t1": w["t1"] * (y - f_c),
        "c0": w["c0"] * (y - f_c),
        "c1": w["c1"] * (y - f_c),
        "d1": w["d"] * gap1,
        "dt1": w["dt1"] * gap1,
        "d0": w["d"] * gap0,
        "dt0": w["dt0"] * gap0,
    }
    terms = _DrTerms(x, w, {k: v.mean() for k, v in w.items()}, num, lins)
    a = terms.att_k
    att = (a["t1"] - a["t0"]) - (a["c1"] - a["c0"]) + (a["d1"] - a["dt1"]) - (a["d0"] - a["dt0"])
    # Treated part: the control outcome regressions enter through f_c. The terms of
    # both control regressions enter with a minus sign in the treated and in the
    # control part, as in R DRDID::drdid_rc (validated on mpdta); the two
    # conventions differ only by terms that vanish when the weights balance x.
    inf_treat = (
        terms.base("t1")
        - terms.base("t0")
        - lins["c1"] @ terms.mean_x_weight("t1")
        - lins["c0"] @ terms.mean_x_weight("t0")
    )
    # Control part: propensity score and control outcome regressions.
    m_ps = (
        terms.mean_x(w["c1"] * (y - f_c - a["c1"])) / terms.mw["c1"]
        - terms.mean_x(w["c0"] * (y - f_c - a["c0"])) / terms.mw["c0"]
    )
    inf_ctrl = (
        terms.base("c1")
        - terms.base("c0")
        + lin_ps @ m_ps
        - lins["c1"] @ terms.mean_x_weight("c1")
        - lins["c0"] @ terms.mean_x_weight("c0")
    )
    return att, inf_treat - inf_ctrl + terms.efficiency()


def _cell_regressions(
    y: Array, post: Array, d: Array, x: Array
) -> tuple[dict[str, Array], dict[str, Array]]:
    """Fit the outcome regression of each group and period; return fits and their IF terms."""
    masks = {
        "c0": (d == 0.0) & (post == 0.0),
        "c1": (d == 0.0) & (post == 1.0),
        "t0": (d == 1.0) & (post == 0.0),
        "t1": (d == 1.0) & (post == 1.0),
    }
    fits: dict[str, Array] = {}
    lins: dict[str, Array] = {}
    for key, mask in masks.items():
        beta, bread = ols(y, x, mask)
        fits[key] = x @ beta
        lins[key] = (mask * (y - fits[key]))[:, None] * x @ bread
    return fits, lins


#: The weight each ratio term of :func:`dr_rc` is normalised by.
_WEIGHT_OF = {
    "t0": "t0",
    "t1": "t1",
    "c0": "c0",
    "c1": "c1",
    "d1": "d",
    "dt1": "dt1",
    "d0": "d",
    "dt0": "dt0",
}


class _DrTerms:
    """The ratio terms of :func:`dr_rc` (``mean(num) / mean(w)``) and their influence pieces."""

    def __init__(
        self,
        x: Array,
        w: dict[str, Array],
        mw: dict[str, float],
        num: dict[str, Array],
        lins: dict[str, Array],
    ) -> None:
        self.x, self.w, self.mw, self.num, self.lins = x, w, mw, num, lins
        self.att_k = {k: float(v.mean() / mw[_WEIGHT_OF[k]]) for k, v in num.items()}

    def mean_x(self, v: Array) -> Array:
        return (v[:, None] * self.x).mean(axis=0)

    def mean_x_weight(self, k: str) -> Array:
        """``mean(w x) / mean(w)`` of term ``k``'s weight."""
        key = _WEIGHT_OF[k]
        return self.mean_x(self.w[key]) / self.mw[key]

    def base(self, k: str) -> Array:
        """Return the influence function of term ``k`` with its weights taken as known."""
        key = _WEIGHT_OF[k]
        return (self.num[k] - self.w[key] * self.att_k[k]) / self.mw[key]

    def efficiency(self) -> Array:
        """Return the efficiency-adjustment part: all four outcome regressions."""
        psi: dict[str, Array] = {}
        for k, (lt, lc) in {
            "d1": ("t1", "c1"),
            "dt1": ("t1", "c1"),
            "d0": ("t0", "c0"),
            "dt0": ("t0", "c0"),
        }.items():
            m = self.mean_x_weight(k)
            psi[k] = self.base(k) + self.lins[lt] @ m - self.lins[lc] @ m
        return (psi["d1"] - psi["dt1"]) - (psi["d0"] - psi["dt0"])

"""Size-and-coverage harness of the few-treated inference methods (seeded Monte Carlo).

A design is ``treated`` pilot municipalities against ``comparison`` ones, with
equal (4 people each) or unequal (2 to 16 people, treated spread over the size
range) cluster sizes, 8 months (the pilot starts in month 5), person effects and
municipality-by-month AR(1) shocks (rho 0.5) plus person noise, so cluster means
are heteroskedastic when sizes differ. Each draw is analysed by the package's own
TWFE fit and inference functions: the design is fitted once (pyfixest), then each
draw's outcome is put into the same :class:`~evalkit.did.inference.LinearDesign`
(the residualised treatment blocks do not depend on the outcome, so they are
shared across draws; that is what keeps the harness to minutes).

For every method it reports the share of draws with p ≤ 0.05 when there is no
effect (size) and the share of 95 % intervals that contain the true effect when
there is one (coverage), and marks cells outside 3–7 % or 93–97 %. A method that
cannot reject at 5 % in a design (its smallest attainable p-value is above 0.05)
is reported as such, not as a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from evalkit.did import estimate
from evalkit.did._data import prepare
from evalkit.did.conley_taber import conley_taber
from evalkit.did.estimate import few_treated_default
from evalkit.did.inference import InferenceOutcome, LinearDesign, randomization
from evalkit.did.regression import twfe
from evalkit.did.wild import wild_bootstrap

__all__ = ["METHODS", "Cell", "Design", "panel", "run_callaway_santanna", "run_design", "table"]

PERIODS, START, EFFECT, RHO = 8, 5, 1.0, 0.5
SIZE_BAND, COVER_BAND = (0.03, 0.07), (0.93, 0.97)
METHODS = ("analytic", "conley_taber", "permutation", "wild_webb")


@dataclass(frozen=True)
class Design:
    """One harness design: treated and comparison clusters, equal or unequal sizes."""

    treated: int
    comparison: int
    unequal: bool

    def sizes(self) -> np.ndarray:
        """People per cluster; treated clusters are the first ``treated`` codes."""
        g = self.treated + self.comparison
        if not self.unequal:
            return np.full(g, 4)
        ladder = np.round(2 * 8 ** (np.arange(g) / (g - 1))).astype(int)
        step = g / self.treated
        picks = [int(i * step + step / 2) for i in range(self.treated)]
        rest = [i for i in range(g) if i not in picks]
        return ladder[picks + rest]

    def label(self) -> str:
        """Short label, e.g. ``3+8 unequal``."""
        return f"{self.treated}+{self.comparison} {'unequal' if self.unequal else 'equal'}"


@dataclass(frozen=True)
class Cell:
    """Size and coverage of one method in one design."""

    method: str
    size: float
    coverage: float
    smallest_p: float
    draws: int
    exact_size: float | None = None

    @property
    def attainable(self) -> bool:
        """Whether the method can reject at 5 % at all in this design."""
        return self.smallest_p <= 0.05 + 1e-12

    @property
    def inside(self) -> bool:
        """Whether size and coverage sit inside their bands."""
        return (
            self.attainable
            and SIZE_BAND[0] <= self.size <= SIZE_BAND[1]
            and COVER_BAND[0] <= self.coverage <= COVER_BAND[1]
        )

    @property
    def unattainable(self) -> bool:
        """Whether the test is exact but 5 % is not attainable (exact size under the band)."""
        return self.exact_size is not None and self.exact_size < SIZE_BAND[0]

    def text(self) -> str:
        """``size/coverage`` in percent, ``*`` when outside a band, or why there is no number."""
        if not self.attainable:
            return f"no test (p≥{self.smallest_p:.2f})"
        mark = "" if self.inside else (" e" if self.unattainable else " *")
        return f"{100 * self.size:4.1f}/{100 * self.coverage:4.1f}{mark}"


def panel(design: Design) -> pd.DataFrame:
    """Return the design's person × month frame (outcome column ``y`` still zero)."""
    sizes = design.sizes()
    home = np.repeat(np.arange(len(sizes)), sizes)
    person = np.repeat(np.arange(len(home)), PERIODS)
    muni = home[person]
    return pd.DataFrame(
        {
            "person": person,
            "muni": muni,
            "month": np.tile(np.arange(1, PERIODS + 1), len(home)),
            "cohort": np.where(muni < design.treated, START, 0),
            "y": 0.0,
        }
    )


def _outcomes(frame: pd.DataFrame, n_clusters: int, draws: int, seed: int) -> np.ndarray:
    """Outcomes under no effect (rows × draws): person effects, AR(1) municipal shocks, noise."""
    rng = np.random.default_rng(seed)
    shocks = np.empty((draws, n_clusters, PERIODS))
    shocks[:, :, 0] = rng.normal(size=(draws, n_clusters)) / math.sqrt(1 - RHO**2)
    for t in range(1, PERIODS):
        shocks[:, :, t] = RHO * shocks[:, :, t - 1] + rng.normal(size=(draws, n_clusters))
    person_effect = rng.normal(size=(draws, int(frame["person"].max()) + 1))
    muni, person = frame["muni"].to_numpy(), frame["person"].to_numpy()
    month = frame["month"].to_numpy() - 1
    noise = 2.0 * rng.normal(size=(draws, len(frame)))
    return np.asarray((person_effect[:, person] + shocks[:, muni, month] + noise).T)


def _analytic(design: LinearDesign, factor: float, alpha: float) -> InferenceOutcome:
    """CR1 t-interval on the partialled design (``factor``: pyfixest's small-sample scale)."""
    y, z = design.partialled()
    zz = float(z[:, -1] @ z[:, -1])
    theta = float(z[:, -1] @ y) / zz
    u = y - z[:, -1] * theta
    score = np.bincount(design.cluster, weights=z[:, -1] * u)
    se = factor * math.sqrt(float(score @ score)) / zz
    g = design.n_clusters
    crit = float(special.stdtrit(g - 1, 1 - alpha / 2))
    p = float(2 * special.stdtr(g - 1, -abs(theta / se)))
    return InferenceOutcome(p, theta - crit * se, theta + crit * se, {"smallest_p_value": 0.0})


def _method(name: str, design: LinearDesign, factor: float, n_sim: int) -> InferenceOutcome:
    if name == "analytic":
        return _analytic(design, factor, 0.05)
    if name == "conley_taber":
        return conley_taber(design, n_sim=n_sim, max_enumerate=max(n_sim, 4000))
    if name == "permutation":
        return randomization(design, n_perm=n_sim, max_enumerate=max(n_sim, 4000))
    return wild_bootstrap(design, weights="webb", n_boot=n_sim)


def _fitted(design: Design) -> tuple[pd.DataFrame, LinearDesign, float]:
    """Fit the design once; return the frame, its LinearDesign and the CR1 scale factor."""
    frame = panel(design)
    frame["y"] = _outcomes(frame, design.treated + design.comparison, 1, 99)[:, 0]
    prep = prepare(
        frame,
        outcome="y",
        unit="person",
        time="month",
        cohort="cohort",
        treated=None,
        post=None,
        covariates=(),
        cluster="muni",
    )
    fit = twfe(prep, "cluster")
    lin = fit.design
    if lin is None:
        raise RuntimeError("the harness design has no resampling design")
    raw = _analytic(lin, 1.0, 0.05)
    se_raw = (raw.ci_high - raw.ci_low) / (2 * float(special.stdtrit(lin.n_clusters - 1, 0.975)))
    factor = float(fit.model.se()[fit.term]) / se_raw
    return frame, lin, factor


def run_design(
    design: Design, draws: int, *, n_sim: int = 999, seed: int = 0, methods: tuple = METHODS
) -> dict[str, Cell]:
    """Size and coverage of every method in one design.

    Parameters
    ----------
    design : Design
        The design.
    draws : int
        Monte Carlo draws (each analysed twice: without and with an effect).
    n_sim : int
        Placebos / permutations / bootstrap draws per analysis.
    seed : int
        Seed of the outcomes.
    methods : tuple of str
        Methods to run (default all).

    Returns
    -------
    dict of str to Cell
        By method.
    """
    frame, lin, factor = _fitted(design)
    y0 = _outcomes(frame, design.treated + design.comparison, draws, seed)
    treat = lin.regressors[:, -1]
    shared = {k: v for k, v in lin._cache.items() if k != "yz"}
    rejections = {m: 0 for m in methods}
    covered = {m: 0 for m in methods}
    smallest = {m: 0.0 for m in methods}
    exact: dict[str, float | None] = {m: None for m in methods}
    for d in range(draws):
        for effect in (0.0, EFFECT):
            one = replace(lin, y=y0[:, d] + effect * treat, _cache=dict(shared))
            for m in methods:
                out = _method(m, one, factor, n_sim)
                shared.update({k: v for k, v in one._cache.items() if k != "yz"})
                smallest[m] = float(out.detail.get("smallest_p_value", 0.0))
                if "exact_size" in out.detail and effect == 0.0:
                    exact[m] = float(out.detail["exact_size"])
                if effect == 0.0:
                    rejections[m] += out.p_value <= 0.05
                else:
                    covered[m] += out.ci_low <= EFFECT <= out.ci_high
    return {
        m: Cell(m, rejections[m] / draws, covered[m] / draws, smallest[m], draws, exact[m])
        for m in methods
    }


def run_callaway_santanna(design: Design, draws: int, *, n_perm: int = 199, seed: int = 0) -> Cell:
    """Size and coverage of Callaway–Sant'Anna with its default inference in one design.

    Each draw goes through :func:`evalkit.did.estimate` as a user's call does (never-
    treated comparisons, clustered by municipality, the few-treated default: cohorts
    re-assigned to municipalities), once without and once with the effect.

    Parameters
    ----------
    design : Design
        The design.
    draws : int
        Monte Carlo draws.
    n_perm : int
        Random assignments when there are too many to enumerate.
    seed : int
        Seed of the outcomes.

    Returns
    -------
    Cell
        Its size and coverage (``method`` names the inference the estimator chose).
    """
    frame = panel(design)
    y0 = _outcomes(frame, design.treated + design.comparison, draws, seed)
    treat = ((frame["cohort"] > 0) & (frame["month"] >= START)).to_numpy(float)
    rejections = covered = 0
    smallest, method = 0.0, ""
    for d in range(draws):
        for effect in (0.0, EFFECT):
            frame["y"] = y0[:, d] + effect * treat
            res = estimate(
                frame,
                outcome="y",
                unit="person",
                time="month",
                cohort="cohort",
                cluster="muni",
                estimator="callaway_santanna",
                n_perm=n_perm,
            )
            method = str(res.inference)
            detail = res.options.get("permutation") or {}
            smallest = float(detail.get("smallest_p_value", 0.0))
            if effect == 0.0:
                rejections += res.p_value <= 0.05
            else:
                covered += res.ci_low <= EFFECT <= res.ci_high
    return Cell(method, rejections / draws, covered / draws, smallest, draws)


def default_method(design: Design) -> str:
    """Return the inference :func:`evalkit.did.estimate` chooses by default here."""
    return few_treated_default(design.treated, design.comparison)


def default_on_estimate(design: Design) -> str:
    """Return the inference :func:`evalkit.did.estimate` reports on one draw of the design."""
    frame = panel(design)
    frame["y"] = _outcomes(frame, design.treated + design.comparison, 1, 7)[:, 0]
    res = estimate(
        frame,
        outcome="y",
        unit="person",
        time="month",
        cohort="cohort",
        estimator="twfe",
        cluster="muni",
        n_sim=199,
        n_perm=199,
        n_boot=199,
    )
    return str(res.inference)


def table(results: dict[Design, dict[str, Cell]]) -> str:
    """Plain-text table: one row per design, ``size/coverage`` per method, the default marked."""
    methods = list(next(iter(results.values())))
    head = f"{'design':<16}" + "".join(f"{m:>22}" for m in methods) + f"{'default':>16}"
    lines = [head, "-" * len(head)]
    for design, cells in results.items():
        chosen = default_method(design)
        row = f"{design.label():<16}"
        for m in methods:
            text = cells[m].text() + (" [d]" if m == chosen else "")
            row += f"{text:>22}"
        verdict = _verdict(cells, chosen)
        lines.append(row + f"{verdict:>16}")
    lines.append(
        "cells: size/coverage in % (rejections of a true null at p ≤ 0.05 / 95 % intervals "
        "covering the true effect); * outside 3–7 % / 93–97 %; e exact test whose exact size "
        "is below 3 % because 5 % is not attainable; [d] the default; 'no test' = the "
        "smallest attainable p-value is above 0.05 (the result says so: unbounded interval)"
    )
    return "\n".join(lines)


def _verdict(cells: dict[str, Any], chosen: str) -> str:
    cell = cells.get(chosen)
    if cell is None:
        return "not run"
    if not cell.attainable:
        return "says: no test"
    if cell.inside:
        return "inside"
    if cell.unattainable:
        return f"exact {100 * cell.exact_size:.1f}%"
    return "OUTSIDE"

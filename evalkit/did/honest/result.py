"""The frozen result of :func:`evalkit.did.sensitivity`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from evalkit.did.notes import Note
from evalkit.did.results import html_table, json_float, summary_text

__all__ = ["SensitivityResult"]

_NAMES = {"relative_magnitudes": "Mbar", "smoothness": "M"}


@dataclass(frozen=True)
class SensitivityResult:
    """Robust intervals for one target of an event study, per bound on how far trends may differ.

    Attributes
    ----------
    restriction : {"relative_magnitudes", "smoothness"}
        The restriction (Rambachan & Roth 2023).
    method : str
        ``"C-LF"`` (conditional least-favourable hybrid), ``"FLCI"`` (fixed-length),
        ``"placebo"`` (from placebo draws, few treated) or ``"projection"`` (relative
        magnitudes with too many post periods for C-LF: the placebo rule on normal draws).
    table : pandas.DataFrame
        One row per bound: ``bound, lb, ub`` (NaN when no value is accepted).
    original : tuple of float
        The interval that assumes exact parallel trends.
    estimate : float
        ``l'betahat_post``, the target's point estimate.
    breakdown : float or None
        The largest bound at which the robust interval still excludes zero (None when
        the interval includes zero already at the smallest bound; the largest bound
        examined when it never does, with ``breakdown_censored``).
    breakdown_censored : bool
        True when zero stays excluded up to the largest bound examined.
    alpha : float
        1 − confidence level.
    notes : tuple of Note
        Warnings (few treated clusters, an interval open at the end of the grid).
    """

    restriction: str
    method: str
    table: pd.DataFrame
    original: tuple[float, float]
    estimate: float
    breakdown: float | None
    breakdown_censored: bool
    alpha: float
    notes: tuple[Note, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The notes as English sentences."""
        return tuple(n.text for n in self.notes)

    def tidy(self) -> pd.DataFrame:
        """Return the table: ``bound, lb, ub, method`` plus the original interval as bound NaN."""
        orig = pd.DataFrame(
            {
                "bound": [math.nan],
                "lb": [self.original[0]],
                "ub": [self.original[1]],
                "method": ["original"],
            }
        )
        rows = self.table.assign(method=self.method)
        return pd.concat([orig, rows], ignore_index=True)[["bound", "lb", "ub", "method"]]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object (``sensitivity`` key of ``evalkit did --json``)."""
        return {
            "restriction": self.restriction,
            "method": self.method,
            "alpha": self.alpha,
            "estimate": json_float(self.estimate),
            "original": {"lb": json_float(self.original[0]), "ub": json_float(self.original[1])},
            "rows": [
                {"bound": json_float(r.bound), "lb": json_float(r.lb), "ub": json_float(r.ub)}
                for r in self.table.itertuples()
            ],
            "breakdown": json_float(self.breakdown),
            "breakdown_censored": self.breakdown_censored,
            "warnings": list(self.warnings),
            "warning_codes": [n.to_dict() for n in self.notes],
        }

    def _frame(self) -> pd.DataFrame:
        t = self.tidy()
        return pd.DataFrame(
            {
                "term": [
                    ("original" if math.isnan(b) else f"{_NAMES[self.restriction]}={b:g}")
                    for b in t["bound"]
                ],
                "estimate": self.estimate,
                "std_error": math.nan,
                "statistic": math.nan,
                "p_value": math.nan,
                "conf_low": t["lb"],
                "conf_high": t["ub"],
            }
        )

    def _facts(self) -> dict[str, Any]:
        return {
            "restriction": self.restriction,
            "method": self.method,
            "breakdown": self.breakdown,
        }

    def summary(self) -> str:
        """Return a plain-text table."""
        return summary_text(
            "HonestDiD sensitivity analysis", self._frame(), self._facts(), self.warnings
        )

    def _repr_html_(self) -> str:
        return html_table(
            "HonestDiD sensitivity analysis", self._frame(), self._facts(), self.warnings
        )

    def __repr__(self) -> str:
        return (
            f"<SensitivityResult {self.restriction} {self.method}: {len(self.table)} bounds, "
            f"breakdown={self.breakdown!r}>"
        )

"""HonestDiD sensitivity analysis (Rambachan & Roth 2023) of event studies, and a few-treated one.

:func:`sensitivity` takes event-study coefficients and their covariance (or
placebo draws of their error) and returns robust intervals per bound on how far
parallel trends may fail, the original interval and the breakdown value.
"""

from evalkit.did.honest.api import sensitivity
from evalkit.did.honest.result import SensitivityResult
from evalkit.spec import Restriction

__all__ = ["Restriction", "SensitivityResult", "sensitivity"]

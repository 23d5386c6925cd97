"""Callaway & Sant'Anna (2021) difference-in-differences, implemented in evalkit.

:func:`callaway_santanna` estimates every group-time average treatment effect
ATT(g, t) with never-treated or not-yet-treated comparison units (doubly robust,
inverse probability weighting or outcome regression), aggregates them (simple,
group, calendar, dynamic) with influence-function or multiplier-bootstrap
inference, and runs the Wald pre-test; :func:`event_time_pretest` tests the dynamic
aggregation's pre-period rows jointly (when there are more pre-treatment cells than
clusters). It reproduces R ``did`` on ``mpdta``.
Cohort convention: the first period in which a unit is treated; 0 or empty
means never treated.
"""

from evalkit.did.cs._pretrend import event_time_pretest
from evalkit.did.cs._result import AGGREGATIONS, CsResult
from evalkit.did.cs.estimator import callaway_santanna

__all__ = ["AGGREGATIONS", "CsResult", "callaway_santanna", "event_time_pretest"]

"""Difference-in-differences estimators: pure functions on DataFrames, no file or protocol access.

The one entry point is :func:`estimate`, driven by a :class:`Spec` (the analysis
specification, declared in :mod:`evalkit.spec`); it returns a frozen result with
``tidy()``, ``summary()``, ``to_dict()`` and ``_repr_html_()`` (see
:mod:`evalkit.did.results`). For 2×2, TWFE, Bacon and Callaway–Sant'Anna,
:func:`fit` fits once and ``infer(method)`` gives the result under each inference
(:mod:`evalkit.did.fitted`); ``estimate`` is ``fit(...).infer()`` for them.
Callaway–Sant'Anna lives in :mod:`evalkit.did.cs`.
What a result must be read with (dropped rows, few treated clusters, ...) comes as
notes on it (:mod:`evalkit.did.notes`), never as a Python warning.
"""

import importlib
from typing import TYPE_CHECKING, Any

from evalkit.did.estimate import estimate
from evalkit.did.fitted import fit
from evalkit.did.results import TIDY_COLUMNS, DidResult
from evalkit.spec import Spec

if TYPE_CHECKING:
    from evalkit.did.bacon import bacon_decomposition
    from evalkit.did.honest import SensitivityResult, sensitivity

__all__ = [
    "TIDY_COLUMNS",
    "DidResult",
    "SensitivityResult",
    "Spec",
    "bacon_decomposition",
    "estimate",
    "fit",
    "sensitivity",
]

# Loaded on first use: they import SciPy and pyfixest, which a one-estimator command
# (`evalkit did` with Callaway–Sant'Anna) would otherwise pay for at start-up.
_LAZY = {
    "bacon_decomposition": "evalkit.did.bacon",
    "SensitivityResult": "evalkit.did.honest",
    "sensitivity": "evalkit.did.honest",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

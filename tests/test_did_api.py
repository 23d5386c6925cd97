"""The public surface of evalkit.did is pinned: names, the estimate() signature, the JSON keys."""

from __future__ import annotations

import inspect

import evalkit.did
from evalkit.did import estimate


def test_public_names_are_pinned() -> None:
    assert sorted(evalkit.did.__all__) == [
        "DidResult",
        "SensitivityResult",
        "TIDY_COLUMNS",
        "bacon_decomposition",
        "estimate",
        "sensitivity",
    ]


def test_estimate_signature_is_the_issue_contract() -> None:
    params = inspect.signature(estimate).parameters
    expected = {
        "outcome": inspect.Parameter.empty,
        "unit": None,
        "time": None,
        "cohort": None,
        "treated": None,
        "post": None,
        "estimator": inspect.Parameter.empty,
        "control": "never",
        "method": "dr",
        "covariates": (),
        "cluster": None,
        "vcov": None,
        "inference": None,
        "seed": 0,
        "alpha": 0.05,
        "few_treated_threshold": 5,
    }
    for name, default in expected.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert params[name].default == default, name
    assert next(iter(params)) == "data"
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())

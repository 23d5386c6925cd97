"""The public surface of evalkit.did is pinned: names, the estimate() signature, the JSON keys."""

from __future__ import annotations

import dataclasses
import inspect

import evalkit.did
from evalkit.did import estimate
from evalkit.spec import Spec


def test_public_names_are_pinned() -> None:
    assert sorted(evalkit.did.__all__) == [
        "DidResult",
        "SensitivityResult",
        "Spec",
        "TIDY_COLUMNS",
        "bacon_decomposition",
        "estimate",
        "fit",
        "sensitivity",
    ]


def test_estimate_signature_is_the_issue_contract() -> None:
    """Columns are estimate()'s keywords; the analysis choices are the Spec's fields.

    Keyword calls (``estimate(df, outcome=..., estimator="twfe", control="never")``)
    work as before: the choices become a :class:`evalkit.spec.Spec`.
    """
    params = inspect.signature(estimate).parameters
    columns = {
        "outcome": inspect.Parameter.empty,
        "unit": None,
        "time": None,
        "cohort": None,
        "treated": None,
        "post": None,
    }
    for name, default in columns.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert params[name].default == default, name
    assert list(params)[:2] == ["data", "spec"]
    choices = {
        "estimator": dataclasses.MISSING,
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
    spec_fields = {f.name: f.default for f in dataclasses.fields(Spec)}
    for name, default in choices.items():
        assert spec_fields[name] == default, name
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())

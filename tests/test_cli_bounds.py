"""Numeric options have declared bounds: a value outside them is a usage error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.cli import main

DEMO = str(Path(__file__).resolve().parents[1] / "protocols" / "demo.yaml")
DID = ["did", "--data", "x.csv", "--outcome", "y", "--cohort", "g"]

CASES: list[tuple[str, list[str], str]] = [
    (
        "power n-sims negative",
        ["protocol", "power", DEMO, "--n-sims", "-3"],
        "argument --n-sims: must be a whole number, at least 1 and at most 100000; got '-3'",
    ),
    (
        "power n-sims beyond the protocol's maximum",
        ["protocol", "power", DEMO, "--n-sims", "100000001"],
        "at most 100000; got '100000001'",
    ),
    (
        "power seed beyond 2**32 - 1",
        ["protocol", "power", DEMO, "--seed", str(2**32)],
        "argument --seed: must be a whole number, at least 0 and at most 4294967295",
    ),
    (
        "power effects not finite",
        ["protocol", "power", DEMO, "--effects", "0.01,nan"],
        "argument --effects: must be finite numbers separated by commas",
    ),
    (
        "demo scale negative",
        ["demo", "--generator", "national", "--scale", "-1"],
        "argument --scale: must be a number, above 0 and at most 1; got '-1'",
    ),
    ("demo scale zero", ["demo", "--generator", "national", "--scale", "0"], "above 0"),
    ("demo seed negative", ["demo", "--seed", "-1"], "argument --seed: must be a whole number"),
    ("did seed too large", [*DID, "--seed", str(2**32)], "at most 4294967295"),
    ("did anticipation negative", [*DID, "--anticipation", "-1"], "at least 0; got '-1'"),
    ("did threshold zero", [*DID, "--few-treated-threshold", "0"], "at least 1; got '0'"),
    ("did n-placebo too many", [*DID, "--n-placebo", "1000001"], "at most 100000"),
    ("did bounds negative", [*DID, "--bounds", "0.5,-1"], "each at least 0"),
    ("did alpha 1", [*DID, "--alpha", "1"], "between 0 and 1"),
]


@pytest.mark.parametrize(("what", "argv", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_number_out_of_bounds_is_a_usage_error(
    what: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err and err.splitlines()[-1].startswith("evalkit ")


def test_the_cli_bound_is_the_protocol_s(tmp_path: Path) -> None:
    """--n-sims takes its bounds from power.n_sims, declared once in the protocol format."""
    from evalkit._cli._bounds import field
    from evalkit.protocol._fields import PROTOCOL_SPEC

    n_sims = PROTOCOL_SPEC.fields["power"].fields["n_sims"]
    assert n_sims.maximum is not None
    assert field("power.n_sims")(str(int(n_sims.maximum))) == n_sims.maximum

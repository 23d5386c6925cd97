"""``evalkit demo``: write a seeded synthetic pilot as the files people receive."""

from __future__ import annotations

import argparse
from pathlib import Path

GENERATORS: tuple[str, ...] = ("pilot", "staggered", "debt_programme")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Attach the ``demo`` sub-command.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The sub-parser collection of the ``evalkit`` command.
    """
    parser = subparsers.add_parser(
        "demo",
        help="write synthetic demo data (outcome panel CSV, questionnaire .sav, case events .xlsx)",
        description=(
            "Generate a seeded synthetic pilot and write it as the files a pilot really receives: "
            "outcome_panel.csv (Dutch Excel CSV), questionnaire.sav (SPSS), case_events.xlsx, "
            "plus truth.json (the true effects, for tests only)."
        ),
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the protocol's demo.out, else data/raw/demo)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the protocol's demo.seed, else 1)")
    parser.add_argument("--generator", choices=GENERATORS, default=None, help="which synthetic design (default: pilot)")
    parser.add_argument("--protocol", type=Path, default=None, help="take the design (units, periods, effects) from this protocol YAML")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate the demo data and print what was written.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments (``out``, ``seed``, ``generator``, ``protocol``).

    Returns
    -------
    int
        The exit code (0 on success).
    """
    from evalkit.errors import EvalkitError

    raise EvalkitError("demo generator not implemented yet")

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
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: the protocol's demo.out, else data/raw/demo)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed (default: the protocol's demo.seed, else 1)",
    )
    parser.add_argument(
        "--generator",
        choices=GENERATORS,
        default=None,
        help="which synthetic design (default: pilot)",
    )
    parser.add_argument(
        "--protocol",
        type=Path,
        default=None,
        help="take the design (units, periods, effects) from this protocol YAML",
    )
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
    import yaml

    from evalkit.errors import EvalkitError
    from evalkit.synth import PilotDesign, generate, write_demo

    demo: dict = {}
    if args.protocol is not None:
        try:
            protocol = yaml.safe_load(Path(args.protocol).read_text(encoding="utf-8"))
        except OSError as exc:
            raise EvalkitError(f"cannot read protocol {args.protocol}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise EvalkitError(f"{args.protocol}: not valid YAML ({exc})") from exc
        if not isinstance(protocol, dict):
            raise EvalkitError(f"{args.protocol}: expected a mapping at the top level")
        demo = protocol.get("demo") or {}
        if args.generator is not None:
            protocol = {**protocol, "demo": {**demo, "generator": args.generator}}
        design = PilotDesign.from_protocol(protocol)
    else:
        design = PilotDesign.preset(args.generator or "pilot")
    seed = args.seed if args.seed is not None else int(demo.get("seed", 1))
    out = args.out if args.out is not None else Path(demo.get("out", "data/raw/demo"))
    pilot = generate(design, seed)
    paths = write_demo(pilot, out)
    print(
        f"evalkit demo: generator {design.generator}, seed {seed}, "
        f"{len(design.municipalities)} municipalities "
        f"({len(design.treated_starts)} treated), months {design.first_month}..{design.last_month}"
    )
    counts = {
        "outcome_panel": f"{len(pilot.panel):,} person-months, "
        f"{pilot.panel['person_id'].nunique():,} persons",
        "questionnaire": f"{len(pilot.questionnaire):,} responses "
        f"(waves {', '.join(design.waves)})",
        "case_events": f"{len(pilot.case_events):,} events in "
        f"{pilot.case_events['case_id'].nunique():,} cases",
        "truth": "true effects (for tests only; reports never read it)",
    }
    for kind, path in paths.items():
        print(f"  {path}  {counts[kind]}")
    return 0

"""``evalkit demo``: write a seeded synthetic pilot as the files people receive."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalkit._cli._bounds import field, number
from evalkit._cli._output import echo

GENERATORS: tuple[str, ...] = ("pilot", "staggered", "debt_programme", "national")


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
        type=field("demo.seed"),
        default=None,
        help="random seed (default: the protocol's demo.seed, else 1)",
    )
    parser.add_argument(
        "--generator",
        choices=GENERATORS,
        default=None,
        help=(
            "which synthetic design (default: pilot); 'national' writes every municipality "
            "of every labour-market region as partitioned Parquet (about 90 million "
            "person-months at --scale 1)"
        ),
    )
    parser.add_argument(
        "--scale",
        type=number(0.0, 1.0, open_low=True),
        default=1.0,
        help="national generator only: share of the national population, in (0, 1] (e.g. 0.01)",
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
    from evalkit.synth import PilotDesign, generate, write_demo

    if args.generator == "national":
        return _national(args)
    demo: dict = {}
    if args.protocol is not None:
        protocol = _read_design(args.protocol)
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
    echo(
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
        echo(f"  {path}  {counts[kind]}")
    return 0


def _read_design(path: Path) -> dict:
    """Read a protocol for its design with the protocol's safe reader; check its demo block.

    The design needs only units, periods and outcomes (the generator names what it cannot
    use), so the rest of the protocol is not checked here; the ``demo:`` block is, against
    the protocol's own declaration of it, so that a list or a seed in words is named
    rather than a traceback.
    """
    from evalkit.errors import ProtocolError
    from evalkit.protocol._fields import PROTOCOL_SPEC
    from evalkit.protocol._spec import validate
    from evalkit.protocol._yaml import read_yaml

    protocol = read_yaml(path)
    if not isinstance(protocol, dict):
        raise ProtocolError(f"{path}: expected a mapping of fields at the top level")
    problems: list[str] = []
    if protocol.get("demo") is not None:
        validate(protocol["demo"], PROTOCOL_SPEC.fields["demo"], "demo", problems)
    if problems:
        raise ProtocolError(f"{path}: {len(problems)} problem(s) in the protocol", problems)
    return protocol


def _national(args: argparse.Namespace) -> int:
    """Write the national panel block by block, with progress, peak memory and disk use."""
    from evalkit._cli._progress import Progress
    from evalkit.synth import plan_national, write_national

    seed = args.seed if args.seed is not None else 1
    out = args.out if args.out is not None else Path("data/raw/national")
    plan = plan_national(seed, args.scale)
    total = sum(plan.persons.values())
    started = sum(1 for s in plan.starts.values() if s)
    echo(
        f"evalkit demo: generator national, seed {seed}, scale {args.scale:g}: "
        f"{len(plan.municipalities)} municipalities in {len(plan.regions)} labour-market "
        f"regions ({started} start within the panel), {total:,} persons"
    )
    progress = Progress("generate", total, unit="persons")
    done = write_national(plan, out, progress=lambda rows, persons: progress(persons, rows))
    echo(
        f"  {done['panel']}  {done['rows']:,} person-months in {done['files']} Parquet files "
        f"({done['rows'] / max(done['seconds'], 1e-9):,.0f} rows/s)"
    )
    echo(f"  {out / 'truth.json'}  region starts (for tests only; reports never read it)")
    echo("  " + progress.summary(disk=done["panel"]))
    return 0

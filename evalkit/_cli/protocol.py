"""``evalkit protocol check|register|status|power FILE...``: the pre-registered protocol."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evalkit._cli._bounds import field, numbers
from evalkit._cli._output import echo, echo_json

ACTIONS = ("check", "register", "status", "power")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Attach ``evalkit protocol`` and its actions to the command line.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The sub-parser collection of the ``evalkit`` command.
    """
    parser = subparsers.add_parser(
        "protocol",
        help="check, register, compare with its registration, or power-simulate a protocol",
        description=(
            "check: every problem at once, each with its field path (exit 1 on errors). "
            "register: lock the protocol (writes FILE.lock.json). "
            "status: registered or not, and every field changed since registration. "
            "power: power and minimal detectable effect of the primary outcomes, by simulation."
        ),
    )
    parser.add_argument("action", choices=ACTIONS, help="what to do")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="protocol YAML file(s)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    power = parser.add_argument_group("power")
    power.add_argument(
        "--n-sims",
        type=field("power.n_sims"),
        default=None,
        help="simulations per effect size (default: power.n_sims)",
    )
    power.add_argument(
        "--seed", type=field("power.seed"), default=None, help="seed (default: power.seed)"
    )
    power.add_argument(
        "--effects",
        type=numbers(),
        default=None,
        help="comma-separated effect sizes in outcome units (default: power.effects)",
    )
    power.add_argument(
        "--outcome", action="append", default=None, help="outcome id (repeatable; default: primary)"
    )
    power.add_argument("--csv", type=Path, default=None, help="also write the power table as CSV")
    power.add_argument(
        "--designs",
        choices=("compare", "registered"),
        default="compare",
        help="compare: also simulate every applicable estimator and inference under no effect "
        "and recommend one (default); registered: only the registered design",
    )
    power.add_argument(
        "--build",
        type=Path,
        default=Path("build"),
        help="build folder; the table is stored as BUILD/<id>/power.json for the report",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run one protocol action on every file and return the exit code."""
    handlers = {"check": _check, "register": _register, "status": _status, "power": _power}
    code = 0
    outputs: list[dict[str, Any]] = []
    for path in args.files:
        result, ok = handlers[args.action](path, args)
        outputs.append(result)
        if not ok:
            code = 1
    if args.json:
        echo_json(outputs[0] if len(outputs) == 1 else outputs, indent=2, ensure_ascii=False)
    return code


def _say(args: argparse.Namespace, text: str = "", *, err: bool = False) -> None:
    if not args.json:
        echo(text, err=err)


def _check(path: Path, args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    from evalkit.protocol import check_protocol

    report = check_protocol(path)
    for error in report.errors:
        _say(args, f"{path}: error: {error.removeprefix(f'{path}: ')}")
    for warning in report.warnings:
        _say(args, f"{path}: warning: {warning}")
    verdict = "ok" if report.ok else f"{len(report.errors)} error(s)"
    _say(args, f"{path}: {verdict}, {len(report.warnings)} warning(s)")
    return {"file": str(path), "errors": report.errors, "warnings": report.warnings}, report.ok


def _register(path: Path, args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    from evalkit.errors import ProtocolError
    from evalkit.protocol import check_protocol
    from evalkit.protocol.registration import register

    report = check_protocol(path)
    if not report.ok:
        for error in report.errors:
            _say(args, f"{path}: error: {error}")
        _say(args, f"{path}: not registered: fix the {len(report.errors)} error(s) first")
        return {"file": str(path), "registered": False, "errors": report.errors}, False
    for warning in report.warnings:
        _say(args, f"{path}: warning: {warning}")
    try:
        lock = register(path)
    except ProtocolError as exc:  # e.g. already registered: report it and go on with the next file
        _say(args, f"{path}: not registered: {str(exc).removeprefix(f'{path}: ')}")
        return {"file": str(path), "registered": False, "errors": [str(exc)]}, False
    _say(args, f"{path}: registered at {lock.registered_at}")
    _say(args, f"  sha256          {lock.sha256}")
    _say(args, f"  evalkit version {lock.evalkit_version}")
    _say(args, f"  git commit      {lock.git_commit or '(not a git repository)'}")
    _say(args, f"  lock file       {lock.path}  (commit it together with the protocol)")
    data = {k: v for k, v in lock.to_dict().items() if k != "content"}
    return {"file": str(path), "registered": True, **data}, True


def _status(path: Path, args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    from evalkit.protocol.registration import status

    st = status(path)
    if st.lock is None:
        _say(
            args,
            f"{path}: not registered (sha256 {st.sha256}); "
            f"run 'evalkit protocol register {path}' before the data arrive",
        )
    else:
        _say(
            args,
            f"{path}: {st.state.replace('_', ' ')} at {st.lock.registered_at} "
            f"(sha256 {st.lock.sha256})",
        )
        if not st.differences:
            _say(args, "  no field differs from the registered version")
        for d in st.differences:
            covering = st.deviation_for(d.path)
            mark = f"deviation of {covering.date}" if covering else "NOT COVERED by a deviation"
            _say(args, f"  {d.describe()}  [{mark}]")
        for problem in st.problems:
            _say(args, f"  problem: {problem}")
        for field in st.unused:
            _say(args, f"  note: a deviation names {field}, which has not changed")
        if not st.ok:
            _say(
                args,
                f"{path}: evalkit analyze will refuse this protocol until every change "
                "is a deviation entry (date, field, old, new, reason)",
            )
    data = {
        "file": str(path),
        "status": st.state,
        "registered_sha256": st.lock.sha256 if st.lock else None,
        "registered_at": st.lock.registered_at if st.lock else None,
        "current_sha256": st.sha256,
        "differences": [d.to_dict() for d in st.differences],
        "uncovered": [d.path for d in st.uncovered],
        "problems": list(st.problems),
        "deviations": [v.to_dict() for v in st.deviations],
    }
    return data, st.ok


def _power(path: Path, args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    from evalkit.analysis.power import registered_estimator, simulate_power
    from evalkit.protocol import load_protocol

    protocol = load_protocol(path)
    table = simulate_power(
        protocol,
        registered_estimator(protocol),
        effects=args.effects,
        n_sims=args.n_sims,
        seed=args.seed,
        outcomes=args.outcome,
    )
    _say_power(args, path, protocol, table)
    designs = _compare_designs(protocol, args) if args.designs == "compare" else []
    impossible = {r["outcome"] for r in designs if r["impossible"] and r is _first(designs, r)}
    _say_mdes(args, protocol, table, impossible)
    if args.csv is not None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
        _say(args, f"  written: {args.csv}")
    stored = _store_power(args, protocol, table, designs)
    return {
        "file": str(path),
        "power": stored["rows"],
        "skipped": stored["skipped"],
        "designs": stored.get("designs", []),
    }, True


def _say_power(args: argparse.Namespace, path: Path, protocol: Any, table: Any) -> None:
    """Print the registered design's power per outcome and effect."""
    a = protocol.analysis
    _say(
        args,
        f"{path}: power by simulation ({a.estimator}, inference {a.inference}, "
        f"alpha {a.alpha}, {int(table['n_sims'].iloc[0])} simulations per effect, "
        f"seed {protocol.power.seed if args.seed is None else args.seed})",
    )
    _say(args, f"  {'outcome':<24} {'effect':>10} {'power':>7} {'mean est.':>10} {'mean s.e.':>10}")
    for row in table.itertuples():
        _say(
            args,
            f"  {row.outcome:<24} {row.effect:>10.4f} {row.power:>7.2f} "
            f"{row.mean_estimate:>10.4f} {row.mean_std_error:>10.4f}",
        )


def _say_mdes(args: argparse.Namespace, protocol: Any, table: Any, impossible: set[Any]) -> None:
    """Print each outcome's minimal detectable effect, or why there is none."""
    import math

    alpha, target = protocol.analysis.alpha, protocol.power.target_power
    for outcome, rows in table.groupby("outcome", sort=False):
        mde = rows["mde"].iloc[0]
        if not math.isnan(mde):
            text = f"{abs(mde):.4f}"
        elif outcome in impossible:
            text = f"impossible at alpha = {alpha:g} with this design"
        else:
            text = (
                f"not reached within the effects simulated (up to {rows['effect'].abs().max():g})"
            )
        _say(args, f"  minimal detectable effect ({target:.0%} power), {outcome}: {text}")
    for note in table.attrs.get("skipped", []):
        _say(args, f"  skipped: {note}")


def _store_power(
    args: argparse.Namespace, protocol: Any, table: Any, designs: list[dict[str, Any]]
) -> dict[str, Any]:
    """Write build/<id>/power.json, which the report reads; return what was written."""
    import math

    a = protocol.analysis
    records = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in table.to_dict(orient="records")
    ]
    stored = {
        "protocol_id": protocol.id,
        "settings": {
            "estimator": a.estimator,
            "inference": a.inference,
            "alpha": a.alpha,
            "target_power": protocol.power.target_power,
            "seed": protocol.power.seed if args.seed is None else args.seed,
        },
        "rows": records,
        "skipped": table.attrs.get("skipped", []),
    }
    if designs:
        stored["designs"] = designs
    out = args.build / protocol.id / "power.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _say(args, f"  stored for the report: {out}")
    return stored


def _first(rows: list[dict[str, Any]], row: dict[str, Any]) -> dict[str, Any]:
    """Return the first row of ``row``'s outcome (the registered design)."""
    return next(r for r in rows if r["outcome"] == row["outcome"])


def _design_note(r: Any, alpha: float) -> str:
    """Return the note after one design's numbers: verdict, estimand, failures."""
    from evalkit.analysis.design_power import MAX_COVERAGE, MAX_SIZE, MIN_COVERAGE

    if r.impossible:
        note = f"impossible at alpha = {alpha:g} with this design"
    elif r.recommended:
        note = "recommended"
    elif r.size > MAX_SIZE:
        note = f"not offered: size {r.size:.1%} > {MAX_SIZE:.1%} under no effect"
    elif r.coverage < MIN_COVERAGE:
        note = f"not offered: coverage {r.coverage:.1%} < {MIN_COVERAGE:.0%}"
    elif r.coverage > MAX_COVERAGE:
        note = f"not offered: coverage {r.coverage:.1%} > {MAX_COVERAGE:.0%} (interval too wide)"
    else:
        note = ""
    if r.estimand != "population":
        note += f" (MDE of the effect in {r.estimand}, relative to the others)"
    if r.failed > 0:
        note += f"; could not be estimated in {r.failed:.0%} of pilots"
    return note.lstrip(" ;")


def _compare_designs(protocol: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Simulate every applicable design under no effect, print the table, recommend one."""
    import math

    from evalkit.analysis.design_power import Design, compare_designs, withheld_designs
    from evalkit.did.designs import design_interval

    a = protocol.analysis

    def interval(design: Design, frame: Any) -> tuple[float, ...]:
        return design_interval(
            frame, design.estimator, design.inference, alpha=a.alpha, seed=a.seed
        )

    table = compare_designs(
        protocol, interval, n_sims=args.n_sims, seed=args.seed, outcomes=args.outcome
    )
    target = protocol.power.target_power
    _say(
        args,
        f"  designs compared under no effect ({int(table['n_sims'].iloc[0])} simulated pilots): "
        f"size (p <= {a.alpha:g}), coverage of the {1 - a.alpha:.0%} interval (conformal: "
        f"the confidence set), MDE at "
        f"{target:.0%} power",
    )
    n_sims = int(table["n_sims"].iloc[0])
    error = 1.96 * math.sqrt(a.alpha * (1 - a.alpha) / n_sims)
    _say(
        args,
        f"  Monte Carlo error of a size near {a.alpha:.0%} with {n_sims} pilots: "
        f"±{error:.1%} (95 %)",
    )
    _say(args, f"  {'outcome':<24} {'design':<40} {'size':>6} {'coverage':>9} {'MDE':>9}")
    for r in table.itertuples():
        note = _design_note(r, a.alpha)
        mde = f"{r.mde:>9.4f}" if math.isfinite(r.mde) else f"{'inf':>9}"
        _say(
            args,
            f"  {r.outcome:<24} {r.design:<40} {r.size:>6.3f} {r.coverage:>9.3f} {mde}  {note}",
        )
    for design, reason in withheld_designs(protocol):
        _say(args, f"  {design.name}: not offered: {reason}")
    return [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        for row in table.to_dict(orient="records")
    ]

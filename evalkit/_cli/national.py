"""``evalkit national``: validate the national panel in DuckDB and estimate inside the engine."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evalkit._cli._output import echo, echo_json
from evalkit._cli.report import add_render_options

OUTCOMES = ("neet", "early_school_leaving")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Attach the ``national`` sub-command (``validate`` and ``estimate``).

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The sub-parser collection of the ``evalkit`` command.
    """
    parser = subparsers.add_parser(
        "national",
        help="national scale: validate a partitioned Parquet panel, estimate in DuckDB or Spark",
        description=(
            "Out-of-core evaluation of a national panel (`evalkit demo --generator national`): "
            "`validate` checks every row inside DuckDB and references the valid rows from a "
            "store; `estimate` runs Callaway-Sant'Anna (not-yet-treated), TWFE and the event "
            "study inside the engine with the region starts of a protocol."
        ),
    )
    steps = parser.add_subparsers(dest="step", metavar="STEP", required=True)
    val = steps.add_parser("validate", help="validate the panel in DuckDB and reference it")
    val.add_argument("data", type=Path, help="panel folder (with outcome_panel/<region>/)")
    val.add_argument("--store", type=Path, default=Path("build/national/store.duckdb"))
    val.add_argument("--json", action="store_true", help="print the counts as JSON")
    val.set_defaults(handler=run_validate)
    est = steps.add_parser("estimate", help="estimate inside the engine")
    est.add_argument("source", type=Path, help="the store (.duckdb) or the panel folder")
    est.add_argument("--protocol", type=Path, required=True, help="protocol with units.treated")
    est.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    est.add_argument("--unit", choices=("region", "municipality"), default="region")
    est.add_argument("--cluster", choices=("region", "municipality"), default="region")
    est.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    est.set_defaults(handler=run_estimate)
    rep = steps.add_parser(
        "report",
        help="write the results bundle from the estimates and render its reports",
        description=(
            "Turn the estimates of `evalkit national estimate --out` into the protocol's "
            "results bundle (<build>/<id>/results.json) and render its documents into "
            "<build>/reports, as `evalkit report` does for any protocol; skipped when the "
            "bundle, the documents and the code are unchanged."
        ),
    )
    rep.add_argument("estimates", type=Path, help="the estimates JSON (national estimate --out)")
    rep.add_argument("--protocol", type=Path, required=True, help="the registered protocol")
    rep.add_argument("--store", type=Path, default=Path("build/national/store.duckdb"))
    add_render_options(rep, documents=("evaluation", "summary"))
    rep.add_argument("--force", action="store_true", help="render even when up to date")
    rep.set_defaults(handler=run_report)


def run_validate(args: argparse.Namespace) -> int:
    """Validate and reference the panel; print counts, throughput, peak memory, disk."""
    from evalkit._cli._progress import Progress
    from evalkit.pipeline.national import national_files, validate_national

    files = national_files(args.data)
    progress = Progress("validate", len(files), unit="files")
    counts = validate_national(
        args.data, args.store, OUTCOMES, progress=lambda rows, done: progress(done, rows)
    )
    if args.json:
        echo_json(counts, indent=2)
    else:
        echo(
            f"evalkit national validate: {counts['rows_read']:,} rows in {counts['files']} files: "
            f"{counts['accepted']:,} accepted, {counts['rejected']:,} rejected "
            f"({counts['rows_read'] / max(counts['seconds'], 1e-9):,.0f} rows/s); "
            f"{counts['duplicate_person_months']} duplicate person-months"
        )
        for rule, bad in counts["failures"].items():
            if bad:
                echo(f"  rule {rule}: {bad:,} row(s) (file and row in national_quarantine)")
        echo(f"  store {args.store}: view national_panel (valid rows, no person numbers)")
    echo("  " + progress.summary(disk=args.store), err=True)
    return 0


def run_estimate(args: argparse.Namespace) -> int:
    """Estimate per outcome inside the engine and print the headline numbers."""
    from evalkit._cli._progress import Progress
    from evalkit.analysis.plan import registered_spec
    from evalkit.pipeline.national import (
        estimate_national,
        national_hypotheses,
        national_table,
        starts_from_protocol,
    )
    from evalkit.protocol import load_protocol
    from evalkit.protocol._yaml import read_yaml
    from evalkit.protocol.registration import verify_for_analysis

    registration = verify_for_analysis(args.protocol)
    raw = read_yaml(args.protocol)
    registered = load_protocol(args.protocol)
    outcomes = tuple(o.id for o in registered.outcomes)
    starts = starts_from_protocol(raw)
    when = registration.registered_at or "not pre-registered"
    echo(f"protocol {args.protocol}: {registration.status} ({when})")
    progress = Progress("estimate", len(outcomes), unit="outcomes", every=0.0)
    table = national_table(args.source, starts, engine=args.engine)
    results = estimate_national(
        table,
        outcomes,
        unit=args.unit,
        cluster=args.cluster,
        progress=progress,
        spec=registered_spec(registered),
    )
    hypotheses = national_hypotheses(registered, results)
    paths: set[str] = set()
    for outcome, by in results.items():
        ran = {str(r["path"]) for r in by.values() if isinstance(r, dict) and "path" in r}
        paths |= ran
        streamed = "in_memory:streamed" in ran
        how = "streamed in memory" if streamed else "grouped sums in the engine"
        echo(f"{outcome}: {how} {by['engine_seconds']} s (all outcomes in one pass)")
        for name, res in by.items():
            if isinstance(res, dict):
                echo(
                    f"  {name:18s} att {res['estimate']:+.5f}  se {res['std_error']:.5f}  "
                    f"({res['n_units']} units, {res['n_clusters']} clusters, {res['n_obs']} obs)"
                )
                if isinstance(res.get("pretrend_event_time"), dict):
                    echo("  " + _pretrend_line(res["pretrend_event_time"]))
    for h in hypotheses:
        echo(
            f"{h['id']} ({h['outcome']}, {h['estimator']}): p {h['p_value']}, "
            f"adjusted ({h['multiple_testing']}) {h['p_adjusted']}"
        )
    results["hypotheses"] = hypotheses
    if args.out is not None:
        results["protocol"] = {
            "file": str(args.protocol),
            "status": registration.status,
            "sha256": registration.sha256,
            "registered_at": registration.registered_at,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
        echo(f"  results: {args.out}")
    echo(f"  path: {', '.join(sorted(paths)) or 'engine:' + args.engine}; " + progress.summary())
    return 0


def _pretrend_line(test: dict[str, Any]) -> str:
    """One line for the joint pre-trend test of a Callaway–Sant'Anna record."""
    times = test.get("event_times") or []
    span = f"event times {min(times)}..{max(times)}" if times else "no pre-period event times"
    if not test.get("valid"):
        return f"  pre-trend test ({span}): not testable ({test.get('reason')})"
    return (
        f"  pre-trend test ({span}): F {test['statistic']:.3f} on ({test['df']}, "
        f"{test['df_denominator']}) df, p {test['p_value']:.3f}"
    )


def run_report(args: argparse.Namespace) -> int:
    """Write the national bundle, render its reports, print the files and the time taken."""
    import time

    from evalkit.pipeline.national_report import report_national

    started = time.perf_counter()
    written, rendered = report_national(
        args.protocol,
        args.estimates,
        store=args.store,
        build=args.build,
        langs=args.lang,
        documents=args.documents,
        force=args.force,
    )
    for path in written:
        echo(path)
    what = "rendered" if rendered else "up to date (bundle, documents and code unchanged)"
    echo(f"  reports {what}; {time.perf_counter() - started:.1f} s")
    return 0

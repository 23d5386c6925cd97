"""Run a protocol end to end: demo data → ingest → analyze → report.

The pipeline knows paths and order; every step is a call into a lower layer
(``synth``, ``ingest``, ``protocol``, ``analysis``, ``report``).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.errors import EvalkitError, ProtocolError
from evalkit.pipeline.analysts import (
    Analysts,
    done_future,
    gather,
    one_thread_per_child,
    then,
)
from evalkit.pipeline.fingerprint import (
    analysis_fingerprint,
    is_up_to_date,
    record_fingerprint,
    record_render,
    render_fingerprint,
    render_is_up_to_date,
)
from evalkit.pipeline.paths import ProtocolPaths, checked_paths
from evalkit.pipeline.progress import NullProgress, ProgressSink
from evalkit.pipeline.renderers import Renderers
from evalkit.protocol._yaml import read_yaml
from evalkit.report.bundle import write_bundle
from evalkit.report.figure_cache import run_figure_cache

#: Background render threads (one Jupyter kernel each).
RENDER_WORKERS = 2
#: Worker processes computing bundles.
ANALYSIS_WORKERS = 2

__all__ = [
    "analyze_protocol",
    "ingest_protocol",
    "make_demo_data",
    "report_protocol",
    "run_protocols",
]


def _raw_protocol(paths: ProtocolPaths) -> dict[str, Any]:
    return dict(read_yaml(paths.protocol))


def _source_files(protocol: dict[str, Any]) -> list[tuple[str, list[Path]]]:
    return [
        (str(s["kind"]), [Path(f) for f in s.get("files", [])])
        for s in protocol.get("data_sources", [])
    ]


def make_demo_data(paths: ProtocolPaths, *, force: bool = False) -> list[Path]:
    """Generate a protocol's synthetic data when it has a ``demo:`` block and files are missing.

    Parameters
    ----------
    paths : ProtocolPaths
        The protocol's paths.
    force : bool, optional
        Regenerate even when all files exist.

    Returns
    -------
    list of Path
        The files written (empty when nothing had to be made).
    """
    raw = _raw_protocol(paths)
    demo = raw.get("demo")
    if not demo:
        return []
    wanted = [f for _, files in _source_files(raw) for f in files]
    if not force and wanted and all(f.is_file() for f in wanted):
        return []
    # imported only to make data: with the data present, the generator (and scipy.special)
    # cost the main thread about 0.2 s of CPU before its first ingest
    from evalkit import synth

    design = synth.PilotDesign.from_protocol(raw)
    pilot = synth.generate(design, seed=int(demo.get("seed", 1)))
    written = synth.write_demo(pilot, _demo_folder(paths, demo))
    return sorted(Path(p) for p in written.values())


def _demo_folder(paths: ProtocolPaths, demo: dict[str, Any]) -> Path:
    """Return the folder of a protocol's ``demo:`` block (default ``data/raw/<id>``)."""
    return Path(demo.get("out", f"data/raw/{paths.protocol_id}"))


def _demo_out(paths: ProtocolPaths) -> Path | None:
    """Return the resolved demo-data folder of a protocol (None without a ``demo:`` block)."""
    demo = _raw_protocol(paths).get("demo")
    return _demo_folder(paths, demo).resolve() if demo else None


def ingest_protocol(paths: ProtocolPaths) -> list[dict[str, Any]]:
    """Ingest every data source a protocol names into the store.

    Parameters
    ----------
    paths : ProtocolPaths
        The protocol's paths.

    Returns
    -------
    list of dict
        One ingest report (``IngestReport.to_dict()``) per file.

    Raises
    ------
    ProtocolError
        When the protocol is invalid or a data source file does not exist.
    """
    from evalkit.ingest import file_sha256, ingest_files
    from evalkit.pipeline.columns import columns_needed
    from evalkit.protocol import load_protocol

    reports: list[dict[str, Any]] = []
    protocol = load_protocol(paths.protocol)
    for source in protocol.data_sources:
        kind, files = source.kind, [Path(f) for f in source.files]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ProtocolError(f"data_sources ({kind}): file not found: {', '.join(missing)}")
        # Overlaps count within this protocol's own files: a store may serve several protocols.
        own = [file_sha256(f) for f in files]
        for report in ingest_files(
            kind,
            files,
            store_path=paths.store,
            scope=paths.scope,
            overlap=source.overlap,
            overlap_among=own,
            needs=columns_needed(protocol, kind),
        ):
            reports.append(report.to_dict())
    _witness_lock(paths, protocol.id)
    return reports


def _witness_lock(paths: ProtocolPaths, protocol_id: str) -> None:
    """Let the store record the seal of the lock the data were ingested under.

    A lock that fails its own checks is left to the analysis step, which refuses it
    with the reason.
    """
    from evalkit.ingest import Store
    from evalkit.protocol.registration import read_lock

    try:
        lock = read_lock(paths.protocol)
    except ProtocolError:
        return
    if lock is not None:
        with Store(paths.store) as store:
            store.note_lock_seal(protocol_id, lock.seal)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def analyze_protocol(paths: ProtocolPaths) -> Path:
    """Run a protocol's analysis on the store and write its results bundle.

    Parameters
    ----------
    paths : ProtocolPaths
        The protocol's paths.

    Returns
    -------
    Path
        The bundle written (``build/<id>/results.json``).
    """
    from evalkit.pipeline.assemble import assemble_bundle

    bundle = assemble_bundle(paths, code_commit=_git_commit())
    return write_bundle(bundle, paths.bundle)


def report_protocol(
    paths: ProtocolPaths,
    *,
    langs: Sequence[str] = ("nl",),
    documents: Sequence[str] = ("evaluation",),
    progress: ProgressSink | None = None,
    session: Any = None,
    export_tables: bool = True,
) -> list[Path]:
    """Render a protocol's reports from its bundle into ``build/reports``.

    Parameters
    ----------
    paths : ProtocolPaths
        The protocol's paths.
    langs : sequence of str
        Languages (``nl``, ``en``).
    documents : sequence of str
        Documents (``evaluation``, ``monitor``, ``summary``).
    progress : ProgressSink, optional
        Told which document is being rendered.
    session : evalkit.report.engine.KernelSession, optional
        A running kernel shared by several protocols (imports paid once).
    export_tables : bool
        Also write the tables as CSV and XLSX.

    Returns
    -------
    list of Path
        The files written.
    """
    from evalkit.report import render_reports

    sink: ProgressSink = progress or NullProgress()
    return list(
        render_reports(
            paths.bundle,
            paths.reports,
            stem=paths.protocol_id,
            langs=langs,
            documents=documents,
            progress=sink.note,
            session=session,
            export_tables=export_tables,
        )
    )


def _expected_outputs(
    paths: ProtocolPaths, langs: Sequence[str], documents: Sequence[str]
) -> list[Path]:
    from evalkit.report.render import output_name

    return [
        paths.reports / output_name(paths.protocol_id, d, lang) for d in documents for lang in langs
    ]


def run_protocols(
    protocols: Sequence[Path],
    *,
    langs: Sequence[str] = ("nl",),
    documents: Sequence[str] = ("evaluation",),
    build: Path = Path("build"),
    store: Path | None = None,
    progress: ProgressSink | None = None,
    force: bool = False,
) -> list[Path]:
    """Run each protocol end to end and return every file written.

    The main thread makes demo data, ingests (the store's only writer) and reads
    each protocol's inputs; the bundles are computed in worker processes and the
    reports rendered in background kernels, so protocols overlap.

    Parameters
    ----------
    protocols : sequence of Path
        Protocol files.
    langs, documents : sequence of str
        What to render.
    build : Path
        The build folder.
    store : Path, optional
        The DuckDB store.
    progress : ProgressSink, optional
        Receives each step.
    force : bool, optional
        Re-analyse even when the protocol, its data and the code are unchanged.

    Returns
    -------
    list of Path
        Bundles and reports written, in protocol order.

    Raises
    ------
    EvalkitError
        The first error, in protocol order, after the other protocols finished.
    """
    run = _Run(progress or NullProgress(), tuple(langs), tuple(documents), force, _git_commit())
    all_paths = checked_paths(protocols, build=build, store=store)
    # Exit order matters: the analysts finish (and queue their renders) before the
    # renderers stop. The report kernels share one figure folder for the run: protocols
    # over the same data draw a figure once.
    with (
        one_thread_per_child(),
        run_figure_cache(),
        Renderers(RENDER_WORKERS, run.render) as renderers,
        Analysts(ANALYSIS_WORKERS) as analysts,
    ):
        made_by_worker: dict[str, Future[list[Path]]] = {}
        if force or any(not p.bundle.is_file() for p in all_paths):
            # there will be bundles to compute and reports to render: start the workers
            # and kernels now, while this thread makes the first protocol's data; the
            # workers make the other protocols' demo data before any bundle is due
            analysts.start()
            renderers.start()
            made_by_worker = _demo_data_in_workers(all_paths, analysts)
        chains = [
            (paths.protocol_id, run.protocol(paths, made_by_worker, analysts, renderers))
            for paths in all_paths
        ]
        run.sink.note_waiting(sum(not chain.done() for _, chain in chains))
        written, errors = run.collect(chains)
    if errors:
        raise errors[0]
    _write_run_log(build, written)
    return written


def _demo_data_in_workers(
    all_paths: list[ProtocolPaths], analysts: Analysts
) -> dict[str, Future[list[Path]]]:
    """Make every protocol's demo data but the first in the workers (one writer per folder)."""
    outs = [_demo_out(p) for p in all_paths]
    return {
        p.protocol_id: analysts.run(make_demo_data, p)
        for p, out in zip(all_paths[1:], outs[1:], strict=True)
        if out is not None and outs.count(out) == 1
    }


@dataclass(frozen=True)
class _Run:
    """What every protocol of one ``evalkit run`` shares: progress, documents, languages."""

    sink: ProgressSink
    langs: tuple[str, ...]
    documents: tuple[str, ...]
    force: bool
    commit: str | None

    @property
    def what(self) -> str:
        return f"report ({', '.join(self.documents)}; {', '.join(self.langs)})"

    def render(self, job: tuple[ProtocolPaths, str, bool], session: Any) -> list[Path]:
        """Render one protocol's documents in one language (a renderer's job)."""
        paths, lang, export = job
        return report_protocol(
            paths, langs=(lang,), documents=self.documents, session=session, export_tables=export
        )

    def protocol(
        self,
        paths: ProtocolPaths,
        made_by_worker: dict[str, Future[list[Path]]],
        analysts: Analysts,
        renderers: Renderers,
    ) -> Future[list[Path]]:
        """Make data, ingest and read inputs here; analyse and render in the background."""
        from evalkit.pipeline.assemble import load_inputs

        pid, sink = paths.protocol_id, self.sink
        sink.step(pid, "demo data")
        made = made_by_worker[pid].result() if pid in made_by_worker else make_demo_data(paths)
        sink.done(f"{len(made)} files written" if made else "present")
        sink.step(pid, "ingest")
        reports = ingest_protocol(paths)
        read = sum(r["rows_read"] for r in reports)
        rejected = sum(r["rejected"] for r in reports)
        skipped = sum(bool(r["skipped_duplicate_file"]) for r in reports)
        sink.done(
            f"{len(reports)} files, {read} rows read, {rejected} rejected, "
            f"{skipped} already in the store"
        )
        sink.step(pid, "analyze")
        fingerprint = analysis_fingerprint(paths.protocol)
        bundle: Future[Path]
        if not self.force and is_up_to_date(paths.bundle, fingerprint):
            sink.done(f"up to date: {paths.bundle} (protocol, data and code unchanged)")
            _ensure_plan(paths.bundle)
            bundle = done_future(paths.bundle)
        else:
            inputs = load_inputs(paths, code_commit=self.commit)
            sink.done("inputs read; computing in a worker process")
            analysed = self._analysed(paths, fingerprint)
            bundle = then(analysts.submit(inputs, paths.bundle), analysed)
        return then(bundle, lambda _bundle: self._render_if_needed(paths, renderers, analysts))

    def _analysed(
        self, paths: ProtocolPaths, fingerprint: dict[str, Any]
    ) -> Callable[[tuple[Path, float]], Future[Path]]:
        def record(result: tuple[Path, float]) -> Future[Path]:
            record_fingerprint(paths.bundle, fingerprint)
            self.sink.finished(paths.protocol_id, "analyze", result[1], str(paths.bundle))
            return done_future(paths.bundle)

        return record

    def _render_if_needed(
        self, paths: ProtocolPaths, renderers: Renderers, analysts: Analysts
    ) -> Future[list[Path]]:
        from evalkit.report.render import REPORTS_DIR

        langs, documents = self.langs, self.documents
        rendered = render_fingerprint(paths.bundle, REPORTS_DIR, langs, documents)
        expected = _expected_outputs(paths, langs, documents)
        if not self.force and render_is_up_to_date(
            paths.reports, paths.protocol_id, rendered, expected
        ):
            self.sink.finished(
                paths.protocol_id,
                self.what,
                0.0,
                "up to date (bundle, documents and code unchanged)",
            )
            return done_future([paths.bundle, *expected])
        # one job per language, so both kernels share a protocol's documents; the CSV
        # and XLSX tables are written beside them by an analysis worker when the
        # workers run (else by the first language's job): off this process, whose
        # main thread ingests the next protocols
        start = time.perf_counter()
        in_worker = analysts.started
        jobs = [
            renderers.submit((paths, lang, i == 0 and not in_worker))
            for i, lang in enumerate(langs)
        ]
        if in_worker:
            jobs.append(analysts.run(_write_exports, paths, langs[0], documents))

        def finish(parts: list[list[Path]]) -> Future[list[Path]]:
            if in_worker:  # listed where the first language's job lists them
                parts = [parts[0] + parts[-1], *parts[1:-1]]
            out = [path for part in parts for path in part]
            record_render(paths.reports, paths.protocol_id, rendered)
            elapsed = time.perf_counter() - start
            self.sink.finished(paths.protocol_id, self.what, elapsed, f"{len(out)} files")
            return done_future([paths.bundle, *out])

        return then(gather(jobs), finish)

    def collect(
        self, chains: list[tuple[str, Future[list[Path]]]]
    ) -> tuple[list[Path], list[BaseException]]:
        """Wait for every protocol in order; report each failure, keep going."""
        written: list[Path] = []
        errors: list[BaseException] = []
        for pid, chain in chains:
            try:
                written += chain.result()
            except EvalkitError as exc:
                self.sink.failed(pid, str(exc))
                errors.append(exc)
        return written, errors


def _write_exports(paths: ProtocolPaths, lang: str, documents: Sequence[str]) -> list[Path]:
    """Write a protocol's table exports (CSV and XLSX); runs in an analysis worker."""
    from evalkit.report.render import write_exports

    return write_exports(
        paths.bundle, paths.reports, stem=paths.protocol_id, lang=lang, documents=documents
    )


def _ensure_plan(bundle: Path) -> None:
    """Save an up-to-date bundle's suppression plan when the saved one is missing or stale.

    The report code may have changed since the bundle was computed; a plan that cannot
    be made is left to the report, which fails with the reason.
    """
    from evalkit.report.plan_file import ensure_plan

    with contextlib.suppress(EvalkitError):
        ensure_plan(bundle)


def _write_run_log(build: Path, written: Sequence[Path]) -> None:
    """Record what the last run wrote (no timestamps: same inputs, same bytes)."""
    build.mkdir(parents=True, exist_ok=True)
    (build / "last_run.json").write_text(
        json.dumps(
            {"evalkit_version": __version__, "written": [p.as_posix() for p in written]}, indent=1
        )
        + "\n",
        encoding="utf-8",
    )

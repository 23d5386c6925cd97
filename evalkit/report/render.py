"""Render the report documents of one results bundle, with manifests and table exports."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import math
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from evalkit.errors import ReportError
from evalkit.report.context import ReportContext, load_bundle
from evalkit.report.engine import Engine, KernelSession, render_qmd
from evalkit.report.escape import csv_cell, safe_name
from evalkit.report.formatting import LANGS
from evalkit.report.monitor_changes import (
    delivery_stamp,
    history_path,
    previous_entry,
    read_history,
    record_monitor,
)
from evalkit.report.plan import SuppressionPlan
from evalkit.report.plan_file import plan_of
from evalkit.report.tables import ReportTable

__all__ = [
    "DOCUMENTS",
    "REPORTS_DIR",
    "Document",
    "collect_tables",
    "output_name",
    "render_reports",
    "write_exports",
]

Document = Literal["evaluation", "monitor", "summary"]
DOCUMENTS: tuple[str, ...] = ("evaluation", "monitor", "summary")
#: The ``.qmd`` documents shipped with evalkit (repository folder ``reports/``).
REPORTS_DIR = Path(__file__).resolve().parents[2] / "reports"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def output_name(stem: str, document: str, lang: str, suffix: str = ".html") -> str:
    """Name a rendered document: ``demo.html``, ``demo.en.html``, ``demo.monitor.en.html``."""
    parts = [stem]
    if document != "evaluation":
        parts.append(document)
    if lang != "nl":
        parts.append(lang)
    return ".".join(parts) + suffix


def _check(values: Sequence[str], allowed: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ReportError(
            f"{what} {bad or '(none)'} not allowed; use one or more of {', '.join(allowed)}"
        )
    return list(dict.fromkeys(values))


def evaluation_sections() -> tuple[Callable[[ReportContext], str], ...]:
    """Return the evaluation's sections that hold tables, in the order ``evaluation.qmd`` runs them.

    Imported on call: the section modules pull in plotting code a renderer that only
    starts kernels does not need.
    """
    from evalkit.report import (
        sections_front,
        sections_measures,
        sections_protocol,
        sections_results,
    )
    from evalkit.report.sections_synthetic import synthetic

    return (
        sections_front.first_page,
        sections_protocol.protocol_brief,
        sections_protocol.data_quality,
        sections_protocol.sample,
        sections_results.primary,
        synthetic,
        sections_results.robustness,
        sections_results.secondary,
        sections_results.subgroups,
        sections_measures.throughput,
        sections_measures.questionnaire,
        sections_results.exploratory,
    )


def collect_tables(
    bundle: dict[str, Any],
    lang: str,
    documents: Sequence[str],
    previous: str = "",
    plan: SuppressionPlan | None = None,
) -> list[ReportTable]:
    """Build every table the documents show (in-process, same code as the ``.qmd``).

    ``previous`` is the previous monitor's history entry as JSON (see
    :mod:`evalkit.report.monitor_changes`), ``""`` when there is none; ``plan`` the
    release's suppression plan when it is at hand (default: made from ``bundle``).
    """
    from evalkit.report import monitoring, monitoring_trends, sections_measures

    with tempfile.TemporaryDirectory(prefix="evalkit-tables-") as tmp:
        ctx = ReportContext(bundle, lang, figure_dir=tmp, collect_only=True, plan=plan)
        if "evaluation" in documents or "summary" in documents:
            for fn in evaluation_sections():
                fn(ctx)
        if "monitor" in documents:
            monitoring.since_last(ctx, previous)
            for fn in (
                monitoring.breaches,
                monitoring.registrations,
                monitoring_trends.norms,
                monitoring.caseload,
                monitoring_trends.outcome_trend,
                monitoring_trends.questionnaire,
                monitoring.out_of_sight,
                monitoring.completeness,
            ):
                fn(ctx)
        for part in ("throughput", "questionnaire"):  # export also the tables the report only plots
            ctx.tables.extend(sections_measures.bundle_tables(ctx, part).values())
    unique: dict[str, ReportTable] = {}
    for table in ctx.tables:
        unique.setdefault(table.name, table)
    return list(unique.values())


def _threshold(bundle: dict[str, Any]) -> int:
    """Return the bundle's disclosure threshold, as :class:`ReportContext` reads it."""
    return ReportContext(bundle).threshold


def _workbook_date(bundle: dict[str, Any]) -> datetime.datetime:
    """Return the workbook's "created" date: the registration time, else the ZIP epoch.

    A fixed date (not the render time) keeps the workbook byte-identical for the same bundle.
    """
    stamp = str((bundle.get("registration") or {}).get("registered_at") or "")
    try:
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return datetime.datetime(1980, 1, 1)


def _export_tables(
    tables: list[ReportTable], folder: Path, workbook: Path, created: datetime.datetime
) -> list[Path]:
    import pandas as pd

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    written = []
    sheets: dict[str, pd.DataFrame] = {}
    for table in tables:
        frame = table.export()
        path = folder / f"{safe_name(table.name)}.csv"
        # OWASP CSV injection: text cells a spreadsheet would run get a leading quote;
        # the workbook needs none (XlsxWriter writes strings as strings, see options)
        frame.map(csv_cell).to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
        written.append(path)
        sheet = re.sub(r"[\[\]:*?/\\]", "_", table.name)[:31]
        while sheet in sheets:
            sheet = sheet[:28] + f"_{len(sheets)}"
        sheets[sheet] = frame
    # XlsxWriter, not openpyxl: about twice as fast on the long throughput tables, and
    # with a fixed "created" date its output is byte-identical (fixed ZIP entry times).
    options = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    with pd.ExcelWriter(
        workbook, engine="xlsxwriter", engine_kwargs={"options": options}
    ) as writer:
        writer.book.set_properties({"author": "evalkit", "created": created})
        for sheet, frame in sheets.items():
            _write_sheet(writer, sheet, frame)
    return written


#: Cell types :func:`_write_sheet` writes itself; a table with any other goes through pandas.
_PLAIN_CELLS = (str, int, float, type(None))
#: Excel's longest cell text; pandas warns about longer ones, so they go through pandas.
_MAX_CELL_TEXT = 32767


def _write_sheet(writer: Any, sheet: str, frame: Any) -> None:
    """Write one table as ``frame.to_excel(writer, sheet_name=sheet, index=False)`` does.

    pandas formats, type-checks and styles every cell on its way to XlsxWriter (about
    half of an export's time on the long throughput tables). For the cells tables hold
    (text, integers, floats, empty) this writes the same cells in the same order
    (column by column, so the shared strings come in the same order), giving the same
    bytes: pandas writes the header row in its style; an empty text or a missing value
    is a blank without format, which XlsxWriter does not store; an infinite float is
    the text ``inf`` / ``-inf``. Any other cell type: pandas writes the whole table.
    """
    columns = [frame.iloc[:, j].tolist() for j in range(frame.shape[1])]
    plain = all(
        type(v) in _PLAIN_CELLS and (type(v) is not str or len(v) <= _MAX_CELL_TEXT)
        for values in columns
        for v in values
    )
    if not plain:
        frame.to_excel(writer, sheet_name=sheet, index=False)
        return
    frame.iloc[:0].to_excel(writer, sheet_name=sheet, index=False)  # the header row
    worksheet = writer.sheets[sheet]
    for col, values in enumerate(columns):
        for row, value in enumerate(values, start=1):
            kind = type(value)
            if kind is str:
                if value:
                    worksheet.write_string(row, col, value)
            elif kind is int:
                worksheet.write_number(row, col, value)
            elif kind is float and not math.isnan(value):
                if math.isinf(value):
                    worksheet.write_string(row, col, "inf" if value > 0 else "-inf")
                else:
                    worksheet.write_number(row, col, value)


def _manifest(
    out_html: Path, bundle_path: Path, qmd: Path, document: str, lang: str, engine: str
) -> Path:
    import pypandoc

    from evalkit import __version__

    manifest = {
        "document": document,
        "lang": lang,
        "engine": engine,
        "output": {
            "file": out_html.name,
            "sha256": _sha256(out_html),
            "bytes": out_html.stat().st_size,
        },
        "inputs": {
            "bundle": {"file": bundle_path.name, "sha256": _sha256(bundle_path)},
            "qmd": {"file": qmd.name, "sha256": _sha256(qmd)},
            "evalkit_version": __version__,
            "pandoc_version": pypandoc.get_pandoc_version() if engine == "evalkit" else None,
        },
    }
    path = out_html.with_name(out_html.name[: -len(".html")] + ".manifest.json")
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def render_reports(
    bundle_path: Path,
    out_dir: Path,
    *,
    stem: str,
    langs: Sequence[str] = ("nl",),
    documents: Sequence[str] = ("evaluation",),
    progress: Callable[[str], None] | None = None,
    reports_dir: Path | None = None,
    engine: Engine = "auto",
    session: KernelSession | None = None,
    export_tables: bool = True,
) -> list[Path]:
    """Render the report documents of one results bundle.

    Parameters
    ----------
    bundle_path : Path
        The results bundle (``build/<protocol>/results.json``).
    out_dir : Path
        Output folder (``build/reports``).
    stem : str
        File stem, usually the protocol id: ``<stem>.html`` (Dutch evaluation),
        ``<stem>.en.html``, ``<stem>.monitor.html``, ``<stem>.summary.en.html``, ...
    langs : sequence of {"nl", "en"}
        Languages to render.
    documents : sequence of {"evaluation", "monitor", "summary"}
        Documents to render.
    progress : callable, optional
        Called with a short message before each step.
    reports_dir : Path, optional
        Folder with the ``.qmd`` files (default: the repository's ``reports/``).
    engine : {"auto", "quarto", "evalkit"}
        Rendering engine (``auto``: quarto when on PATH).
    session : KernelSession, optional
        A running kernel to reuse across calls (e.g. one per ``make report`` for all
        protocols: ``with KernelSession() as s: render_reports(..., session=s)``);
        default: one kernel for the documents of this call.
    export_tables : bool
        Also write every table as CSV and the workbook (in the first language's
        wording); False when another call for the same bundle writes them.

    Returns
    -------
    list of Path
        Every HTML file and manifest written, then (with ``export_tables``) the
        workbook and the folder with one CSV file per table.

    Raises
    ------
    ReportError
        For an unknown language or document, a missing or invalid bundle, or a
        failure while rendering.
    """
    langs = _check(langs, LANGS, "language(s)")
    documents = _check(documents, DOCUMENTS, "document(s)")
    if not stem or "/" in stem or "\\" in stem:
        raise ReportError(f"report stem {stem!r} must be a plain file name")
    bundle_path, out_dir = Path(bundle_path).resolve(), Path(out_dir).resolve()
    bundle = load_bundle(bundle_path)
    folder = Path(reports_dir) if reports_dir else REPORTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    used = (
        "quarto"
        if engine == "quarto" or (engine == "auto" and shutil.which("quarto"))
        else "evalkit"
    )
    say = progress or (lambda _msg: None)
    written: list[Path] = []
    history = history_path(out_dir, stem)
    previous = previous_entry(read_history(history), delivery_stamp(bundle))
    previous_json = json.dumps(previous, sort_keys=True) if previous else ""
    with contextlib.ExitStack() as stack:  # one kernel for all documents: imports paid once
        if session is None:
            session = stack.enter_context(KernelSession())
        for document in documents:
            qmd = folder / f"{document}.qmd"
            if not qmd.is_file():
                raise ReportError(f"report document not found: {qmd}")
            for lang in langs:
                out_html = out_dir / output_name(stem, document, lang)
                say(f"{stem}: {document} ({lang})")
                params = {"bundle": str(bundle_path), "lang": lang}
                if document == "monitor":
                    params["previous"] = previous_json
                render_qmd(qmd, out_html, params, engine=engine, session=session)
                written += [out_html, _manifest(out_html, bundle_path, qmd, document, lang, used)]
        if "monitor" in documents:  # the next monitor compares with this one
            record_monitor(history, bundle, _threshold(bundle))
            written.append(history)
    if not export_tables:
        return written
    say(f"{stem}: tables (CSV, XLSX)")
    exports = write_exports(
        bundle_path, out_dir, stem=stem, lang=langs[0], documents=documents, previous=previous_json
    )
    return [*written, *exports]


def write_exports(
    bundle_path: Path,
    out_dir: Path,
    *,
    stem: str,
    lang: str = "nl",
    documents: Sequence[str] = ("evaluation",),
    previous: str | None = None,
) -> list[Path]:
    """Write every table of a bundle's documents as CSV (one file each) and as one workbook.

    What :func:`render_reports` does after the documents with ``export_tables``; also
    called on its own, e.g. by ``evalkit run`` in an analysis worker while the report
    kernels render the documents.

    Parameters
    ----------
    bundle_path : Path
        The results bundle.
    out_dir : Path
        Output folder (``build/reports``).
    stem : str
        File stem: ``<stem>.xlsx`` and ``<stem>_tables/``.
    lang : {"nl", "en"}
        The wording of the tables (the first language rendered).
    documents : sequence of {"evaluation", "monitor", "summary"}
        The documents whose tables are exported.
    previous : str, optional
        The previous monitor's history entry as JSON, ``""`` for none (see
        :func:`collect_tables`); default: read from the history in ``out_dir``.

    Returns
    -------
    list of Path
        The workbook and the folder with the CSV files.
    """
    bundle_path, out_dir = Path(bundle_path).resolve(), Path(out_dir).resolve()
    bundle = load_bundle(bundle_path)
    if previous is None:
        # the latest monitor of another delivery: the same before and after this
        # delivery's monitor is recorded (record_monitor replaces only its own entry)
        entry = previous_entry(read_history(history_path(out_dir, stem)), delivery_stamp(bundle))
        previous = json.dumps(entry, sort_keys=True) if entry else ""
    plan = plan_of(bundle_path, bundle, _threshold(bundle))
    tables = collect_tables(bundle, lang, documents, previous, plan)
    workbook = out_dir / f"{stem}.xlsx"
    out_dir.mkdir(parents=True, exist_ok=True)
    _export_tables(tables, out_dir / f"{stem}_tables", workbook, _workbook_date(bundle))
    return [workbook, out_dir / f"{stem}_tables"]

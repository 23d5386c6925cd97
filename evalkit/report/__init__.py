"""Reports: render results bundles to self-contained, bilingual HTML documents.

``render_reports`` renders the documents in ``reports/*.qmd`` for one bundle
(evaluation, monitor, summary; Dutch and/or English) with a manifest beside each
HTML file and every table as CSV and in one XLSX workbook. ``render_qmd``
renders a single ``.qmd`` (quarto when installed, else evalkit's own engine).
"""

from __future__ import annotations

from evalkit.report.context import ReportContext, load_bundle
from evalkit.report.engine import KernelSession, render_qmd
from evalkit.report.render import DOCUMENTS, output_name, render_reports

__all__ = [
    "DOCUMENTS",
    "KernelSession",
    "ReportContext",
    "load_bundle",
    "output_name",
    "render_qmd",
    "render_reports",
]

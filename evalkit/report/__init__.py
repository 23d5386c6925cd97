"""Reports: render results bundles to self-contained, bilingual HTML documents.

``render_reports`` renders the documents in ``reports/*.qmd`` for one bundle;
``render_qmd`` renders a single ``.qmd`` (quarto when installed, else evalkit's engine).
"""

from __future__ import annotations

from evalkit.report.engine import render_qmd

__all__ = ["render_qmd"]

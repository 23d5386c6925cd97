"""Report rendering speed: the three documents in both languages from one bundle.

Uses the fixture bundle of the report tests (shaped like docs/bundle.md), renders
with evalkit's own engine (one kernel for all documents) and reports wall time per
document and in total, plus the time of a single evaluation report in a fresh kernel.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from evalkit.report import render_reports

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "bundle_fixture.json"


def main() -> dict:
    """Time report rendering and return the figures."""
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-report-") as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        render_reports(
            FIXTURE, out / "single", stem="demo", documents=("evaluation",), engine="evalkit"
        )
        single = time.perf_counter() - start
        marks: list[tuple[str, float]] = []
        start = time.perf_counter()
        written = render_reports(
            FIXTURE,
            out / "all",
            stem="demo",
            langs=("nl", "en"),
            documents=("evaluation", "monitor", "summary"),
            engine="evalkit",
            progress=lambda msg: marks.append((msg, time.perf_counter())),
        )
        total = time.perf_counter() - start
        html_bytes = sum(p.stat().st_size for p in written if p.suffix == ".html")
    steps = {
        msg: round((marks[i + 1][1] if i + 1 < len(marks) else start + total) - t, 2)
        for i, (msg, t) in enumerate(marks)
    }
    figures = {
        "evaluation_nl_fresh_kernel_s": round(single, 2),
        "six_documents_one_kernel_s": round(total, 2),
        "per_step_s": steps,
        "html_bytes_total": html_bytes,
    }
    for key, value in figures.items():
        print(f"{key}: {value}")
    return figures


if __name__ == "__main__":
    main()

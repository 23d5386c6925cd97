"""Incremental runs: a bundle is up to date only while nothing it was computed from changed."""

from __future__ import annotations

from pathlib import Path

from evalkit.pipeline.fingerprint import analysis_fingerprint, is_up_to_date, record_fingerprint


def _protocol(tmp_path: Path) -> Path:
    data = tmp_path / "panel.csv"
    data.write_text("a;b\n1;2\n", encoding="utf-8")
    protocol = tmp_path / "p.yaml"
    protocol.write_text(
        f"id: p\ndata_sources:\n  - kind: outcome_panel\n    files: [{data}]\n", encoding="utf-8"
    )
    return protocol


def test_fingerprint_follows_protocol_lock_and_data(tmp_path: Path) -> None:
    protocol = _protocol(tmp_path)
    bundle = tmp_path / "build" / "results.json"
    bundle.parent.mkdir()
    first = analysis_fingerprint(protocol)
    assert not is_up_to_date(bundle, first)  # no bundle yet
    bundle.write_text("{}", encoding="utf-8")
    record_fingerprint(bundle, first)
    assert is_up_to_date(bundle, analysis_fingerprint(protocol))

    (tmp_path / "panel.csv").write_text("a;b\n1;3\n", encoding="utf-8")
    assert not is_up_to_date(bundle, analysis_fingerprint(protocol))
    record_fingerprint(bundle, analysis_fingerprint(protocol))
    protocol.with_name("p.yaml.lock.json").write_text("{}", encoding="utf-8")
    assert not is_up_to_date(bundle, analysis_fingerprint(protocol))
    record_fingerprint(bundle, analysis_fingerprint(protocol))
    protocol.write_text(protocol.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    assert not is_up_to_date(bundle, analysis_fingerprint(protocol))


def test_fingerprint_covers_the_code() -> None:
    fingerprint = analysis_fingerprint(
        Path(__file__).resolve().parents[1] / "protocols" / "demo.yaml"
    )
    assert len(fingerprint["code"]) == 64 and len(fingerprint["schemas"]) == 64


def test_render_stamps_are_kept_per_document_set(tmp_path: Path) -> None:
    from evalkit.pipeline.fingerprint import record_render, render_fingerprint, render_is_up_to_date

    bundle = tmp_path / "results.json"
    bundle.write_text("{}", encoding="utf-8")
    qmds = tmp_path / "reports"
    qmds.mkdir()
    (qmds / "evaluation.qmd").write_text("# x\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    html = out / "p.html"
    html.write_text("<html></html>", encoding="utf-8")
    report = render_fingerprint(bundle, qmds, ["nl"], ["evaluation"])
    monitor = render_fingerprint(bundle, qmds, ["nl"], ["monitor"])
    assert not render_is_up_to_date(out, "p", report, [html])
    record_render(out, "p", report)
    record_render(out, "p", monitor)  # rendering the monitor keeps the report's stamp
    assert render_is_up_to_date(out, "p", report, [html])
    assert not render_is_up_to_date(out, "p", report, [html, out / "missing.html"])
    (qmds / "evaluation.qmd").write_text("# changed\n", encoding="utf-8")
    assert not render_is_up_to_date(
        out, "p", render_fingerprint(bundle, qmds, ["nl"], ["evaluation"]), [html]
    )

"""Render a ``.qmd`` to one self-contained HTML file.

With ``quarto`` on PATH, ``quarto render`` does the work. Otherwise evalkit's own
engine: parse the ``.qmd``, inject the parameters after the cell tagged
``parameters`` (the papermill/Quarto convention), execute the code in a Jupyter
kernel (nbclient), write pandoc markdown with the outputs, and convert it with
pandoc (``pypandoc-binary``) to a standalone HTML file with every resource
embedded. Same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import nbformat

from evalkit.errors import ReportError
from evalkit.report._kernel import KernelSession, execute_notebook
from evalkit.report._template import CSS, TEMPLATE
from evalkit.report.escape import md_unescape
from evalkit.report.qmd import Cell, QmdDocument, parse_qmd

__all__ = ["Engine", "KernelSession", "qmd_to_markdown", "render_qmd"]

Engine = Literal["auto", "quarto", "evalkit"]
_ENGINES = ("auto", "quarto", "evalkit")

_PREFIX = {
    "fig": {"nl": "Figuur", "en": "Figure"},
    "tbl": {"nl": "Tabel", "en": "Table"},
}
_REF = re.compile(r"(?<![\w@])@(?P<label>(?:fig|tbl)-[A-Za-z0-9_-]+)")


def render_qmd(
    qmd: Path,
    out_html: Path,
    params: Mapping[str, Any],
    *,
    engine: Engine = "auto",
    session: KernelSession | None = None,
) -> Path:
    """Render one Quarto document to a self-contained HTML file.

    Parameters
    ----------
    qmd : Path
        The ``.qmd`` document.
    out_html : Path
        Where to write the HTML file (its folder is created).
    params : Mapping
        Parameters injected after the cell tagged ``parameters``; values must be
        JSON-like (str, int, float, bool, None, lists and dicts of those).
        ``lang`` also sets the document language.
    engine : {"auto", "quarto", "evalkit"}
        ``auto`` uses ``quarto`` when it is on PATH, else evalkit's engine.
    session : KernelSession, optional
        A running kernel to reuse (evalkit's engine only); default: a fresh kernel.

    Returns
    -------
    Path
        ``out_html``.

    Raises
    ------
    ReportError
        When the document cannot be parsed, a cell fails, or pandoc/quarto fails.
    """
    if engine not in _ENGINES:
        raise ReportError(f"engine {engine!r} is not allowed; use one of {', '.join(_ENGINES)}")
    qmd, out_html = Path(qmd), Path(out_html)
    if not qmd.is_file():
        raise ReportError(f"report document not found: {qmd}")
    out_html.parent.mkdir(parents=True, exist_ok=True)
    if engine == "quarto" or (engine == "auto" and shutil.which("quarto")):
        return _render_with_quarto(qmd, out_html, params)
    doc = parse_qmd(qmd.read_text(encoding="utf-8"), qmd)
    lang = str(params.get("lang", doc.front_matter.get("lang", "nl")))
    with tempfile.TemporaryDirectory(prefix="evalkit-render-") as tmp:
        work = Path(tmp)
        markdown = qmd_to_markdown(doc, params, work, lang=lang, session=session)
        _pandoc(markdown, out_html, work, lang=lang, title=_title(doc, markdown))
    return out_html


# ---------------------------------------------------------------- quarto path


def _render_with_quarto(qmd: Path, out_html: Path, params: Mapping[str, Any]) -> Path:
    quarto = shutil.which("quarto") or "quarto"
    with tempfile.TemporaryDirectory(prefix="evalkit-quarto-") as tmp:
        copy = Path(tmp) / qmd.name
        shutil.copyfile(qmd, copy)
        cmd = [
            quarto,
            "render",
            str(copy),
            "--to",
            "html",
            "--output",
            out_html.name,
            "-M",
            "embed-resources:true",
        ]
        if "lang" in params:
            cmd += ["-M", f"lang:{params['lang']}"]
        for key, value in sorted(params.items()):
            cmd += ["-P", f"{key}:{value if isinstance(value, str) else json.dumps(value)}"]
        env = {**os.environ, "QUARTO_PYTHON": sys.executable}  # the venv with evalkit in it
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False, env=env)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise ReportError(f"quarto render {qmd.name} failed:\n{tail}")
        shutil.move(str(Path(tmp) / out_html.name), out_html)
    return out_html


# ---------------------------------------------------------------- own engine


def _param_source(params: Mapping[str, Any]) -> str:
    lines = ["# injected parameters"]
    for key in sorted(params):
        if not key.isidentifier():
            raise ReportError(f"parameter name {key!r} is not a Python identifier")
        value = params[key]
        if isinstance(value, Path):
            value = str(value)
        try:
            json.dumps(value)
        except TypeError as exc:
            raise ReportError(
                f"parameter {key!r} must be JSON-like, got {type(value).__name__}"
            ) from exc
        lines.append(f"{key} = {value!r}")
    return "\n".join(lines)


def _is_tagged_parameters(cell: Cell) -> bool:
    tags = cell.options.get("tags", [])
    return "parameters" in (tags if isinstance(tags, list) else [tags])


def _option(cell: Cell, doc: QmdDocument, name: str, default: Any) -> Any:
    if name in cell.options:
        return cell.options[name]
    execute = doc.front_matter.get("execute", {}) or {}
    return execute.get(name, default)


def _where(doc: QmdDocument, cell: Cell) -> str:
    label = cell.options.get("label")
    name = doc.path.name if doc.path else "qmd"
    return (
        f"cell '{label}' ({name}, line {cell.line})"
        if label
        else f"cell at {name}, line {cell.line}"
    )


def build_notebook(
    doc: QmdDocument, params: Mapping[str, Any]
) -> tuple[nbformat.NotebookNode, list[int | None]]:
    """Turn the code cells of ``doc`` into a notebook with the parameters injected.

    Returns the notebook and, per document cell, the index of its notebook cell
    (``None`` for markdown cells and cells with ``eval: false``).
    """
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    index: list[int | None] = []
    injected = False
    tagged = any(c.kind == "code" and _is_tagged_parameters(c) for c in doc.cells)
    if not tagged and params:
        nb.cells.append(nbformat.v4.new_code_cell(_param_source(params)))
        injected = True
    for cell in doc.cells:
        if cell.kind != "code" or not _option(cell, doc, "eval", True):
            index.append(None)
            continue
        code = nbformat.v4.new_code_cell(cell.source)
        code.metadata["evalkit"] = {"where": _where(doc, cell)}
        index.append(len(nb.cells))
        nb.cells.append(code)
        if _is_tagged_parameters(cell) and not injected:
            nb.cells.append(nbformat.v4.new_code_cell(_param_source(params)))
            injected = True
    for i, cell in enumerate(nb.cells):  # deterministic ids: no random uuids in the notebook
        cell["id"] = f"cell-{i:03d}"
    return nb, index


def qmd_to_markdown(
    doc: QmdDocument,
    params: Mapping[str, Any],
    work: Path,
    *,
    lang: str = "nl",
    session: KernelSession | None = None,
) -> str:
    """Execute ``doc`` and return pandoc markdown with the outputs; images go to ``work``.

    Figure and table captions are numbered ("Figuur 1: ..."), and ``@fig-x`` /
    ``@tbl-x`` references are replaced by links to them.
    """
    nb, index = build_notebook(doc, params)
    name = doc.path.name if doc.path else "qmd"
    executed = execute_notebook(nb, work, where=name, session=session) if nb.cells else nb
    numbers: dict[str, str] = {}
    counters = {"fig": 0, "tbl": 0}
    parts: list[str] = []
    for cell, nb_index in zip(doc.cells, index, strict=True):
        if cell.kind == "markdown":
            parts.append(cell.source)
            continue
        if not _option(cell, doc, "include", True):
            continue
        if _option(cell, doc, "echo", True):
            parts.append(f"```python\n{cell.source}\n```")
        if nb_index is None or _option(cell, doc, "output", True) is False:
            continue
        outputs = executed.cells[nb_index].get("outputs", [])
        parts.extend(_cell_outputs(cell, doc, outputs, work, numbers, counters, lang))
    text = "\n\n".join(p for p in parts if p.strip()) + "\n"
    return _resolve_refs(text, numbers, name)


def _prefix(kind: str, lang: str) -> str:
    return _PREFIX[kind].get(lang, _PREFIX[kind]["en"])


def _cell_outputs(
    cell: Cell,
    doc: QmdDocument,
    outputs: list[Any],
    work: Path,
    numbers: dict[str, str],
    counters: dict[str, int],
    lang: str,
) -> list[str]:
    asis = _option(cell, doc, "output", True) == "asis"
    show_warnings = _option(cell, doc, "warning", True)
    label = str(cell.options.get("label", ""))
    fig_cap = cell.options.get("fig-cap")
    tbl_cap = cell.options.get("tbl-cap")
    fig_alt = cell.options.get("fig-alt")
    parts: list[str] = []
    first_image, first_table = True, True
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            if out.get("name") == "stderr" and not show_warnings:
                continue
            text = out.get("text", "")
            parts.append(text if asis else f"```\n{text.rstrip()}\n```")
            continue
        if kind not in ("display_data", "execute_result"):
            continue
        data = out.get("data", {})
        if "image/png" in data or "image/svg+xml" in data:
            ext = "png" if "image/png" in data else "svg"
            if fig_cap and first_image:
                counters["fig"] += 1
            file = work / f"image-{len(list(work.glob('image-*'))) + 1:03d}.{ext}"
            if ext == "png":
                file.write_bytes(base64.b64decode(data["image/png"]))
            else:
                svg = data["image/svg+xml"]
                file.write_text(svg if isinstance(svg, str) else "".join(svg), encoding="utf-8")
            if fig_cap:
                number = counters["fig"]
                if first_image and label.startswith("fig-"):
                    numbers[label] = f"{_prefix('fig', lang)} {number}"
                caption = f"{_prefix('fig', lang)} {number}: {fig_cap}"
                alt = str(fig_alt or fig_cap).replace('"', "'")
                ident = f"#{label} " if first_image and label.startswith("fig-") else ""
                parts.append(f'![{caption}]({file.name}){{{ident}fig-alt="{alt}"}}')
            else:
                alt = str(fig_alt or label or "figure").replace('"', "'")
                parts.append(f'![]({file.name}){{fig-alt="{alt}"}}\\')
            first_image = False
        elif "text/markdown" in data:
            md = data["text/markdown"]
            md = md if isinstance(md, str) else "".join(md)
            if tbl_cap and first_table and _looks_like_table(md):
                counters["tbl"] += 1
                tbl_number = f"{_prefix('tbl', lang)} {counters['tbl']}"
                ident = f" {{#{label}}}" if label.startswith("tbl-") else ""
                if label.startswith("tbl-"):
                    numbers[label] = tbl_number
                md = f"{md.rstrip()}\n\n: {tbl_number}: {tbl_cap}{ident}"
                first_table = False
            parts.append(md)
        elif "text/html" in data:
            html = data["text/html"]
            parts.append(
                "```{=html}\n" + (html if isinstance(html, str) else "".join(html)) + "\n```"
            )
        elif "text/plain" in data:
            text = data["text/plain"]
            text = text if isinstance(text, str) else "".join(text)
            parts.append(text if asis else f"```\n{text}\n```")
    return parts


def _looks_like_table(md: str) -> bool:
    return any(line.lstrip().startswith("|") for line in md.splitlines())


def _resolve_refs(text: str, numbers: Mapping[str, str], name: str) -> str:
    def replace(match: re.Match[str]) -> str:
        label = match.group("label")
        if label not in numbers:
            raise ReportError(f"{name}: cross-reference @{label} points to no figure or table")
        return f"[{numbers[label]}](#{label})"

    return _REF.sub(replace, text)


def _title(doc: QmdDocument, markdown: str) -> str:
    title = doc.front_matter.get("title")
    if title:
        return str(title)
    for line in markdown.splitlines():
        if line.startswith("# "):
            # the heading is markdown with outside text escaped; the page title is plain
            # text that pandoc escapes as HTML itself
            return md_unescape(re.sub(r"\s*\{[^}]*\}\s*$", "", line[2:]).strip())
    return doc.path.stem if doc.path else "report"


def _pandoc(markdown: str, out_html: Path, work: Path, *, lang: str, title: str) -> None:
    import pypandoc

    template = work / "evalkit-template.html"
    template.write_text(TEMPLATE.replace("$css$", CSS), encoding="utf-8")
    source = work / "document.md"
    source.write_text(markdown, encoding="utf-8")
    args = [
        "--standalone",
        "--embed-resources",
        f"--template={template}",
        f"--resource-path={work}",
        f"--metadata=lang:{lang}",
        f"--metadata=pagetitle:{title}",
        "--wrap=none",
        "--columns=100000",
    ]
    # Run the pandoc binary that pypandoc ships, with ``cwd=`` rather than
    # pypandoc.convert_file(cworkdir=...): that calls os.chdir, which changes the
    # working directory of the whole process while reports render in background
    # threads, so the main thread's relative paths (data/raw/...) broke at random.
    cmd = [
        pypandoc.get_pandoc_path(),
        str(source),
        "--from=markdown-smart",
        "--to=html5",
        f"--output={out_html.resolve()}",
        *args,
    ]
    try:
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip() or f"exit code {proc.returncode}")
    except (RuntimeError, OSError) as exc:
        raise ReportError(f"pandoc could not convert {out_html.name}: {exc}") from exc

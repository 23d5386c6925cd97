"""Parse a Quarto document (``.qmd``) into front matter, markdown and code cells.

Only the subset of Quarto that evalkit's reports use is understood: YAML front
matter, markdown text, and fenced ```` ```{python} ```` cells whose leading
``#|`` lines carry cell options (``echo``, ``eval``, ``output``, ``include``,
``label``, ``fig-cap``, ``fig-alt``, ``tbl-cap``, ``tags``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evalkit.errors import ReportError

__all__ = ["Cell", "QmdDocument", "parse_qmd"]

_FENCE_OPEN = re.compile(r"^(?P<fence>`{3,})\s*\{(?P<lang>[A-Za-z0-9_]+)(?P<rest>[^}]*)\}\s*$")
_OPTION = re.compile(r"^#\|\s?(?P<body>.*)$")


@dataclass(frozen=True)
class Cell:
    """One piece of a Quarto document.

    Attributes
    ----------
    kind : {"markdown", "code"}
        Markdown text or an executable code cell.
    source : str
        The text (for code: without the ``#|`` option lines).
    options : dict
        Cell options parsed from the ``#|`` lines (code cells only).
    line : int
        1-based line number where the cell starts in the ``.qmd``.
    """

    kind: str
    source: str
    options: dict[str, Any] = field(default_factory=dict)
    line: int = 1

    def __repr__(self) -> str:
        label = self.options.get("label", "")
        return f"Cell({self.kind}, line={self.line}, label={label!r})"


@dataclass(frozen=True)
class QmdDocument:
    """A parsed ``.qmd``: front matter and cells in document order."""

    front_matter: dict[str, Any]
    cells: tuple[Cell, ...]
    path: Path | None = None

    def __repr__(self) -> str:
        return f"QmdDocument({self.path}, cells={len(self.cells)})"


def _split_front_matter(lines: list[str], where: str) -> tuple[dict[str, Any], int]:
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            try:
                meta = yaml.safe_load("\n".join(lines[1:end])) or {}
            except yaml.YAMLError as exc:
                raise ReportError(f"{where}: front matter is not valid YAML: {exc}") from exc
            if not isinstance(meta, dict):
                raise ReportError(f"{where}: front matter must be a YAML mapping")
            return meta, end + 1
    raise ReportError(f"{where}: front matter opened with '---' on line 1 is never closed")


def _parse_options(option_lines: list[str], where: str, line: int) -> dict[str, Any]:
    if not option_lines:
        return {}
    try:
        options = yaml.safe_load("\n".join(option_lines)) or {}
    except yaml.YAMLError as exc:
        raise ReportError(
            f"{where}, line {line}: cell options ('#|') are not valid YAML: {exc}"
        ) from exc
    if not isinstance(options, dict):
        raise ReportError(f"{where}, line {line}: cell options must be 'key: value' lines")
    return options


def parse_qmd(text: str, path: Path | None = None) -> QmdDocument:
    """Parse the text of a ``.qmd`` document.

    Parameters
    ----------
    text : str
        The document text.
    path : Path, optional
        Where the text came from (used in error messages).

    Returns
    -------
    QmdDocument
        Front matter and cells.

    Raises
    ------
    ReportError
        When the front matter or a cell's options are not valid YAML, or a code
        fence is never closed.
    """
    where = str(path) if path else "<qmd>"
    lines = text.splitlines()
    meta, start = _split_front_matter(lines, where)
    cells: list[Cell] = []
    buffer: list[str] = []
    buffer_start = start + 1
    i = start
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if match is None:
            if not buffer:
                buffer_start = i + 1
            buffer.append(lines[i])
            i += 1
            continue
        if any(b.strip() for b in buffer):
            cells.append(Cell("markdown", "\n".join(buffer).strip("\n"), {}, buffer_start))
        buffer = []
        fence, lang, open_line = match.group("fence"), match.group("lang"), i + 1
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        if i >= len(lines):
            raise ReportError(f"{where}, line {open_line}: code cell '{{{lang}}}' is never closed")
        i += 1
        if lang != "python":
            raise ReportError(
                f"{where}, line {open_line}: code cell language '{lang}' is not supported "
                "(allowed: python)"
            )
        option_lines: list[str] = []
        while body and _OPTION.match(body[0]):
            option_lines.append(_OPTION.match(body.pop(0)).group("body"))  # type: ignore[union-attr]
        options = _parse_options(option_lines, where, open_line)
        cells.append(Cell("code", "\n".join(body).strip("\n"), options, open_line))
    if any(b.strip() for b in buffer):
        cells.append(Cell("markdown", "\n".join(buffer).strip("\n"), {}, buffer_start))
    return QmdDocument(meta, tuple(cells), path)

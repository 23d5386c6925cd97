"""The object a report document works with: the bundle, the language, numbering, output.

A ``.qmd`` creates one ``ReportContext`` from its parameters and prints the
markdown its section functions return (cells use ``output: asis``). Figures are
written as PNG files next to the document and referenced from the markdown, so
Quarto and evalkit's own engine embed them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from evalkit.errors import ReportError
from evalkit.report.bundle import read_bundle as load_bundle
from evalkit.report.disclosure import scrub
from evalkit.report.escape import md_escape, safe_name
from evalkit.report.figure_cache import FigureCache, figure_key
from evalkit.report.figures import png_bytes
from evalkit.report.formatting import check_lang
from evalkit.report.i18n import t
from evalkit.report.plan import SuppressionPlan, plan_for
from evalkit.report.plan_file import plan_of
from evalkit.report.tables import ReportTable
from evalkit.report.warning_text import warning_texts

__all__ = ["ReportContext", "load_bundle"]


class ReportContext:
    """Bundle + language + running numbers of figures and tables.

    Parameters
    ----------
    bundle : mapping
        The results bundle.
    lang : str
        ``nl`` or ``en``.
    figure_dir : Path
        Where figure PNGs are written (the kernel's working directory).
    collect_only : bool
        True when only the tables are wanted (for the CSV/XLSX exports): tables are
        gathered but not laid out as HTML, and figures are neither built nor drawn.
    plan : SuppressionPlan, optional
        The release's suppression plan when it is at hand (read from its file, see
        :mod:`evalkit.report.plan_file`); default: made from the bundle on first use.
    figure_cache : FigureCache, optional
        Where figures drawn earlier in the run are kept (see
        :mod:`evalkit.report.figure_cache`); default: none, every figure is drawn.
    """

    def __init__(
        self,
        bundle: Mapping[str, Any],
        lang: str = "nl",
        figure_dir: Path | str = ".",
        *,
        collect_only: bool = False,
        plan: SuppressionPlan | None = None,
        figure_cache: FigureCache | None = None,
    ) -> None:
        self.bundle = bundle
        self.figure_cache = figure_cache
        self.collect_only = collect_only
        self.lang = check_lang(lang)
        self.figure_dir = Path(figure_dir)
        self.tables: list[ReportTable] = []
        self.n_suppressed = 0
        self._fig_numbers: dict[str, int] = {}
        self._tbl_count = 0
        self.max_rows = 40
        self._plan: SuppressionPlan | None = plan
        self._shown: dict[str, Any] | None = None

    @classmethod
    def load(cls, bundle_path: Path | str, lang: str = "nl") -> ReportContext:
        """Load the bundle at ``bundle_path`` for a report in ``lang``.

        The suppression plan saved beside the bundle is used when it was made from
        this very bundle and the build's earlier releases (see
        :mod:`evalkit.report.plan_file`); else it is made here, against them.
        Inside ``evalkit run`` the run's figure folder is used (see
        :mod:`evalkit.report.figure_cache`).
        """
        ctx = cls(load_bundle(bundle_path), lang, figure_cache=FigureCache.from_environment())
        ctx._plan = plan_of(bundle_path, dict(ctx.bundle), ctx.threshold)
        return ctx

    def __repr__(self) -> str:
        return f"ReportContext({self.bundle.get('protocol_id')!r}, lang={self.lang!r})"

    # ------------------------------------------------------------ bundle access
    def get(self, dotted: str, default: Any = None) -> Any:
        """Return a bundle part by dotted path (``"robustness.placebo"``), or ``default``."""
        node: Any = self.bundle
        for key in dotted.split("."):
            if not isinstance(node, Mapping) or key not in node or node[key] is None:
                return default
            node = node[key]
        return node

    @property
    def threshold(self) -> int:
        """Disclosure threshold: bundle ``settings``, else the protocol's, else 10."""
        value = (
            self.get("settings.disclosure_threshold")
            or self.get("protocol.reporting.disclosure_threshold")
            or 10
        )
        return int(value)

    @property
    def plan(self) -> SuppressionPlan:
        """The release's suppression plan (a pure function of the bundle, made once here)."""
        if self._plan is None:
            self._plan = plan_for(self.bundle, self.threshold)
        return self._plan

    @property
    def shown(self) -> dict[str, Any]:
        """The bundle as the release shows it: every hidden cell ``None`` (for figures).

        :meth:`SuppressionPlan.masked` of the bundle, made once here: several sections
        of a document draw from it.
        """
        if self._shown is None:
            self._shown = self.plan.masked(self.bundle)
        return self._shown

    def text(self, value: Any) -> str:
        """Return a ``{nl, en}`` mapping (or plain value) as text in the report language."""
        if isinstance(value, Mapping):
            value = value.get(self.lang) or value.get("en") or next(iter(value.values()), "")
        return scrub("" if value is None else str(value))

    def md(self, value: Any) -> str:
        """Return outside text (protocol, data) for markdown: shown as text, never markup."""
        return md_escape(self.text(value))

    def md_outcome(self, outcome: str) -> str:
        """Return an outcome's label for markdown prose (see :meth:`md`)."""
        return md_escape(self.outcome_label(outcome))

    def estimator_warnings(self, result: Mapping[str, Any] | None) -> list[str]:
        """Return an estimate's warnings in the report language (from ``warning_codes``).

        A warning without a code is shown as the estimator's English text.
        """
        result = result or {}
        return warning_texts(result.get("warnings"), result.get("warning_codes"), self.lang)

    def outcome_label(self, outcome: str) -> str:
        """Return the localised label of an outcome id (from the protocol), else the id."""
        for o in self.get("protocol.outcomes", []) or []:
            if isinstance(o, Mapping) and o.get("id") == outcome:
                return self.text(o.get("label", outcome))
        for e in self.get("confirmatory.effects", []) or []:
            if e.get("outcome") == outcome and e.get("label"):
                return self.text(e["label"])
        return str(outcome)

    def t(self, key: str, **values: Any) -> str:
        """Translate ``key`` into the report language."""
        return t(key, self.lang, **values)

    # ------------------------------------------------------------ output pieces
    def heading(self, key: str, level: int = 2, ident: str | None = None) -> str:
        """Return a localised markdown heading with a stable id."""
        anchor = ident or key.split(".", 1)[-1].replace("_", "-")
        return f"{'#' * level} {self.t(key)} {{#{anchor}}}"

    def not_available(self) -> str:
        """Return the sentence shown where the bundle lacks a part.

        A national bundle (``settings.scope``) lacks by design what ``evalkit national``
        does not compute; its documents say so instead of "not available".
        """
        if self.get("settings.scope") == "national":
            return self.t("s.not_computed_national")
        return self.t("s.not_available")

    def table(self, table: ReportTable | None, columns: Sequence[str] | None = None) -> str:
        """Markdown for a numbered, captioned table; the "not available" sentence for ``None``.

        Parameters
        ----------
        table : ReportTable or None
            The table; the exports get all its columns.
        columns : sequence of str, optional
            The columns the document shows (default all), see ``ReportTable.for_document``.
        """
        if table is None:
            return self.not_available()
        self._tbl_count += 1
        self.tables.append(table)  # exports keep every column, remarks included
        self.n_suppressed += table.n_suppressed
        if self.collect_only:
            return f"<!-- table {table.name} -->"
        shown, remarks = table.for_document(columns)
        prefix = "Tabel" if self.lang == "nl" else "Table"
        html = shown.to_html(
            f"{prefix} {self._tbl_count}: {table.caption}", f"table-{table.name}", self.max_rows
        )
        n_rows = len(table.protected.values)
        if remarks:  # below the table, once each; outside text, so escaped as HTML text
            intro = self.t("s.table_notes", table=f"{prefix.lower()} {self._tbl_count}")
            items = "".join(f"<li>{escape(r, quote=False)}</li>" for r in remarks)
            html += (
                f'\n<div class="table-notes"><p>{escape(intro, quote=False)}</p>'
                f"<ol>{items}</ol></div>"
            )
        note = ""
        if n_rows > self.max_rows:
            note += "\n\n" + self.t(
                "s.rows_cut", shown=self.max_rows, total=n_rows, file=f"{table.name}.csv"
            )
        # a line of backticks in outside text (a caption, a cell) would end the raw block
        # and let what follows be read as markdown: a backtick is written as its entity
        html = html.replace("`", "&#96;")
        return f"```{{=html}}\n{html}\n```{note}"

    def fig_ref(self, name: str) -> str:
        """Return a link to figure ``name`` ("Figuur 2"), numbered in order of first mention."""
        name = safe_name(name, "figure")
        number = self._fig_numbers.setdefault(name, len(self._fig_numbers) + 1)
        prefix = "Figuur" if self.lang == "nl" else "Figure"
        return f"[{prefix} {number}](#figure-{name})"

    def figure(
        self,
        plot: object | Callable[[], object],
        name: str,
        caption: str,
        *,
        width: float = 7.5,
        height: float = 4.0,
        drawn_from: Any = None,
    ) -> str:
        """Write a figure as PNG and return markdown for a numbered ``<figure>`` with caption.

        Parameters
        ----------
        plot : plotnine.ggplot, matplotlib.figure.Figure or callable
            The figure, or a function without arguments that builds it: called only
            when the figure is drawn, so that collecting the tables for the exports
            (``collect_only``) builds no plots (about a third of that work).
        name, caption : str
            The figure's name (file and anchor) and its caption.
        width, height : float
            Size in inches.
        drawn_from : object, optional
            Everything the figure is drawn from besides its name and size (data, labels,
            language; see :func:`~evalkit.report.figure_cache.figure_key`): a figure
            with the same name, size and inputs drawn earlier in the run is taken from
            the run's figure cache instead of drawn again; for inputs several figures share,
            their :func:`~evalkit.report.figure_cache.inputs_digest`. Default: always drawn.
        """
        name = safe_name(name, "figure")  # names may hold protocol text (a norm's name)
        number = self._fig_numbers.setdefault(name, len(self._fig_numbers) + 1)
        prefix = "Figuur" if self.lang == "nl" else "Figure"
        file = self.figure_dir / f"figure-{name}.png"
        if self.collect_only:
            return f"<!-- figure {name} -->"
        try:
            file.write_bytes(self._png(plot, name, width, height, drawn_from))
        except OSError as exc:
            raise ReportError(f"cannot write figure {file}: {exc}") from exc
        # the caption is markdown (and the image's alt text): outside text in it stays text
        cap = md_escape(f"{prefix} {number}: {caption}")
        return f"![{cap}]({file.name}){{#figure-{name}}}"

    def _png(
        self,
        plot: object | Callable[[], object],
        name: str,
        width: float,
        height: float,
        drawn_from: Any,
    ) -> bytes:
        """Return a figure's PNG: from the run's figure cache when drawn there, else drawn."""
        cache = self.figure_cache
        key = None
        if cache is not None and drawn_from is not None:
            key = figure_key(name, width, height, drawn_from)
        if cache is not None and key is not None:
            png = cache.get(key)
            if png is not None:
                return png
        if callable(plot):  # a builder: neither a ggplot nor a matplotlib Figure is callable
            plot = plot()
        png = png_bytes(plot, width, height)
        if cache is not None and key is not None:
            cache.put(key, png)
        return png

    def show(self, *parts: str | None) -> None:
        """Print markdown parts separated by blank lines (cells use ``output: asis``)."""
        print("\n\n".join(p for p in parts if p) + "\n")

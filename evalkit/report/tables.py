"""Report tables built from bundle records: disclosure-controlled, localised, exportable.

Every builder takes records from the bundle and returns a ``ReportTable`` (or
``None`` when the bundle lacks the part). The same object gives the markdown
shown in the report and the raw values written to CSV/XLSX, so what an
evaluator downloads is what the report shows.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from html import escape
from typing import Any

import pandas as pd

from evalkit.report.cells import (
    Formatter,
    column_formatter,
    export_value,
    format_cell,
    is_share,
    pct_ci,
)
from evalkit.report.disclosure import Protected, protect
from evalkit.report.escape import safe_name
from evalkit.report.formatting import (
    fmt_ci,
    fmt_num,
    fmt_set,
    is_missing,
)
from evalkit.report.i18n import TEXT, label, t
from evalkit.report.plan import SuppressionPlan
from evalkit.report.verdict import conf_pieces
from evalkit.report.warning_text import warning_texts

__all__ = ["ReportTable", "make_table", "records_frame"]

#: Columns whose cells are names copied verbatim from the protocol or the data (a protocol
#: field, its old and new value, a column of the user's file): shown as code, not as prose.
_VERBATIM = frozenset({"field", "old", "new", "column", "rule"})
#: Cells of a verbatim column that are the report's own marks, not names.
_MARKS = frozenset({"\u2013", "\u2026", "\u03a3"})
#: Tables with more columns than this print in smaller type (class ``wide``).
_WIDE = 10


def records_frame(records: Any) -> pd.DataFrame | None:
    """Turn records (list of dicts) into a DataFrame; ``None`` when absent or empty."""
    if not records or not isinstance(records, list):
        return None
    return pd.DataFrame.from_records(records)


@dataclass(frozen=True)
class ReportTable:
    """One table of a report.

    Attributes
    ----------
    name : str
        File-safe name (CSV file and workbook sheet).
    caption : str
        Localised caption (without number).
    protected : Protected
        Raw values with disclosure status.
    columns : dict
        Raw column name -> localised header, in display order.
    formatters : dict
        Raw column name -> formatter for that column.
    threshold : int
        Disclosure threshold.
    lang : str
        Language of headers and numbers.
    verbatim_headers : frozenset of str
        Columns with no translation (an exploratory analysis's own columns): their
        header is the column's name, shown as code rather than guessed into words.
    row_digits : dict
        Raw column name -> decimals per row, for a column whose rows hold different
        quantities (a share beside a number of days): each row is written with its
        own decimals, where one column format would write a share 0.026 as "0.0".
    """

    name: str
    caption: str
    protected: Protected
    columns: dict[str, str]
    formatters: dict[str, Formatter] = field(default_factory=dict)
    threshold: int = 10
    lang: str = "nl"
    verbatim_headers: frozenset[str] = frozenset()
    row_digits: Mapping[str, Sequence[int]] = field(default_factory=dict)

    @property
    def n_suppressed(self) -> int:
        """Number of suppressed cells in the shown columns."""
        return int((self.protected.status[list(self.columns)] != "").to_numpy().sum())

    def display(self, max_rows: int | None = None) -> pd.DataFrame:
        """Return the table as shown: localised headers and formatted strings.

        Parameters
        ----------
        max_rows : int, optional
            Format only the first rows (a report shows the head of long tables).
        """
        rows = slice(None, max_rows)
        # one mark for every hidden cell: a separate mark for complementary cells would
        # tell that they hold 0 or at least the threshold (see ``plan.py``)
        suppressed = t("v.suppressed", self.lang)
        out: list[list[str]] = []
        for col in self.columns:
            fmt = self.formatters.get(col)
            # whole columns as lists: cell-by-cell .at lookups made long tables slow
            raws = self.protected.values[col].iloc[rows].tolist()
            marks = self.protected.status[col].iloc[rows].tolist()
            digits = list(self.row_digits.get(col, ()))[rows]
            cells = []
            for i, (raw, mark) in enumerate(zip(raws, marks, strict=True)):
                if mark:
                    cells.append(suppressed)
                elif digits and isinstance(raw, numbers.Real) and not is_missing(raw):
                    cells.append(fmt_num(raw, self.lang, digits[i]))
                else:
                    cells.append(fmt(raw, self.lang) if fmt else format_cell(col, raw, self.lang))
            out.append(cells)
        # positional: two columns may share a localised header
        return pd.DataFrame(
            list(zip(*out, strict=True)) if out and out[0] else [],
            columns=list(self.columns.values()),
        )

    def export(self) -> pd.DataFrame:
        """Values for CSV/XLSX: canonical column names, codes in words, hidden cells marked."""
        values = self.protected.values[list(self.columns)].copy().astype(object)
        status = self.protected.status[list(self.columns)]
        for col in values.columns:
            codes = col not in _VERBATIM  # a protocol field or data column stays as typed
            values[col] = [export_value(v, self.lang, codes) for v in values[col]]
        hidden = status != ""
        # most tables hide nothing: mask would only copy them
        return values.mask(hidden, "suppressed") if hidden.to_numpy().any() else values

    def to_markdown(self) -> str:
        """Return a pandoc pipe table (header cells become ``<th>``)."""
        frame = self.display()
        headers = [h.replace("|", "\\|") for h in frame.columns]
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        for row in frame.itertuples(index=False):
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
        return "\n".join(lines)

    def to_html(self, caption: str, ident: str, max_rows: int | None = None) -> str:
        """Return an HTML table with ``<caption>`` and ``<th>`` header cells.

        Parameters
        ----------
        caption : str
            Caption text (numbered by the caller).
        ident : str
            ``id`` of the table element.
        max_rows : int, optional
            Show only the first rows (the exports keep all).

        Returns
        -------
        str
            The table, with escaped cell text.
        """
        frame = self.display(max_rows)
        # numbers, and the row's note numbers, right-aligned and kept on one line
        numeric = [
            c == "notes" or pd.api.types.is_numeric_dtype(self.protected.values[c])
            for c in self.columns
        ]
        verbatim = [c in _VERBATIM for c in self.columns]

        def cell(text: Any, code: bool = False) -> str:
            # a path or a name with _ may break anywhere (class "token", print stylesheet)
            # rather than widen the table; ordinary words keep breaking at spaces only
            inner = f"<code>{escape(str(text))}</code>" if code else escape(str(text))
            token = "/" in str(text) or "_" in str(text)
            return f'<td class="token">{inner}</td>' if token else f"<td>{inner}</td>"

        # data-col: the export column a document column shows (tests compare the two)
        head = "".join(
            f'<th data-col="{escape(key)}"><code>{escape(str(h))}</code></th>'
            if key in self.verbatim_headers
            else f'<th data-col="{escape(key)}">{escape(str(h))}</th>'
            for key, h in zip(self.columns, frame.columns, strict=True)
        )
        rows = []
        for row in frame.itertuples(index=False):
            cells = "".join(
                f'<td class="num">{escape(str(c))}</td>'
                if num
                else cell(c, code and c not in _MARKS)
                for c, num, code in zip(row, numeric, verbatim, strict=True)
            )
            rows.append(f"<tr>{cells}</tr>")
        # many columns: the print stylesheet sets them smaller so the table fits A4
        wide = ' class="wide"' if len(self.columns) > _WIDE else ""
        return (
            f'<table id="{escape(ident)}"{wide}>\n<caption>{escape(caption)}</caption>\n'
            f"<thead>\n<tr>{head}</tr>\n</thead>\n<tbody>\n"
            + "\n".join(rows)
            + "\n</tbody>\n</table>"
        )

    def for_document(self, columns: Sequence[str] | None = None) -> tuple[ReportTable, list[str]]:
        """Return the table as the document shows it: one interval column, remarks below.

        The exports keep every column; the document joins ``conf_low``/``conf_high`` into
        one interval and states each remark once (:meth:`with_notes`), so that estimates
        stay on the screen and the table fits an A4 page.

        Parameters
        ----------
        columns : sequence of str, optional
            Show only these of the table's columns, in the table's order (default all).
        """
        table = self
        if columns is not None:
            keep = {c: h for c, h in self.columns.items() if c in set(columns)}
            table = replace(self, columns=keep or dict(self.columns))
        return table.with_interval().with_notes()

    def with_interval(self) -> ReportTable:
        """Join ``conf_low`` and ``conf_high`` into one ``ci`` column where the lower bound was."""
        if not {"conf_low", "conf_high"} <= set(self.columns) or "ci" in self.columns:
            return self
        values, status = self.protected.values, self.protected.status
        ends = pd.to_numeric(
            pd.concat([values["conf_low"], values["conf_high"]]), errors="coerce"
        ).abs()
        whole = 3 if ends.dropna().empty or float(ends.max()) < 10 else 1
        # rows of different quantities keep their own decimals (``row_digits``)
        digits = list(self.row_digits.get("conf_low", ())) or [whole] * len(values)
        # the interval of a share is written as the share is: in percentages
        shares = [c for c in self.columns if is_share(c)]
        point = [c for c in ("std_error", "estimate", "mean", "alpha") if c in self.columns]
        as_pct = bool(shares) and not point
        cells = [
            None
            if is_missing(lo) or is_missing(hi)
            else (pct_ci(lo, hi, self.lang) if as_pct else fmt_ci(lo, hi, self.lang, d))
            for lo, hi, d in zip(values["conf_low"], values["conf_high"], digits, strict=True)
        ]
        marks = [a or b for a, b in zip(status["conf_low"], status["conf_high"], strict=True)]
        if "conf_set" in values.columns and not as_pct:
            # a conformal set with gaps is shown as the union of its pieces, not its hull
            for i, (raw, d) in enumerate(zip(values["conf_set"], digits, strict=True)):
                pieces = conf_pieces({"conf_set": raw})
                if pieces and cells[i] is not None and not marks[i]:
                    cells[i] = fmt_set(pieces, self.lang, d)
        # right after the number it is the interval of
        after = (point or shares or ["conf_low"])[0]
        columns: dict[str, str] = {}
        for key, header in self.columns.items():
            if key not in ("conf_low", "conf_high"):
                columns[key] = header
            if key == after:
                columns["ci"] = t("col.ci", self.lang)
        protected = Protected(values.assign(ci=cells), status.assign(ci=marks))
        return replace(self, protected=protected, columns=columns)

    def with_notes(self, column: str = "warnings") -> tuple[ReportTable, list[str]]:
        """Move a column of remarks out of the rows: each remark once, rows refer to it.

        Wide tables with the same long warning in every row pushed the estimates off the
        screen and off the printed page; the remarks become a numbered list shown below
        the table, and a narrow ``notes`` column gives each row the numbers of its own.

        Parameters
        ----------
        column : str, default "warnings"
            The column of remarks (text, or a list of texts per row).

        Returns
        -------
        tuple of (ReportTable, list of str)
            The table without ``column`` (with ``notes`` instead when any row has a remark),
            and the distinct remarks in order of first appearance. The table unchanged and
            ``[]`` when it has no such column.
        """
        if column not in self.columns:
            return self, []
        texts: list[str] = []
        marks: list[str] = []
        for value in self.protected.values[column]:
            items = value if isinstance(value, list) else [value]
            numbers = []
            for item in items:
                if is_missing(item) or not isinstance(item, str):
                    continue
                if item not in texts:
                    texts.append(item)
                numbers.append(str(texts.index(item) + 1))
            marks.append(", ".join(numbers))
        columns = {k: v for k, v in self.columns.items() if k != column}
        if not texts:
            return replace(self, columns=columns), []
        values = self.protected.values.assign(notes=marks)
        status = self.protected.status.assign(notes="")
        columns["notes"] = t("col.notes", self.lang)
        return replace(self, protected=Protected(values, status), columns=columns), texts

    def __repr__(self) -> str:
        return f"ReportTable({self.name!r}, {len(self.protected.values)} rows)"


def make_table(
    name: str,
    caption: str,
    frame: pd.DataFrame | None,
    lang: str,
    threshold: int,
    *,
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    formatters: Mapping[str, Formatter] | None = None,
    plan: SuppressionPlan | None = None,
    source: str | None = None,
    status: pd.DataFrame | None = None,
    row_digits: Mapping[str, Sequence[int]] | None = None,
    **protect_args: Any,
) -> ReportTable | None:
    """Build a disclosure-controlled ``ReportTable`` from a frame of raw values.

    Parameters
    ----------
    name, caption : str
        File-safe name and localised caption.
    frame : pandas.DataFrame or None
        Raw values; ``None`` or empty gives ``None``.
    lang : str
        Report language.
    threshold : int
        Disclosure threshold.
    columns : sequence of str, optional
        Columns to show, in order (default: all).
    headers : mapping, optional
        Header overrides; other headers come from the translation table (``col.*``).
    formatters : mapping, optional
        Per-column formatters overriding :func:`format_cell`.
    plan, source : SuppressionPlan and str, optional
        The release's suppression plan and the bundle table the frame's rows come
        from (``"throughput.norms"``; the frame's index holds record positions).
        Together they decide what is hidden; ``protect_args`` are then not used.
    status : pandas.DataFrame, optional
        The plan's status of each cell of ``frame`` (same index and columns), for a
        table whose rows are not one bundle record each (records side by side).
    row_digits : mapping, optional
        Decimals per row of columns that mix quantities (see :class:`ReportTable`).
    **protect_args
        Without a plan, passed to :func:`evalkit.report.disclosure.protect` (tables
        that hold no counts of persons: ``count_columns=[]``).

    Returns
    -------
    ReportTable or None
    """
    if frame is None or frame.empty:
        return None
    frame = frame.copy()
    if "warning_codes" in frame.columns:  # estimator warnings in the report language
        if "warnings" in frame.columns:
            # a list per row: the report states each warning once, below the table
            # (``ReportTable.with_notes``); a cell joins them (exports, ``display``)
            frame["warnings"] = [
                warning_texts(w, c, lang)
                for w, c in zip(frame["warnings"], frame["warning_codes"], strict=True)
            ]
        frame = frame.drop(columns="warning_codes")
    for col, prefix in (
        ("group", "v"),
        ("period", "v"),
        ("interval", "code"),
        ("sub_process", "code"),
        ("test", "code"),
        ("type", "code"),
        ("control", "code"),
    ):
        if col in frame.columns:  # category codes in the report language
            frame[col] = [label(prefix, v, lang) if isinstance(v, str) else v for v in frame[col]]
    if columns is None:  # labels first, then numbers (bundle records may come key-sorted)
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        columns = [c for c in frame.columns if c not in numeric] + numeric
    cols = [c for c in columns if c in frame.columns]
    if status is None and plan is not None and source is not None:
        status = plan.status(source, frame)
    if status is not None:
        protected = Protected(frame.reset_index(drop=True), status.reset_index(drop=True))
    else:
        protected = protect(frame, threshold, **protect_args)
    header_map = {c: (headers or {}).get(c) or label("col", c, lang) for c in cols}
    unknown = frozenset(c for c in cols if not (headers or {}).get(c) and f"col.{c}" not in TEXT)
    header_map |= {c: c for c in unknown}
    per_column = {c: column_formatter(c, frame[c]) for c in cols}
    fmts = {c: f for c, f in per_column.items() if f is not None} | dict(formatters or {})
    return ReportTable(
        safe_name(name),
        caption,
        protected,
        header_map,
        fmts,
        threshold,
        lang,
        unknown,
        {c: tuple(d) for c, d in (row_digits or {}).items()},
    )

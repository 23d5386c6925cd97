"""A second hostile corpus: the cases an attacker tried after ``hostile_corpus`` held.

BSNs written the way other locales and programs write numbers (thousands commas,
non-breaking spaces, dashes, Dutch scientific notation), in labels and metadata of
typed files (SPSS and Stata value and variable labels, Parquet schema metadata, XLSX
sheet names, comments, inline strings and formula results), odd digits and dates, and
rows that make the readers work hard (an unbalanced quote over a long field). Each
file plants BSNs from its own block (``999 5xx xxx``), so a leak names its case.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import hostile_corpus as hc
import pandas as pd
from hostile_corpus import HEADER, Hostile, _bytes, _csv, _set, _text

BSN = hc.bsns(80, start=999_500_000)
LOST_ZERO = "012000012"  # elfproef-valid; written without its leading zero


def rows(n: int = 6) -> list[list[str]]:
    """Valid outcome-panel rows with this corpus's BSNs in the identifier column."""
    return [[BSN[i], *r[1:]] for i, r in enumerate(hc.rows(n))]


def _grouped(bsn: str, separator: str) -> str:
    """A BSN in three groups of three: ``999,500,012`` as an English spreadsheet shows it."""
    return separator.join((bsn[:3], bsn[3:6], bsn[6:]))


def _free(value: str) -> Callable[[Path], None]:
    """A valid CSV whose second row's free-text column (``schuldbronnen``) holds ``value``."""
    return _text(_csv(HEADER, _set(rows(), 1, 7, value)))


def _cell(col: int, value: str) -> Callable[[Path], None]:
    return _text(_csv(HEADER, _set(rows(), 2, col, value)))


def _scores() -> Callable[[Path], None]:
    """Questionnaire scores written as infinity and NaN (a range check and a mod that warned)."""
    from bad_corpus import make_bad

    body = make_bad.replace(make_bad.replace(make_bad.q_rows(), 0, 10, "inf"), 1, 8, "-inf")
    return _text(_csv(make_bad.Q_HEADER, make_bad.replace(body, 2, 9, "NaN")))


def _csv_cases() -> list[Hostile]:
    h, b = HEADER, rows()
    return [
        Hostile("a_unterminated_long_quote.csv", _text(_csv(h, b) + '"' + "z" * 140_000 + BSN[1])),
        Hostile("a_unicode_digit_dates.csv", _cell(1, "٠٥-٢٠٢٥")),
        Hostile(
            "a_arabic_digits_bsn_text.csv", _free("".join(chr(0x660 + int(c)) for c in BSN[3]))
        ),
        Hostile("a_utf16be_bom.csv", _bytes(("\ufeff" + _csv(h, b)).encode("utf-16-be"))),
        Hostile(
            "a_bom_sep_crlf.csv", _bytes(("\ufeffsep=;\r\n" + _csv(h, b, end="\r\n")).encode())
        ),
        Hostile("a_bom_only.csv", _bytes(b"\xef\xbb\xbf"), 1),
        Hostile("a_utf16_bom_only.csv", _bytes(b"\xff\xfe"), 1),
        Hostile("a_utf32.csv", _bytes(("\ufeff" + _csv(h, b)).encode("utf-32")), 1),
        Hostile("a_sep_line_only.csv", _text("sep=;\n"), 1),
        Hostile("a_nul_only.csv", _bytes(b"\x00" * 100), 1, "not a text file"),
        Hostile(
            "a_cr_crlf_lf.csv",
            _text(
                _csv(h, b[:2])
                + "\r".join(";".join(r) for r in b[2:4])
                + "\r"
                + "\r\n".join(";".join(r) for r in b[4:])
                + "\r\n"
            ),
        ),
        Hostile("a_float_bsn_in_age.csv", _cell(5, f"{BSN[4]}.0")),
        Hostile("a_lost_zero_in_age.csv", _cell(5, LOST_ZERO[1:])),
        Hostile("a_bsn_header.csv", _text(_csv([*h, f"opm {BSN[5]}"], [[*r, "x"] for r in b]))),
        Hostile("a_bsn_header_missing.csv", _text(_csv([f"x{BSN[6]}", *h[1:]], b)), 1),
        Hostile(f"a_name_newline\n;rm -rf $(x) `y` {BSN[7]}.csv", _text(_csv(h, b))),
        Hostile(
            "a_nan_inf.csv",
            _text(
                _csv(
                    [*h, "schuldbedrag", "aantal_schuldeisers"],
                    [
                        [*r, v, v]
                        for r, v in zip(
                            b, ["-0", "NaN", "inf", "-inf", "1e999", "-0,0"], strict=True
                        )
                    ],
                )
            ),
        ),
        Hostile("a_nan_inf_scores.csv", _scores(), kind="questionnaire"),
        Hostile("a_thousands_commas.csv", _free("nr " + _grouped(BSN[60], ","))),
        Hostile("a_nbsp.csv", _free(_grouped(BSN[61], "\u00a0"))),
        Hostile("a_en_dash.csv", _free(_grouped(BSN[63], "\u2013"))),
        Hostile("a_dutch_exponent.csv", _free(f"{BSN[65][0]},{BSN[65][1:]}E+08")),
        Hostile("a_exponent_in_code.csv", _cell(2, f"{BSN[66][0]},{BSN[66][1:]}E+08")),
        Hostile("a_commas_in_age.csv", _cell(5, _grouped(BSN[67], ","))),
        Hostile(_grouped(BSN[68], ",") + ".csv", _text(_csv(h, rows(4)))),
        Hostile("a_group_in_front.csv", _free("123." + _grouped(BSN[69], "."))),
        Hostile("a_group_in_front_code.csv", _cell(2, "123 " + _grouped(BSN[72], " "))),
        Hostile(
            "a_header_100k_columns.csv",
            _text(
                ";".join([*h, *(f"k{i}" for i in range(100_000))]) + "\n" + ";".join(b[0]) + "\n"
            ),
            1,
            "100,015 columns, more than a spreadsheet holds",
        ),
        Hostile("a_gzip.csv", _bytes(__import__("gzip").compress(_csv(h, b).encode())), 1),
    ]


def _frame(body: list[list[str]] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows() if body is None else body, columns=HEADER).astype(object)
    return frame.assign(leeftijd=19.0)


def _sav(frame: pd.DataFrame, **labels: object) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import pyreadstat

        pyreadstat.write_sav(frame, str(path), **labels)  # type: ignore[arg-type]

    return write


def _dta(frame: pd.DataFrame, **labels: object) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import pyreadstat

        pyreadstat.write_dta(frame, str(path), **labels)  # type: ignore[arg-type]

    return write


def _coded() -> pd.DataFrame:
    return _frame().assign(
        geslacht=[1.0, 2.0] * 3, problematische_schuld=[1.0, 0.0, 3.0, 0.0, 1.0, 0.0]
    )


def _labelled_cases() -> list[Hostile]:
    """BSNs in SPSS and Stata labels, names and long strings: none may reach an output."""
    value_labels = {
        "geslacht": {1.0: "M", 2.0: "V", 9.0: f"bsn {BSN[10]}"},
        "problematische_schuld": {1.0: "ja", 0.0: "nee", 3.0: f"zie {BSN[11]}"},
    }
    column_labels = {"schuldbronnen": f"bron {BSN[12]}", "bsn": f"bsn {BSN[13]}"}
    numeric = _frame().assign(
        bsn=[float(LOST_ZERO)] + [float(x) for x in BSN[1:6]],
        schuldbronnen=[float(BSN[14])] * 6,
        leeftijd=[float(BSN[15])] + [19.0] * 5,
    )
    missing = _frame().drop(columns=["geslacht"]).assign(**{f"v{BSN[16]}": "a"})
    return [
        Hostile("a_value_labels.sav", _sav(_coded(), variable_value_labels=value_labels)),
        Hostile("a_value_labels.dta", _dta(_coded(), variable_value_labels=value_labels)),
        Hostile(
            "a_var_labels.sav",
            _sav(_frame(), column_labels=column_labels, file_label=f"f {BSN[17]}"),
        ),
        Hostile(
            "a_var_labels.dta",
            _dta(_frame(), column_labels=column_labels, file_label=f"f {BSN[17]}"),
        ),
        Hostile("a_long_string.sav", _sav(_frame(_set(rows(), 1, 7, "q" * 30_000 + BSN[18])))),
        Hostile("a_bsn_name.sav", _sav(_frame().assign(**{f"x{BSN[19]}": "a"}))),
        Hostile("a_bsn_name_missing.sav", _sav(missing), 1),
        Hostile("a_bsn_name_missing.dta", _dta(missing), 1),
        Hostile("a_numeric_misplaced.sav", _sav(numeric)),
        Hostile("a_numeric_misplaced.dta", _dta(numeric)),
        Hostile("a_strl.dta", _strl),
    ]


def _strl(path: Path) -> None:
    frame = _frame(_set(rows(), 1, 7, "w" * 5000 + " " + BSN[20])).assign(leeftijd=19)
    frame.to_stata(
        path,
        write_index=False,
        version=117,
        convert_strl=["schuldbronnen"],
        data_label=f"d {BSN[21]}",
        variable_labels={"schuldbronnen": f"v {BSN[22]}"},
    )


def _parquet(table_of: Callable[[], object]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import pyarrow.parquet as pq

        pq.write_table(table_of(), path)  # type: ignore[arg-type]

    return write


def _table(frame: pd.DataFrame | None = None):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    return pa.Table.from_pandas(_frame() if frame is None else frame, preserve_index=False)


def _with_metadata():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    table = _table()
    meta = {
        **(table.schema.metadata or {}),
        b"note": f"bsn {BSN[23]}".encode(),
        BSN[24].encode(): b"v",
    }
    fields = [f.with_metadata({b"desc": f"veld {BSN[25]}".encode()}) for f in table.schema]
    return table.cast(pa.schema(fields, metadata=meta))


def _nested():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    table = _table().append_column("extra", pa.array([{"a": BSN[26], "b": [1, 2]}] * 6))
    return table.append_column("lst", pa.array([[BSN[27], "x"]] * 6))


def _decimal_and_dictionary():  # type: ignore[no-untyped-def]
    import decimal

    import pyarrow as pa

    table = _table()
    column = {name: i for i, name in enumerate(table.column_names)}
    bsn = pa.array([decimal.Decimal(r[0]) for r in rows()], type=pa.decimal128(9, 0))
    age = [decimal.Decimal("19.00")] * 5 + [decimal.Decimal(BSN[29])]
    table = table.set_column(column["bsn"], "bsn", bsn)
    table = table.set_column(
        column["leeftijd"], "leeftijd", pa.array(age, type=pa.decimal128(20, 2))
    )
    free = pa.array([f"d {BSN[30]}"] * 6).dictionary_encode()
    return table.set_column(column["schuldbronnen"], "schuldbronnen", free)


def _binary_free_text():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    table = _table()
    values = [f"b {BSN[31]}".encode(), b"\xff\xfe", None, b"", b"x", b"\x00" + BSN[32].encode()]
    i = table.column_names.index("schuldbronnen")
    return table.set_column(i, "schuldbronnen", pa.array(values, type=pa.binary()))


def _far_dates():  # type: ignore[no-untyped-def]
    import datetime as dt

    import pyarrow as pa

    table = _table()
    months = [dt.datetime(9999, 12, 1), dt.datetime(1, 1, 1)]
    months += [dt.datetime(2025, m, 1) for m in range(1, 5)]
    births = pa.array([dt.date(2005, 5, 1)] * 5 + [dt.date(1, 1, 1)], type=pa.date32())
    table = table.set_column(1, "maand", pa.array(months, type=pa.timestamp("us")))
    return table.set_column(3, "geboortemaand", births)


def _misplaced_numbers() -> pd.DataFrame:
    frame = _frame().assign(
        bsn=[float(LOST_ZERO)] + [float(x) for x in BSN[1:6]],
        schuldbronnen=[float(BSN[33])] * 6,
        leeftijd=[19] * 5 + [int(BSN[34])],
        maand=[int(BSN[35])] + [45658 + 31 * i for i in range(5)],
    )
    frame["gemeentecode"] = ["GM0363"] * 5 + [BSN[36]]
    return frame


def _parquet_cases() -> list[Hostile]:
    """BSNs in Parquet column names, schema metadata, nested, decimal and binary columns."""
    named = _frame().assign(**{f"c{BSN[37]}": "x"})
    missing = _frame().drop(columns=["geslacht"]).assign(**{f"c{BSN[38]}": "x"})
    odd = _frame().assign(
        leeftijd=[float("nan"), float("inf"), -0.0, 19.0, float("-inf"), 19.0],
        schuldbedrag=[float("nan"), float("inf"), -0.0, 1e308, float("-inf"), 5.0],
    )
    return [
        Hostile("a_bsn_name.parquet", lambda p: named.to_parquet(p, index=False)),
        Hostile("a_bsn_name_missing.parquet", lambda p: missing.to_parquet(p, index=False), 1),
        Hostile("a_metadata.parquet", _parquet(_with_metadata)),
        Hostile("a_nested.parquet", _parquet(_nested)),
        Hostile("a_decimal_dictionary.parquet", _parquet(_decimal_and_dictionary)),
        Hostile("a_binary_free_text.parquet", _parquet(_binary_free_text)),
        Hostile("a_far_dates.parquet", _parquet(_far_dates)),
        Hostile("a_misplaced_numbers.parquet", lambda p: _misplaced_numbers().to_parquet(p)),
        Hostile("a_nan_inf.parquet", lambda p: odd.to_parquet(p, index=False)),
        Hostile("a_csv_named.parquet", _text(_csv(HEADER, rows(5))), 1, "not a Parquet file"),
    ]


def _book(fill: Callable[[object], None]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import openpyxl

        book = openpyxl.Workbook()
        fill(book)
        book.save(path)

    return write


def _sheets(*names: str) -> Callable[[object], None]:
    def fill(book) -> None:  # type: ignore[no-untyped-def]
        sheet = book.active
        sheet.title = names[0]
        for r in [HEADER, *rows()]:
            sheet.append(r)
        for name in names[1:]:
            book.create_sheet(name).append(["a"])

    return fill


def _numbers(book) -> None:  # type: ignore[no-untyped-def]
    """BSNs typed as numbers (int and float) in the identifier, free text, code and age."""
    sheet = book.active
    sheet.append([*HEADER, "schuldbedrag"])
    for i, r in enumerate(rows()):
        r = [int(r[0]) if i != 1 else float(r[0]), *r[1:5], 19, *r[6:]]
        r[{2: 7, 3: 7, 4: 2, 5: 5}.get(i, 14)] = int(BSN[40 + i]) if i != 3 else float(BSN[43])
        sheet.append([*r, float(BSN[46]) if i == 0 else 12.5])
    sheet["P2"].number_format = "0.00E+00"


def _comments(book) -> None:  # type: ignore[no-untyped-def]
    from openpyxl.comments import Comment

    _sheets("Blad1")(book)
    book.active["H3"].comment = Comment(f"bsn {BSN[47]}", "auteur")
    book.active["A1"].comment = Comment(f"bsn {BSN[48]}", f"au {BSN[49]}")
    book.properties.title = f"t {BSN[50]}"


def _dates(book) -> None:  # type: ignore[no-untyped-def]
    """Date-formatted cells holding a BSN, a negative serial and one past 31-12-9999."""
    import datetime as dt

    sheet = book.active
    sheet.append(HEADER)
    for i, r in enumerate(rows()):
        sheet.append([r[0], dt.datetime(2025, 1 + i, 1), *r[2:]])
    for cell, value in (("B2", int(BSN[51])), ("D3", -5), ("D4", 2958466.5)):
        sheet[cell] = value
        sheet[cell].number_format = "dd-mm-yyyy"


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_RELS = f"{_PKG}/relationships"
_RELS_TYPE = "application/vnd.openxmlformats-package.relationships+xml"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _raw_xlsx(cells: list[list[str]], prolog: str = "") -> Callable[[Path], None]:
    """A workbook written part by part, cells as given (inline strings, formulas)."""

    def write(path: Path) -> None:
        body = "".join(
            f'<row r="{i}">'
            + "".join(c.replace("REF", f"{chr(65 + j)}{i}") for j, c in enumerate(r))
            + "</row>"
            for i, r in enumerate(cells, 1)
        )
        parts = {
            "[Content_Types].xml": f'<Types xmlns="{_PKG}/content-types">'
            f'<Default Extension="rels" ContentType="{_RELS_TYPE}"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPE}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_TYPE}.worksheet+xml"/>'
            "</Types>",
            "_rels/.rels": f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
            f'Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
            "xl/workbook.xml": f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC}"><sheets>'
            '<sheet name="Blad1" sheetId="1" r:id="rId1"/></sheets></workbook>',
            "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
            f'Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
            "xl/worksheets/sheet1.xml": f'{prolog}<worksheet xmlns="{_MAIN}"><sheetData>{body}'
            "</sheetData></worksheet>",
        }
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in parts.items():
                archive.writestr(name, text)

    return write


def _inline(value: str) -> str:
    return f'<c r="REF" t="inlineStr"><is><t>{value}</t></is></c>'


def _inline_and_formulas() -> list[list[str]]:
    """Inline strings, formula results (text and a number in exponent form), rich text runs."""
    out = [[_inline(c) for c in HEADER]]
    for i, r in enumerate(rows()):
        cells = [_inline(c) for c in r]
        x = BSN[52 + i]
        if i == 1:
            cells[7] = f'<c r="REF" t="str"><f>CONCAT("a","b")</f><v>dossier {x}</v></c>'
        elif i == 2:
            cells[7] = f'<c r="REF"><f>1+1</f><v>{x[0]}.{x[1:]}E8</v></c>'
        elif i == 3:
            cells[2] = f'<c r="REF"><v>{x[0]}.{x[1:]}E+8</v></c>'
        elif i == 4:
            cells[0] = f'<c r="REF"><v>{x[0]}.{x[1:]}E8</v></c>'
        elif i == 5:
            runs = f"<r><t>{x[:4]}</t></r><r><t>{x[4:]}</t></r>"
            cells[7] = f'<c r="REF" t="inlineStr"><is>{runs}</is></c>'
        out.append(cells)
    return out


# Entities that expand to 10**9 copies of "lol" ('billion laughs'), used in one cell.
_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)


def _laughs(error_cell: bool) -> Callable[[Path], None]:
    """A sheet whose DOCTYPE expands an entity a billion-fold (with an error cell: openpyxl)."""
    cells = [[_inline(c) for c in HEADER], *[[_inline(c) for c in r] for r in rows()]]
    cells[1][7] = _inline("&lol9;")
    if error_cell:
        cells[2][7] = '<c r="REF" t="e"><v>#N/A</v></c>'
    return _raw_xlsx(cells, _LAUGHS)


def _xlsx_cases() -> list[Hostile]:
    return [
        Hostile("a_sheet_name.xlsx", _book(_sheets(BSN[57], "Blad2"))),
        Hostile(
            "a_missing_sheet.xlsx",
            _book(_sheets("Blad1", f"A{BSN[58]}")),
            1,
            "sheets: Blad1, A[BSN]",
            sheet="Nope",
        ),
        Hostile("a_numbers.xlsx", _book(_numbers)),
        Hostile("a_comments.xlsx", _book(_comments)),
        Hostile("a_inline_formulas.xlsx", _raw_xlsx(_inline_and_formulas())),
        Hostile("a_date_cells.xlsx", _book(_dates)),
        Hostile("a_billion_laughs.xlsx", _laughs(error_cell=True), 1, "not a readable XLSX"),
        Hostile("a_billion_laughs_plain.xlsx", _laughs(error_cell=False), 1, "cannot be read"),
        Hostile("a_empty_zip.xlsx", lambda p: zipfile.ZipFile(p, "w").close(), 1, "not an XLSX"),
    ]


def build(folder: Path) -> list[Hostile]:
    """Write every case into ``folder`` (plus a FIFO, a folder and a dangling link)."""
    import os

    folder.mkdir(parents=True, exist_ok=True)
    cases = [*_csv_cases(), *_labelled_cases(), *_parquet_cases(), *_xlsx_cases()]
    for case in cases:
        case.write(folder / case.name)
    os.mkfifo(folder / "a_fifo.csv")
    (folder / "a_folder.csv").mkdir()
    os.symlink(folder / f"gone_{BSN[59]}.csv", folder / f"a_dangling_{BSN[59]}.csv")
    cases += [
        Hostile("a_fifo.csv", lambda p: None, 1, "not a file"),
        Hostile("a_folder.csv", lambda p: None, 1, "not a file"),
        Hostile(f"a_dangling_{BSN[59]}.csv", lambda p: None, 1, "file not found"),
    ]
    return cases

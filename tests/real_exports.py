"""Exports as Dutch municipalities and schools send them, for the ingest to hold against.

Not hostile, just real: a title merged over the table and a header over two rows, a
totals line ("Totaal") under the data, the table on a second sheet behind a sheet of
notes, hidden columns, a date column that is text in one part and dates in another,
Excel's semicolon CSV (Windows-1252, or UTF-8 with BOM, CRLF, empty ``;;;`` lines),
SPSS and Stata files with value labels, and a panel with only the debt columns. Each
file says how many rows it holds and how many a careful reader accepts. BSNs come from
their own block (``999 7xx xxx``) plus the two usual test numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from bad_corpus import make_bad

BSN = ["999999990", "999434809", *make_bad.valid_bsns(20, start=999_700_000)]
HEADER = make_bad.PANEL_HEADER
FLAGS = ["ja", "nee", "nee", "nee", "geen", "nee", "nee", "nee"]


@dataclass(frozen=True)
class Real:
    """One export: its name, writer, kind, CLI arguments and what a careful reader gets."""

    name: str
    write: Callable[[Path], None]
    rows: int
    accepted: int
    kind: str = "outcome_panel"
    args: tuple[str, ...] = ()
    exit: int = 0
    says: str = ""
    rules: frozenset[str] = field(default_factory=frozenset)


def rows(n: int = 6) -> list[list[object]]:
    """Valid panel rows as text cells: January to n of 2025, one person each."""
    return [
        [
            BSN[i],
            f"01-{1 + i:02d}-2025",
            "GM0344",
            "01-05-2005",
            "V" if i % 2 else "M",
            "19",
            "ja" if i % 3 == 0 else "nee",
            f"{1250.5 * (i % 3):.2f}".replace(".", ","),
            *FLAGS,
        ]
        for i in range(n)
    ]


def _typed(body: list[list[object]]) -> list[list[object]]:
    """Rows as Excel holds them: months and birth months as dates, age and amount as numbers."""
    out = []
    for r in body:
        month = dt.datetime.strptime(str(r[1]), "%d-%m-%Y")
        born = dt.datetime.strptime(str(r[3]), "%d-%m-%Y")
        amount = float(str(r[7]).replace(",", "."))
        out.append([int(str(r[0])), month, r[2], born, r[4], 19, r[6], amount, *r[8:]])
    return out


def _book(fill: Callable[[object], None]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import openpyxl

        book = openpyxl.Workbook()
        fill(book)
        book.save(path)

    return write


def _merged_and_totals(book) -> None:  # type: ignore[no-untyped-def]
    """Title merged over the table, a header over two rows (groups merged), a Totaal line."""
    ws = book.active
    ws.title = "Monitor"
    ws.append(["Monitor jongeren met schulden, gemeente Utrecht, peildatum 01-07-2025"])
    ws.merge_cells("A1:P1")
    ws.append(["Persoon", None, None, None, None, None, "Schulden", None, "Onderwijs en werk"])
    ws.merge_cells("A2:F2")
    ws.merge_cells("G2:H2")
    ws.merge_cells("I2:P2")
    ws.append(HEADER)
    body = _typed(rows())
    for r in body:
        ws.append(r)
    for cell in ws["B"][3:] + ws["D"][3:]:
        cell.number_format = "mmm-yy"
    ws.append([])
    ws.append(["Totaal", None, None, None, None, None, None, sum(r[7] for r in body)])


def _two_row_header(book) -> None:  # type: ignore[no-untyped-def]
    """A header over two rows: each column merged over both, 'Schulden' over its two."""
    from openpyxl.utils import get_column_letter

    ws = book.active
    top = [None if i in (6, 7) else h for i, h in enumerate(HEADER)]
    top[6] = "Schulden"
    ws.append(top)
    ws.append([None] * 6 + HEADER[6:8] + [None] * 8)
    for i in range(len(HEADER)):
        if i not in (6, 7):
            ws.merge_cells(f"{get_column_letter(i + 1)}1:{get_column_letter(i + 1)}2")
    ws.merge_cells("G1:H1")
    for r in _typed(rows()):
        ws.append(r)


def _merged_municipality(book) -> None:  # type: ignore[no-untyped-def]
    """One municipality merged down over the six people of its block, BSNs as numbers."""
    ws = book.active
    ws.append(HEADER)
    for r in _typed(rows()):
        ws.append(r)
    ws.merge_cells("C2:C7")
    for cell in ws["A"][1:]:
        cell.number_format = "000000000"


def _second_sheet(book) -> None:  # type: ignore[no-untyped-def]
    """A sheet of notes first (with the contact's phone number), the table on 'Data'."""
    notes = book.active
    notes.title = "Toelichting"
    notes.append(["Toelichting bij de levering"])
    notes.append(["Bron: Suite4Sociaal Domein, export 02-07-2025"])
    notes.append(["Vragen: team Schulddienstverlening, 030 286 00 00"])
    data = book.create_sheet("Data")
    data.append(HEADER)
    for r in _typed(rows()):
        data.append(r)


def _hidden_columns(book) -> None:  # type: ignore[no-untyped-def]
    """Columns the user hid before export: a name, a street and the casemanager."""
    ws = book.active
    ws.append(["Naam", *HEADER[:3], "Straat", *HEADER[3:], "Casemanager"])
    for i, r in enumerate(_typed(rows())):
        ws.append([f"Jongere {i}", *r[:3], f"Oudegracht {i + 1}", *r[3:], f"cm {BSN[10 + i]}"])
    for column in ("A", "E", "T"):
        ws.column_dimensions[column].hidden = True


def _mixed_dates(book) -> None:  # type: ignore[no-untyped-def]
    """Months as date cells in the first rows, as text ('01-04-2025', '05-2025') below."""
    ws = book.active
    ws.append(HEADER)
    body = rows()
    typed = _typed(body)
    for i, (text, cells) in enumerate(zip(body, typed, strict=True)):
        row = list(cells)
        if i >= 3:  # pasted from another system: the month as text, the birth month too
            row[1] = text[1] if i % 2 else str(text[1])[3:]
            row[3] = text[3]
        ws.append(row)


def _csv_text(body: list[list[object]], sep: str = ";", end: str = "\r\n") -> str:
    return end.join(sep.join(str(c) for c in r) for r in [HEADER, *body]) + end


def _with_accents(n: int = 6) -> list[list[object]]:
    """Rows whose free text has accents and a euro sign, as Dutch case notes do."""
    extra = ["Crediteur: Zorgverzekeraar Zilveren Kruis (€ 1.250,00), café-rekening"] * n
    return [[*r, note] for r, note in zip(rows(n), extra, strict=True)]


def _excel_csv(encoding: str, bom: bytes = b"") -> Callable[[Path], None]:
    """Excel's 'CSV (puntkomma)': CRLF, empty ';;;' lines it keeps from formatted rows."""

    def write(path: Path) -> None:
        header = [*HEADER, "Schuldbronnen"]
        lines = [";".join(header)] + [";".join(str(c) for c in r) for r in _with_accents()]
        lines += [";" * (len(header) - 1)] * 2
        path.write_bytes(bom + ("\r\n".join(lines) + "\r\n").encode(encoding))

    return write


def _coded_frame() -> pd.DataFrame:
    """A statistics package's panel: codes with value labels, BSN as a number."""
    body = rows()
    return pd.DataFrame(
        {
            "bsn": [float(r[0]) for r in body],
            "maand": [dt.date(2025, 1 + i, 1) for i in range(len(body))],
            "gemcode": ["GM0344"] * len(body),
            "gebmaand": [dt.date(2005, 5, 1)] * len(body),
            "geslacht": [1.0 if i % 2 else 2.0 for i in range(len(body))],
            "leeftijd": [19.0] * 5 + [99.0],
            "probschuld": [1.0 if i % 3 == 0 else 0.0 for i in range(len(body))],
            "schuldbedrag": [0.0, 1250.5, 2501.0, 0.0, 1250.5, 2501.0],
            **{
                name: [1.0 if v == "ja" else 0.0] * len(body)
                for name, v in zip(
                    ["ingeschreven", "startkwal", "vsv", "dakloos"], FLAGS[:4], strict=True
                )
            },
            "ethos": ["geen"] * len(body),
            **{name: [0.0] * len(body) for name in ["werkend", "bijstand", "neet"]},
        }
    )


_NAMES = {
    "bsn": "BSN",
    "maand": "Maand",
    "gemcode": "Gemeentecode",
    "gebmaand": "Geboortemaand",
    "geslacht": "Geslacht",
    "leeftijd": "Leeftijd",
    "probschuld": "Problematische schuld",
    "schuldbedrag": "Schuldbedrag",
    "ingeschreven": "Ingeschreven onderwijs",
    "startkwal": "Startkwalificatie behaald",
    "vsv": "Voortijdig schoolverlaten",
    "dakloos": "Dakloos",
    "ethos": "ETHOS categorie",
    "werkend": "Werkend",
    "bijstand": "Bijstandsuitkering",
    "neet": "Geen werk geen opleiding",
}
_YES_NO = {1.0: "Ja", 0.0: "Nee"}
_LABELS = {
    "geslacht": {1.0: "Vrouw", 2.0: "Man"},
    "leeftijd": {99.0: "Onbekend"},
    **{n: _YES_NO for n in ["probschuld", "ingeschreven", "startkwal", "vsv", "dakloos"]},
    **{n: _YES_NO for n in ["werkend", "bijstand", "neet"]},
}


def _stats(kind: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import pyreadstat

        frame = _coded_frame()
        labels = {"column_labels": _NAMES, "variable_value_labels": _LABELS}
        if kind == "sav":
            pyreadstat.write_sav(frame, str(path), missing_ranges={"leeftijd": [99.0]}, **labels)
        else:
            pyreadstat.write_dta(frame, str(path), **labels)

    return write


def _municipality_codes(path: Path) -> None:
    """Stata: the municipality as CBS's number 344, its value label the code GM0344."""
    import pyreadstat

    frame = _coded_frame().assign(leeftijd=19.0, gemcode=344.0)
    labels = {**_LABELS, "gemcode": {344.0: "GM0344"}}
    pyreadstat.write_dta(frame, str(path), column_labels=_NAMES, variable_value_labels=labels)


def declared_missing(path: Path) -> None:
    """SPSS codes declared missing: 99999 'Onbekend' as an amount, 9 'Weet niet' as a flag."""
    import pyreadstat

    frame = _coded_frame().assign(
        leeftijd=19.0,
        schuldbedrag=[0.0, 1250.5, 99999.0, 0.0, 1250.5, 2501.0],
        probschuld=[1.0, 0.0, 0.0, 9.0, 1.0, 0.0],
    )
    labels = {
        **_LABELS,
        "schuldbedrag": {99999.0: "Onbekend"},
        "probschuld": {**_YES_NO, 9.0: "Weet niet"},
    }
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels=_NAMES,
        variable_value_labels=labels,
        missing_ranges={"schuldbedrag": [99999.0], "probschuld": [9.0]},
    )


def _debt_only(path: Path) -> None:
    """A debt pilot's export: person, month, municipality, age and the debt columns."""
    keep = [0, 1, 2, 5, 6, 7]
    body = [[r[i] for i in keep] for r in rows()]
    text = "\r\n".join(";".join(str(c) for c in r) for r in [[HEADER[i] for i in keep], *body])
    path.write_text(text + "\r\n", encoding="utf-8")


def cases() -> list[Real]:
    """Every export with what a careful reader makes of it."""
    debt = ("--columns", "problematic_debt,debt_amount,age")
    return [
        Real("r_merged_header_totals.xlsx", _book(_merged_and_totals), 7, 6),
        Real("r_two_row_header.xlsx", _book(_two_row_header), 6, 6),
        Real("r_merged_municipality.xlsx", _book(_merged_municipality), 6, 6),
        Real("r_second_sheet.xlsx", _book(_second_sheet), 6, 6, args=("--sheet", "Data")),
        Real(
            "r_second_sheet_unnamed.xlsx",
            _book(_second_sheet),
            0,
            0,
            exit=1,
            says="sheets: Toelichting, Data",
        ),
        Real("r_hidden_columns.xlsx", _book(_hidden_columns), 6, 6),
        Real("r_mixed_dates.xlsx", _book(_mixed_dates), 6, 6),
        Real("r_excel_cp1252.csv", _excel_csv("cp1252"), 6, 6),
        Real("r_excel_utf8_bom.csv", _excel_csv("utf-8", b"\xef\xbb\xbf"), 6, 6),
        Real("r_labels.sav", _stats("sav"), 6, 5),
        Real("r_labels.dta", _stats("dta"), 6, 5),
        Real("r_declared_missing.sav", declared_missing, 6, 5),
        Real("r_municipality_labels.dta", _municipality_codes, 6, 6),
        Real("r_debt_only.csv", _debt_only, 6, 6, args=debt),
        Real("r_debt_only_all_columns.csv", _debt_only, 0, 0, exit=1, says="missing"),
    ]


def build(folder: Path) -> list[Real]:
    """Write every export into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = cases()
    for case in out:
        case.write(folder / case.name)
    return out

"""A corpus of hostile and unusual export files, written fresh into a folder.

Every file plants elfproef-valid BSNs (from the 999 test block) where an attacker or
a careless export would put them: the identifier column, free text, a misaligned row,
the file name, a headerless list. The test ingests them all through the CLI and looks
for those numbers in every output and store table.
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from bad_corpus import make_bad

HERE = Path(__file__).parent


def bsns(n: int, start: int = 999_000_000) -> list[str]:
    """The first ``n`` elfproef-valid numbers from ``start`` (the corpus helper's)."""
    return list(make_bad.valid_bsns(n, start=start))


BSN = bsns(40)
HEADER = [
    "bsn",
    "maand",
    "gemeentecode",
    "geboortemaand",
    "geslacht",
    "leeftijd",
    "problematische_schuld",
    "schuldbronnen",
    "ingeschreven",
    "startkwalificatie",
    "vsv",
    "dakloos",
    "werkend",
    "bijstand",
    "neet",
]


def rows(n: int = 6, offset: int = 0) -> list[list[str]]:
    """Valid outcome-panel rows; the BSN column holds planted test-block BSNs."""
    return [
        [
            BSN[(i + offset) % len(BSN)],
            f"{1 + i % 12:02d}-2025",
            "GM0363",
            "05-2005",
            "V" if i % 2 else "M",
            "19",
            "ja" if i % 3 == 0 else "nee",
            "DUO" if i % 2 else "",
            "ja",
            "nee",
            "nee",
            "nee",
            "nee",
            "nee",
            "nee",
        ]
        for i in range(n)
    ]


@dataclass(frozen=True)
class Hostile:
    """One file: its name, kind, writer and the exit code the CLI must give."""

    name: str
    write: Callable[[Path], None]
    exit: int = 0
    says: str = ""
    kind: str = "outcome_panel"
    sheet: str | None = None


def _csv(header: list[str], body: list[list[str]], sep: str = ";", end: str = "\n") -> str:
    return end.join(sep.join(r) for r in [header, *body]) + end


def _text(content: str, encoding: str = "utf-8") -> Callable[[Path], None]:
    return lambda p: p.write_bytes(content.encode(encoding))


def _bytes(content: bytes) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(content)


def _frame(body: list[list[str]], header: list[str] = HEADER) -> pd.DataFrame:
    return pd.DataFrame(body, columns=header).astype(object)


def _writer(fmt: str, frame: pd.DataFrame) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import pyreadstat

        if fmt == "csv":
            frame.to_csv(path, sep=";", index=False)
        elif fmt == "xlsx":
            frame.to_excel(path, index=False)
        elif fmt == "sav":
            pyreadstat.write_sav(frame.fillna(""), str(path))
        elif fmt == "dta":
            pyreadstat.write_dta(frame.fillna(""), str(path))
        else:
            frame.to_parquet(path, index=False)

    return write


def _swap(body: list[list[str]], row: int) -> list[list[str]]:
    out = [list(r) for r in body]
    out[row][0], out[row][2] = out[row][2], out[row][0]
    return out


def _set(body: list[list[str]], row: int, col: int, value: str) -> list[list[str]]:
    out = [list(r) for r in body]
    out[row][col] = value
    return out


def _frame_cases() -> list[Hostile]:
    """The same mutations written in every format."""
    base = rows()
    mutations: dict[str, tuple[pd.DataFrame, int]] = {
        "valid": (_frame(base), 0),
        "misaligned": (_frame(_swap(base, 1)), 0),
        "freetext_bsn": (_frame(_set(base, 2, 7, f"Dossier D-{BSN[30]}, bel {BSN[31][:3]} 0")), 0),
        "freetext_spaced": (
            _frame(_set(base, 3, 7, f"{BSN[32][:3]} {BSN[32][3:6]} {BSN[32][6:]}")),
            0,
        ),
        "invalid_bsn": (_frame(_set(base, 0, 0, "123456789")), 0),
        "lost_zeros": (_frame(_set(base, 1, 0, "1000007")), 0),
        "bad_municipality": (_frame(_set(base, 4, 2, BSN[33])), 0),
        "impossible_time": (_frame(_set(base, 0, 1, "14-01-2024 25:61")), 0),
        "future": (_frame(_set(base, 0, 1, "01-2099")), 0),
        "age_text": (_frame(_set(base, 5, 5, "negentien")), 0),
        "duplicate_keys": (_frame([*base, base[0]]), 0),
        "all_rejected": (_frame([_set(base, i, 4, "?")[i] for i in range(len(base))]), 0),
        "no_rows": (_frame([]), 0),
        "missing_required": (_frame(base).drop(columns=["geslacht"]), 1),
        "extra_column": (_frame(base).assign(casemanager=f"mw. K. {BSN[34]}"), 0),
        "unicode_header": (_frame(base).rename(columns={"gemeentecode": "Gémeente code"}), 0),
    }
    out = []
    for label, (frame, code) in mutations.items():
        for fmt in ("csv", "xlsx", "sav", "dta", "parquet"):
            if fmt in ("dta", "sav") and label == "unicode_header":
                continue  # Stata and SPSS names are identifiers
            out.append(Hostile(f"f_{label}.{fmt}", _writer(fmt, frame), code))
    return out


def _csv_cases() -> list[Hostile]:
    h, b = HEADER, rows()
    return [
        Hostile("cr_only.csv", _text(_csv(h, b, end="\r"))),
        Hostile("crlf.csv", _text(_csv(h, b, end="\r\n"))),
        Hostile(
            "mixed_endings.csv",
            _text(_csv(h, b[:3]) + _csv(h, b[3:])[len(";".join(h)) + 1 :].replace("\n", "\r\n")),
        ),
        Hostile(
            "wrapped_header.csv",
            _text(_csv(['"Gemeente\ncode"' if c == "gemeentecode" else c for c in h], b)),
        ),
        Hostile("bom.csv", _text("\ufeff" + _csv(h, b))),
        Hostile("utf16.csv", _text("\ufeff" + _csv(h, b, sep="\t"), "utf-16-le")),
        Hostile("cp1252.csv", _text(_csv(h, _set(b, 0, 7, "schuld café")), "cp1252")),
        Hostile("sep_line.csv", _text("sep=;\n" + _csv(h, b))),
        Hostile("comma.csv", _text(_csv(h, b, sep=","))),
        Hostile("tab.csv", _text(_csv(h, b, sep="\t"))),
        Hostile("pipe.csv", _text(_csv(h, b, sep="|")), 1, "no delimiter found"),
        Hostile("blank_lines.csv", _text(_csv(h, b).replace("\n", "\n\n", 3))),
        Hostile("short_row.csv", _text(_csv(h, b) + f"{BSN[35]};01-2025\n")),
        Hostile("long_row.csv", _text(_csv(h, [*b, [*b[0], "x", BSN[36]]]))),
        Hostile("open_quote.csv", _text(_csv(h, b) + f'"{BSN[37]};01-2025\n' + _csv(h, b[:2]))),
        Hostile(
            "duplicate_header.csv",
            _text(_csv([*h, "bsn"], [[*r, r[0]] for r in b])),
            1,
            "same header",
        ),
        Hostile(
            "duplicate_note_header.csv",
            _text(_csv([*h, "Opmerking", "Opmerking"], [[*r, "", ""] for r in b])),
            1,
            "same header",
        ),
        Hostile("headerless.csv", _text("\n".join(BSN[:8]) + "\n"), 1, "[BSN]"),
        Hostile("headerless_rows.csv", _text(_csv(b[0], b[1:])), 1),
        Hostile(f"deelnemer_{BSN[38]}.csv", _text(_csv(h, b))),
        Hostile(f"export {BSN[39][:3]} {BSN[39][3:6]} {BSN[39][6:]}.csv", _text(_csv(h, b))),
        Hostile("empty.csv", _text(""), 1, "empty"),
        Hostile("whitespace.csv", _text(" \n\n \n"), 1, "empty"),
        Hostile("header_only.csv", _text(_csv(h, []))),
        Hostile("nul_bytes.csv", _bytes(_csv(h, b).encode().replace(b";", b"\x00;", 5)), 1),
        Hostile("binary.csv", _bytes(bytes(range(256)) * 64), 1, "not a text file"),
        Hostile("control_chars.csv", _text(_csv(h, _set(b, 1, 7, "a\x07b\x1bc")))),
        Hostile("formula.csv", _text(_csv(h, _set(b, 1, 7, '=HYPERLINK("http://x")')))),
        Hostile("huge_cell.csv", _text(_csv(h, _set(b, 2, 7, "x" * 200_000 + BSN[30])))),
        Hostile("emoji.csv", _text(_csv(h, _set(b, 2, 7, "schuld 💸 " + BSN[31])))),
        Hostile(
            "decimal_forms.csv",
            _text(
                _csv(
                    [*h, "schuldbedrag"],
                    [
                        [*r, v]
                        for r, v in zip(
                            b, ["1.234,50", "1,234.50", "€ 12", "12%", "-5", "1e309"], strict=True
                        )
                    ],
                )
            ),
        ),
        Hostile(
            "date_forms.csv",
            _text(
                _csv(
                    h,
                    [
                        _set(b, i, 1, v)[i]
                        for i, v in enumerate(
                            ["2025-01", "202502", "2025M03", "45748", "31-02-2025", "13-2025"]
                        )
                    ],
                )
            ),
        ),
        Hostile(
            "bsn_forms.csv",
            _text(
                _csv(
                    h,
                    [
                        _set(b, i, 0, v)[i]
                        for i, v in enumerate(
                            [
                                f"{BSN[0][:3]}.{BSN[0][3:6]}.{BSN[0][6:]}",
                                f" {BSN[1]} ",
                                f"{BSN[2]}.0",
                                "0",
                                "ab" * 32,
                                "",
                            ]
                        )
                    ],
                )
            ),
        ),
        Hostile("only_delimiters.csv", _text(";;;;\n;;;;\n"), 1, "required column missing"),
        Hostile(
            "very_wide.csv",
            _text(_csv([*h, *[f"c{i}" for i in range(3000)]], [[*r, *["1"] * 3000] for r in b])),
        ),
        Hostile(
            "long_header_line.csv", _bytes(b"bsn;" + b"x" * 1_100_000), 1, "without a line break"
        ),
        Hostile(
            "html.csv",
            _text("<html><body><table><tr><td>bsn</td></tr></table></body></html>\n"),
            1,
            "",
        ),
        Hostile("json.csv", _text('{"bsn": "' + BSN[1] + '"}\n'), 1, "[BSN]"),
        Hostile("renamed_xlsx.csv", lambda p: _writer("xlsx", _frame(b))(p), 0),
    ]


def _xlsx_far(cell: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        for r in [HEADER, *rows()]:
            sheet.append(r)
        sheet[cell] = "x"
        book.save(path)

    return write


def _xlsx_layout(before: list[list[str]], note_row: int | None) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        for r in before:
            sheet.append(r)
        body = [list(r) for r in rows()]
        if note_row is not None:
            body[note_row] = [*body[note_row], "let op: nagebeld"]
        for r in [HEADER, *body]:
            sheet.append(r)
        book.save(path)

    return write


def _xlsx_wrapped(path: Path) -> None:
    frame = _frame(rows()).rename(
        columns={"gemeentecode": "Gemeente\ncode", "geslacht": "Geslacht\n(M/V)"}
    )
    frame.to_excel(path, index=False)


def _truncated_xlsx(path: Path) -> None:
    _writer("xlsx", _frame(rows()))(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _protected_xlsx(path: Path) -> None:
    """A real password-protected workbook: a plain XLSX encrypted as Excel does (ECMA-376 agile)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = path.with_name(path.stem + "_plain.xlsx")
    _writer("xlsx", _frame(rows()))(plain)
    with plain.open("rb") as source, path.open("wb") as target:
        OOXMLFile(source).encrypt("geheim", target)
    plain.unlink()


def _zip_without_workbook(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", BSN[5])


def _dta105(path: Path) -> None:
    """A Stata 5 (format 105) file, written field by field after Stata's dta_105 description."""
    names = ["bsn", "leeftijd"]
    out = bytearray(struct.pack("<BBBBhi", 105, 2, 1, 0, len(names), 3))
    out += b"evalkit corpus".ljust(32, b"\0") + b"01 Jan 1998 10:00".ljust(18, b"\0")
    out += bytes([0x7F + 9, ord("l")])
    out += b"".join(n.encode().ljust(9, b"\0") for n in names)
    out += b"\0\0" * (len(names) + 1)
    out += b"%9s".ljust(12, b"\0") + b"%12.0g".ljust(12, b"\0")
    out += b"\0" * 9 * len(names) + b"\0" * 32 * len(names) + b"\0\0\0"
    for i in range(3):
        out += BSN[i].encode() + struct.pack("<i", 19)
    path.write_bytes(bytes(out))


def _parquet_duplicate(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    body = rows()
    arrays = [pa.array([r[i] for r in body]) for i in range(len(HEADER))]
    table = pa.Table.from_arrays([*arrays, arrays[0]], names=[*HEADER, "bsn"])
    pq.write_table(table, path)


def _parquet_typed(path: Path) -> None:
    frame = _frame(rows())
    frame["bsn"] = [int(x) for x in frame["bsn"]]
    frame["maand"] = pd.to_datetime([f"2025-{1 + i:02d}-01" for i in range(len(frame))])
    frame["leeftijd"] = 19
    frame["problematische_schuld"] = [True, False] * 3
    frame.to_parquet(path, index=False)


def _sav_numeric(path: Path) -> None:
    import pyreadstat

    frame = _frame(rows())
    frame["bsn"] = [float(x) for x in frame["bsn"]]
    frame.loc[0, "bsn"] = 1000007.0  # two leading zeros lost
    frame["leeftijd"] = 19.0
    pyreadstat.write_sav(frame, str(path))


def _special_cases(folder: Path) -> list[Hostile]:
    out = [
        Hostile("far_xfd.xlsx", _xlsx_far("XFD1048576")),
        Hostile("far_z.xlsx", _xlsx_far("Z1048576")),
        Hostile("far_aa10.xlsx", _xlsx_far("AA10")),
        Hostile("title_rows.xlsx", _xlsx_layout([["Export uit Suite op 01-02-2025"], []], None)),
        Hostile("stray_note.xlsx", _xlsx_layout([], 2)),
        Hostile("stray_note_title.xlsx", _xlsx_layout([["Export"], ["Periode", "2025"]], 0)),
        Hostile("wrapped_header.xlsx", _xlsx_wrapped),
        Hostile("truncated.xlsx", _truncated_xlsx, 1, "not a readable XLSX"),
        Hostile("zip_no_workbook.xlsx", _zip_without_workbook, 1, "XLSX"),
        Hostile("protected.xlsx", _protected_xlsx, 1, "password-protected"),
        Hostile("csv_named.xlsx", _text(_csv(HEADER, rows(5))), 1, "not an XLSX workbook"),
        Hostile("old.xls", _bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600), 1, ".xls"),
        Hostile("stata105.dta", _dta105, 1, "required column missing"),
        Hostile("garbage.dta", _bytes(b"\x69\x02\x01\x00" + b"\xff" * 40), 1, "Stata format 105"),
        Hostile("garbage.sav", _bytes(b"$FL2" + b"\x00" * 100), 1, "SPSS"),
        Hostile("garbage.parquet", _bytes(b"PAR1" + b"\x00" * 100), 1, "Parquet"),
        Hostile("duplicate_names.parquet", _parquet_duplicate, 1, "same header"),
        Hostile("typed.parquet", _parquet_typed),
        Hostile("numeric_bsn.sav", _sav_numeric),
        Hostile("unknown.bin", _bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64), 1, "not a text file"),
    ]
    return out


def build(folder: Path) -> list[Hostile]:
    """Write every hostile file into ``folder`` (plus a symlink loop); return the cases."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = [*_frame_cases(), *_csv_cases(), *_special_cases(folder)]
    for case in cases:
        case.write(folder / case.name)
    loop_a, loop_b = folder / "loop_a.csv", folder / "loop_b.csv"
    os.symlink(loop_b, loop_a)
    os.symlink(loop_a, loop_b)
    cases.append(Hostile("loop_a.csv", lambda p: None, 1, "symbolic link loop"))
    cases.append(Hostile("missing.csv", lambda p: None, 1, "file not found"))
    return cases

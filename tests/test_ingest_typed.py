"""Typed formats stay typed: Parquet, SPSS, Stata and XLSX date cells validated on their values.

Each typed file is written by the library a user's export tool would use (pyarrow,
pyreadstat, openpyxl) and ingested beside the same data written as a Dutch CSV: the
stores must hold the same accepted rows and values and the same quarantined rows and
rules. The typed path must also give exactly what validating the file's text gives
(values, messages, quarantine content), and an accepted file's typed numbers and
dates must never be formatted as text.
"""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest

from evalkit.ingest import Store, elfproef, ingest_files, load_schema, read_raw
from evalkit.ingest._readers import RawTable
from evalkit.ingest._validate import Validated, validate_table

KEY = "typed-test-key-5c1e9a7b3d2f8046ae71"
HEADERS = [
    "bsn",
    "maand",
    "gemeentecode",
    "geboortemaand",
    "geslacht",
    "leeftijd",
    "problematische_schuld",
    "schuldbedrag",
    "aantal_schuldeisers",
    "ingeschreven",
    "startkwalificatie",
    "vsv",
    "dakloos",
    "werkend",
    "bijstand",
    "neet",
]
FLAGS = HEADERS[9:]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)


def _bsns(count: int, *, leading_zero: bool = False) -> list[str]:
    """Valid BSNs (pass the elfproef); with ``leading_zero`` ones that start with 0."""
    start = 12_345_600 if leading_zero else 212_345_600
    found: list[str] = []
    number = start
    while len(found) < count:
        text = str(number).zfill(9)
        if elfproef(text)[0]:
            found.append(text)
        number += 1
    return found


def _rows() -> list[dict[str, object]]:
    """A panel with every awkward value a typed export can carry, one per row."""
    people = _bsns(16)
    base: dict[str, object] = {
        "gemeentecode": "GM0363",
        "geboortemaand": dt.date(2005, 5, 1),
        "geslacht": "M",
        "leeftijd": 19.0,
        "problematische_schuld": False,
        "schuldbedrag": 0.0,
        "aantal_schuldeisers": 0,
        **dict.fromkeys(FLAGS, False),
        "ingeschreven": True,
    }
    changes: list[dict[str, object]] = [
        {},  # accepted
        {"maand": dt.datetime(2025, 4, 15, 10, 30), "schuldbedrag": 1234.5},  # a time: accepted
        {"leeftijd": 2.5},  # not a whole number
        {"leeftijd": 30.0},  # out of range, and not the age of birth month and month
        {"leeftijd": np.nan},  # required but empty
        {"schuldbedrag": -5.0},  # out of range
        {"aantal_schuldeisers": 101},  # out of range (an integer column)
        {"geboortemaand": dt.date(1940, 1, 1)},  # before the minimum, age outside 16-27
        {"maand": dt.datetime(2030, 1, 1)},  # in the future
        {"geboortemaand": dt.date(1600, 6, 1)},  # outside pandas' nanosecond range: too early
        {"problematische_schuld": None},  # required yes/no empty
        {"bsn": "123456789"},  # nine digits failing the elfproef
        {"schuldbedrag": 0.00001, "leeftijd": 20.0},  # a tiny amount: accepted
        {"werkend": True, "neet": True},  # NEET but employed
        {"maand": dt.datetime(2025, 5, 31, 23, 59, 59), "schuldbedrag": 2_500_000.75},
    ]
    rows = []
    for i, change in enumerate(changes):
        month = dt.datetime(2025, 1 + i % 12, 1)
        rows.append({"bsn": people[i], "maand": month, **base, **change})
    rows.append(dict(rows[0]))  # an exact copy of the first row
    return rows


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=HEADERS)
    frame["maand"] = pd.to_datetime(frame["maand"]).astype("datetime64[us]")
    for flag in ["problematische_schuld", *FLAGS]:
        frame[flag] = frame[flag].astype("boolean")
    return frame


def _dutch(value: object, header: str) -> str:
    """Write a value as a Dutch Excel CSV does."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "ja" if value else "nee"
    if isinstance(value, dt.datetime):
        return value.strftime("%d-%m-%Y %H:%M:%S" if value.time() != dt.time() else "%d-%m-%Y")
    if isinstance(value, dt.date):
        return value.strftime("%d-%m-%Y") if value.year >= 1000 else value.isoformat()
    if isinstance(value, float):
        return repr(value).replace(".", ",") if not value.is_integer() else str(int(value))
    return str(value)


def _write_csv(rows: list[dict[str, object]], path: Path) -> Path:
    lines = [";".join(HEADERS)]
    lines += [";".join(_dutch(row[h], h) for h in HEADERS) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_parquet(rows: list[dict[str, object]], path: Path) -> Path:
    frame = _frame(rows)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    births = pa.array(list(frame["geboortemaand"]), type=pa.date32())  # a Parquet date column
    table = table.set_column(HEADERS.index("geboortemaand"), "geboortemaand", births)
    pq.write_table(table, path)
    return path


def _numeric_flags(frame: pd.DataFrame) -> pd.DataFrame:
    """SPSS and Stata have no yes/no type: flags as 1/0 numbers (empty where missing)."""
    for flag in ["problematische_schuld", *FLAGS]:
        frame[flag] = frame[flag].astype("Float64").astype(float)
    return frame


def _write_sav(rows: list[dict[str, object]], path: Path) -> Path:
    frame = _numeric_flags(_frame(rows))
    frame.loc[12, "leeftijd"] = 99.0  # row 13's age: a user-missing code
    pyreadstat.write_sav(
        frame,
        str(path),
        missing_ranges={"leeftijd": [99]},
        variable_value_labels={"werkend": {1.0: "ja", 0.0: "nee"}},
    )
    return path


def _write_dta(rows: list[dict[str, object]], path: Path) -> Path:
    pyreadstat.write_dta(_numeric_flags(_frame(rows)), str(path))
    return path


def _write_xlsx(rows: list[dict[str, object]], path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    for row in rows:
        cells = []
        for header in HEADERS:
            value = row[header]
            if header in ("maand", "geboortemaand") and isinstance(value, dt.date):
                cells.append(value if value.year >= 1900 else value.isoformat())
            elif isinstance(value, float) and np.isnan(value):
                cells.append(None)
            else:
                cells.append(value)
        sheet.append(cells)
    book.save(path)
    return path


def _sav_rows() -> list[dict[str, object]]:
    """The SAV's data as a CSV carries it: row 13's age, the user-missing code 99, is empty.

    A code the file declares missing is no value (it was read as an age of 99).
    """
    rows = _rows()
    rows[12] = {**rows[12], "leeftijd": float("nan")}
    return rows


def _write_parquet_text(rows: list[dict[str, object]], path: Path) -> Path:
    """The Dutch CSV's cells as Parquet string columns (a text export saved as Parquet)."""
    cells = {h: [_dutch(row[h], h) or None for row in rows] for h in HEADERS}
    pq.write_table(pa.table({h: pa.array(v, type=pa.string()) for h, v in cells.items()}), path)
    return path


WRITERS = {
    "parquet": (_write_parquet, _rows),
    "parquet_text": (_write_parquet_text, _rows),
    "sav": (_write_sav, _sav_rows),
    "dta": (_write_dta, _rows),
    "xlsx": (_write_xlsx, _rows),
}


def _store(path: Path, store: Path) -> tuple[pd.DataFrame, pd.DataFrame, tuple[int, int]]:
    report = ingest_files("outcome_panel", [path], store_path=store)[0]
    assert report.rows_read == report.accepted + report.rejected
    with Store(store, read_only=True) as opened:
        data = opened.table("outcome_panel").drop(columns="_source_sha256")
        quarantine = opened.quarantine("outcome_panel")
    return data, quarantine, (report.accepted, report.rejected)


def _reasons(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Which rows were rejected, in which column, by which rule (sorted)."""
    keys = ["_row", "column", "rule"]
    return quarantine[keys].sort_values(keys).reset_index(drop=True)


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_typed_file_stores_what_the_dutch_csv_stores(tmp_path: Path, fmt: str) -> None:
    write, rows = WRITERS[fmt]
    typed = write(rows(), tmp_path / f"panel.{fmt.split('_')[0]}")
    text = _write_csv(rows(), tmp_path / "panel.csv")
    data, quarantine, counts = _store(typed, tmp_path / "typed.duckdb")
    csv_data, csv_quarantine, csv_counts = _store(text, tmp_path / "csv.duckdb")
    assert counts == csv_counts
    assert counts[0] == (2 if fmt == "sav" else 3)  # rows 1, 2 and (but in the SAV) 13
    pd.testing.assert_frame_equal(data, csv_data)
    reasons, csv_reasons = (_reasons(q) for q in (quarantine, csv_quarantine))
    pd.testing.assert_frame_equal(reasons, csv_reasons)
    expected = {
        (3, "age", "type"),
        (4, "age", "range"),
        (5, "age", "required"),
        (6, "debt_amount", "range"),
        (7, "n_creditors", "range"),
        (8, "birth_month", "range"),
        (9, "month", "not_future"),
        (10, "birth_month", "range"),
        (11, "problematic_debt", "required"),
        (12, "person_id", "elfproef"),
        (14, "neet", "neet_but_employed"),
        (15, "debt_amount", "range"),
        (16, "person_id, month", "duplicate_row"),
    }
    if fmt == "sav":  # the user-missing code 99 is no age: required, as an empty cell
        expected.add((13, "age", "required"))
    assert expected <= set(map(tuple, reasons.to_numpy().tolist()))


def _as_text(table: RawTable) -> RawTable:
    """The same file as the text cells the reader made of every column before."""
    frame = pd.DataFrame({h: table.text(h) for h in table.frame.columns})
    return RawTable(
        frame,
        table.rows,
        table.format,
        value_labels=table.value_labels,
        user_missing=table.user_missing,
    )


def _validate(table: RawTable) -> Validated:
    return validate_table(table, load_schema("outcome_panel"), file="f", key=b"k" * 32)


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_typed_path_gives_what_the_text_path_gives(tmp_path: Path, fmt: str) -> None:
    write, rows = WRITERS[fmt]
    table = read_raw(write(rows(), tmp_path / f"panel.{fmt.split('_')[0]}"))
    assert ("maand" in table.typed) == (fmt != "parquet_text")  # dates carried as dates
    # an XLSX column of dates and a text (a year Excel has no date for) stays text
    assert ("geboortemaand" in table.typed) == (fmt not in ("xlsx", "parquet_text"))
    if fmt not in ("xlsx", "parquet_text"):
        assert {"leeftijd", "aantal_schuldeisers", "schuldbedrag"} <= set(table.typed)
    typed, text = _validate(table), _validate(_as_text(table))
    pd.testing.assert_frame_equal(typed.data, text.data)
    pd.testing.assert_frame_equal(typed.failures, text.failures)
    pd.testing.assert_series_equal(typed.content, text.content)
    assert typed.accepted.tolist() == text.accepted.tolist()
    if fmt == "sav":  # the user-missing code is shown as the file has it, as no age
        said = typed.failures.query("column == 'age' and rule == 'required' and value == '99'")
        assert said["message"].str.contains("a code the file declares missing").tolist() == [True]
        assert set(typed.failures.query("column == 'age' and row == 13")["rule"]) == {"required"}


def test_text_cells_of_a_typed_file_are_kept_as_the_reader_kept_them() -> None:
    typed_cells = importlib.import_module("evalkit.ingest._typed").format_cells
    values = pd.Series(["GM0363", "  ", "", None, " V ", "GM0363"], dtype="str")
    cells = typed_cells(values)  # blank texts are empty cells, others kept as they are
    assert cells.isna().tolist() == [False, True, True, True, False, False]
    assert cells.dropna().tolist() == ["GM0363", " V ", "GM0363"]
    whole = pd.Series(["GM0363", " V "], dtype="str")
    assert typed_cells(whole).tolist() == ["GM0363", " V "]


def test_a_numeric_bsn_that_lost_its_leading_zero_is_padded(tmp_path: Path) -> None:
    rows = _rows()[:2]
    padded = _bsns(2, leading_zero=True)
    for row, bsn in zip(rows, padded, strict=True):
        row["bsn"] = bsn
    frame = _frame(rows)
    frame["bsn"] = frame["bsn"].astype("int64")  # 8 digits once the zero is lost
    assert frame["bsn"].astype(str).str.len().tolist() == [8, 8]
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "p.parquet")
    data, quarantine, counts = _store(tmp_path / "p.parquet", tmp_path / "a.duckdb")
    csv = _write_csv(rows, tmp_path / "p.csv")
    csv_data, _, _ = _store(csv, tmp_path / "b.duckdb")
    assert counts == (2, 0) and quarantine.empty
    assert data["person_id"].tolist() == csv_data["person_id"].tolist()


def test_rejected_typed_cells_never_show_a_bsn(tmp_path: Path) -> None:
    rows = _rows()[:3]
    bsn = _bsns(1)[0]
    rows[2]["bsn"] = bsn
    frame = _frame(rows)
    frame["schuldbedrag"] = [0.0, 0.0, float(bsn)]  # a BSN typed into the amount column
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "p.parquet")
    _, quarantine, counts = _store(tmp_path / "p.parquet", tmp_path / "a.duckdb")
    assert counts == (2, 1)
    shown = " ".join(quarantine[["value", "message", "content"]].astype(str).to_numpy().ravel())
    assert bsn not in shown and bsn.lstrip("0") not in shown
    assert "[BSN]" in shown


def test_an_accepted_typed_file_formats_no_typed_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [r for i, r in enumerate(_rows()) if i in (0, 1, 12)]
    path = _write_parquet(rows, tmp_path / "ok.parquet")

    def refuse(values: object, *_: object, **__: object) -> pd.Series:
        raise AssertionError(f"a typed column formatted as text: {values!r:.80}")

    typed = importlib.import_module("evalkit.ingest._typed")  # the typed columns' formatter
    monkeypatch.setattr(typed, "format_cells", refuse)
    # and no date-time column is written as text anywhere, by whatever function
    monkeypatch.setattr(pd.core.indexes.accessors.DatetimeProperties, "strftime", refuse)
    _, quarantine, counts = _store(path, tmp_path / "a.duckdb")
    assert counts == (3, 0) and quarantine.empty


def test_case_event_workbook_typed_dates_give_what_text_gives(tmp_path: Path) -> None:
    from evalkit.synth import PilotDesign, generate
    from evalkit.synth._write import write_case_events_xlsx

    events = generate(PilotDesign.preset("pilot"), 1).case_events
    events.loc[events.index[:3], "event_date"] = pd.Timestamp("2031-01-01 09:30")  # future
    table = read_raw(write_case_events_xlsx(events, tmp_path / "events.xlsx"))
    assert any(c.kind == "datetime" for c in table.typed.values())
    schema = load_schema("case_events")
    typed, text = (
        validate_table(t, schema, file="f", key=b"k" * 32) for t in (table, _as_text(table))
    )
    pd.testing.assert_frame_equal(typed.data, text.data)
    pd.testing.assert_frame_equal(typed.failures, text.failures)
    pd.testing.assert_series_equal(typed.content, text.content)
    assert (typed.failures["rule"] == "not_future").sum() == 3

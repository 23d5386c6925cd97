"""The demo files as people receive them: Dutch CSV, SPSS .sav, Excel .xlsx, truth.json."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evalkit.synth import PilotDesign, elfproef, generate, write_demo
from evalkit.synth._write import CASE_HEADERS, CASE_VALUES, PANEL_HEADERS, PANEL_VALUES

SCHEMAS = Path(__file__).parents[1] / "data_schemas"


def _norm(name: str) -> str:
    return name.lower().replace(" ", "_").replace("-", "_")


# a smaller pilot keeps the file tests fast; the writers do not care about the size
SMALL = PilotDesign.preset("debt_programme").replace(n_persons=800, n_cases=400, questionnaire_n=80)


@pytest.fixture(scope="module")
def pilot():
    return generate(SMALL, seed=7)


@pytest.fixture(scope="module")
def files(pilot, tmp_path_factory):
    return write_demo(pilot, tmp_path_factory.mktemp("demo"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_write_demo_names_the_four_files(files):
    assert {k: p.name for k, p in files.items()} == {
        "outcome_panel": "outcome_panel.csv",
        "questionnaire": "questionnaire.sav",
        "case_events": "case_events.xlsx",
        "truth": "truth.json",
    }


def test_csv_is_a_dutch_excel_export(files, pilot):
    raw = files["outcome_panel"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    text = raw.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[0].startswith("BSN;Maand;Gemeentecode;Geboortemaand;Geslacht;Leeftijd;")
    header = lines[0].split(";")
    assert all(len(line.split(";")) == len(header) for line in lines[1:2000] if line)
    amount = header.index("Schuldbedrag")
    month = header.index("Maand")
    assert '"' not in text  # nothing needs quoting
    debt_rows = [line.split(";") for line in lines[1:] if line and line.split(";")[7] == "ja"]
    assert any("," in row[amount] and "." not in row[amount] for row in debt_rows)
    assert all(
        len(row[month]) == 10 and row[month][2] == "-" and row[month][5] == "-"
        for row in debt_rows[:200]
    )
    back = pd.read_csv(
        files["outcome_panel"], sep=";", decimal=",", encoding="utf-8-sig", dtype={"BSN": str}
    )
    assert len(back) == len(pilot.panel)
    assert back["Schuldbedrag"].dtype == float
    assert back["Schuldbedrag"].sum() == pytest.approx(pilot.panel["debt_amount"].sum())
    months = pd.to_datetime(back["Maand"], format="%d-%m-%Y")
    assert (months.to_numpy() == pilot.panel["month"].to_numpy()).all()
    assert set(back["Problematische schuld"]) == {"ja", "nee"}
    assert ((back["Problematische schuld"] == "ja") == pilot.panel["problematic_debt"]).all()
    assert elfproef(back["BSN"].astype(np.int64).to_numpy()).all()


def _panel_csv_with_pandas(panel: pd.DataFrame, path: Path) -> None:
    """The straightforward route: format every cell with pandas, then DataFrame.to_csv."""
    out = pd.DataFrame(index=panel.index)
    for column, header in PANEL_HEADERS.items():
        values = panel["bsn"] if column == "person_id" else panel[column]
        if values.dtype == bool:
            out[header] = np.where(values.to_numpy(), "ja", "nee")
        elif column in ("month", "birth_month"):
            out[header] = values.dt.strftime("%d-%m-%Y")
        elif column == "debt_amount":
            out[header] = values.map("{:.2f}".format).str.replace(".", ",", regex=False)
        elif column in PANEL_VALUES:
            out[header] = values.map(lambda v, m=PANEL_VALUES[column]: m.get(v, v))
        else:
            out[header] = values
    out.to_csv(path, sep=";", index=False, encoding="utf-8-sig", lineterminator="\r\n")


def test_csv_bytes_equal_pandas_to_csv_including_quoting(pilot, tmp_path, monkeypatch):
    import evalkit.synth._write as write

    panel = pilot.panel.copy()
    sources = panel["debt_sources"].astype(object)
    sources.iloc[:3] = ["a;b", 'zegt "nee"', "regel\nbreuk"]  # need quoting
    panel["debt_sources"] = sources
    panel.loc[panel.index[5], "debt_amount"] = 1234.005  # rounding of the 2-decimal text
    monkeypatch.setattr(write, "CSV_ROWS_PER_CHUNK", 1000)  # several chunks
    ours = write.write_panel_csv(panel, tmp_path / "ours.csv")
    _panel_csv_with_pandas(panel, tmp_path / "pandas.csv")
    assert ours.read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    assert b'"a;b";' in ours.read_bytes() and b'"zegt ""nee""";' in ours.read_bytes()


def test_csv_headers_and_labels_are_schema_aliases():
    schema = yaml.safe_load((SCHEMAS / "outcome_panel.yaml").read_text())["columns"]
    # `region` is optional; only the national generator (Parquet) writes it.
    assert list(PANEL_HEADERS) == [c for c in schema if c != "region"]
    for column, header in PANEL_HEADERS.items():
        assert _norm(header) in [_norm(a) for a in schema[column]["aliases"]], header
    for column, mapping in PANEL_VALUES.items():
        allowed = schema[column]["allowed"]
        aliases = schema[column].get("value_aliases", {})
        for canonical, label in mapping.items():
            assert canonical in allowed
            assert aliases.get(label, label) == canonical, (column, label)


def test_sav_has_labels_and_user_missing(files, pilot):
    import pyreadstat

    df, meta = pyreadstat.read_sav(str(files["questionnaire"]), user_missing=True)
    assert len(df) == len(pilot.questionnaire)
    schema = yaml.safe_load((SCHEMAS / "questionnaire.yaml").read_text())
    items = [i for ins in schema["instruments"].values() for i in ins["items"]]
    assert set(items) <= set(meta.column_names)
    for alias in ("bsn", "gemeentecode", "groep", "meting", "afnamedatum", "afnamewijze"):
        assert alias in meta.column_names
    assert meta.column_names_to_labels["zrm_financien"].startswith("ZRM")
    assert meta.variable_value_labels["zrm_financien"][7.0] == "weigert"
    assert meta.variable_value_labels["tevr_1"][8.0] == "n.v.t."
    assert meta.variable_value_labels["groep"] == {1.0: "pilotgroep", 2.0: "vergelijkingsgroep"}
    assert set(meta.variable_value_labels["meting"].values()) >= {"T0", "T3m", "T6m"}
    ranges = meta.missing_ranges["zrm_financien"]
    assert sorted(r["lo"] for r in ranges) == [7.0, 8.0, 9.0]
    assert "nps" not in meta.missing_ranges  # 7-9 are valid NPS scores; missing is empty
    assert isinstance(df["afnamedatum"].iloc[0], dt.date)
    assert (df["zrm_financien"].isin([7, 8, 9])).any()
    plain, _ = pyreadstat.read_sav(str(files["questionnaire"]))  # codes become missing
    assert plain["zrm_financien"].isna().sum() == df["zrm_financien"].isin([7, 8, 9]).sum()
    assert elfproef(df["bsn"].astype(np.int64).to_numpy()).all()


def test_xlsx_has_dutch_headers_labels_and_date_cells(files, pilot):
    from openpyxl import load_workbook

    wb = load_workbook(files["case_events"], read_only=True)
    ws = wb["Gebeurtenissen"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == list(CASE_HEADERS.values())
    assert len(rows) - 1 == len(pilot.case_events)
    header = list(rows[0])
    dates = [r[header.index("Datum")] for r in rows[1:]]
    assert all(isinstance(d, dt.datetime) for d in dates)
    types = {r[header.index("Soort gebeurtenis")] for r in rows[1:]}
    assert {
        "aanmelding",
        "eerste_gesprek",
        "plan_van_aanpak",
        "start_traject",
        "warme_overdracht",
        "uitstroom",
        "uitval",
    } <= types
    cell = next(ws.iter_rows(min_row=2, max_row=2))[header.index("Datum")]
    assert cell.is_date and cell.number_format == "DD-MM-YYYY"
    wb.close()
    schema = yaml.safe_load((SCHEMAS / "case_events.yaml").read_text())["columns"]
    for column, header_name in CASE_HEADERS.items():
        assert _norm(header_name) in [_norm(a) for a in schema[column]["aliases"]], header_name
    for column, mapping in CASE_VALUES.items():
        aliases = schema[column].get("value_aliases", {})
        for canonical, label in mapping.items():
            assert canonical in schema[column]["allowed"]
            assert aliases.get(label, label) == canonical


def test_truth_json(files, pilot):
    truth = json.loads(files["truth"].read_text(encoding="utf-8"))
    assert truth["seed"] == 7 and truth["generator"] == "debt_programme"
    assert truth["outcomes"]["problematic_debt"]["att"] < 0
    assert truth["design"]["treated_starts"] == {"GM9001": "2025-04"}
    assert "reports never read" in truth["note"]


def test_same_seed_same_bytes_other_seed_other_bytes(files, tmp_path):
    again = write_demo(generate(SMALL, seed=7), tmp_path / "a")
    for kind in ("outcome_panel", "truth", "questionnaire", "case_events"):
        assert _sha(again[kind]) == _sha(files[kind]), kind
    other = write_demo(generate(SMALL, seed=8), tmp_path / "b")
    for kind in ("outcome_panel", "truth", "questionnaire", "case_events"):
        assert _sha(other[kind]) != _sha(files[kind]), kind


@pytest.mark.parametrize("kind", ["outcome_panel", "questionnaire", "case_events"])
def test_demo_files_pass_the_ingest_validator(files, kind):
    from evalkit.ingest import validate_file

    report = validate_file(kind, files[kind]).to_dict()
    assert report["rows_read"] > 0
    assert report["rejected"] == 0, report
    assert report["accepted"] == report["rows_read"]

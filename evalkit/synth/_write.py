"""Write a synthetic pilot as the files people really receive.

- ``outcome_panel.csv``: as Dutch Excel saves "CSV UTF-8": UTF-8 with a byte-order mark,
  ``;`` separator, CRLF line ends, decimal comma, dd-mm-yyyy dates, ``ja``/``nee``,
  Dutch headers (from the schema's aliases) and Dutch category labels.
- ``questionnaire.sav``: SPSS with variable labels, value labels and 7/8/9 declared as
  user-missing values.
- ``case_events.xlsx``: one sheet, Dutch headers and labels, real Excel date cells.
- ``truth.json``: the true effects (for tests only; reports never read it).

Byte-identical output for the same seed: the CSV and JSON are by construction; for the
``.sav`` the header's creation date/time is set to the panel's reference date, and for
the ``.xlsx`` the document properties and zip entry times are fixed, so they are too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.synth._generate import SyntheticPilot
from evalkit.synth._months import month_end, parse_month
from evalkit.synth._questionnaire import MHI5_ITEMS, SAT_ITEMS, WAVE_DAYS, ZRM_ITEMS

PANEL_HEADERS: dict[str, str] = {
    "person_id": "BSN",
    "month": "Maand",
    "municipality": "Gemeentecode",
    "birth_month": "Geboortemaand",
    "sex": "Geslacht",
    "age": "Leeftijd",
    "school_type": "Schooltype",
    "problematic_debt": "Problematische schuld",
    "debt_sources": "Schuldbronnen",
    "debt_help_status": "Status schuldhulp",
    "n_creditors": "Aantal schuldeisers",
    "debt_amount": "Schuldbedrag",
    "enrolled": "Ingeschreven onderwijs",
    "highest_qualification": "Hoogste opleiding",
    "startkwalificatie": "Startkwalificatie behaald",
    "early_school_leaving": "Voortijdig schoolverlaten",
    "household_position": "Positie huishouden",
    "ethos_category": "ETHOS categorie",
    "homeless": "Dakloos",
    "independent_living": "Zelfstandig wonend",
    "housing_urgency": "Urgentieverklaring",
    "employed": "Werkend",
    "social_assistance": "Bijstandsuitkering",
    "other_benefits": "Overige uitkering",
    "neet": "Geen werk geen opleiding",
}
PANEL_VALUES: dict[str, dict[str, str]] = {
    "school_type": {
        "pro": "praktijkonderwijs",
        "mbo1": "entree",
        "mbo2": "mbo_2",
        "other": "overig",
    },
    "debt_help_status": {
        "none": "geen",
        "applied": "aangemeld",
        "stabilisation": "stabilisatie",
        "arrangement": "schuldregeling",
        "completed": "afgerond",
        "dropped_out": "uitgevallen",
    },
    "highest_qualification": {"none": "geen", "pro": "praktijkonderwijs", "mbo1": "entree"},
    "household_position": {
        "with_parents": "thuiswonend",
        "single": "alleenstaand",
        "couple": "samenwonend",
        "single_parent": "eenoudergezin",
        "institution": "instelling",
        "other": "overig",
    },
    "ethos_category": {
        "none": "geen",
        "roofless": "dakloos",
        "houseless": "thuisloos",
        "insecure": "onzeker",
        "inadequate": "ontoereikend",
    },
}
CASE_HEADERS: dict[str, str] = {
    "event_id": "Gebeurtenis id",
    "case_id": "Dossiernummer",
    "person_id": "BSN",
    "municipality": "Gemeentecode",
    "domain": "Domein",
    "org_type": "Organisatietype",
    "organisation": "Organisatie",
    "coach_id": "Casemanager",
    "event_type": "Soort gebeurtenis",
    "event_date": "Datum",
    "crisis": "Spoed",
    "crisis_type": "Soort crisis",
    "outcome": "Uitkomst",
    "receiving_org": "Ontvangende organisatie",
}
CASE_VALUES: dict[str, dict[str, str]] = {
    "domain": {
        "debts": "schulden",
        "education": "onderwijs",
        "housing": "wonen",
        "work": "werk",
        "income": "inkomen",
        "care": "zorg",
    },
    "org_type": {
        "municipality": "gemeente",
        "debt_help": "schuldhulp",
        "youth_coach": "jongerencoach",
        "employer": "werkgever",
        "housing_corporation": "woningcorporatie",
        "care": "zorg",
    },
    "event_type": {
        "signal": "signaal",
        "registration": "aanmelding",
        "first_conversation": "eerste_gesprek",
        "application": "aanvraag",
        "decision": "besluit",
        "plan": "plan_van_aanpak",
        "start": "start_traject",
        "warm_handover": "warme_overdracht",
        "exit": "uitstroom",
        "dropout": "uitval",
        "reregistration": "heraanmelding",
    },
    "crisis_type": {
        "eviction": "huisuitzetting",
        "energy_disconnection": "afsluiting_energie",
        "water_disconnection": "afsluiting_water",
        "health_insurance_cancelled": "zorgverzekering_opgezegd",
        "other": "overig",
    },
}
SAV_NAMES = {
    "bsn": "bsn",
    "municipality": "gemeentecode",
    "group": "groep",
    "wave": "meting",
    "admin_date": "afnamedatum",
    "mode": "afnamewijze",
}
MISSING_LABELS = {7: "weigert", 8: "n.v.t.", 9: "onbekend"}
GROUP_CODES = {"pilot": 1, "comparison": 2}
MODE_CODES = {"web": 1, "paper": 2, "interview": 3, "phone": 4}
MODE_LABELS = {1: "online", 2: "papier", 3: "gesprek", 4: "telefonisch"}
ZRM_LABELS = {
    1: "acute problematiek",
    2: "niet zelfredzaam",
    3: "beperkt zelfredzaam",
    4: "voldoende zelfredzaam",
    5: "volledig zelfredzaam",
}
MHI5_LABELS = {1: "voortdurend", 2: "meestal", 3: "vaak", 4: "soms", 5: "zelden", 6: "nooit"}
SAT_LABELS = {
    1: "zeer ontevreden",
    2: "ontevreden",
    3: "neutraal",
    4: "tevreden",
    5: "zeer tevreden",
}
MHI5_TEXT = (
    "Hoe vaak was u erg zenuwachtig?",
    "Hoe vaak zat u zo in de put dat niets u kon opvrolijken?",
    "Hoe vaak voelde u zich kalm en rustig?",
    "Hoe vaak voelde u zich neerslachtig en somber?",
    "Hoe vaak voelde u zich gelukkig?",
)
# rows formatted and joined at a time: bounds memory and keeps Arrow's 32-bit string offsets
CSV_ROWS_PER_CHUNK = 200_000


def _yes_no(values: pd.Series) -> np.ndarray:
    return np.where(values.to_numpy(dtype=bool), "ja", "nee")


def _csv_field(text: str) -> str:
    """Quote a field as Python's csv module (and so pandas) does with QUOTE_MINIMAL."""
    if any(c in text for c in ';"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _panel_formatter(column: str, values: pd.Series) -> Callable[[Any], str]:
    if values.dtype == bool:
        return lambda v: "ja" if v else "nee"
    if column in ("month", "birth_month"):
        return lambda d: d.strftime("%d-%m-%Y")
    if column == "debt_amount":
        return lambda v: f"{v:.2f}".replace(".", ",")
    mapping = PANEL_VALUES.get(column, {})
    return lambda v: str(mapping.get(v, v))


def write_panel_csv(panel: pd.DataFrame, path: Path) -> Path:
    """Write the outcome panel as a Dutch Excel CSV (UTF-8 with BOM, ``;``, CRLF).

    Each column has few distinct values (months, labels, yes/no, amounts), so each
    distinct value is formatted once in Python and Arrow spreads the texts over the
    rows and joins them into lines; formatting every cell with pandas took most of the
    time of writing a demo. The bytes are those ``DataFrame.to_csv`` wrote.

    Parameters
    ----------
    panel : pandas.DataFrame
        ``SyntheticPilot.panel``.
    path : pathlib.Path
        Target file.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: list[tuple[pa.Array, np.ndarray]] = []
    for column in PANEL_HEADERS:
        values = panel["bsn"] if column == "person_id" else panel[column]
        fmt = _panel_formatter(column, values)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        texts = pa.array([_csv_field(fmt(u)) for u in uniques], type=pa.string())
        columns.append((texts, codes))
    header = ";".join(_csv_field(h) for h in PANEL_HEADERS.values())
    with Path(path).open("wb") as out:
        out.write(("\ufeff" + header + "\r\n").encode("utf-8"))
        for start in range(0, len(panel), CSV_ROWS_PER_CHUNK):
            cells = []
            for texts, codes in columns:
                part = codes[start : start + CSV_ROWS_PER_CHUNK]
                cells.append(texts.take(pa.array(part, mask=part < 0)))  # -1: empty cell
            lines = pc.binary_join_element_wise(
                *cells, ";", null_handling="replace", null_replacement=""
            )
            text = "\r\n".join(lines.to_numpy(zero_copy_only=False)) + "\r\n"
            out.write(text.encode("utf-8"))
    return path


def write_questionnaire_sav(pilot: SyntheticPilot, path: Path) -> Path:
    """Write the questionnaire as SPSS ``.sav`` with labels and user-missing codes.

    Parameters
    ----------
    pilot : SyntheticPilot
        The pilot.
    path : pathlib.Path
        Target file.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import pyreadstat

    q = pilot.questionnaire
    df = pd.DataFrame(
        {
            "bsn": q["bsn"].astype(str),
            "gemeentecode": q["municipality"].astype(str),
            "groep": q["group"].map(GROUP_CODES).astype(float),
            "meting": q["wave"].map({w: d // 30 for w, d in WAVE_DAYS.items()}).astype(float),
            "afnamedatum": [d.date() for d in pd.to_datetime(q["admin_date"])],
            "afnamewijze": q["mode"].map(MODE_CODES).astype(float),
        }
    )
    labels: dict[str, str | None] = {
        "bsn": "Burgerservicenummer (synthetisch)",
        "gemeentecode": "Gemeentecode (CBS)",
        "groep": "Groep",
        "meting": "Meetmoment",
        "afnamedatum": "Afnamedatum",
        "afnamewijze": "Afnamewijze",
    }
    value_labels: dict[str, dict[Any, str]] = {
        "groep": {1: "pilotgroep", 2: "vergelijkingsgroep"},
        "meting": {0: "T0", 3: "T3m", 6: "T6m", 12: "T12m"},
        "afnamewijze": MODE_LABELS,
    }
    missing: dict[str, list[Any]] = {}
    for item in ZRM_ITEMS:
        df[item] = q[item].astype(float)
        labels[item] = "ZRM " + item.removeprefix("zrm_").replace("_", " ")
        value_labels[item] = {**ZRM_LABELS, **MISSING_LABELS}
        missing[item] = [7, 8, 9]
    for item, text in zip(MHI5_ITEMS, MHI5_TEXT, strict=True):
        df[item] = q[item].astype(float)
        labels[item] = f"MHI-5: {text}"
        value_labels[item] = {**MHI5_LABELS, **MISSING_LABELS}
        missing[item] = [7, 8, 9]
    df["nps"] = q["nps"].astype(float)
    labels["nps"] = "Hoe waarschijnlijk is het dat u ons aanbeveelt? (0-10; leeg = onbekend)"
    value_labels["nps"] = {0: "zeer onwaarschijnlijk", 10: "zeer waarschijnlijk"}
    for j, item in enumerate(SAT_ITEMS, start=1):
        df[item] = q[item].astype(float)
        labels[item] = f"Tevredenheid vraag {j}"
        value_labels[item] = {**SAT_LABELS, **MISSING_LABELS}
        missing[item] = [7, 8, 9]
    pyreadstat.write_sav(
        df,
        str(path),
        file_label="Synthetische vragenlijst evalkit demo",
        column_labels=labels,
        variable_value_labels=value_labels,
        missing_ranges=missing,
        variable_format={"afnamedatum": "EDATE10", "bsn": "A9", "gemeentecode": "A6"},
    )
    _fix_sav_timestamp(path, month_end(parse_month(pilot.design.last_month)))
    return path


def _fix_sav_timestamp(path: Path, when: dt.date) -> None:
    """Set the creation date/time in a .sav header to ``when`` (for identical bytes)."""
    data = bytearray(path.read_bytes())
    if data[:4] not in (b"$FL2", b"$FL3"):
        return
    stamp = when.strftime("%d %b %y").encode("ascii") + b"00:00:00"
    data[92:109] = stamp  # creation date (9 bytes) and time (8 bytes)
    path.write_bytes(bytes(data))


def write_case_events_xlsx(events: pd.DataFrame, path: Path) -> Path:
    """Write the case events as an Excel workbook with Dutch headers and date cells.

    XlsxWriter writes what Excel does (a shared-string table, the sheet's dimension),
    about twice as fast as openpyxl and with files that read several times faster.
    The "created" date is fixed and XlsxWriter fixes the zip entry times, so the same
    events give the same bytes.

    Parameters
    ----------
    events : pandas.DataFrame
        ``SyntheticPilot.case_events``.
    path : pathlib.Path
        Target file.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"in_memory": True})
    book.set_properties(
        {"author": "evalkit demo (synthetische gegevens)", "created": dt.datetime(2000, 1, 1)}
    )
    sheet = book.add_worksheet("Gebeurtenissen")
    date_format = book.add_format({"num_format": "DD-MM-YYYY"})
    sheet.write_row(0, 0, list(CASE_HEADERS.values()))
    for col, column in enumerate(CASE_HEADERS):
        values = events["bsn"] if column == "person_id" else events[column]
        if column == "event_date":
            for row, day in enumerate(pd.to_datetime(values).dt.to_pydatetime(), start=1):
                sheet.write_datetime(row, col, day, date_format)
            continue
        if column == "crisis":
            texts: list[Any] = list(_yes_no(values))
        else:
            mapping = CASE_VALUES.get(column, {})
            texts = [
                None if v is None or v is pd.NA or v != v else mapping.get(v, v)
                for v in values.astype(object)
            ]
        for row, text in enumerate(texts, start=1):
            if text is not None:  # an empty cell is no cell, as openpyxl wrote it
                sheet.write_string(row, col, str(text))
    book.close()
    return path


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 10)
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def write_demo(pilot: SyntheticPilot, out_dir: str | Path) -> dict[str, Path]:
    """Write the four demo files into ``out_dir`` (created if needed).

    Parameters
    ----------
    pilot : SyntheticPilot
        The output of :func:`evalkit.synth.generate`.
    out_dir : str or pathlib.Path
        Target folder.

    Returns
    -------
    dict of str to pathlib.Path
        ``outcome_panel``, ``questionnaire``, ``case_events`` and ``truth`` paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "outcome_panel": write_panel_csv(pilot.panel, out / "outcome_panel.csv"),
        "questionnaire": write_questionnaire_sav(pilot, out / "questionnaire.sav"),
        "case_events": write_case_events_xlsx(pilot.case_events, out / "case_events.xlsx"),
    }
    truth_path = out / "truth.json"
    text = json.dumps(_rounded(pilot.truth), indent=2, sort_keys=True, ensure_ascii=False)
    truth_path.write_text(text + "\n", encoding="utf-8")
    paths["truth"] = truth_path
    return paths

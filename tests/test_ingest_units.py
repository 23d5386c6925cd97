"""Ingest building blocks: elfproef, pseudonyms, parsers, headers, reading, schemas."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evalkit.ingest as ingest
from evalkit.errors import IngestError
from evalkit.ingest import elfproef, load_schema, pseudonymise, read_frame
from evalkit.ingest._parse import parse_boolean, parse_dates, parse_numbers
from evalkit.ingest._pseudonym import derive_key
from evalkit.ingest._schema import match_headers


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", "unit-test-key-8e2b7d4f1a9c6e3057b2")


def test_public_surface_is_pinned() -> None:
    assert ingest.__all__ == [
        "KINDS",
        "ColumnSpec",
        "IngestReport",
        "Instrument",
        "Schema",
        "Store",
        "ValidationReport",
        "classify_rin",
        "elfproef",
        "file_sha256",
        "ingest_files",
        "keyed_labels",
        "load_key",
        "load_schema",
        "pseudonymise",
        "read_frame",
        "read_raw",
        "validate_file",
    ]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("111222333", True),  # 9*1+8*1+7*1+6*2+5*2+4*2+3*3+2*3-3 = 66
        ("123456782", True),  # 9+16+21+24+25+24+21+16-2 = 154 = 14*11
        ("123456789", False),  # 161, not divisible by 11
        ("000000000", False),  # all zeros
        ("12345678", False),  # eight digits
        ("1234567890", False),  # ten digits
        ("12345678a", False),
    ],
)
def test_elfproef(value: str, valid: bool) -> None:
    assert bool(elfproef(value)[0]) is valid


def test_pseudonym_is_hmac_sha256_of_the_bsn_with_the_scope_key() -> None:
    scoped = derive_key(b"unit-test-key-8e2b7d4f1a9c6e3057b2", "project")
    expected = hmac.new(scoped, b"111222333", hashlib.sha256).hexdigest()
    assert pseudonymise("111222333") == expected
    assert pseudonymise("111 222 333") == expected == pseudonymise("111.222.333")
    assert pseudonymise(["111222333", "A" * 64]) == [expected, "a" * 64]
    assert pseudonymise("111222333", key=b"other") != expected
    # a spreadsheet or numeric column that dropped one or two leading zeros: padded back to 9
    assert pseudonymise("12345672") == pseudonymise("012345672")
    assert pseudonymise("1000007") == pseudonymise("001000007")


def test_pseudonymise_refuses_invalid_values_without_showing_them() -> None:
    with pytest.raises(IngestError, match="fails the elfproef") as info:
        pseudonymise(["111222333", "123456789"])
    assert "123456789" not in str(info.value) and "value 2" in str(info.value)


def test_key_file_is_created_once_with_mode_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVALKIT_PSEUDONYM_KEY")
    key_file = tmp_path / "keys" / "pseudonym.key"
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY_FILE", str(key_file))
    first = pseudonymise("111222333")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert pseudonymise("111222333") == first
    assert len(key_file.read_text().strip()) == 64


def test_key_file_inside_a_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVALKIT_PSEUDONYM_KEY")
    (tmp_path / ".git").mkdir()
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY_FILE", str(tmp_path / "pseudonym.key"))
    with pytest.raises(IngestError, match="outside any git repository"):
        pseudonymise("111222333")
    assert not (tmp_path / "pseudonym.key").exists()


def _series(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype="str")


def test_dates_in_dutch_iso_and_excel_forms() -> None:
    values, messages = parse_dates(
        _series(
            [
                "03-02-2025",
                "3-2-2025",
                "03/02/2025",
                "03.02.2025",
                "2025-02-03",
                "20250203",
                "2025-02-03 14:30:00",
                "45691",
                "03-02-25",
                None,
                "31-02-2025",
                "gisteren",
            ]
        )
    )
    expected = pd.Timestamp("2025-02-03")
    assert (values.iloc[:9] == expected).all()
    assert values.iloc[9:].isna().all()
    assert list(messages[9:]) == [
        None,
        "'31-02-2025' is not a real date",
        "'gisteren' is not a date (expected dd-mm-yyyy)",
    ]


def test_months_are_the_first_day_of_the_month() -> None:
    values, messages = parse_dates(
        _series(["02-2025", "2025-02", "202502", "2025M02", "17-02-2025", "45705", "13-2025"]),
        month=True,
    )
    assert (values.iloc[:6] == pd.Timestamp("2025-02-01")).all()
    assert pd.isna(values.iloc[6]) and messages[6] == "'13-2025' is not a real date"


@pytest.mark.parametrize(
    ("text", "decimal_comma", "number"),
    [
        ("1.234,50", True, 1234.5),
        ("1.234,50", False, 1234.5),
        ("1,234.50", False, 1234.5),
        ("3,5", True, 3.5),
        ("3,5", False, 3.5),
        ("1.234", True, 1234.0),
        ("1.234", False, 1.234),
        ("€ 12,50", True, 12.5),
        ("-7", True, -7.0),
    ],
)
def test_numbers_with_decimal_comma_or_point(text: str, decimal_comma: bool, number: float) -> None:
    values, messages = parse_numbers(_series([text]), decimal_comma=decimal_comma)
    assert values.iloc[0] == pytest.approx(number) and messages[0] is None


def test_booleans_in_dutch_and_english() -> None:
    values, messages = parse_boolean(
        _series(["Ja", "nee", "J", "n", "1", "0", "TRUE", "no", "soms", None])
    )
    assert values.tolist()[:8] == [True, False, True, False, True, False, True, False]
    assert messages[8] == "'soms' is not a yes/no value (1/0, ja/nee)" and messages[9] is None


def test_headers_match_case_space_and_accent_insensitively() -> None:
    schema = load_schema("outcome_panel")
    mapping, unmatched = match_headers(
        ["Gemeente code", "GEBOORTEMAAND", "geen-werk-geen-opleiding", "Naam"],
        schema.columns,
        file="f",
    )
    assert mapping == {
        "Gemeente code": "municipality",
        "GEBOORTEMAAND": "birth_month",
        "geen-werk-geen-opleiding": "neet",
    }
    assert unmatched == ["Naam"]


def test_schemas_keep_the_contract() -> None:
    panel = load_schema("outcome_panel")
    assert panel.key == ("person_id", "month") and panel.version >= 2
    assert "bsn" in panel.columns["person_id"].aliases
    events = load_schema("case_events")
    assert {r["rule"] for r in events.rules} == {"event_order", "one_value_per_group"}
    questionnaire = load_schema("questionnaire")
    assert set(questionnaire.instruments) == {"zrm", "mhi5", "nps", "satisfaction"}
    assert len(questionnaire.instruments["zrm"].items) == 13
    assert questionnaire.missing_codes == {7: "refused", 8: "not_applicable", 9: "unknown"}


def test_an_invalid_schema_names_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "case_events.yaml").write_text(
        "kind: case_events\nversion: 1\ncolumns:\n  event_id: {type: text}\n", encoding="utf-8"
    )
    monkeypatch.setenv("EVALKIT_SCHEMA_DIR", str(tmp_path))
    with pytest.raises(
        IngestError, match=r"case_events.yaml: columns.event_id.type 'text' is not one of"
    ):
        load_schema("case_events")


def test_unknown_kind_lists_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="allowed: outcome_panel, questionnaire, case_events"):
        ingest.validate_file("panel", tmp_path / "x.csv")


def test_read_frame_types_a_dutch_csv(tmp_path: Path) -> None:
    path = tmp_path / "did.csv"
    path.write_text(
        "gemeente;maand;y;behandeld\nGM0001;01-02-2025;1,5;1\nGM0002;01-03-2025;2,25;0\n",
        encoding="cp1252",
    )
    frame = read_frame(path)
    assert frame["y"].tolist() == [1.5, 2.25]
    assert frame["behandeld"].dtype == np.int64
    assert frame["maand"].tolist() == [pd.Timestamp("2025-02-01"), pd.Timestamp("2025-03-01")]
    assert frame["gemeente"].tolist() == ["GM0001", "GM0002"]


def test_read_frame_keeps_stored_types_of_parquet(tmp_path: Path) -> None:
    path = tmp_path / "did.parquet"
    original = pd.DataFrame(
        {"unit": [1, 2], "y": [0.5, 1.5], "t": pd.to_datetime(["2025-01-01", "2025-02-01"])}
    )
    original.to_parquet(path)
    pd.testing.assert_frame_equal(read_frame(path), original)


def test_read_frame_refuses_rows_that_do_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("a;b\n1;2\n3;4;5\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"row 2: row has 3 field\(s\), the header has 2"):
        read_frame(path)


def test_keyed_labels_are_stable_keyed_and_never_the_id() -> None:
    import pandas as pd

    from evalkit.ingest import keyed_labels

    ids = pd.Series(["JC9011-01", "JC9011-02", None, "JC9011-01 "])
    key_a, key_b = b"a" * 32, b"b" * 32
    labels = keyed_labels(ids, key=key_a, kind="coach")
    assert labels[0] == labels[3] and labels[0] != labels[1]  # same coach, same label
    assert pd.isna(labels[2])  # no coach recorded stays missing
    assert all(str(v).startswith("coach ") and "JC" not in str(v) for v in labels.dropna())
    assert len(str(labels[0]).split()[1]) == 6
    assert keyed_labels(ids, key=key_a, kind="coach").equals(labels)  # the same every run
    assert keyed_labels(ids, key=key_b, kind="coach")[0] != labels[0]  # the key decides
    assert keyed_labels(ids, key=key_a, kind="team")[0].split()[1] != labels[0].split()[1]

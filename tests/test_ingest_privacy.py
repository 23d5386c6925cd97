"""No raw BSN anywhere, strong scoped keys, and overlapping deliveries across files."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from bad_corpus import make_bad

from evalkit.cli import main
from evalkit.errors import IngestError
from evalkit.ingest import Store, ingest_files, pseudonymise
from evalkit.ingest._privacy import mask_bsns
from evalkit.ingest._pseudonym import derive_key

PANEL_HEADER, csv_text = make_bad.PANEL_HEADER, make_bad.csv_text
panel_rows, valid_bsns = make_bad.panel_rows, make_bad.valid_bsns

KEY = "privacy-test-key-6d1f8a3c9e2b7045f1c8"
RAW = "999999990"  # elfproef-valid, from the test block 999...


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("EVALKIT_PSEUDONYM_SCOPE", raising=False)


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF-SHA256, written out here as the reference."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def test_scope_keys_are_rfc5869_hkdf_of_the_master_key() -> None:
    # RFC 5869, appendix A.1 (test case 1) checks the reference implementation first.
    okm = _hkdf(bytes(range(13)), b"\x0b" * 22, bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    for scope in ("project", "pilot-utrecht-2025"):
        expected = _hkdf(b"evalkit pseudonym key v1", KEY.encode(), f"scope={scope}".encode(), 32)
        assert derive_key(KEY.encode(), scope) == expected


def test_two_scopes_share_no_pseudonym_over_the_999_block() -> None:
    block = valid_bsns(5000, start=999_000_000)
    a = set(pseudonymise(block, scope="pilot-a"))
    b = set(pseudonymise(block, scope="pilot-b"))
    assert len(a) == len(b) == 5000 and not a & b
    # Nor can the master key alone reverse them: HMAC under the master key is another set.
    direct = {hmac.new(KEY.encode(), x.encode(), hashlib.sha256).hexdigest() for x in block}
    assert not direct & a


@pytest.mark.parametrize(
    "weak",
    [
        "1",
        "secret",
        "a" * 64,
        "abcdefgh" * 6,
        "0123456789abcdef" * 3,
        # accepted before: a run of the alphabet, and words (a Dutch sentence, the pilot's name)
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        "ditiseenheellangwachtwoordvoordepilotgemeente",
        "Jongerenaanpak16-27GemeenteDemodam2025!",
    ],
)
def test_weak_keys_are_refused_with_advice(
    weak: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", weak)
    path = tmp_path / "p.csv"
    path.write_text(csv_text(PANEL_HEADER, panel_rows()), encoding="utf-8")
    assert main(["ingest", "outcome_panel", str(path), "--store", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert "pseudonym key is too weak" in err and "secrets.token_hex(32)" in err
    assert not (tmp_path / "s").exists() or Store(tmp_path / "s").stored_rows("outcome_panel") == 0


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("999999990", "[BSN]"),
        ("D-999999990", "D-[BSN]"),
        ("bsn 999 999 990 gebeld", "bsn [BSN] gebeld"),
        ("999.999.990", "[BSN]"),
        ("9999-99-990", "[BSN]"),
        ("deelnemer_999999990.csv", "deelnemer_[BSN].csv"),
        ("999999990.0", "[BSN].0"),
        ("123456789", "123456789"),  # fails the elfproef
        ("1234567890", "1234567890"),  # ten digits, no window passes the elfproef
        ("06-12345678", "06-12345678"),
        ("1.234.567,89", "1.234.567,89"),
        ("12345672", "[BSN]"),  # 012345672 without its leading zero, as a spreadsheet keeps it
        ("999_999_990", "[BSN]"),
        ("map/999/999/990", "map/[BSN]"),
        ("\uff19" * 8 + "\uff10", "[BSN]"),  # full-width digits
        ("20251231", "20251231"),  # eight digits that are no BSN even with a zero in front
        ("31-02-2005", "31-02-2005"),  # a date: 031022005 passes the elfproef, but has separators
        ("nr 999,999,990", "nr [BSN]"),  # thousands commas, as an English spreadsheet shows it
        ("999'999'990", "[BSN]"),
        ("999\u00a0999\u202f990", "[BSN]"),  # non-breaking and narrow no-break spaces
        ("999\u2013999\u2212990", "[BSN]"),  # en dash, minus sign
        ("9,99999990E+08", "[BSN]E+08"),  # Dutch exponent form of the number 999999990
        ("123.999.999.990", "123.[BSN]"),  # a group in front: the next group starts the BSN
        ("nr 12 999 999 990 en 999.999.990.1", "nr 12 [BSN] en [BSN].1"),
    ],
)
def test_mask_finds_bsns_with_and_without_separators(text: str, masked: str) -> None:
    assert mask_bsns(text) == masked


def _outputs(tmp_path: Path, store: Path, capsys) -> str:
    captured = capsys.readouterr()
    con = duckdb.connect(str(store), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        dumps = [con.execute(f'SELECT * FROM "{t}"').df().to_csv() for t in tables]
    finally:
        con.close()
    return captured.out + captured.err + "".join(dumps)


def test_misaligned_row_free_text_and_file_name_never_show_the_bsn(tmp_path: Path, capsys) -> None:
    header = [*PANEL_HEADER, "Schuldbronnen", "Casemanager"]
    rows = [[*r, "Dossier D-999 999 990", "mw. de Vries"] for r in panel_rows()]
    rows[1][0], rows[1][2] = "GM0363", RAW  # BSN and municipality swapped
    rows[2][-1] = "bel 999.999.990"
    path = tmp_path / f"deelnemer_{RAW}.csv"
    path.write_text(csv_text(header, rows), encoding="utf-8")
    store = tmp_path / "s.duckdb"
    args = ["ingest", "outcome_panel", str(path), "--store", str(store)]
    assert main(args) == 0
    out = _outputs(tmp_path, store, capsys)
    assert "deelnemer_[BSN].csv" in out and "[BSN:" in out
    for form in (RAW, "999 999 990", "999.999.990"):
        assert form not in out
    with Store(store) as s:
        quarantine = s.quarantine()
        stored = s.table("outcome_panel")
    assert set(quarantine["rule"]) >= {"bsn", "pattern"}
    assert stored["debt_sources"].str.startswith("Dossier D-[BSN:").all()
    assert main([*args, "--json"]) == 0  # already ingested: the skip note names no BSN either
    assert RAW not in capsys.readouterr().out


def test_a_bsn_that_lost_its_leading_zero_never_shows_in_any_column(tmp_path: Path, capsys) -> None:
    rows = panel_rows()
    rows[1][2] = "12345672"  # in the municipality column: rejected, its value quoted
    path = tmp_path / "mis8.csv"
    path.write_text(csv_text(PANEL_HEADER, rows), encoding="utf-8")
    store = tmp_path / "s.duckdb"
    assert main(["ingest", "outcome_panel", str(path), "--store", str(store)]) == 0
    out = _outputs(tmp_path, store, capsys)
    assert "12345672" not in out and "[BSN" in out


def test_headerless_list_of_bsns_is_refused_without_echoing_one(tmp_path: Path, capsys) -> None:
    path = tmp_path / "lijst.csv"
    path.write_text("\n".join(valid_bsns(5, start=999_000_000)) + "\n", encoding="utf-8")
    assert main(["ingest", "outcome_panel", str(path), "--store", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert "no delimiter found" in err and "[BSN]" in err
    assert not any(b in err for b in valid_bsns(5, start=999_000_000))


def test_a_store_holds_one_scope(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(csv_text(PANEL_HEADER, panel_rows()), encoding="utf-8")
    store = tmp_path / "s.duckdb"
    ingest_files("outcome_panel", [path], store_path=store, scope="pilot-a")
    with pytest.raises(IngestError, match="holds pseudonyms of scope 'pilot-a'"):
        ingest_files("outcome_panel", [path], store_path=store, scope="pilot-b")
    with Store(store) as s:
        assert s.ingest_log()["pseudonym_scope"].tolist() == ["pilot-a"]
        ids = set(s.table("outcome_panel")["person_id"])
    assert ids == set(pseudonymise([r[0] for r in panel_rows()], scope="pilot-a"))


def _deliveries(tmp_path: Path) -> tuple[Path, Path]:
    rows = panel_rows(6)
    first = tmp_path / "levering_jan.csv"
    first.write_text(csv_text(PANEL_HEADER, rows), encoding="utf-8")
    again = tmp_path / "levering_jan_opnieuw.xlsx"  # the same rows, another format
    pd.DataFrame(rows, columns=PANEL_HEADER).to_excel(again, index=False)
    return first, again


@pytest.mark.parametrize(
    ("rule", "accepted", "stored", "note"),
    [
        ("refuse", 0, 6, "rejected them"),
        ("keep_latest", 6, 6, "replaced the stored rows"),
        ("keep_both", 6, 12, "stored both"),
    ],
)
def test_the_same_rows_delivered_again_follow_the_overlap_rule(
    rule: str, accepted: int, stored: int, note: str, tmp_path: Path, capsys
) -> None:
    first, again = _deliveries(tmp_path)
    store = tmp_path / "s.duckdb"
    assert main(["ingest", "outcome_panel", str(first), "--store", str(store)]) == 0
    capsys.readouterr()
    args = ["ingest", "outcome_panel", str(again), "--store", str(store), "--overlap", rule]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"6 row(s) have a key already stored from {first}" in text and note in text
    with Store(store) as s:
        table = s.table("outcome_panel")
        log = s.ingest_log()
        quarantine = s.quarantine()
    assert len(table) == stored
    assert log["accepted"].tolist() == [6, accepted]
    assert (log["rows_read"] == log["accepted"] + log["rejected"]).all()
    if rule == "refuse":
        assert set(quarantine["rule"]) == {"overlap"} and len(quarantine) == 6
        assert json.loads(quarantine["content"].iloc[0])["municipality"] == "GM0363"
    if rule == "keep_latest":
        assert set(table["_source_sha256"]) == {log["sha256"].iloc[1]}


RAW2 = "999434809"  # a second elfproef-valid number from the test block
GLUED = [RAW + RAW, f"{RAW}/{RAW2}", f"12{RAW}", f"{RAW2}7", f"D{RAW}x", f"tel{RAW}{RAW2}"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EVALKIT_PSEUDONYM_KEY": KEY}
    env.pop("EVALKIT_PSEUDONYM_SCOPE", None)
    return subprocess.run(
        [sys.executable, "-m", "evalkit.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (RAW + RAW, "[BSN]"),  # two BSNs run together: one covered stretch
        (f"{RAW}/{RAW2}", "[BSN]/[BSN]"),
        (f"12{RAW}", "12[BSN]"),  # glued to other digits
        (f"D{RAW}x", "D[BSN]x"),  # glued to letters
        (f"{RAW}1", "[BSN]1"),
        ("0612345678", "0612345678"),  # ten digits, neither window passes the elfproef
        ("a" * 10 + "1234567899" + "b" * 44, "a" * 10 + "1234567899" + "b" * 44),
    ],
)
def test_mask_finds_bsns_run_together_or_glued(text: str, masked: str) -> None:
    assert mask_bsns(text) == masked


def test_a_pseudonym_in_quarantined_content_is_never_masked() -> None:
    # 64-hex pseudonyms hold runs of decimal digits; one in ~35 has a run that passes.
    hexes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(2000)]
    assert [mask_bsns(json.dumps({"person_id": h})) for h in hexes] == [
        json.dumps({"person_id": h}) for h in hexes
    ]


def test_glued_bsns_never_show_in_any_output_of_the_cli(tmp_path: Path) -> None:
    header = [*PANEL_HEADER, "Schuldbronnen", "Dossiernummer"]
    rows = [[*r, GLUED[i % len(GLUED)], f"D{RAW2}{i}"] for i, r in enumerate(panel_rows(6))]
    rows[1][0], rows[1][2] = "GM0363", RAW + RAW2  # misaligned: two BSNs in the unit column
    rows[3][2] = f"GM{RAW}"
    path = tmp_path / f"deelnemer_{RAW}{RAW2}.csv"
    path.write_text(csv_text(header, rows), encoding="utf-8")
    store, out = str(tmp_path / "s.duckdb"), tmp_path / "check"
    runs = [
        _cli("validate", "outcome_panel", str(path), "--out", str(out)),
        _cli("ingest", "outcome_panel", str(path), "--store", store),
        _cli("ingest", "outcome_panel", str(path), "--store", store, "--json"),
        *(_cli("store", cmd, "--store", store, "--json") for cmd in ("quarantine", "log")),
        _cli("store", "quarantine", "--store", store),
    ]
    assert [r.returncode for r in runs] == [0] * len(runs)
    texts = [r.stdout + r.stderr for r in runs]
    texts += [p.read_text(encoding="utf-8") for p in sorted(out.rglob("*")) if p.is_file()]
    con = duckdb.connect(store, read_only=True)
    try:
        for (table,) in con.execute("SHOW TABLES").fetchall():
            texts.append(con.execute(f'SELECT * FROM "{table}"').df().to_csv())
    finally:
        con.close()
    shown = "".join(texts)
    assert "[BSN]" in shown and "[BSN:" in shown and "Traceback" not in shown
    for raw in (RAW, RAW2, RAW[1:], RAW2[:-1]):  # nor eight of their nine digits
        assert raw not in shown


_RACE = """
import os, sys, time
from evalkit.ingest._pseudonym import master_key
start = float(sys.argv[1])
while time.time() < start:
    pass
print(master_key().decode())
"""


def test_commands_started_together_on_a_fresh_machine_share_one_key(tmp_path) -> None:
    # `make report` runs two evalkit commands side by side; on a fresh machine both
    # create the key file: each must get the one key that stays on disk, never an error
    # or a half-written file.
    import time

    env = {k: v for k, v in os.environ.items() if k != "EVALKIT_PSEUDONYM_KEY"}
    for attempt in range(2):
        key_file = tmp_path / f"round{attempt}" / "pseudonym.key"
        env["EVALKIT_PSEUDONYM_KEY_FILE"] = str(key_file)
        start = str(time.time() + 2.0)
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", _RACE, start],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        outs = [run.communicate(timeout=60) for run in runs]
        assert all(run.returncode == 0 for run in runs), [err for _, err in outs]
        keys = {out.strip() for out, _ in outs}
        assert keys == {key_file.read_text(encoding="utf-8").strip()}
        assert sorted(p.name for p in key_file.parent.iterdir()) == ["pseudonym.key"]

"""One store, several overlap rules: the rule a delivery was stored under is recorded and kept.

A file already in the store is not read again, so a second protocol (or command) that lists
it reads the rows the first one's rule kept. Where that rule acted, the second one is told
instead of analysing rows that follow another rule.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from bad_corpus import make_bad

from evalkit.cli import main
from evalkit.errors import IngestError
from evalkit.ingest import Store, file_sha256
from evalkit.pipeline import ingest_protocol, paths_for

ROOT = Path(__file__).resolve().parent.parent
KEY = "overlap-rules-key-5d1f9c3a7e2b8046c1a9f3e7"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("EVALKIT_PSEUDONYM_SCOPE", raising=False)
    monkeypatch.chdir(tmp_path)
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    rows = make_bad.panel_rows(6)
    # The same six person-months delivered twice: as Excel's semicolons, then as tabs.
    (raw / "march.csv").write_text(make_bad.csv_text(make_bad.PANEL_HEADER, rows), "utf-8")
    again = make_bad.csv_text(make_bad.PANEL_HEADER, rows, sep="\t")
    (raw / "april.csv").write_text(again, encoding="utf-8")
    (tmp_path / "protocols").mkdir()
    return tmp_path


def _protocol(project: Path, pid: str, rule: str, files: list[str]) -> Path:
    raw = yaml.safe_load((ROOT / "protocols" / "demo.yaml").read_text(encoding="utf-8"))
    raw["id"] = pid
    raw["outcomes"] = [o for o in raw["outcomes"] if o["id"] == "problematic_debt"]
    raw["hypotheses"] = [h for h in raw["hypotheses"] if h["outcome"] == "problematic_debt"]
    power = raw["power"]
    power["base_rates"] = {"problematic_debt": power["base_rates"]["problematic_debt"]}
    power["results"] = [r for r in power["results"] if r["outcome"] == "problematic_debt"]
    source = {"kind": "outcome_panel", "schema_version": 2, "files": files, "overlap": rule}
    raw["data_sources"] = [source]
    raw.pop("demo", None)
    path = project / "protocols" / f"{pid}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _ingest(project: Path, pid: str, rule: str, files: list[str]) -> list[dict]:
    paths = paths_for(_protocol(project, pid, rule, files), build=project / "build")
    return ingest_protocol(paths)


BOTH = ["data/raw/march.csv", "data/raw/april.csv"]


@pytest.mark.parametrize(
    ("first", "second"),
    [("keep_both", "refuse"), ("refuse", "keep_both"), ("keep_latest", "refuse")],
)
def test_a_second_protocol_with_another_rule_is_refused_where_the_rule_acted(
    project: Path, first: str, second: str
) -> None:
    # The second protocol's files were both skipped as already stored, and it analysed the
    # rows the first protocol's rule kept: under refuse, six person-months twice.
    _ingest(project, "pilot_a", first, BOTH)
    with pytest.raises(IngestError) as caught:
        _ingest(project, "pilot_b", second, BOTH)
    message = str(caught.value)
    assert message.startswith("data/raw/")
    assert f"this ingest asks overlap rule {second}" in message
    assert "a store of its own" in message


def test_the_log_records_the_rule_of_every_delivery(project: Path) -> None:
    reports = _ingest(project, "pilot_a", "keep_both", BOTH)
    assert [r["accepted"] for r in reports] == [6, 6]
    with Store(project / "build" / "evalkit.duckdb") as store:
        log = store.ingest_log().set_index("file")
    assert log["overlap_rule"].to_dict() == {
        "data/raw/march.csv": "keep_both",
        "data/raw/april.csv": "keep_both",
    }
    assert log.loc["data/raw/april.csv", "overlap_with"] == file_sha256(Path(BOTH[0]))
    assert pd.isna(log.loc["data/raw/march.csv", "overlap_with"])


def test_the_same_rule_or_a_rule_that_never_acted_is_accepted(project: Path) -> None:
    _ingest(project, "pilot_a", "keep_both", BOTH)
    # The same rule: skipped, no question.
    assert all(r["skipped_duplicate_file"] for r in _ingest(project, "pilot_c", "keep_both", BOTH))
    # march.csv met nothing when it was stored and no keep_latest replaced its rows: the
    # rule never acted on it, so a protocol that lists only it reads what it would store.
    [only] = _ingest(project, "pilot_d", "refuse", BOTH[:1])
    assert only["skipped_duplicate_file"] and only["accepted"] == 6


def test_an_overlap_settled_against_a_file_the_protocol_does_not_list_is_refused(
    project: Path,
) -> None:
    # Under refuse april.csv's six rows were quarantined because of march.csv; a protocol
    # listing april.csv alone would analyse none of them.
    reports = _ingest(project, "pilot_a", "refuse", BOTH)
    assert reports[1]["rejected"] == 6
    with pytest.raises(IngestError, match="does not list"):
        _ingest(project, "pilot_b", "refuse", BOTH[1:])


def test_the_cli_refuses_another_rule_on_a_file_whose_overlap_it_settled(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(project / "s.duckdb")
    base = ["ingest", "outcome_panel", "--store", store]
    assert main([*base, BOTH[0]]) == 0
    assert main([*base, BOTH[1], "--overlap", "keep_both"]) == 0
    capsys.readouterr()
    assert main([*base, *BOTH, "--overlap", "refuse"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("evalkit ingest: data/raw/april.csv: already in the store")
    assert "stored under overlap rule keep_both" in err and "Traceback" not in err
    assert main([*base, *BOTH, "--overlap", "keep_both"]) == 0


def test_a_file_whose_rows_keep_latest_replaced_is_refused_under_another_rule(
    project: Path,
) -> None:
    # march.csv met nothing, but april.csv replaced all its rows under keep_latest: a
    # protocol keeping both deliveries of march.csv alone would find none of its rows.
    _ingest(project, "pilot_a", "keep_latest", BOTH)
    with pytest.raises(IngestError, match="replaced by a later delivery under overlap rule"):
        _ingest(project, "pilot_b", "keep_both", BOTH[:1])


@pytest.mark.parametrize(
    ("kind", "name", "repeated"),
    [("case_events", "ce_future_event.csv", 4), ("questionnaire", "q_long_format.csv", 3)],
)
def test_keep_both_says_how_many_rows_are_stored_twice_for_every_kind(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    name: str,
    repeated: int,
) -> None:
    # The note said "stored both" and nothing of what that does: the copies are not merged,
    # so every repeated case event or answer counts once per delivery, as the panel's
    # repeated person-months do.
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    text = (ROOT / "tests" / "data" / "bad" / name).read_text(encoding="utf-8")
    first, again = tmp_path / "first.csv", tmp_path / "again.csv"
    first.write_text(text, encoding="utf-8")
    again.write_text(text.replace(";", "\t"), encoding="utf-8")
    base = ["ingest", kind, "--store", str(tmp_path / "s.duckdb"), "--overlap", "keep_both"]
    assert main([*base, str(first)]) == 0
    capsys.readouterr()
    assert main([*base, str(again)]) == 0
    out = capsys.readouterr().out
    assert (
        f"stored both (overlap rule keep_both); these {repeated} row(s) are now stored more "
        "than once and count once per delivery in the analysis"
    ) in out
    with Store(tmp_path / "s.duckdb") as store:
        log = store.ingest_log()
    assert log["overlap"].iloc[-1].endswith("count once per delivery in the analysis")

"""Per-protocol pseudonym scopes in the pipeline: two pilots' releases cannot be joined."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from bad_corpus import make_bad

from evalkit.errors import ProtocolError
from evalkit.ingest import Store, pseudonymise
from evalkit.pipeline import ingest_protocol, paths_for

ROOT = Path(__file__).resolve().parent.parent
KEY = "scope-test-key-8c2e5a9f1b7d3046a9e1"


def _protocol(pid: str, scope: str | None) -> dict:
    raw = yaml.safe_load((ROOT / "protocols" / "demo.yaml").read_text(encoding="utf-8"))
    raw["id"] = pid
    raw["outcomes"] = [o for o in raw["outcomes"] if o["id"] == "problematic_debt"]
    raw["hypotheses"] = [h for h in raw["hypotheses"] if h["outcome"] == "problematic_debt"]
    power = raw["power"]
    power["base_rates"] = {"problematic_debt": power["base_rates"]["problematic_debt"]}
    power["results"] = [r for r in power["results"] if r["outcome"] == "problematic_debt"]
    files = ["data/raw/panel.csv"]
    raw["data_sources"] = [{"kind": "outcome_panel", "schema_version": 2, "files": files}]
    raw.pop("demo", None)
    if scope is not None:
        raw["pseudonym_scope"] = scope
    return raw


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVALKIT_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("EVALKIT_PSEUDONYM_SCOPE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    text = make_bad.csv_text(make_bad.PANEL_HEADER, make_bad.panel_rows(6))
    (tmp_path / "data" / "raw" / "panel.csv").write_text(text, encoding="utf-8")
    (tmp_path / "protocols").mkdir()
    for pid, scope in [
        ("pilot_a", "protocol"),
        ("pilot_b", "protocol"),
        ("plain", None),
        ("linked_c", "consortium"),
        ("linked_d", "consortium"),
    ]:
        (tmp_path / "protocols" / f"{pid}.yaml").write_text(
            yaml.safe_dump(_protocol(pid, scope), allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    return tmp_path


def _ingest(project: Path, pid: str, build: str = "build") -> tuple[Path, set[str], list[str]]:
    paths = paths_for(project / "protocols" / f"{pid}.yaml", build=project / build)
    [report] = ingest_protocol(paths)
    assert report["accepted"] == 6
    with Store(paths.store) as store:
        ids = set(store.table("outcome_panel")["person_id"])
        scopes = store.ingest_log()["pseudonym_scope"].tolist()
    return paths.store, ids, scopes


def test_two_protocols_give_the_same_bsn_different_pseudonyms(project: Path) -> None:
    bsns = [r[0] for r in make_bad.panel_rows(6)]
    store_a, a, scopes_a = _ingest(project, "pilot_a")
    store_b, b, scopes_b = _ingest(project, "pilot_b")
    assert store_a == project / "build" / "scopes" / "pilot_a.duckdb"
    assert store_b == project / "build" / "scopes" / "pilot_b.duckdb"
    assert (scopes_a, scopes_b) == (["pilot_a"], ["pilot_b"])
    assert len(a) == len(b) == 6 and not a & b
    assert a == set(pseudonymise(bsns, scope="pilot_a"))
    # Ingested again under the same protocol (a new build): the same pseudonyms.
    _, again, _ = _ingest(project, "pilot_a", build="build2")
    assert again == a
    # Protocols that name one shared scope may be linked; without one, the session's scope.
    _, c, _ = _ingest(project, "linked_c")
    _, d, _ = _ingest(project, "linked_d")
    assert c == d and not c & a
    store_plain, plain, scopes_plain = _ingest(project, "plain")
    assert store_plain == project / "build" / "evalkit.duckdb" and scopes_plain == ["project"]
    assert plain == set(pseudonymise(bsns, scope="project")) and not plain & (a | b | c)


def test_a_scope_that_is_no_name_is_refused(project: Path) -> None:
    path = project / "protocols" / "bad.yaml"
    path.write_text(yaml.safe_dump(_protocol("bad", "../../etc")), encoding="utf-8")
    with pytest.raises(ProtocolError, match="pseudonym_scope"):
        paths_for(path)

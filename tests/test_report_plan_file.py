"""The suppression plan saved beside a bundle: read back exactly, used only for that bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from evalkit.report.bundle import read_bundle
from evalkit.report.context import ReportContext
from evalkit.report.disclosure import SECONDARY
from evalkit.report.plan import SuppressionPlan, bundle_threshold
from evalkit.report.plan_file import ensure_plan, load_plan, plan_path, save_plan

FIXTURE = Path(__file__).parent / "data" / "bundle_fixture.json"


@pytest.fixture
def bundle_path(tmp_path: Path) -> Path:
    path = tmp_path / "demo" / "results.json"
    path.parent.mkdir()
    shutil.copyfile(FIXTURE, path)
    return path


def _assert_same(saved: SuppressionPlan, fresh: SuppressionPlan) -> None:
    assert saved.threshold == fresh.threshold
    assert list(saved.statuses) == list(fresh.statuses)
    for source, status in fresh.statuses.items():
        pd.testing.assert_frame_equal(
            saved.statuses[source], status, check_exact=True, check_index_type=True
        )
        assert type(saved.statuses[source].index) is type(status.index), source
    assert saved.digest == fresh.digest


def test_the_saved_plan_is_the_plan_of_the_bundle(bundle_path: Path) -> None:
    bundle = read_bundle(bundle_path)
    fresh = SuppressionPlan.from_bundle(bundle)
    assert fresh.n_suppressed > 0  # the fixture hides cells, so the check means something
    assert save_plan(bundle_path) == plan_path(bundle_path) == bundle_path.with_name("plan.json")
    saved = load_plan(bundle_path, bundle_threshold(bundle))
    assert saved is not None
    _assert_same(saved, fresh)


def test_a_plan_is_used_only_for_its_own_bundle_and_threshold(bundle_path: Path) -> None:
    assert load_plan(bundle_path, 10) is None  # nothing saved yet
    save_plan(bundle_path)
    threshold = bundle_threshold(read_bundle(bundle_path))
    assert load_plan(bundle_path, threshold) is not None
    assert load_plan(bundle_path, threshold + 1) is None
    # a bundle recomputed with other content: the saved plan no longer applies
    bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
    bundle["settings"]["disclosure_threshold"] = threshold + 5
    bundle_path.write_text(json.dumps(bundle), encoding="utf-8")
    assert load_plan(bundle_path, threshold) is None
    assert load_plan(bundle_path, threshold + 5) is None
    ensure_plan(bundle_path)  # made again, for the new bundle
    again = load_plan(bundle_path, threshold + 5)
    assert again is not None
    _assert_same(again, SuppressionPlan.from_bundle(read_bundle(bundle_path)))


def test_an_unreadable_plan_file_is_made_afresh(bundle_path: Path) -> None:
    plan_path(bundle_path).write_text("{not json", encoding="utf-8")
    threshold = bundle_threshold(read_bundle(bundle_path))
    assert load_plan(bundle_path, threshold) is None
    assert ReportContext.load(bundle_path).plan.digest == (
        SuppressionPlan.from_bundle(read_bundle(bundle_path)).digest
    )
    ensure_plan(bundle_path)
    assert load_plan(bundle_path, threshold) is not None


def test_a_document_reads_the_saved_plan_instead_of_making_it(bundle_path: Path) -> None:
    save_plan(bundle_path)
    # mark one shown cell hidden in the file: a document that made the plan itself
    # would show it, one that reads the file hides it
    body = json.loads(plan_path(bundle_path).read_text(encoding="utf-8"))
    source, node = next((s, n) for s, n in body["statuses"].items() if n["data"])
    node["data"][0][0] = SECONDARY
    plan_path(bundle_path).write_text(json.dumps(body), encoding="utf-8")
    ctx = ReportContext.load(bundle_path, "en")
    assert ctx.plan.statuses[source].iat[0, 0] == SECONDARY
    fresh = SuppressionPlan.from_bundle(read_bundle(bundle_path))
    assert fresh.statuses[source].iat[0, 0] == ""


def test_every_planner_module_makes_a_saved_plan_stale() -> None:
    """A plan saved by other planner code is not reused: every module that decides a cell
    is in the fingerprint (the search's module was missing, so a changed rule there
    left old plans in use)."""
    from evalkit.report import plan_file

    folder = Path(plan_file.__file__).parent
    planners = {p.name for p in folder.glob("plan*.py")} - {"plan_file.py"}
    assert planners <= set(plan_file._PLANNER)
    assert "disclosure.py" in plan_file._PLANNER


def _next_delivery(bundle_path: Path) -> dict:
    """The fixture's bundle as computed from another delivery, one month later."""
    bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
    bundle.setdefault("data", {})["sources"] = [{"kind": "case_events", "sha256": "f" * 64}]
    return bundle


def test_each_release_given_out_is_recorded_once_in_its_place(bundle_path: Path) -> None:
    from evalkit.report.plan_prior import delivery_stamp, ledger_path, read_priors

    first = read_bundle(bundle_path)
    ReportContext.load(bundle_path)  # `evalkit report` on a bundle without a plan
    assert [e["stamp"] for e in _ledger(bundle_path)] == [delivery_stamp(first)]
    plan_first = plan_path(bundle_path).read_text(encoding="utf-8")
    second = _next_delivery(bundle_path)
    bundle_path.write_text(json.dumps(second), encoding="utf-8")
    save_plan(bundle_path)
    stamps = [delivery_stamp(first), delivery_stamp(second)]
    assert [e["stamp"] for e in _ledger(bundle_path)] == stamps
    priors, _, recorded = read_priors(bundle_path, delivery_stamp(second))
    assert recorded and [p.stamp for p in priors] == stamps[:1]
    # the first delivery rendered again: planned against what came before it, as then
    bundle_path.write_text(json.dumps(first), encoding="utf-8")
    save_plan(bundle_path)
    assert (
        json.loads(plan_path(bundle_path).read_text(encoding="utf-8"))["statuses"]
        == (json.loads(plan_first)["statuses"])
    )
    assert [e["stamp"] for e in _ledger(bundle_path)] == stamps
    assert ledger_path(bundle_path) == bundle_path.with_name("releases.json")


def _ledger(bundle_path: Path) -> list[dict]:
    text = bundle_path.with_name("releases.json").read_text(encoding="utf-8")
    return json.loads(text)["releases"]


def _registrations(sha: str, counts: list[int]) -> dict:
    months = [f"2026-{m:02d}" for m in range(1, len(counts) + 1)]
    rows = [
        {"period": p, "group": "pilot", "n_registrations": n, "n_active": 100}
        for p, n in zip(months, counts, strict=True)
    ]
    return {
        "bundle_version": 2,
        "data": {"sources": [{"kind": "case_events", "sha256": sha}]},
        "monitoring": {"registrations": rows},
        "settings": {"disclosure_threshold": 10},
    }


def test_a_count_hidden_before_stays_hidden_while_unchanged(tmp_path: Path) -> None:
    """March's monitor hides January (5) and February (20) under a shown total of 55;
    April's alone would hide the new April (12) and show February, which gives
    January back: 55 - 30 - 20. Planned against March's release, February stays
    hidden, and so does April's total (55 - 30 - 25 + 12 would give April)."""
    path = tmp_path / "demo" / "results.json"
    path.parent.mkdir()
    march, april = _registrations("a" * 64, [5, 20, 30]), _registrations("b" * 64, [5, 20, 30, 12])
    path.write_text(json.dumps(march), encoding="utf-8")
    save_plan(path)
    assert _hidden_months(load_plan(path, 10)) == "HH.."
    assert _hidden_months(SuppressionPlan.from_bundle(april)) == "H..H."
    path.write_text(json.dumps(april), encoding="utf-8")
    save_plan(path)
    assert _hidden_months(load_plan(path, 10)) == "HH.HH"


def _hidden_months(plan: SuppressionPlan | None) -> str:
    """The registrations' months and Σ row: H hidden, . shown."""
    assert plan is not None
    status = plan.statuses["monitoring.registrations"]["n_registrations"]
    return "".join("H" if s else "." for s in status)


def test_an_unreadable_ledger_stops_the_plan(bundle_path: Path) -> None:
    from evalkit.errors import ReportError

    bundle_path.with_name("releases.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(ReportError, match="ledger of earlier releases"):
        save_plan(bundle_path)


def test_a_plan_reads_the_latest_earlier_releases(tmp_path: Path) -> None:
    from evalkit.report.plan_prior import MAX_PRIORS, delivery_stamp, read_priors

    path = tmp_path / "demo" / "results.json"
    path.parent.mkdir()
    weeks = [_registrations(str(k) * 64, [5, 20, 30, *[12] * k]) for k in range(MAX_PRIORS + 2)]
    for bundle in weeks:
        path.write_text(json.dumps(bundle), encoding="utf-8")
        save_plan(path)
    priors, _, recorded = read_priors(path, delivery_stamp(weeks[-1]))
    assert recorded
    assert [p.stamp for p in priors] == [delivery_stamp(b) for b in weeks[1:-1]]


def test_a_document_checks_its_plan_by_the_ledger_s_hash(
    bundle_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every document and export of a release checks its saved plan: while the ledger is the
    one the plan's saving left, it is hashed, not parsed (nor the bundle parsed again)."""
    from evalkit.report import plan_file

    save_plan(bundle_path)
    threshold = bundle_threshold(read_bundle(bundle_path))
    fresh = load_plan(bundle_path, threshold)
    assert fresh is not None
    calls: list[str] = []
    real = plan_file.read_priors

    def counted(path: Path | str, stamp: str):  # type: ignore[no-untyped-def]
        calls.append(stamp)
        return real(path, stamp)

    monkeypatch.setattr(plan_file, "read_priors", counted)
    _assert_same(ReportContext.load(bundle_path, "en").plan, fresh)
    assert calls == []
    # a plan file that does not name its ledger (or names another) is checked by reading it
    body = json.loads(plan_path(bundle_path).read_text(encoding="utf-8"))
    body.pop("ledger_sha256", None)
    plan_path(bundle_path).write_text(json.dumps(body), encoding="utf-8")
    again = load_plan(bundle_path, threshold, read_bundle(bundle_path))
    assert again is not None and len(calls) == 1
    _assert_same(again, fresh)


def test_a_changed_ledger_is_read_and_can_make_the_plan_stale(bundle_path: Path) -> None:
    """An earlier release put in the ledger after the plan was saved: the hash no longer
    matches, the ledger is read, and the plan (made without that release) does not apply."""
    save_plan(bundle_path)
    threshold = bundle_threshold(read_bundle(bundle_path))
    ledger = bundle_path.with_name("releases.json")
    body = json.loads(ledger.read_text(encoding="utf-8"))
    earlier = {**body["releases"][0], "stamp": "0" * 16, "hidden": []}
    body["releases"].insert(0, earlier)
    ledger.write_text(json.dumps(body), encoding="utf-8")
    assert load_plan(bundle_path, threshold) is None
    ensure_plan(bundle_path)  # made again, against the earlier release
    assert load_plan(bundle_path, threshold) is not None



def test_the_ledger_lists_a_release_s_hidden_cells_column_by_column(tmp_path: Path) -> None:
    from evalkit.report.plan_prior import record_release

    path = tmp_path / "demo" / "results.json"
    path.parent.mkdir()
    status = pd.DataFrame({"a": ["", "primary", ""], "b": ["secondary", "", "primary"]})
    status.index = pd.Index([0, 1, 5])
    record_release(path, "s1", "2026-01", {"t": [{"n": 3}]}, {"t": status, "u": status.iloc[:0]})
    assert _ledger(path) == [
        {
            "stamp": "s1",
            "start": "2026-01",
            "tables": {"t": [{"n": 3}]},
            "hidden": [["t", 1, "a"], ["t", 0, "b"], ["t", 5, "b"]],
        }
    ]

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

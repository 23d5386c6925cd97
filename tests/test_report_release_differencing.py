"""Two releases of one evaluation, read together, give back no hidden count.

A pilot lead sends out the monitor every week from a growing delivery. The demo runs
end to end twice into one build folder (real demo data, DuckDB stores, analysis,
plan, exports): first with the case events up to 31 March 2026, then up to
30 April. The attacker of ``differencing_releases.py`` reads both releases' CSV
exports together. Planned each on its own, the second release gave back 41 counts
of 1–9 of the first (a complement shown in April closed a March total around a
hidden count); planned against the build's ledger of earlier releases, none.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from differencing import read_release, truth_tables
from differencing_releases import attack_releases

from evalkit.cli import main
from evalkit.report.plan_file import save_plan
from evalkit.report.render import write_exports

ROOT = Path(__file__).resolve().parents[1]
#: The monitor's norm and registration tables and every table they share persons with.
TABLES = (
    "registrations",
    "throughput_durations",
    "throughput_km_summary",
    "throughput_norms",
    "throughput_norms_monthly",
    "throughput_norms_quarterly",
)
CUTS = {"A": "2026-04-01", "B": "2026-05-01"}
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("releases")
    (work / "protocols").mkdir()
    for file in (ROOT / "protocols").glob("demo.yaml*"):
        shutil.copy2(file, work / "protocols" / file.name)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        mp.setenv("EVALKIT_PSEUDONYM_KEY", "release-test-key-not-secret-5e2a9c71d4b8f306")
        assert main(["demo", "--protocol", "protocols/demo.yaml"]) == 0
        events = work / "data" / "raw" / "demo" / "case_events.xlsx"
        every = pd.read_excel(events, engine="openpyxl")
        for tag, cut in CUTS.items():
            every[every["Datum"] < cut].to_excel(events, index=False)
            # one store per delivery (a cumulative export repeats last month's rows); one
            # build folder, whose ledger of releases the second plan reads
            code = main(
                [
                    "run",
                    "protocols/demo.yaml",
                    "--documents",
                    "monitor",
                    "--store",
                    f"store-{tag}.duckdb",
                ]
            )
            assert code == 0
            shutil.copytree(work / "build" / "reports" / "demo_tables", work / f"tables-{tag}")
            shutil.copy2(work / "build" / "demo" / "results.json", work / f"bundle-{tag}.json")
    return work


def _release(tables: Path, bundle: Path) -> tuple[dict, dict]:
    truth = truth_tables(json.loads(bundle.read_text(encoding="utf-8")))
    shown = {n: f for n, f in read_release(tables).items() if n in TABLES}
    return shown, truth


def _small(recovered: list, threshold: int = 10) -> list:
    return [r for r in recovered if 1 <= r.value < threshold]


def test_two_weekly_releases_together_give_back_no_small_count(releases: Path) -> None:
    pair = [_release(releases / f"tables-{t}", releases / f"bundle-{t}.json") for t in CUTS]
    recovered, attacked = attack_releases(pair)
    assert attacked > 1000
    assert _small(recovered) == []
    ledger = json.loads((releases / "build" / "demo" / "releases.json").read_text("utf-8"))
    assert len(ledger["releases"]) == 2


def test_the_second_release_planned_alone_gives_counts_back(releases: Path, tmp_path: Path) -> None:
    """The attack has teeth: the same second delivery planned without the ledger leaks."""
    alone = tmp_path / "demo" / "results.json"
    alone.parent.mkdir()
    shutil.copy2(releases / "bundle-B.json", alone)
    save_plan(alone)  # a build without earlier releases
    write_exports(alone, tmp_path / "out", stem="demo", lang="nl", documents=("monitor",))
    pair = [
        _release(releases / "tables-A", releases / "bundle-A.json"),
        _release(tmp_path / "out" / "demo_tables", alone),
    ]
    recovered, _ = attack_releases(pair)
    assert len(_small(recovered)) >= 10, recovered


def test_rendering_a_delivery_again_keeps_its_plan(releases: Path) -> None:
    """A release is planned against the releases before its own: the same data, the same plan."""
    bundle = releases / "build" / "demo" / "results.json"
    plan = (bundle.parent / "plan.json").read_text(encoding="utf-8")
    save_plan(bundle)
    assert (bundle.parent / "plan.json").read_text(encoding="utf-8") == plan

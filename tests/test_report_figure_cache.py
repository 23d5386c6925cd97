"""The run's figure cache: a figure is drawn once per run, and never given for other inputs."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pandas as pd
import pytest

from evalkit.report.bundle import read_bundle
from evalkit.report.context import ReportContext
from evalkit.report.figure_cache import (
    ENV,
    FigureCache,
    figure_key,
    inputs_digest,
    run_figure_cache,
)
from evalkit.report.figures import png_bytes, trend_plot
from evalkit.report.render import evaluation_sections

FIXTURE = Path(__file__).parent / "data" / "bundle_fixture.json"


def _trends() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "outcome": ["debt", "debt", "debt", "debt"],
            "month": ["2025-01", "2025-02", "2025-01", "2025-02"],
            "group": ["pilot", "pilot", "comparison", "comparison"],
            "mean": [0.5, 0.4, 0.5, 0.45],
        }
    )


def _inputs(**change: object) -> tuple:
    """The inputs of a trend figure: data, labels, pilot start and language."""
    values = {"trends": _trends(), "labels": {"debt": "Debts"}, "start": "2025-02", "lang": "nl"}
    values.update(change)
    return (values["trends"], values["labels"], values["start"], values["lang"])


def _changed_cell() -> pd.DataFrame:
    frame = _trends()
    frame.loc[3, "mean"] = 0.4500000001
    return frame


def test_a_figure_key_changes_with_every_input() -> None:
    base = figure_key("trends", 7.5, 4.0, _inputs())
    assert base is not None
    assert figure_key("trends", 7.5, 4.0, copy.deepcopy(_inputs())) == base
    others = [
        figure_key("trends", 7.5, 4.0, _inputs(trends=_changed_cell())),
        figure_key("trends", 7.5, 4.0, _inputs(trends=_trends().rename(columns={"mean": "m"}))),
        figure_key("trends", 7.5, 4.0, _inputs(trends=_trends().iloc[::-1])),
        figure_key("trends", 7.5, 4.0, _inputs(trends=_trends().astype({"mean": "float32"}))),
        figure_key("trends", 7.5, 4.0, _inputs(labels={"debt": "Schulden"})),
        figure_key("trends", 7.5, 4.0, _inputs(start=None)),
        figure_key("trends", 7.5, 4.0, _inputs(lang="en")),
        figure_key("trends", 7.5, 4.5, _inputs()),
        figure_key("trends", 8.0, 4.0, _inputs()),
        figure_key("event-study", 7.5, 4.0, _inputs()),
    ]
    assert None not in others
    assert len({base, *others}) == len(others) + 1


def test_the_order_of_categories_is_part_of_the_key() -> None:
    first = _trends().assign(group=pd.Categorical(_trends()["group"], ["pilot", "comparison"]))
    second = _trends().assign(group=pd.Categorical(_trends()["group"], ["comparison", "pilot"]))
    assert figure_key("trends", 7.5, 4.0, first) != figure_key("trends", 7.5, 4.0, second)


def test_inputs_whose_pickle_may_not_show_all_they_hold_are_not_keyed() -> None:
    class Inputs:
        pass

    assert figure_key("trends", 7.5, 4.0, (_trends(), lambda: 1)) is None
    assert figure_key("trends", 7.5, 4.0, {"inputs": Inputs()}) is None
    assert figure_key("trends", 7.5, 4.0, {("a", "b"): 1}) is None


def test_figures_sharing_inputs_are_keyed_by_their_digest_as_by_the_inputs() -> None:
    inputs = ({"records": [{"a": 1, "b": [0.5, None]}] * 3, "trends": _trends()}, "nl", 11)
    digest = inputs_digest(inputs)
    assert digest is not None and inputs_digest(digest) == digest
    for name, width in (("trends", 7.5), ("event-study", 8.0)):
        assert figure_key(name, width, 4.0, digest) == figure_key(name, width, 4.0, inputs)
    changed = ({"records": [{"a": 1, "b": [0.5, 0.0]}] * 3, "trends": _trends()}, "nl", 11)
    assert inputs_digest(changed) != digest
    assert inputs_digest(({"records": [{"a": lambda: 1}]}, "nl")) is None
    assert inputs_digest([{"a": 1}, {("a", "b"): 1}]) is None


def _figure(ctx: ReportContext, inputs: tuple, build: object) -> bytes:
    ctx.figure(build, "trends", "Trends", drawn_from=inputs)
    return (ctx.figure_dir / "figure-trends.png").read_bytes()


def test_a_figure_drawn_earlier_in_the_run_is_taken_from_the_cache(tmp_path: Path) -> None:
    cache_dir, first_dir, second_dir = (tmp_path / d for d in ("cache", "a", "b"))
    for folder in (cache_dir, first_dir, second_dir):
        folder.mkdir()
    cache = FigureCache(cache_dir)
    inputs = _inputs()
    drawn = _figure(
        ReportContext({}, "nl", first_dir, figure_cache=cache), inputs, lambda: trend_plot(*inputs)
    )
    assert drawn == png_bytes(trend_plot(*inputs))

    def never() -> object:
        raise AssertionError("a figure drawn earlier in the run is not drawn again")

    again = ReportContext({}, "nl", second_dir, figure_cache=cache)
    assert _figure(again, copy.deepcopy(inputs), never) == drawn
    # other data: drawn, never the cached figure
    other = _inputs(trends=_changed_cell().assign(mean=[0.5, 0.3, 0.5, 0.45]))
    assert _figure(again, other, lambda: trend_plot(*other)) == png_bytes(trend_plot(*other))
    assert _figure(again, other, never) != drawn
    # without inputs to key it by, a figure is always drawn
    with pytest.raises(AssertionError, match="not drawn again"):
        again.figure(never, "trends", "Trends")


def _document_figures(bundle: dict, folder: Path, cache: FigureCache | None) -> dict[str, bytes]:
    folder.mkdir()
    ctx = ReportContext(copy.deepcopy(bundle), "nl", folder, figure_cache=cache)
    for section in evaluation_sections():
        section(ctx)
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_documents_get_the_same_figures_from_the_cache(tmp_path: Path) -> None:
    bundle = read_bundle(FIXTURE)
    (tmp_path / "cache").mkdir()
    cache = FigureCache(tmp_path / "cache")
    drawn = _document_figures(bundle, tmp_path / "plain", None)
    first = _document_figures(bundle, tmp_path / "first", cache)
    stored = _files(tmp_path / "cache")
    second = _document_figures(bundle, tmp_path / "second", cache)
    assert drawn and first == drawn and second == drawn
    assert len(stored) >= 3  # event study, trends and the throughput/questionnaire figures
    assert _files(tmp_path / "cache") == stored  # every one found: none drawn and stored again


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Each stored figure's inode and change time: a figure stored again gets a new file."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.png")}


def test_the_run_names_its_figure_folder_for_the_kernels(monkeypatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert FigureCache.from_environment() is None
    with run_figure_cache() as folder:
        assert os.environ[ENV] == str(folder) and folder.is_dir()
        found = FigureCache.from_environment()
        assert found is not None and found.folder == folder
    assert ENV not in os.environ and not folder.exists()

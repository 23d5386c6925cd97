"""Every check message of `evalkit protocol check`, each naming its field path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from protocol_helpers import protocol_dict, write_protocol

from evalkit.errors import ProtocolError
from evalkit.protocol import check_protocol, load_protocol
from evalkit.protocol._schemas import load_schemas

ROOT = Path(__file__).resolve().parents[1]


def _mutate(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b.c`` (``[i]`` for list items; value ``...`` deletes)."""
    parts = path.replace("]", "").replace("[", ".").split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is ...:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


ERRORS = [
    (
        "unknown field",
        "analysis.estimatr",
        "twfe",
        "analysis.estimatr: unknown field (did you mean 'estimator'?); allowed here: estimator",
    ),
    ("unknown top-level field", "colour", "blue", "colour: unknown field"),
    ("wrong type", "analysis.alpha", "0.05", "analysis.alpha: expected a number, got str '0.05'"),
    ("wrong type int", "units.anticipation_months", 1.5, "expected a whole number"),
    (
        "not allowed value",
        "analysis.estimator",
        "ols",
        "analysis.estimator: 'ols' is not allowed; allowed: 2x2, twfe, event_study, "
        "callaway_santanna",
    ),
    ("required missing", "metadata.pilot", ..., "metadata.pilot: required field is missing"),
    (
        "month format",
        "periods.pre.start",
        "2025-1",
        "periods.pre.start: expected a month 'YYYY-MM'",
    ),
    (
        "hypothesis unknown outcome",
        "hypotheses.0.outcome",
        "debts",
        "hypotheses[H1].outcome: unknown outcome 'debts'; outcomes: neet, homeless",
    ),
    (
        "no primary outcome",
        "outcomes.0.role",
        "secondary",
        "outcomes: no outcome has role 'primary'",
    ),
    (
        "window start after end",
        "periods.post.end",
        "2025-12",
        "periods.post: start 2026-01 is after end 2025-12",
    ),
    (
        "windows out of order",
        "periods.intervention.start",
        "2025-09",
        "periods.intervention.start: 2025-09 is not after periods.pre.end 2025-09",
    ),
    (
        "GM code pattern",
        "units.treated.0.unit",
        "GM901",
        "units.treated[GM901].unit: 'GM901' is not a CBS municipality code",
    ),
    (
        "comparison GM code",
        "units.comparison",
        ["GM9002", "Amsterdam"],
        "units.comparison: 'Amsterdam' is not a CBS municipality code",
    ),
    (
        "treated and comparison",
        "units.comparison",
        ["GM9001", "GM9002"],
        "units: 'GM9001' is both treated and comparison",
    ),
    (
        "start outside intervention",
        "units.treated.0.start",
        "2026-02",
        "units.treated[GM9001].start: 2026-02 lies outside periods.intervention",
    ),
    (
        "unknown column in definition",
        "outcomes.0.definition",
        "neeet",
        "outcomes[neet].definition: in 'neeet': unknown column 'neeet' (did you mean 'neet'?)",
    ),
    (
        "disallowed expression",
        "outcomes.0.definition",
        "neet.__class__",
        "attribute access (a.b) is not allowed",
    ),
    ("unknown function", "outcomes.0.definition", "eval('1')", "unknown function 'eval'"),
    (
        "category value",
        "population.subgroups.0.definition",
        "school_type == 'praktijk'",
        "'school_type' never equals 'praktijk'",
    ),
    (
        "binary effect above 1",
        "outcomes.0.smallest_effect",
        2,
        "outcomes[neet].smallest_effect: 2 is more than 1",
    ),
    ("missing language", "outcomes.0.label", {"nl": "NEET"}, "outcomes[neet].label: no text in en"),
    (
        "source not declared",
        "outcomes.1.source",
        "case_events",
        "outcomes[homeless].source: 'case_events' is not among the data_sources kinds",
    ),
    (
        "unknown covariate",
        "analysis.covariates",
        ["income"],
        "analysis.covariates: unknown column 'income'",
    ),
    (
        "schema version too new",
        "data_sources.0.schema_version",
        99,
        "data_sources[outcome_panel].schema_version: 99, but data_schemas/outcome_panel.yaml",
    ),
    ("few-treated method with CS", "analysis.inference", "conley_taber", None),
    (
        "event window",
        "analysis.event_window",
        {"min": 2, "max": 5},
        "analysis.event_window: min 2 must be negative",
    ),
    (
        "event window before the data",
        "analysis.event_window",
        {"min": -12, "max": 3},
        "analysis.event_window: min -12 lies before the data: periods.pre.start is event time -9",
    ),
    (
        "event window after the data",
        "analysis.event_window",
        {"min": -3, "max": 9},
        "analysis.event_window: max 9 lies after the data: periods.post.end is event time 5",
    ),
    (
        "event window inside the anticipation",
        "units.anticipation_months",
        2,
        "analysis.event_window: min -2 must be -3 or less",
    ),
    (
        "not-yet-treated control with twfe",
        "analysis.control_group",
        "notyet",
        "analysis.control_group: 'notyet' applies to callaway_santanna only",
    ),
    (
        "ipw with twfe",
        "analysis.method",
        "ipw",
        "analysis.method: 'ipw' applies to callaway_santanna only",
    ),
    (
        "universal base period with twfe",
        "analysis.base_period",
        "universal",
        "analysis.base_period: 'universal' applies to callaway_santanna only",
    ),
    ("age range", "population.age_min", 30, "population.age_min: 30 is above population.age_max"),
    (
        "power base rate",
        "power",
        {"base_rates": {"debts": 0.1}},
        "power.base_rates.debts: unknown outcome",
    ),
    (
        "demo out",
        "demo",
        {"generator": "pilot", "seed": 1, "out": "/etc"},
        "demo.out: '/etc' must be a folder inside the project",
    ),
    (
        "hypothesis subgroup",
        "hypotheses.0.subgroup",
        "girls",
        "hypotheses[H1].subgroup: unknown subgroup 'girls'",
    ),
]


@pytest.mark.parametrize(("what", "path", "value", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_error_messages(tmp_path: Path, what: str, path: str, value: Any, message: str | None):
    data = protocol_dict()
    _mutate(data, path, value)
    if what == "event window inside the anticipation":
        data["analysis"]["event_window"] = {"min": -2, "max": 3}
    if what == "few-treated method with CS":
        data["analysis"]["estimator"] = "callaway_santanna"
        message = (
            "analysis.inference: 'conley_taber' is available for the 2x2, twfe, event_study "
            "estimators, not for 'callaway_santanna'"
        )
    report = check_protocol(write_protocol(tmp_path, data))
    assert any(message in e for e in report.errors), report.errors


def test_valid_base_has_no_errors(tmp_path: Path):
    report = check_protocol(write_protocol(tmp_path, protocol_dict()))
    assert report.errors == []
    assert report.ok


def test_staggered_design_with_twfe_is_an_error(tmp_path: Path):
    data = protocol_dict()
    data["units"]["treated"].append({"unit": "GM9006", "start": "2025-11"})
    for estimator in ("2x2", "twfe", "event_study"):
        data["analysis"]["estimator"] = estimator
        report = check_protocol(write_protocol(tmp_path, data))
        assert any(
            e.startswith(f"analysis.estimator: '{estimator}' cannot handle a staggered design")
            and "use callaway_santanna" in e
            for e in report.errors
        ), report.errors
    data["analysis"]["estimator"] = "callaway_santanna"
    assert check_protocol(write_protocol(tmp_path, data)).errors == []


def test_few_treated_clusters_with_cluster_robust_inference_warns(tmp_path: Path):
    data = protocol_dict()
    data["analysis"]["few_treated_threshold"] = 5
    report = check_protocol(write_protocol(tmp_path, data))
    assert report.errors == []
    assert any(
        w.startswith("analysis.inference: 'analytic' is cluster-robust inference")
        and "1 treated cluster(s) (fewer than 5)" in w
        and "conley_taber or permutation" in w
        for w in report.warnings
    ), report.warnings


def test_permutation_that_cannot_reach_alpha_warns(tmp_path: Path):
    data = protocol_dict()
    data["analysis"]["inference"] = "permutation"
    report = check_protocol(write_protocol(tmp_path, data))
    assert any("smallest permutation p-value is 0.200" in w for w in report.warnings)


def test_no_comparison_units_with_never_treated_control(tmp_path: Path):
    data = protocol_dict()
    data["units"]["comparison"] = []
    report = check_protocol(write_protocol(tmp_path, data))
    assert any(e.startswith("units.comparison: no comparison units") for e in report.errors)


def test_duplicate_ids_and_missing_data_warning(tmp_path: Path):
    data = protocol_dict()
    data["outcomes"][1]["id"] = "neet"
    del data["missing_data"]
    report = check_protocol(write_protocol(tmp_path, data))
    assert any("the id 'neet' is used 2 times" in e for e in report.errors)
    assert any(w.startswith("missing_data: not stated") for w in report.warnings)


def test_direction_mismatch_warns(tmp_path: Path):
    data = protocol_dict()
    data["hypotheses"][0]["direction"] = "increase"
    report = check_protocol(write_protocol(tmp_path, data))
    assert any("hypotheses[H1].direction: 'increase' but" in w for w in report.warnings)


def test_all_problems_at_once_in_load_protocol(tmp_path: Path):
    data = protocol_dict()
    data["analysis"]["alpha"] = "high"
    data["hypotheses"][0]["outcome"] = "nope"
    data["units"]["treated"][0]["unit"] = "X1"
    path = write_protocol(tmp_path, data)
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    assert "3 problem(s)" in str(info.value)
    assert len(info.value.problems) == 3
    assert {p.split(":")[0] for p in info.value.problems} == {
        "analysis.alpha",
        "hypotheses[H1].outcome",
        "units.treated[X1].unit",
    }


def test_bad_yaml_and_missing_file(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed\n", encoding="utf-8")
    report = check_protocol(bad)
    assert "not valid YAML (line" in report.errors[0]
    assert "no such protocol file" in check_protocol(tmp_path / "none.yaml").errors[0]
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n", encoding="utf-8")
    assert "must be a mapping of fields" in check_protocol(listing).errors[0]


def test_loaded_protocol_helpers(tmp_path: Path):
    p = load_protocol(write_protocol(tmp_path, protocol_dict()))
    assert p.id == "small"
    assert [o.id for o in p.primary_outcomes] == ["neet"]
    assert p.treated_units == ("GM9001",)
    assert p.pilot_start == "2025-10"
    assert not p.is_staggered
    assert p.analysis.cluster == "municipality"
    assert p.outcome("neet").label_in("en") == "NEET"
    assert p.path == tmp_path / "small.yaml"
    canonical = p.to_dict()
    assert canonical["analysis"]["method"] == "dr"  # defaults filled in
    assert canonical["units"]["treated"] == [{"unit": "GM9001", "start": "2025-10"}]
    assert "filter" not in canonical["outcomes"][0]  # absent, never None
    with pytest.raises(ProtocolError, match="has no outcome 'x'"):
        p.outcome("x")


@pytest.mark.parametrize(
    "name",
    [
        "demo.yaml",
        "examples/population_breakthrough_18.yaml",
        "examples/school_to_work_region.yaml",
        "examples/debt_free_future.yaml",
    ],
)
def test_shipped_protocols_are_valid(name: str):
    report = check_protocol(ROOT / "protocols" / name)
    assert report.errors == []
    text = (ROOT / "protocols" / name).read_text(encoding="utf-8")
    assert "SYNTHETIC" in text


def test_examples_say_what_practice_they_model():
    for path in sorted((ROOT / "protocols" / "examples").glob("*.yaml")):
        p = load_protocol(path)
        assert p.metadata.get("modelled_on"), path
        assert p.metadata.get("synthetic_data") is True
        assert p.demo is not None and p.demo["out"] == f"data/raw/examples/{p.id}"
        domains = {o.domain for o in p.outcomes}
        assert domains, path
    first = load_protocol(ROOT / "protocols/examples/population_breakthrough_18.yaml")
    assert {"debts", "dropout", "housing", "work"} <= {o.domain for o in first.outcomes}
    staggered = load_protocol(ROOT / "protocols/examples/school_to_work_region.yaml")
    assert staggered.is_staggered and staggered.analysis.estimator == "callaway_santanna"
    assert any(o.type == "duration" for o in staggered.outcomes)


def _field_names(spec, prefix=""):
    for name, sub in spec.fields.items():
        yield f"{prefix}{name}", name
        inner = sub.item if sub.kind == "list" and sub.item is not None else sub
        if inner.kind == "record":
            yield from _field_names(inner, f"{prefix}{name}.")


def test_template_is_valid_and_explains_every_field():
    import re

    from evalkit.protocol._fields import PROTOCOL_SPEC

    path = ROOT / "protocols" / "TEMPLATE.yaml"
    assert check_protocol(path).errors == []
    text = path.read_text(encoding="utf-8")
    missing = [
        full for full, name in _field_names(PROTOCOL_SPEC) if not re.search(rf"\b{name}:", text)
    ]
    assert missing == []
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert sum("NL:" in c for c in comments) >= 30
    assert sum("EN:" in c for c in comments) >= 30


def test_public_surface_is_pinned():
    import evalkit.protocol

    assert sorted(evalkit.protocol.__all__) == sorted(
        [
            "Analysis",
            "CheckReport",
            "DataSource",
            "Deviation",
            "Difference",
            "Hypothesis",
            "Lock",
            "Outcome",
            "Periods",
            "Population",
            "PowerSettings",
            "Protocol",
            "Registration",
            "Status",
            "Subgroup",
            "TreatedUnit",
            "Units",
            "Window",
            "check_protocol",
            "load_protocol",
            "lock_path",
            "read_lock",
            "register",
            "registered_before_data",
            "status",
            "verify_for_analysis",
        ]
    )
    for name in evalkit.protocol.__all__:
        assert hasattr(evalkit.protocol, name), name


def _staggered(data: dict[str, Any]) -> None:
    data["units"]["treated"].append({"unit": "GM9006", "start": "2025-11"})
    data["analysis"]["estimator"] = "callaway_santanna"


WARNINGS = [
    (
        "one pre month",
        lambda d: d["periods"].update(pre={"start": "2025-09", "end": "2025-09"}),
        "periods.pre: a single pre-period month cannot show parallel pre-trends",
    ),
    (
        "conley-taber cannot reach alpha",
        lambda d: d["analysis"].update(inference="conley_taber", few_treated_threshold=5),
        "few-treated inference with 4 comparison units cannot give p-values below 0.200",
    ),
    (
        "duration from panel",
        lambda d: d["outcomes"][1].update(type="duration"),
        "outcomes[homeless].type: a duration from the monthly outcome panel is unusual",
    ),
    (
        "report before the end",
        lambda d: d["metadata"].update(planned_report_date="2025-11-01"),
        "metadata.planned_report_date: 2025-11-01 is not after the intervention ends (2025-12)",
    ),
    (
        "age outside data",
        lambda d: d["population"].update(age_min=12),
        "population.age_min: 12 is below the data's minimum age 16",
    ),
    (
        "single-unit cohort",
        _staggered,
        "units.treated: the start month(s) 2025-10, 2025-11 have one unit each",
    ),
    (
        "staggered generator",
        lambda d: d.update(demo={"generator": "staggered", "seed": 1, "out": "data/raw/x"}),
        "demo.generator: 'staggered' but every pilot unit starts in one month",
    ),
    (
        "event window without a post month",
        lambda d: d["analysis"].update(event_window={"min": -3, "max": 2}),
        "analysis.event_window: max 2 ends before periods.post (its first month is event time 3",
    ),
    (
        "few-treated threshold below the floor of auto",
        lambda d: d["analysis"].update(inference="auto", few_treated_threshold=1),
        "analysis.few_treated_threshold: 1, but inference auto uses randomization inference "
        "(permutation) with fewer than 10 treated or comparison units (1 treated, 4 comparison",
    ),
    (
        "no multiple testing",
        lambda d: (
            d["outcomes"][1].update(role="primary"),
            d["analysis"].update(multiple_testing="none"),
        ),
        "analysis.multiple_testing: 'none' with 2 primary outcomes",
    ),
]


@pytest.mark.parametrize(("what", "change", "message"), WARNINGS, ids=[w[0] for w in WARNINGS])
def test_warning_messages(tmp_path: Path, what: str, change, message: str):
    data = protocol_dict()
    change(data)
    report = check_protocol(write_protocol(tmp_path, data))
    assert report.errors == [], report.errors
    assert any(message in w for w in report.warnings), report.warnings


MORE_ERRORS = [
    (
        "anticipation",
        lambda d: d["units"].update(anticipation_months=9),
        "units.treated[GM9001].start: 2025-10 minus 9 anticipation month(s) leaves no pre-period",
    ),
    (
        "no control at all",
        lambda d: (d["units"].update(comparison=[]), d["analysis"].update(control_group="notyet")),
        "units.comparison: no comparison units and every pilot unit starts in the same month",
    ),
    (
        "norm keys",
        lambda d: d.update(throughput={"norms": {"x": {"limit": -1, "colour": 1}}}),
        "throughput.norms.x: unknown field(s) colour; allowed: interval, limit, unit, where, label",
    ),
    (
        "norm limit",
        lambda d: d.update(throughput={"norms": {"x": {"limit": -1}}}),
        "throughput.norms.x.limit: expected a number of 0 or more, got -1",
    ),
    (
        "caseload",
        lambda d: d.update(throughput={"caseload_benchmark": [40, 30]}),
        "throughput.caseload_benchmark: expected [low, high] with low <= high",
    ),
    (
        "power effects",
        lambda d: d.update(power={"effects": [0, 0]}),
        "power.effects: needs at least one effect greater than 0",
    ),
    (
        "duplicate source",
        lambda d: d["data_sources"].append(dict(d["data_sources"][0])),
        "data_sources[outcome_panel]: listed 2 times",
    ),
    (
        "unknown cluster",
        lambda d: d["analysis"].update(cluster="school"),
        "analysis.cluster: unknown column 'school' in outcome_panel",
    ),
    (
        "inclusion rule",
        lambda d: d["population"].update(inclusion=["leeftijd > 16"]),
        "population.inclusion[0]: in 'leeftijd > 16': unknown column 'leeftijd'",
    ),
    ("sidecar shape", None, "deviations (in small.yaml.deviations.yaml)[0].reason: required"),
]


@pytest.mark.parametrize(
    ("what", "change", "message"), MORE_ERRORS, ids=[e[0] for e in MORE_ERRORS]
)
def test_more_error_messages(tmp_path: Path, what: str, change, message: str):
    data = protocol_dict()
    if change is not None:
        change(data)
    path = write_protocol(tmp_path, data)
    if what == "sidecar shape":
        (tmp_path / "small.yaml.deviations.yaml").write_text(
            "- {date: 2026-01-01, field: analysis.alpha}\n", encoding="utf-8"
        )
    report = check_protocol(path)
    assert any(message in e for e in report.errors), report.errors


def test_older_schema_version_warns(tmp_path: Path):
    data = protocol_dict()
    current = data["data_sources"][0]["schema_version"]
    if current < 2:
        pytest.skip("the outcome panel schema has no older version")
    data["data_sources"][0]["schema_version"] = current - 1
    report = check_protocol(write_protocol(tmp_path, data))
    assert report.errors == []
    assert any(
        w.startswith(
            "data_sources[outcome_panel].schema_version: the protocol was written for "
            f"version {current - 1}"
        )
        for w in report.warnings
    )


@pytest.mark.parametrize("cwd", ["/", "project"])
def test_data_outside_the_project_is_refused_wherever_evalkit_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cwd: str
) -> None:
    # The working directory is an allowed root, but run from / it let a protocol read any file.
    project = tmp_path / "pilot"
    (project / "protocols" / "examples").mkdir(parents=True)
    monkeypatch.chdir("/" if cwd == "/" else project)
    monkeypatch.delenv("EVALKIT_DATA_DIRS", raising=False)
    data = protocol_dict()
    data["data_sources"][0]["files"] = ["/etc/passwd"]
    report = check_protocol(write_protocol(project / "protocols" / "examples", data))
    assert any("'/etc/passwd' lies outside the project" in e for e in report.errors)
    data["data_sources"][0]["files"] = [str(project / "data" / "raw" / "panel.csv")]
    report = check_protocol(write_protocol(project / "protocols" / "examples", data))
    assert not any("outside the project" in e for e in report.errors), report.errors


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("data/raw/loop", "'data/raw/loop' cannot be resolved"),
        ("data/raw/deelnemer_999999990.csv", "a file name holds what may be a BSN"),
        ("data/raw/deelnemer_999.999.990.csv", "a file name holds what may be a BSN"),
        ("http://example.com/panel.csv", "a URL is not a file path"),
        ("file:///etc/passwd", "a URL is not a file path"),
        ("C:/data/panel.csv", "a Windows drive is not a file path"),
        ("data\\raw\\panel.csv", "a Windows path (backslash)"),
        ("data/raw/*.csv", "a glob pattern is not expanded"),
    ],
)
def test_data_source_names_that_are_no_project_file_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    # Each resolved as a relative name inside the project and passed check (a symlink loop
    # gave a traceback); a BSN in a name was echoed and would be registered.
    (tmp_path / "protocols").mkdir()
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "raw" / "loop").symlink_to("loop2")
    (tmp_path / "data" / "raw" / "loop2").symlink_to("loop")
    monkeypatch.chdir(tmp_path)
    data = protocol_dict()
    data["data_sources"][0]["files"] = [name]
    errors = check_protocol(write_protocol(tmp_path / "protocols", data)).errors
    assert any(message in e for e in errors), errors
    assert not any("999999990" in e or "999.999.990" in e for e in errors)
    data["data_sources"][0]["files"] = ["data/raw/panel_20250101.csv", "data/raw/p 2025-01-01.csv"]
    assert check_protocol(write_protocol(tmp_path / "protocols", data)).errors == []


def test_permutation_is_allowed_for_callaway_santanna(tmp_path: Path):
    # estimate() re-assigns cohorts to clusters for it; check refused what the estimator runs
    data = protocol_dict()
    data["analysis"]["estimator"] = "callaway_santanna"
    data["analysis"]["inference"] = "permutation"
    report = check_protocol(write_protocol(tmp_path, data))
    assert not any("analysis.inference" in e for e in report.errors), report.errors


def test_a_subgroup_hypothesis_on_an_outcome_outside_the_panel_is_refused(tmp_path: Path):
    # subgroup effects run on outcome_panel outcomes only: it got 'no result' in silence
    data = protocol_dict()
    data["data_sources"].append(
        {
            "kind": "case_events",
            "schema_version": load_schemas()["case_events"].version,
            "files": ["data/raw/small/events.csv"],
        }
    )
    data["outcomes"][1].update(
        source="case_events",
        type="duration",
        definition="days_between('registration', 'first_conversation')",
        smallest_effect=5,
    )
    data["hypotheses"][0].update(outcome=data["outcomes"][1]["id"], subgroup="turning_18")
    errors = check_protocol(write_protocol(tmp_path, data)).errors
    assert any(
        "subgroup: 'turning_18' cannot be tested on 'homeless', an outcome from case_events" in e
        for e in errors
    ), errors
    del data["hypotheses"][0]["subgroup"]
    assert check_protocol(write_protocol(tmp_path, data)).errors == []

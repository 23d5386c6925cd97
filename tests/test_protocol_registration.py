"""Registration round trip, tampering, deviations and registered-before-data."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from protocol_helpers import protocol_dict, write_protocol

from evalkit import __version__
from evalkit.errors import ProtocolError
from evalkit.protocol import (
    lock_path,
    read_lock,
    register,
    registered_before_data,
    status,
    verify_for_analysis,
)

REGISTERED = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def registered(tmp_path: Path) -> Path:
    path = write_protocol(tmp_path, protocol_dict())
    register(path, now=REGISTERED)
    return path


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_register_round_trip(tmp_path: Path):
    path = write_protocol(tmp_path, protocol_dict())
    lock = register(path, now=REGISTERED)
    assert lock.path == tmp_path / "small.yaml.lock.json" == lock_path(path)
    data = json.loads(lock.path.read_text(encoding="utf-8"))
    assert data["protocol_id"] == "small"
    assert data["registered_at"] == "2026-01-05T09:30:00Z"
    assert data["evalkit_version"] == __version__
    assert len(data["sha256"]) == 64
    assert data["git_commit"] is None  # tmp_path is not a git repository
    assert "deviations" not in data["content"]
    assert data["content"]["outcomes"][0]["id"] == "neet"
    assert read_lock(path) == lock
    st = status(path)
    assert st.state == "registered" and st.differences == () and st.ok
    reg = verify_for_analysis(path)
    assert reg.status == "registered"
    assert reg.sha256 == lock.sha256
    assert reg.registered_at == "2026-01-05T09:30:00Z"
    assert reg.deviations == ()


def test_second_registration_is_refused(registered: Path):
    before = lock_path(registered).read_bytes()
    with pytest.raises(ProtocolError, match="already registered at 2026-01-05T09:30:00Z"):
        register(registered)
    assert lock_path(registered).read_bytes() == before


def test_invalid_protocol_cannot_be_registered(tmp_path: Path):
    data = protocol_dict()
    data["outcomes"][0]["role"] = "secondary"
    path = write_protocol(tmp_path, data)
    with pytest.raises(ProtocolError) as info:
        register(path)
    assert any("no outcome has role 'primary'" in p for p in info.value.problems)
    assert not lock_path(path).exists()


def test_git_commit_is_recorded(tmp_path: Path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    path = write_protocol(tmp_path, protocol_dict())
    subprocess.run([*git, "add", path.name], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "protocol"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    assert register(path).git_commit == head.stdout.strip()


def test_formatting_comments_and_explicit_defaults_are_not_changes(registered: Path):
    text = registered.read_text(encoding="utf-8")
    registered.write_text("# a comment added later\n" + text, encoding="utf-8")
    _edit(registered, lambda d: d["analysis"].update(method="dr", base_period="varying"))
    st = status(registered)
    assert st.differences == ()
    assert verify_for_analysis(registered).status == "registered"


def test_tampering_without_deviation_is_refused_naming_the_field(registered: Path):
    _edit(registered, lambda d: d["outcomes"][0].update(smallest_effect=0.03))
    with pytest.raises(ProtocolError) as info:
        verify_for_analysis(registered)
    message = str(info.value)
    assert "changed since its registration at 2026-01-05T09:30:00Z" in message
    assert "without a deviation entry for outcomes[neet].smallest_effect" in message
    assert info.value.problems == [
        "outcomes[neet].smallest_effect: registered 0.01, now 0.03 — no deviation covers it"
    ]
    st = status(registered)
    assert [d.path for d in st.uncovered] == ["outcomes[neet].smallest_effect"]
    assert not st.ok


def test_deviation_entry_covers_the_change_and_is_listed(registered: Path):
    def change(d):
        d["outcomes"][0]["smallest_effect"] = 0.03
        d["deviations"] = [
            {
                "date": "2026-02-01",
                "field": "outcomes[neet].smallest_effect",
                "old": 0.01,
                "new": 0.03,
                "reason": "The funder asked for a larger minimum effect.",
            }
        ]

    _edit(registered, change)
    reg = verify_for_analysis(registered)
    assert reg.status == "registered_with_deviations"
    assert reg.sha256 == read_lock(registered).sha256
    record = reg.to_dict()
    assert record["deviations"] == [
        {
            "date": "2026-02-01",
            "field": "outcomes[neet].smallest_effect",
            "old": 0.01,
            "new": 0.03,
            "reason": "The funder asked for a larger minimum effect.",
        }
    ]


def test_deviation_values_must_match_the_change(registered: Path):
    def change(d):
        d["outcomes"][0]["smallest_effect"] = 0.03
        d["deviations"] = [
            {
                "date": "2026-02-01",
                "field": "outcomes[neet].smallest_effect",
                "old": 0.01,
                "new": 0.05,
                "reason": "typo in the entry",
            }
        ]

    _edit(registered, change)
    with pytest.raises(ProtocolError, match="deviation entries do not match") as info:
        verify_for_analysis(registered)
    assert "says new = 0.05, but the protocol now has 0.03" in info.value.problems[0]


def test_deviation_dated_before_registration_is_a_problem(registered: Path):
    def change(d):
        d["analysis"]["alpha"] = 0.1
        d["deviations"] = [{"date": "2025-12-01", "field": "analysis.alpha", "reason": "r"}]

    _edit(registered, change)
    with pytest.raises(ProtocolError) as info:
        verify_for_analysis(registered)
    assert "dated 2025-12-01, before the registration on 2026-01-05" in info.value.problems[0]


def test_sidecar_deviations_and_removed_units(registered: Path):
    _edit(registered, lambda d: d["units"].update(comparison=["GM9002", "GM9003", "GM9004"]))
    with pytest.raises(ProtocolError) as info:
        verify_for_analysis(registered)
    assert info.value.problems == ["units.comparison: removed GM9005 — no deviation covers it"]
    sidecar = registered.with_name("small.yaml.deviations.yaml")
    sidecar.write_text(
        "- {date: 2026-03-01, field: units.comparison, reason: 'GM9005 merged'}\n",
        encoding="utf-8",
    )
    reg = verify_for_analysis(registered)
    assert reg.status == "registered_with_deviations"
    [dev] = reg.deviations
    assert dev.field == "units.comparison"
    assert dev.old == ["GM9002", "GM9003", "GM9004", "GM9005"]  # filled in from the change
    assert dev.new == ["GM9002", "GM9003", "GM9004"]


def test_added_outcome_and_parent_field_coverage(registered: Path):
    new = dict(
        protocol_dict()["outcomes"][1],
        id="employed",
        definition="employed",
        expected_direction="increase",
    )

    def change(d):
        d["outcomes"].append(new)
        d["outcomes"][0]["smallest_effect"] = 0.02
        d["outcomes"][0]["label"] = {"nl": "Geen werk of school", "en": "NEET"}

    _edit(registered, change)
    paths = {d.path for d in status(registered).differences}
    assert paths == {
        "outcomes[employed]",
        "outcomes[neet].smallest_effect",
        "outcomes[neet].label.nl",
    }
    _edit(
        registered,
        lambda d: d.update(
            deviations=[
                {"date": "2026-02-01", "field": "outcomes[neet]", "reason": "relabelled"},
                {"date": "2026-02-01", "field": "outcomes[employed]", "reason": "added"},
            ]
        ),
    )
    assert verify_for_analysis(registered).status == "registered_with_deviations"


def test_edited_lock_file_is_detected(registered: Path):
    lock = lock_path(registered)
    data = json.loads(lock.read_text(encoding="utf-8"))
    data["content"]["analysis"]["alpha"] = 0.1
    lock.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ProtocolError, match="the lock file was edited"):
        verify_for_analysis(registered)


def test_a_format_1_lock_with_a_malformed_time_or_content_is_refused(registered: Path):
    # format 1 has no seal over its time; the analysis's timing raised a ValueError
    lock = lock_path(registered)
    data = json.loads(lock.read_text(encoding="utf-8"))
    data.pop("seal")
    lock.write_text(json.dumps({**data, "evalkit_lock": 1, "registered_at": "24-11-2026"}))
    with pytest.raises(ProtocolError, match="registered_at '24-11-2026' is not a time"):
        verify_for_analysis(registered)
    lock.write_text(json.dumps({**data, "evalkit_lock": 1, "content": [1]}))
    with pytest.raises(ProtocolError, match="not a readable evalkit lock file"):
        verify_for_analysis(registered)  # was an AttributeError traceback


def test_unregistered_protocol_runs_and_says_so(tmp_path: Path):
    path = write_protocol(tmp_path, protocol_dict())
    reg = verify_for_analysis(path)
    assert reg.status == "not_registered"
    assert reg.registered_at is None
    assert registered_before_data(reg, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) is None
    assert reg.to_dict()["registered_before_data"] is None


def test_registered_before_data_yes_and_no(registered: Path):
    reg = verify_for_analysis(registered)
    later = dt.datetime(2026, 2, 1, 12, 0, tzinfo=dt.UTC)
    earlier = dt.datetime(2025, 12, 31, 23, 0, tzinfo=dt.UTC)
    assert registered_before_data(reg, later) is True
    assert registered_before_data(reg, earlier) is False
    assert registered_before_data(reg, None) is None
    # naive times are UTC; text is accepted too
    assert registered_before_data(reg, dt.datetime(2026, 1, 5, 9, 29)) is False
    assert registered_before_data(reg, "2026-01-05T09:31:00Z") is True
    # another time zone: 10:29 in UTC+1 is 09:29 UTC, before the registration
    cet = dt.timezone(dt.timedelta(hours=1))
    assert registered_before_data(reg, dt.datetime(2026, 1, 5, 10, 29, tzinfo=cet)) is False
    record = reg.to_dict(later)
    assert record["first_data_ingest_at"] == "2026-02-01T12:00:00Z"
    assert record["registered_before_data"] is True
    assert set(record) == {
        "status",
        "sha256",
        "registered_at",
        "evalkit_version",
        "git_commit",
        "first_data_ingest_at",
        "registered_before_data",
        "deviations",
    }


def test_shipped_registered_protocols_match_their_locks():
    """A registered protocol in protocols/ may only change through deviation entries."""
    root = Path(__file__).resolve().parents[1] / "protocols"
    locked = [p for p in sorted(root.rglob("*.yaml")) if lock_path(p).is_file()]
    for path in locked:
        reg = verify_for_analysis(path)  # raises naming any undeclared change
        assert reg.status in ("registered", "registered_with_deviations")
        assert reg.sha256 == read_lock(path).sha256

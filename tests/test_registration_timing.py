"""A registration cannot be back-dated: the seal, the git history and the data's own months."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from protocol_helpers import protocol_dict, write_protocol

from evalkit.errors import ProtocolError
from evalkit.protocol import register
from evalkit.protocol.registration import Lock, content_sha256, lock_path, read_lock
from evalkit.protocol.timing import git_added_at, registration_timing


def _git(folder: Path) -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    return git


def test_the_seal_covers_time_version_and_commit(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, protocol_dict())
    lock = register(path)
    data = json.loads(lock.path.read_text(encoding="utf-8"))
    assert data["evalkit_lock"] == 2 and len(data["seal"]) == 64
    for field, value in (
        ("registered_at", "2020-01-01T00:00:00Z"),
        ("evalkit_version", "0.0.1"),
        ("git_commit", "0" * 40),
    ):
        edited = {**data, field: value}
        lock.path.write_text(json.dumps(edited), encoding="utf-8")
        with pytest.raises(ProtocolError, match="the seal does not match"):
            read_lock(path)
    lock.path.write_text(json.dumps(data), encoding="utf-8")
    assert read_lock(path) == lock


def test_a_content_edit_with_recomputed_hashes_is_caught_by_git(tmp_path: Path) -> None:
    git = _git(tmp_path)
    path = write_protocol(tmp_path, protocol_dict())
    lock = register(path)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "register"], check=True)
    assert read_lock(path) == lock
    data = json.loads(lock.path.read_text(encoding="utf-8"))
    data["content"]["analysis"]["alpha"] = 0.1  # a forger recomputes both hashes
    data["registered_at"] = "2020-01-01T00:00:00Z"
    forged = type(lock)(
        path=lock.path,
        protocol_id=lock.protocol_id,
        sha256=content_sha256(data["content"]),
        registered_at=data["registered_at"],
        evalkit_version=lock.evalkit_version,
        git_commit=lock.git_commit,
        content=data["content"],
    )
    lock.path.write_text(json.dumps(forged.to_dict()), encoding="utf-8")
    with pytest.raises(ProtocolError, match="differs from its committed version in git"):
        read_lock(path)


def test_the_git_time_of_the_lock_counts_when_it_is_later(tmp_path: Path) -> None:
    git = _git(tmp_path)
    path = write_protocol(tmp_path, protocol_dict())
    register(path, now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))  # a claimed early time
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "register"], check=True)
    added = git_added_at(lock_path(path))
    assert added is not None and added > "2025"
    timing = registration_timing(
        registered_at="2020-01-01T00:00:00Z",
        git_added=added,
        pilot_start="2024-06",
        first_post_month="2025-01",
        data_months=["2025-06"],
        first_ingest_at=None,
    )
    assert timing["effective_registered_at"] == added
    assert timing["retrospective"] is True
    assert timing["registered_before_data"] is False


def test_a_registration_after_the_pilot_start_is_retrospective() -> None:
    timing = registration_timing(
        registered_at="2026-11-24T21:12:18Z",
        git_added=None,
        pilot_start="2025-10",
        first_post_month="2026-01",
        data_months=["2026-06", "2026-03"],
        first_ingest_at="2026-12-01T10:00:00Z",
    )
    assert timing["months_after_pilot_start"] == 13
    assert timing["retrospective"] is True
    assert timing["before_first_post_month"] is False
    assert timing["before_latest_data_month"] is False
    assert timing["latest_data_month"] == "2026-06"
    # before the first ingest into this store, yet not before the data: a fresh store
    # cannot make a late registration look prospective
    assert timing["before_first_ingest"] is True
    assert timing["registered_before_data"] is False


def test_a_prospective_registration() -> None:
    timing = registration_timing(
        registered_at="2025-08-01T09:00:00Z",
        git_added="2025-08-02T09:00:00Z",
        pilot_start="2025-10",
        first_post_month="2026-01",
        data_months=["2026-06"],
        first_ingest_at="2026-07-01T10:00:00Z",
    )
    assert timing["effective_registered_at"] == "2025-08-02T09:00:00Z"
    assert timing["months_after_pilot_start"] == -2
    assert timing["retrospective"] is False
    assert timing["registered_before_data"] is True


def test_not_registered_has_no_verdict() -> None:
    timing = registration_timing(
        registered_at=None,
        git_added=None,
        pilot_start="2025-10",
        first_post_month="2026-01",
        data_months=[],
        first_ingest_at=None,
    )
    assert timing["registered_before_data"] is None and timing["retrospective"] is None


def _commit(git: list[str], message: str, when: str) -> None:
    """Commit everything with a fixed committer time (the time git dates the lock by)."""
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", message], check=True, env=env)


def _forge(lock: Lock, alpha: float) -> None:
    """Rewrite a lock with new content, a back-dated time and recomputed hashes and seal."""
    content = {**lock.content, "analysis": {**lock.content["analysis"], "alpha": alpha}}
    forged = dataclasses.replace(lock, sha256=content_sha256(content), content=content)
    lock.path.write_text(json.dumps(forged.to_dict()), encoding="utf-8")


@pytest.mark.parametrize("delete_first", [False, True])
def test_a_committed_rewrite_of_the_lock_is_dated_by_its_commit(
    tmp_path: Path, delete_first: bool
) -> None:
    # A forger who commits the rewritten lock (or deletes it in one commit and adds the
    # forgery in the next) leaves the old first commit in the history: the lock as it
    # stands dates from the last commit that changed it, not from the first one.
    git = _git(tmp_path)
    path = write_protocol(tmp_path, protocol_dict())
    lock = register(path, now=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    _commit(git, "register", "2024-01-02T00:00:00+00:00")
    assert git_added_at(lock_path(path)) == "2024-01-02T00:00:00Z"
    if delete_first:
        lock.path.unlink()
        _commit(git, "remove the lock", "2026-03-01T00:00:00+00:00")
    _forge(lock, 0.1)
    _commit(git, "the same registration", "2026-03-02T00:00:00+00:00")
    assert read_lock(path) is not None  # the seal and git agree: only the history tells
    assert git_added_at(lock_path(path)) == "2026-03-02T00:00:00Z"


def test_a_back_dated_commit_cannot_be_older_than_its_parent(tmp_path: Path) -> None:
    # GIT_COMMITTER_DATE makes a commit claim any time; the commit it was made on top
    # of (the work done after the data arrived) still bounds it from below
    git = _git(tmp_path)
    path = write_protocol(tmp_path, protocol_dict())
    _commit(git, "protocol, after the data", "2026-03-01T00:00:00+00:00")
    register(path, now=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    _commit(git, "register", "2024-01-02T00:00:00+00:00")
    assert git_added_at(lock_path(path)) == "2026-03-01T00:00:00Z"

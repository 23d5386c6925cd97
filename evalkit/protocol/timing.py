"""When a protocol was registered, compared with the pilot and the data it analyses.

"Registered before the data" is not taken on the lock's word. The registration
time is the later of the lock's ``registered_at`` and, where the protocol lives
in a git repository, the last commit that wrote the lock file (history cannot
be back-dated without rewriting it), and, where the store saw another lock for the
protocol at an earlier ingest, that moment (the present lock was put in place after
it, whatever time it states). That time is compared with the data's own
months — the pilot start, the first post month and the latest month in any
ingested file — and with the first ingest in the store's log. A registration
after the pilot started is retrospective, and the report says so on its first
page.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["git_added_at", "git_lock_changed", "registration_timing", "run_git"]


def run_git(folder: Path, *args: str) -> str | None:
    """Return git's output in ``folder`` (stripped), or None when git fails or is absent."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_added_at(lock_file: Path) -> str | None:
    """Return the committer time (UTC) of the commit that last wrote ``lock_file``, if any.

    A registration is final, so a lock is committed once. The last commit that
    changed it dates the lock as it stands: a forger who commits a rewritten lock
    (or deletes it and commits a back-dated one) cannot borrow the first commit's time.
    A committer time is whatever the committer's clock (or ``GIT_COMMITTER_DATE``)
    says, but a commit cannot be older than the commits it was made on top of, so
    the time is the latest over that commit and its ancestors.
    """
    folder = lock_file.resolve().parent
    commit = run_git(folder, "log", "-1", "--format=%H", "--", lock_file.name)
    if not commit:
        return None
    times = run_git(folder, "log", "--format=%cI", commit.splitlines()[0])
    if not times:
        return None
    return _utc(max(dt.datetime.fromisoformat(t) for t in times.splitlines()))


def git_lock_changed(lock_file: Path) -> bool | None:
    """Whether ``lock_file`` differs from its last commit (None outside git or untracked)."""
    folder = lock_file.resolve().parent
    if run_git(folder, "ls-files", "--error-unmatch", lock_file.name) is None:
        return None
    return run_git(folder, "diff", "--quiet", "HEAD", "--", lock_file.name) is None


def _utc(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _time(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _month_start(month: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{month[:7]}-01").replace(tzinfo=dt.UTC)


def _months_between(first: dt.datetime, later: dt.datetime) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def registration_timing(
    *,
    registered_at: str | None,
    git_added: str | None,
    pilot_start: str,
    first_post_month: str,
    data_months: Iterable[str],
    first_ingest_at: str | dt.datetime | None,
    lock_replaced_at: str | None = None,
) -> dict[str, Any]:
    """Compare a registration with the pilot's and the data's own dates.

    Parameters
    ----------
    registered_at : str or None
        The lock's registration time (None: not registered).
    git_added : str or None
        When the lock file was last committed (None outside git, or not committed).
    pilot_start, first_post_month : str
        ``YYYY-MM`` of the first pilot month and of the first post-period month.
    data_months : iterable of str
        ``YYYY-MM`` of the latest month in each ingested file.
    first_ingest_at : str or datetime or None
        The first ingest of the protocol's outcome data (the store's log).
    lock_replaced_at : str, optional
        When the store last saw another lock for this protocol at an ingest: the
        present lock was put in place after that, so the registration counts from then.

    Returns
    -------
    dict
        ``effective_registered_at`` (the latest of the lock time, the git time and
        ``lock_replaced_at``),
        ``git_added_at``, ``pilot_start``, ``first_post_month``, ``latest_data_month``,
        ``months_after_pilot_start`` (0 or less: before the start), the booleans
        ``before_pilot_start``, ``before_first_post_month``, ``before_latest_data_month``,
        ``before_first_ingest``, ``retrospective`` and ``registered_before_data``
        (before the pilot started and before the first ingest).
    """
    latest = max(data_months, default=None)
    times = [t for t in (_time(registered_at), _time(git_added)) if t is not None]
    replaced = _time(lock_replaced_at)
    out: dict[str, Any] = {
        "git_added_at": git_added,
        "pilot_start": pilot_start,
        "first_post_month": first_post_month,
        "latest_data_month": latest,
    }
    if registered_at is None or not times:
        none = ("before_pilot_start", "before_first_post_month", "before_latest_data_month")
        return {
            **out,
            "effective_registered_at": None,
            "months_after_pilot_start": None,
            **dict.fromkeys((*none, "before_first_ingest", "retrospective")),
            "registered_before_data": None,
        }
    effective = max([*times, replaced]) if replaced is not None else max(times)
    start = _month_start(pilot_start)
    ingest = _time(first_ingest_at)
    before_start = effective < start
    before_ingest = None if ingest is None else effective < ingest
    return {
        **out,
        "effective_registered_at": _utc(effective),
        "months_after_pilot_start": _months_between(start, effective),
        "before_pilot_start": before_start,
        "before_first_post_month": effective < _month_start(first_post_month),
        "before_latest_data_month": None if latest is None else effective < _month_start(latest),
        "before_first_ingest": before_ingest,
        "retrospective": not before_start,
        "registered_before_data": before_start and before_ingest is not False,
    }

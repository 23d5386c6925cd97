"""Registration (locking) of a protocol, its status, deviations, and the check before analysis.

``register(path)`` writes ``<file>.lock.json`` next to the protocol with the sha256 of
its canonical content (without ``deviations``), the UTC time, the evalkit version, the
git commit if any, and the registered content itself so that later changes can be
listed field by field. The lock's ``seal`` is the sha256 of all of that together, so a
registration time or version edited by hand is detected; where the lock lives in git,
a lock that differs from its committed version is refused too (a content edit with
recomputed hashes cannot be hidden from the history). A registered protocol is
immutable: every change must be a deviation entry (``deviations:`` in the file, or
``<file>.deviations.yaml``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalkit.errors import ProtocolError
from evalkit.protocol._build import deviations_sidecar
from evalkit.protocol._diff import Difference, covered_by, covers, diff_protocols, resolve
from evalkit.protocol.model import Deviation, Protocol, load_protocol
from evalkit.protocol.timing import git_lock_changed, run_git

__all__ = [
    "Difference",
    "Lock",
    "Registration",
    "Status",
    "canonical_json",
    "content_sha256",
    "lock_path",
    "read_lock",
    "register",
    "registered_before_data",
    "status",
    "verify_for_analysis",
]

LOCK_VERSION = 2
RegistrationStatus = Literal["registered", "registered_with_deviations", "not_registered"]


def lock_path(path: Path | str) -> Path:
    """Return the lock file of a protocol: ``<file>.lock.json`` in the same folder."""
    path = Path(path)
    return path.with_name(path.name + ".lock.json")


def canonical_json(content: Any) -> str:
    """Return the canonical JSON text of a mapping (sorted keys, no spaces, UTF-8)."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_sha256(content: Mapping[str, Any]) -> str:
    """Return the sha256 of a protocol's canonical content, ignoring ``deviations``."""
    stripped = {k: v for k, v in content.items() if k != "deviations"}
    return hashlib.sha256(canonical_json(stripped).encode("utf-8")).hexdigest()


def _utc_text(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_time(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _git_commit(folder: Path) -> str | None:
    commit = run_git(folder, "rev-parse", "HEAD")
    return commit if commit is not None and len(commit) == 40 else None


@dataclass(frozen=True)
class Lock:
    """The registration record of a protocol (the content of ``<file>.lock.json``).

    Attributes
    ----------
    path : pathlib.Path
        The lock file.
    protocol_id : str
        The protocol's id.
    sha256 : str
        sha256 of the canonical content without deviations.
    registered_at : str
        UTC time of registration, ``YYYY-MM-DDTHH:MM:SSZ``.
    evalkit_version : str
        Version of evalkit that registered it.
    git_commit : str or None
        Commit of the repository at registration, if it was a git repository.
    content : mapping
        The registered canonical content.
    version : int
        Lock format: 2 is sealed; 1 (older locks) has no seal over its time and version.
    """

    path: Path
    protocol_id: str
    sha256: str
    registered_at: str
    evalkit_version: str
    git_commit: str | None
    content: Mapping[str, Any]
    version: int = LOCK_VERSION

    @property
    def seal(self) -> str:
        """Return the sha256 over the whole record: content hash, time, version, commit."""
        record = {k: v for k, v in self.to_dict(sealed=False).items() if k != "evalkit_lock"}
        return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()

    def __repr__(self) -> str:
        return f"Lock({self.protocol_id!r}, sha256={self.sha256[:12]}…, at {self.registered_at})"

    def to_dict(self, *, sealed: bool = True) -> dict[str, Any]:
        """Return the JSON record written to the lock file (with its seal from version 2)."""
        out = {
            "evalkit_lock": self.version,
            "protocol_id": self.protocol_id,
            "protocol_file": self.path.name.removesuffix(".lock.json"),
            "sha256": self.sha256,
            "registered_at": self.registered_at,
            "evalkit_version": self.evalkit_version,
            "git_commit": self.git_commit,
            "content": self.content,
        }
        if sealed and self.version >= 2:
            out["seal"] = self.seal
        return out


def read_lock(path: Path | str) -> Lock | None:
    """Return the lock of a protocol file, or None when it is not registered.

    Raises
    ------
    ProtocolError
        When the lock file is unreadable or was edited (its hash no longer matches).
    """
    lock_file = lock_path(path)
    if not lock_file.is_file():
        return None
    try:
        data = json.loads(lock_file.read_text(encoding="utf-8"))
        if not isinstance(data.get("content"), Mapping):
            raise TypeError("its content is not a protocol mapping")
        lock = Lock(
            path=lock_file,
            protocol_id=str(data["protocol_id"]),
            sha256=str(data["sha256"]),
            registered_at=str(data["registered_at"]),
            evalkit_version=str(data["evalkit_version"]),
            git_commit=data.get("git_commit"),
            content=data["content"],
            version=int(data.get("evalkit_lock", 1)),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"{lock_file}: not a readable evalkit lock file ({exc})") from exc
    try:  # every reader of the time (status, the report's timing) parses it
        _parse_time(lock.registered_at)
    except ValueError as exc:
        raise ProtocolError(
            f"{lock_file}: registered_at {lock.registered_at!r} is not a time "
            "(YYYY-MM-DDTHH:MM:SSZ); the lock file was edited. Restore it from version control."
        ) from exc
    if content_sha256(lock.content) != lock.sha256:
        raise ProtocolError(
            f"{lock_file}: the registered content does not match its sha256; the lock file was "
            "edited. Restore it from version control."
        )
    if lock.version >= 2 and data.get("seal") != lock.seal:
        raise ProtocolError(
            f"{lock_file}: the seal does not match the registration record (time "
            f"{lock.registered_at}, evalkit {lock.evalkit_version}, commit {lock.git_commit}); "
            "the lock file was edited. Restore it from version control."
        )
    if git_lock_changed(lock_file):
        raise ProtocolError(
            f"{lock_file}: differs from its committed version in git; a registration is "
            "final. Restore it from version control (git checkout -- "
            f"{lock_file.name})."
        )
    return lock


def register(path: Path | str, *, now: dt.datetime | None = None) -> Lock:
    """Register (lock) a valid protocol: write ``<file>.lock.json`` next to it.

    Parameters
    ----------
    path : path
        The protocol file.
    now : datetime, optional
        Registration time (tests); default the current UTC time.

    Returns
    -------
    Lock
        What was written.

    Raises
    ------
    ProtocolError
        When the protocol has errors, or is already registered.
    """
    from evalkit import __version__

    path = Path(path)
    existing = read_lock(path)
    if existing is not None:
        raise ProtocolError(
            f"{path}: already registered at {existing.registered_at} "
            f"(sha256 {existing.sha256[:12]}…); a registration is final — record changes as "
            f"deviations (date, field, old, new, reason) under deviations: or in "
            f"{deviations_sidecar(path).name}"
        )
    protocol = load_protocol(path)
    content = protocol.content()
    lock = Lock(
        path=lock_path(path),
        protocol_id=protocol.id,
        sha256=content_sha256(content),
        registered_at=_utc_text(now or dt.datetime.now(dt.UTC)),
        evalkit_version=__version__,
        git_commit=_git_commit(path.resolve().parent),
        content=content,
    )
    text = json.dumps(lock.to_dict(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    try:
        with lock.path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError as exc:  # registered by someone else in the meantime
        raise ProtocolError(f"{path}: already registered ({lock.path} exists)") from exc
    return lock


@dataclass(frozen=True)
class Status:
    """How a protocol file relates to its registration.

    Attributes
    ----------
    path : pathlib.Path
        The protocol file.
    lock : Lock or None
        The registration, None when not registered.
    sha256 : str
        sha256 of the current content (without deviations).
    differences : tuple of Difference
        Every field that differs from the registered version (path, old, new).
    deviations : tuple of Deviation
        Declared deviations (in the file and its sidecar).
    uncovered : tuple of Difference
        Differences no deviation entry covers.
    problems : tuple of str
        Deviation entries whose old/new values do not match the change.
    unused : tuple of str
        Fields named by deviations that did not change.
    """

    path: Path
    lock: Lock | None
    sha256: str
    differences: tuple[Difference, ...]
    deviations: tuple[Deviation, ...]
    uncovered: tuple[Difference, ...]
    problems: tuple[str, ...]
    unused: tuple[str, ...]

    @property
    def registered(self) -> bool:
        """Whether the protocol has a lock."""
        return self.lock is not None

    @property
    def state(self) -> RegistrationStatus:
        """``registered``, ``registered_with_deviations`` or ``not_registered``."""
        if self.lock is None:
            return "not_registered"
        return "registered_with_deviations" if self.deviations else "registered"

    @property
    def ok(self) -> bool:
        """Whether analysis may go ahead (not registered, or every change declared)."""
        return not self.uncovered and not self.problems

    def deviation_for(self, path: str) -> Deviation | None:
        """Return the first deviation entry that covers a changed field path, if any."""
        return next((v for v in self.deviations if covers(v.field, path)), None)

    def __repr__(self) -> str:
        return (
            f"Status({self.path.name!r}, {self.state}, differences={len(self.differences)}, "
            f"uncovered={len(self.uncovered)})"
        )


def _status_of(protocol: Protocol, path: Path) -> Status:
    lock = read_lock(path)
    current = protocol.content()
    deviations = protocol.deviations
    if lock is None:
        return Status(path, None, content_sha256(current), (), deviations, (), (), ())
    differences = diff_protocols(lock.content, current)
    uncovered, problems, unused = covered_by(differences, deviations)
    registered_on = lock.registered_at[:10]
    problems += [
        f"deviations: the entry for {v.field} is dated {v.date}, before the registration "
        f"on {registered_on}; a deviation is a change after registration"
        for v in deviations
        if v.date < registered_on
    ]
    return Status(
        path,
        lock,
        content_sha256(current),
        tuple(differences),
        tuple(resolve(deviations, differences)),
        tuple(uncovered),
        tuple(problems),
        tuple(unused),
    )


def status(path: Path | str) -> Status:
    """Compare a protocol file with its registration.

    Parameters
    ----------
    path : path
        The protocol file.

    Returns
    -------
    Status
        Registered or not, and every field that differs from the registered version.

    Raises
    ------
    ProtocolError
        When the protocol is invalid or the lock file was edited.
    """
    path = Path(path)
    return _status_of(load_protocol(path), path)


@dataclass(frozen=True)
class Registration:
    """What the analysis records about a protocol's registration (for the results bundle)."""

    status: RegistrationStatus
    sha256: str
    registered_at: str | None
    evalkit_version: str | None
    git_commit: str | None
    deviations: tuple[Deviation, ...]
    differences: tuple[Difference, ...] = ()

    def __repr__(self) -> str:
        return f"Registration({self.status}, sha256={self.sha256[:12]}…)"

    def to_dict(self, first_data_ingest_at: dt.datetime | str | None = None) -> dict[str, Any]:
        """Return the bundle's ``registration`` record.

        Parameters
        ----------
        first_data_ingest_at : datetime or str, optional
            Time of the first ingest of outcome data (from the store's ingest log).

        Returns
        -------
        dict
            ``status, sha256, registered_at, evalkit_version, git_commit,
            first_data_ingest_at, registered_before_data, deviations``.
        """
        first = _utc_text(_parse_time(first_data_ingest_at)) if first_data_ingest_at else None
        return {
            "status": self.status,
            "sha256": self.sha256,
            "registered_at": self.registered_at,
            "evalkit_version": self.evalkit_version,
            "git_commit": self.git_commit,
            "first_data_ingest_at": first,
            "registered_before_data": registered_before_data(self, first_data_ingest_at),
            "deviations": [d.to_dict() for d in self.deviations],
        }


def verify_for_analysis(path: Path | str) -> Registration:
    """Check that a protocol may be analysed, and return its registration record.

    Unregistered protocols pass (the report says "not pre-registered"); a registered
    protocol passes only when every change since registration is a deviation entry.

    Parameters
    ----------
    path : path
        The protocol file.

    Returns
    -------
    Registration
        ``status``, ``sha256`` (the registered hash), ``registered_at``, deviations.

    Raises
    ------
    ProtocolError
        Naming every changed field that no deviation covers.
    """
    path = Path(path)
    protocol = load_protocol(path)
    st = _status_of(protocol, path)
    if st.lock is None:
        return Registration("not_registered", st.sha256, None, None, None, st.deviations)
    if not st.ok:
        problems = [f"{d.describe()} — no deviation covers it" for d in st.uncovered]
        problems += list(st.problems)
        if st.uncovered:
            what = (
                f"changed since its registration at {st.lock.registered_at} without a "
                f"deviation entry for {', '.join(d.path for d in st.uncovered)}; add deviations "
                f"(date, field, old, new, reason) under deviations: or in "
                f"{deviations_sidecar(path).name}"
            )
        else:
            what = "its deviation entries do not match the changes since registration"
        raise ProtocolError(f"{path}: {what}", problems)
    return Registration(
        status=st.state,
        sha256=st.lock.sha256,
        registered_at=st.lock.registered_at,
        evalkit_version=st.lock.evalkit_version,
        git_commit=st.lock.git_commit,
        deviations=st.deviations,
        differences=st.differences,
    )


def registered_before_data(
    registration: Registration, first_ingest_time: dt.datetime | str | None
) -> bool | None:
    """Return whether the protocol was registered before the first outcome data arrived.

    Parameters
    ----------
    registration : Registration
        From :func:`verify_for_analysis`.
    first_ingest_time : datetime or str or None
        Time of the first ingest of outcome data (naive times are taken as UTC).

    Returns
    -------
    bool or None
        None when not registered or no data were ingested yet.
    """
    if registration.registered_at is None or first_ingest_time is None:
        return None
    return _parse_time(registration.registered_at) < _parse_time(first_ingest_time)

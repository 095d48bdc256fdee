"""Sessions, heartbeats and lost trials: resume after a crash with nothing lost.

Every process that asks, tells or runs trials of a study works in a *session*. Its
first write records ``session.started`` (host, process, environment); while it has
trials outstanding, a background thread appends ``session.heartbeat`` every
``heartbeat`` seconds; a clean close records ``session.ended``.

A running trial is *lost* when its session can no longer finish it:

* the session ended (closed) without ending the trial;
* the session ran on this machine and its process is gone (checked at once, by
  process id and start time, so a restart after ``kill -9`` recovers immediately);
* the session has written nothing for ``grace`` seconds (another machine, or a
  process that hangs).

Lost trials are taken over per policy: ``requeue`` runs the same configuration with
the same seed again as a new *attempt* of the same trial (a ``trial.requeued``
event whose key is unique per attempt, so exactly one process takes it over), up to
``max_attempts`` runs in total; ``fail`` records the trial as failed. Requeuing in
place keeps trial numbers and what every proposal saw unchanged, which is what
makes a deterministic study resumed after a crash identical to an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from hypertrail.errors import ConfigError, Issue
from hypertrail.history import SessionInfo, StudyState
from hypertrail.storage.base import EventLog
from hypertrail.storage.events import SESSION_ENDED, SESSION_HEARTBEAT, SESSION_STARTED, Event
from hypertrail.trial import FrozenTrial, TrialState

__all__ = ["Lost", "Recovery", "Session", "find_lost", "machine_id"]

Policy = Literal["requeue", "fail"]


@dataclass(frozen=True)
class Recovery:
    """How a study notices and recovers trials whose process was lost.

    Attributes:
        heartbeat: seconds between heartbeats of a session with trials outstanding.
        grace: seconds of silence after which another process's trial is lost.
        policy: ``requeue`` (run the same configuration and seed again) or ``fail``.
        max_attempts: runs of one trial in total before it is recorded as failed.
    """

    heartbeat: float = 10.0
    grace: float = 60.0
    policy: Policy = "requeue"
    max_attempts: int = 3

    def __post_init__(self) -> None:
        issues = []
        if not self.heartbeat > 0:
            issues.append(Issue("recovery.heartbeat", f"must be > 0, got {self.heartbeat!r}"))
        if not self.grace > self.heartbeat:
            issues.append(
                Issue(
                    "recovery.grace",
                    f"must exceed the heartbeat interval ({self.heartbeat:g} s), "
                    f"got {self.grace!r}",
                )
            )
        if self.policy not in ("requeue", "fail"):
            issues.append(
                Issue("recovery.policy", f"must be 'requeue' or 'fail', got {self.policy!r}")
            )
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            issues.append(
                Issue(
                    "recovery.max_attempts", f"must be an integer >= 1, got {self.max_attempts!r}"
                )
            )
        if issues:
            raise ConfigError(issues)

    def to_json(self) -> dict[str, Any]:
        return {
            "heartbeat": self.heartbeat,
            "grace": self.grace,
            "policy": self.policy,
            "max_attempts": self.max_attempts,
        }


@functools.cache
def machine_id() -> str:
    """This machine and process-id namespace: host name, boot id, pid namespace.

    Containers may share a host name; process ids are comparable only when all
    three agree.
    """
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id") as fh:
        parts.append(fh.read().strip())
    with contextlib.suppress(OSError):
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    return "/".join(parts)


def _process_started(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def process_alive(pid: int, started: float | None) -> bool:
    """Whether process ``pid`` (started at ``started``, if known) still runs here."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - started) < 1.0
    except (psutil.Error, OSError):
        return False


@dataclass(frozen=True)
class Lost:
    """A running trial its session can no longer finish, and why."""

    trial: FrozenTrial
    reason: str


def find_lost(
    state: StudyState,
    recovery: Recovery,
    *,
    own_session: str | None,
    now: float,
    alive: Callable[[int, float | None], bool] = process_alive,
) -> list[Lost]:
    """Running trials of other sessions that are lost (see the module docstring)."""
    here = machine_id()
    verdicts: dict[str | None, str | None] = {}
    out: list[Lost] = []
    for trial in state.trials:
        if trial.state is not TrialState.RUNNING or trial.session == own_session:
            continue
        if trial.session not in verdicts:
            info = state.sessions.get(trial.session) if trial.session else None
            verdicts[trial.session] = _verdict(info, trial, recovery, here, now, alive)
        reason = verdicts[trial.session]
        if reason is not None:
            out.append(Lost(trial, reason))
    return out


def _verdict(
    info: SessionInfo | None,
    trial: FrozenTrial,
    recovery: Recovery,
    here: str,
    now: float,
    alive: Callable[[int, float | None], bool],
) -> str | None:
    if info is None:  # a trial recorded without a session: judge by its own age
        silent = now - trial.started
        return f"no session, asked {silent:.0f} s ago" if silent > recovery.grace else None
    if info.ended:
        return f"session {info.id} ended without finishing it"
    machine = (info.data or {}).get("machine")
    if machine == here and info.pid is not None and not alive(info.pid, info.process_started):
        return f"process {info.pid} on {info.host} is gone"
    silent = now - info.last_seen
    if silent > recovery.grace:
        return (
            f"session {info.id} ({info.host}, pid {info.pid}) silent for {silent:.0f} s "
            f"(grace {recovery.grace:g} s)"
        )
    return None


class Session:
    """This process's session on one study: started on first use, heartbeats while
    it has trials outstanding, ended on :meth:`end` or at interpreter exit."""

    def __init__(
        self, log: EventLog, study: str, recovery: Recovery, info: dict[str, Any] | None = None
    ) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.log = log
        self.study = study
        self.recovery = recovery
        self.info = dict(info or {})
        self.outstanding: set[int] = set()
        self.started = False
        self.ended = False
        self._lock = threading.Lock()
        self._last_write = 0.0

    def start(self) -> None:
        """Record ``session.started`` (once) with where this process runs."""
        with self._lock:
            if self.started:
                return
            pid = os.getpid()
            data: dict[str, Any] = {
                "session": self.id,
                "host": socket.gethostname(),
                "machine": machine_id(),
                "pid": pid,
                "process_started": _process_started(pid),
                **self.info,
            }
            self.log.append(
                [
                    Event(
                        SESSION_STARTED,
                        self.study,
                        data=data,
                        key=f"session:{self.id}:started",
                        time=time.time(),
                    )
                ]
            )
            self.started = True
            self._last_write = time.monotonic()
        _HEARTBEATS.add(self)

    def touch(self) -> None:
        """Note that this session just wrote an event (it counts as a heartbeat)."""
        self._last_write = time.monotonic()

    def beat_if_due(self, now: float) -> float:
        """Append a heartbeat when due and trials are outstanding; seconds to the next."""
        if self.ended or not self.started:
            return self.recovery.heartbeat
        due = self._last_write + self.recovery.heartbeat
        if now < due:
            return due - now
        if self.outstanding:
            with contextlib.suppress(Exception):  # a missed beat is retried next time
                self.log.append(
                    [
                        Event(
                            SESSION_HEARTBEAT,
                            self.study,
                            data={"session": self.id},
                            time=time.time(),
                        )
                    ]
                )
        self._last_write = now
        return self.recovery.heartbeat

    def end(self) -> None:
        """Record ``session.ended``: trials still outstanding become lost at once."""
        with self._lock:
            if not self.started or self.ended:
                self.ended = True
                return
            self.ended = True
        _HEARTBEATS.discard(self)
        with contextlib.suppress(Exception):
            self.log.append(
                [
                    Event(
                        SESSION_ENDED,
                        self.study,
                        data={"session": self.id, "outstanding": sorted(self.outstanding)},
                        key=f"session:{self.id}:ended",
                        time=time.time(),
                    )
                ]
            )


class _Heartbeats:
    """One daemon thread beats for every live session of this process."""

    def __init__(self) -> None:
        self._sessions: weakref.WeakSet[Session] = weakref.WeakSet()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, session: Session) -> None:
        with self._lock:
            self._sessions.add(session)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="hypertrail-heartbeat", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def discard(self, session: Session) -> None:
        with self._lock:
            self._sessions.discard(session)

    def _run(self) -> None:
        while True:
            with self._lock:
                sessions = list(self._sessions)
            wait = 30.0
            now = time.monotonic()
            for session in sessions:
                wait = min(wait, session.beat_if_due(now))
            del sessions
            self._wake.wait(timeout=max(0.05, wait))
            self._wake.clear()


_HEARTBEATS = _Heartbeats()

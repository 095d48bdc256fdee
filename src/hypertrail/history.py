"""The history an optimizer sees, and the fold that builds it from events.

:class:`History` is an immutable snapshot (DESIGN.md invariant 4): optimizers read
it and cannot change storage through it. :class:`StudyState` is the mutable
accumulator a :class:`~hypertrail.study.Study` keeps; folding the same events
always gives the same state (invariant 1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypertrail.errors import StorageError
from hypertrail.storage.events import (
    PLAN_AMENDED,
    PLAN_LOCKED,
    RERUN_ENDED,
    SESSION_ENDED,
    SESSION_HEARTBEAT,
    SESSION_STARTED,
    STUDY_CREATED,
    TRIAL_ASKED,
    TRIAL_COMPLETED,
    TRIAL_FAILED,
    TRIAL_REPORTED,
    TRIAL_REQUEUED,
    Event,
)
from hypertrail.trial import FrozenTrial, Metric, TrialState, furthest_trained

__all__ = ["History", "SessionInfo", "StudyState", "masked"]


@dataclass
class SessionInfo:
    """A process that works on the study, as its events describe it.

    ``last_seen`` is the time of its latest event (heartbeats included): a record
    written by the session's own clock, read only to recover lost trials.
    """

    id: str
    host: str | None = None
    pid: int | None = None
    process_started: float | None = None
    started: float = 0.0
    last_seen: float = 0.0
    ended: bool = False
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class History:
    """What an optimizer may know when it proposes: a frozen view of the study.

    Attributes:
        seed: the study seed (for optimizers that need a study-wide stream, e.g. a
            scrambled Sobol sequence).
        metrics: the study's metrics; the first is primary.
        trials: every trial asked so far, including running (pending) ones.
        cursor: the last event sequence number folded into this snapshot.
    """

    seed: int
    metrics: tuple[Metric, ...]
    trials: tuple[FrozenTrial, ...]
    cursor: int

    @property
    def next_number(self) -> int:
        """The number the next trial will get."""
        return len(self.trials)

    def completed(self) -> list[FrozenTrial]:
        return [t for t in self.trials if t.state is TrialState.COMPLETE]

    def running(self) -> list[FrozenTrial]:
        return [t for t in self.trials if t.state is TrialState.RUNNING]

    def loss(self, trial: FrozenTrial) -> float:
        """Primary metric oriented so that smaller is better (inf if not complete)."""
        if trial.values is None:
            return math.inf
        metric = self.metrics[0]
        return metric.sign * trial.values[metric.name]

    def best(self) -> FrozenTrial | None:
        """The complete trial of lowest loss, at whatever fidelity (lowest number on
        ties): an optimizer's incumbent. What a user takes is :meth:`best_trained`."""
        done = self.completed()
        return min(done, key=lambda t: (self.loss(t), t.number)) if done else None

    def best_trained(self) -> FrozenTrial | None:
        """The best of the trials that trained furthest (:func:`furthest_trained`):
        under a fidelity, never a cheap rung's value; otherwise :meth:`best`."""
        done = furthest_trained(self.completed())
        return min(done, key=lambda t: (self.loss(t), t.number)) if done else None


class StudyState:
    """Folds a study's events, in order, into its trials."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.created: dict[str, Any] | None = None
        self.trials: list[FrozenTrial] = []
        self.sessions: dict[str, SessionInfo] = {}
        self.running: set[int] = set()  # numbers of trials not ended yet
        self.locks: list[dict[str, Any]] = []  # plan.locked and plan.amended, in order
        self.reruns: dict[int, list[dict[str, Any]]] = {}  # trial -> rerun.ended data
        self.cursor = 0

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> None:
        seq = event.seq or 0
        if seq <= self.cursor:
            return  # already folded (events may be re-read after a retry)
        kind = event.kind
        data = event.data
        session = data.get("session")
        if isinstance(session, str):
            self._seen(session, event)
        if kind == STUDY_CREATED:
            self.created = dict(data)
        elif kind == SESSION_HEARTBEAT:
            pass  # _seen did the work
        elif kind == SESSION_STARTED:
            info = self.sessions[str(data["session"])]
            info.host = data.get("host")
            info.pid = data.get("pid")
            info.process_started = data.get("process_started")
            info.started = event.time
            info.data = dict(data)
        elif kind == SESSION_ENDED:
            self.sessions[str(data["session"])].ended = True
        elif kind == RERUN_ENDED:
            self.reruns.setdefault(_trial_number(event), []).append(dict(data))
        elif kind in (PLAN_LOCKED, PLAN_AMENDED):
            self.locks.append({"kind": kind, "time": event.time, **data})
        elif kind == TRIAL_REQUEUED:
            number = _trial_number(event)
            if number >= len(self.trials):
                raise StorageError(
                    f"study {self.name!r}: trial {number} requeued before it was asked"
                )
            self.trials[number] = replace(
                self.trials[number],
                attempt=int(data["attempt"]),
                session=session if isinstance(session, str) else None,
                reports=(),  # the new attempt starts over
                stopped=None,
            )
        elif kind == TRIAL_ASKED:
            number = _trial_number(event)
            if number != len(self.trials):
                raise StorageError(
                    f"study {self.name!r}: trial {number} asked out of order "
                    f"(expected {len(self.trials)}); the event log is damaged"
                )
            self.trials.append(
                FrozenTrial(
                    number=number,
                    state=TrialState.RUNNING,
                    config=data["config"],
                    parent=data.get("parent"),
                    reason=data.get("reason", ""),
                    seed=int(data.get("seed", 0)),
                    started=event.time,
                    cursor=int(data.get("cursor", 0)),
                    session=session if isinstance(session, str) else None,
                    tags=data.get("extras") or {},
                )
            )
            self.running.add(number)
        elif kind == TRIAL_REPORTED:
            number = _trial_number(event)
            if number >= len(self.trials):
                raise StorageError(f"study {self.name!r}: trial {number} reported before asked")
            old = self.trials[number]
            step = float(data["step"])
            self.trials[number] = replace(
                old,
                reports=(*old.reports, (step, float(data["value"]))),
                stopped=step if data.get("stop") and old.stopped is None else old.stopped,
            )
        elif kind in (TRIAL_COMPLETED, TRIAL_FAILED):
            number = _trial_number(event)
            if number >= len(self.trials):
                raise StorageError(f"study {self.name!r}: trial {number} ended before it was asked")
            old = self.trials[number]
            self.running.discard(number)
            finished = event.time
            duration = data.get("duration")
            cpu_time = data.get("cpu_time")
            old = replace(
                old,
                host=data.get("host"),
                pid=data.get("pid"),
                peak_memory=data.get("peak_memory"),
            )
            if kind == TRIAL_COMPLETED:
                self.trials[number] = replace(
                    old,
                    state=TrialState.COMPLETE,
                    values={k: float(v) for k, v in data["values"].items()},
                    extras=data.get("extras", {}),
                    finished=finished,
                    duration=duration,
                    cpu_time=cpu_time,
                )
            else:
                self.trials[number] = replace(
                    old,
                    state=TrialState.FAILED,
                    error=data.get("reason", "failed"),
                    traceback=data.get("traceback"),
                    finished=finished,
                    duration=duration,
                    cpu_time=cpu_time,
                )
        # Unknown kinds are skipped: newer writers may add kinds older readers ignore.
        self.cursor = seq

    def _seen(self, session: str, event: Event) -> None:
        info = self.sessions.get(session)
        if info is None:
            info = self.sessions[session] = SessionInfo(session, started=event.time)
        info.last_seen = max(info.last_seen, event.time)

    def snapshot(
        self, seed: int, metrics: Sequence[Metric], visible_below: int | None = None
    ) -> History:
        """The history an optimizer sees. With ``visible_below`` (deterministic
        mode), trials numbered from there on show as running, whatever they did."""
        trials = tuple(self.trials)
        if visible_below is not None:
            trials = masked(trials, visible_below)
        return History(seed, tuple(metrics), trials, self.cursor)


def masked(trials: Sequence[FrozenTrial], visible_below: int) -> tuple[FrozenTrial, ...]:
    """``trials`` with every trial numbered ``>= visible_below`` reduced to what was
    known when it was asked (config, parent, reason, seed, tags), as a running trial."""
    out = list(trials[: max(0, visible_below)])
    for trial in trials[max(0, visible_below) :]:
        out.append(
            FrozenTrial(
                number=trial.number,
                state=TrialState.RUNNING,
                config=trial.config,
                parent=trial.parent,
                reason=trial.reason,
                seed=trial.seed,
                started=trial.started,
                cursor=trial.cursor,
                tags=trial.tags,
            )
        )
    return tuple(out)


def _trial_number(event: Event) -> int:
    if event.trial is None:
        raise StorageError(f"event {event.seq} of kind {event.kind!r} names no trial")
    return event.trial

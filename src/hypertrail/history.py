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
    STUDY_CREATED,
    TRIAL_ASKED,
    TRIAL_COMPLETED,
    TRIAL_FAILED,
    Event,
)
from hypertrail.trial import FrozenTrial, Metric, TrialState

__all__ = ["History", "StudyState"]


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
        done = self.completed()
        return min(done, key=lambda t: (self.loss(t), t.number)) if done else None


class StudyState:
    """Folds a study's events, in order, into its trials."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.created: dict[str, Any] | None = None
        self.trials: list[FrozenTrial] = []
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
        if kind == STUDY_CREATED:
            self.created = dict(data)
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
                )
            )
        elif kind in (TRIAL_COMPLETED, TRIAL_FAILED):
            number = _trial_number(event)
            if number >= len(self.trials):
                raise StorageError(f"study {self.name!r}: trial {number} ended before it was asked")
            old = self.trials[number]
            finished = event.time
            duration = data.get("duration")
            cpu_time = data.get("cpu_time")
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

    def snapshot(self, seed: int, metrics: Sequence[Metric]) -> History:
        return History(seed, tuple(metrics), tuple(self.trials), self.cursor)


def _trial_number(event: Event) -> int:
    if event.trial is None:
        raise StorageError(f"event {event.seq} of kind {event.kind!r} names no trial")
    return event.trial

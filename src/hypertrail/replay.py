"""Replay: re-derive every proposal of a study from its event log (invariant 2).

Each ``trial.asked`` event records the history cursor the optimizer had read and
the key of the generator it was given. Folding the log up to that cursor rebuilds
the exact snapshot; calling the optimizer again with a generator from the same key
must give the same configuration. Any difference means the log was changed, or
the optimizer is not the pure function it must be.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypertrail.history import StudyState
from hypertrail.seeding import RngKey
from hypertrail.space.codec import space_from_dict
from hypertrail.storage.base import EventLog
from hypertrail.storage.events import TRIAL_ASKED
from hypertrail.trial import Metric

__all__ = ["Mismatch", "ReplayReport", "verify"]


@dataclass(frozen=True)
class Mismatch:
    """A trial whose recorded proposal could not be re-derived."""

    trial: int
    recorded: dict[str, object]
    derived: dict[str, object] | None
    detail: str


@dataclass(frozen=True)
class ReplayReport:
    checked: int
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def verify(log: EventLog, study: str) -> ReplayReport:
    """Re-run the optimizer on every recorded prefix and compare proposals."""
    from hypertrail.study import make_optimizer

    events = log.read(study)
    state = StudyState(study)
    mismatches: list[Mismatch] = []
    checked = 0
    created = next((e.data for e in events if e.kind == "study.created"), None)
    if created is None:
        return ReplayReport(0, [Mismatch(-1, {}, None, "no study.created event")])
    space = space_from_dict(created["space"])
    metrics = tuple(Metric(m["name"], m["goal"]) for m in created["metrics"])
    seed = int(created["seed"])
    position = 0
    for event in events:
        if event.kind != TRIAL_ASKED:
            continue
        cursor = int(event.data["cursor"])
        while position < len(events) and (events[position].seq or 0) <= cursor:
            state.apply(events[position])
            position += 1
        history = state.snapshot(seed, metrics)
        optimizer, _ = make_optimizer(event.data["optimizer"])
        key = RngKey.from_json(event.data["rng"])
        recorded = dict(event.data["config"])
        checked += 1
        if history.next_number != event.trial:
            mismatches.append(
                Mismatch(
                    event.trial or -1,
                    recorded,
                    None,
                    f"history at cursor {cursor} holds {history.next_number} trials",
                )
            )
            continue
        proposals = optimizer.propose(space, history, key.generator(), 1)
        derived = dict(space.canonical(proposals[0].config)) if proposals else None
        if derived != recorded:
            mismatches.append(
                Mismatch(event.trial or -1, recorded, derived, "configuration differs")
            )
    return ReplayReport(checked, mismatches)

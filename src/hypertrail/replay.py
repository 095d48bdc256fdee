"""Replay: re-derive every proposal of a study from its event log (invariant 2).

Each ``trial.asked`` event records the history cursor the optimizer had read and
the key of the generator it was given (and, in a deterministic study, which trials'
results it could see). Folding the log up to that cursor rebuilds the exact
snapshot; calling the optimizer again with a generator from the same key must give
the same configuration. Any difference means the log was changed, or the optimizer
is not the pure function it must be. The objective is never called.

Requeued attempts, heartbeats and sessions change no proposal: they are folded like
any other event, so a resumed study replays like an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hypertrail.history import StudyState
from hypertrail.optimizers.base import revisions
from hypertrail.seeding import PURPOSE_PROPOSE, RngKey
from hypertrail.space.codec import space_from_dict
from hypertrail.storage.base import EventLog
from hypertrail.storage.events import STUDY_CREATED, TRIAL_ASKED
from hypertrail.trial import Metric

__all__ = [
    "Mismatch",
    "ReplayReport",
    "TrialReplay",
    "first_difference",
    "revision_note",
    "verify",
]


@dataclass(frozen=True)
class TrialReplay:
    """The verdict on one trial's proposal."""

    trial: int
    identical: bool
    detail: str = ""


@dataclass(frozen=True)
class Mismatch:
    """A trial whose recorded proposal could not be re-derived."""

    trial: int
    recorded: dict[str, object]
    derived: dict[str, object] | None
    detail: str


@dataclass(frozen=True)
class ReplayReport:
    """Every trial's verdict, and the mismatches among them."""

    checked: int
    mismatches: list[Mismatch] = field(default_factory=list)
    trials: list[TrialReplay] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def first(self) -> Mismatch | None:
        """The earliest differing trial: later ones may differ only because of it."""
        return self.mismatches[0] if self.mismatches else None


def first_difference(recorded: Mapping[str, Any], derived: Mapping[str, Any] | None) -> str:
    """The first parameter (in recorded order) whose value differs, in words."""
    if derived is None:
        return "the optimizer proposed nothing"
    for name, value in recorded.items():
        if name not in derived:
            return f"{name}: recorded {value!r}, not active in the replay"
        if derived[name] != value:
            return f"{name}: recorded {value!r}, replayed {derived[name]!r}"
    extra = [n for n in derived if n not in recorded]
    if extra:
        return f"{extra[0]}: active in the replay ({derived[extra[0]]!r}), not recorded"
    return "identical"


def revision_note(recorded: Mapping[str, Any] | None, current: Mapping[str, int]) -> str:
    """What a differing proposal's recorded optimizer revisions say, as a clause to
    append to its detail ("" when they match the running hypertrail's).

    Example:
        >>> revision_note({"gp": 1}, {"gp": 2}).split(":")[0]
        '; gp is at revision 2 here, 1 when this trial was proposed'
        >>> revision_note({"gp": 2}, {"gp": 2})
        ''
    """
    if recorded is None:
        return (
            "; the log records no optimizer revisions (written by a hypertrail before "
            "they were kept), so an upgrade since may have changed the algorithm"
        )
    changed = [
        f"{name} is at revision {rev} here, {recorded.get(name, 'none')} when this trial "
        "was proposed"
        for name, rev in current.items()
        if recorded.get(name) != rev
    ]
    if not changed:
        return ""
    return (
        "; "
        + "; ".join(changed)
        + ": the algorithm changed since, replay with the hypertrail that recorded the study"
    )


def verify(log: EventLog, study: str) -> ReplayReport:
    """Re-run the optimizer on every recorded prefix and compare proposals."""
    from hypertrail.study import make_optimizer

    events = log.read(study)
    created = next((e.data for e in events if e.kind == STUDY_CREATED), None)
    if created is None:
        return ReplayReport(0, [Mismatch(-1, {}, None, "no study.created event")])
    space = space_from_dict(created["space"])
    metrics = tuple(Metric(m["name"], m["goal"]) for m in created["metrics"])
    seed = int(created["seed"])
    lag = created.get("deterministic")
    state = StudyState(study)
    mismatches: list[Mismatch] = []
    verdicts: list[TrialReplay] = []
    position = 0
    optimizers: dict[str, Any] = {}
    for event in events:
        if event.kind != TRIAL_ASKED:
            continue
        number = event.trial if event.trial is not None else -1
        data = event.data
        recorded = dict(data["config"])
        cursor = int(data["cursor"])
        while position < len(events) and (events[position].seq or 0) <= cursor:
            state.apply(events[position])
            position += 1
        visible = data.get("visible_below")
        expected_visible = max(0, number - int(lag) + 1) if lag else None
        detail = ""
        derived: dict[str, Any] | None = None
        if len(state.trials) != number:
            detail = (
                f"the history at cursor {cursor} holds {len(state.trials)} trials, not {number}"
            )
        elif visible != expected_visible:
            detail = f"it saw trials below {visible}, the study's mode says {expected_visible}"
        else:
            key = RngKey.from_json(data["rng"])
            if key != RngKey(seed, number, PURPOSE_PROPOSE):
                detail = f"its generator key {key} is not the one derived for trial {number}"
            else:
                spec = data["optimizer"]
                cache_key = repr(sorted(spec.items()))
                if cache_key not in optimizers:
                    optimizers[cache_key] = make_optimizer(spec)[0]
                history = state.snapshot(seed, metrics, visible)
                proposals = optimizers[cache_key].propose(space, history, key.generator(), 1)
                derived = dict(space.canonical(proposals[0].config)) if proposals else None
                if derived != recorded:
                    detail = "configuration differs: " + first_difference(recorded, derived)
                    detail += revision_note(data.get("revisions"), revisions(spec))
        if detail:
            mismatches.append(Mismatch(number, recorded, derived, detail))
        verdicts.append(TrialReplay(number, not detail, detail))
    return ReplayReport(len(verdicts), mismatches, verdicts)

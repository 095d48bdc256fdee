"""Reruns: evaluate the best configurations again with new seeds, so that a
reported gain comes with its spread.

Replicate *r* of trial *n* runs the trial's configuration with the generator
``(study seed, n, "rerun:r")``: new randomness for the objective, derived and
recorded like every other stream. Each result is a ``rerun.ended`` event whose key
is unique per (trial, replicate), so an interrupted rerun resumes where it stopped
and running it again with more seeds only adds the missing replicates. Reruns are
not trials: they never enter the optimizer's history or the budget.

Under a fidelity, the best are chosen among the trials that trained furthest, and a
replicate runs at its trial's fidelity from an empty checkpoint folder of its own
(removed once its result is recorded): it trains from the start, as the trial did
along its promotions, rather than resuming from the trial's trained state.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import statistics
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypertrail.errors import StudyError
from hypertrail.execution.base import Executor, Objective, TrialOutcome
from hypertrail.seeding import RngKey
from hypertrail.storage.events import RERUN_ENDED, Event
from hypertrail.trial import FrozenTrial, Trial, furthest_trained

if TYPE_CHECKING:
    from hypertrail.study import Study

__all__ = ["RerunSummary", "rerun", "rerun_purpose", "summarize"]


def rerun_purpose(replicate: int) -> str:
    return f"rerun:{replicate}"


@dataclass(frozen=True)
class RerunSummary:
    """The primary metric of one configuration across its reruns.

    ``low``/``high`` bound a 95% Student-t interval of the mean (None with fewer
    than two values); ``failed`` counts reruns that raised or returned no value.
    """

    trial: int
    original: float | None
    values: tuple[float, ...]
    failed: int

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    @property
    def interval(self) -> tuple[float, float] | None:
        if len(self.values) < 2:
            return None
        from scipy import stats

        mean, std = statistics.fmean(self.values), statistics.stdev(self.values)
        half = float(stats.t.ppf(0.975, len(self.values) - 1)) * std / math.sqrt(len(self.values))
        return mean - half, mean + half


def summarize(study: Study, trials: Iterable[int] | None = None) -> list[RerunSummary]:
    """Summaries of the reruns recorded for ``trials`` (default: every rerun trial)."""
    state = study._state
    study.refresh()
    metric = study.metrics[0].name
    numbers = sorted(state.reruns) if trials is None else list(trials)
    out = []
    for number in numbers:
        records = state.reruns.get(number, [])
        values = tuple(float(r["values"][metric]) for r in records if r.get("values"))
        original = state.trials[number].values
        out.append(
            RerunSummary(
                number,
                float(original[metric]) if original else None,
                values,
                sum(1 for r in records if not r.get("values")),
            )
        )
    return out


def best_trials(study: Study, count: int) -> list[FrozenTrial]:
    """The ``count`` best complete trials, one per distinct configuration; under a
    fidelity, of those that trained furthest (:func:`furthest_trained`)."""
    history = study.history()
    seen: set[str] = set()
    out: list[FrozenTrial] = []
    trained = furthest_trained(history.completed())
    for trial in sorted(trained, key=lambda t: (history.loss(t), t.number)):
        key = repr(sorted(trial.config.items()))
        if key not in seen:
            seen.add(key)
            out.append(trial)
        if len(out) == count:
            break
    return out


def rerun(
    study: Study,
    objective: Objective,
    *,
    best: int = 3,
    seeds: int = 5,
    trials: Sequence[int] | None = None,
    workers: int = 1,
    timeout: float | None = None,
    executor: Executor | None = None,
) -> list[RerunSummary]:
    """Make sure each chosen trial has ``seeds`` reruns; run the missing ones.

    Args:
        study: the study whose trials are rerun (and where results are recorded).
        objective: the study's objective.
        best: how many of the best distinct configurations, when ``trials`` is None.
        seeds: reruns wanted per configuration (replicates 0 .. seeds-1).
        trials: explicit trial numbers instead of the best ones.
        workers, timeout, executor: as for :meth:`Study.optimize`.
    """
    if best < 1 or seeds < 1:
        raise StudyError("--best and --seeds must be at least 1")
    chosen = [study.trials[n] for n in trials] if trials is not None else best_trials(study, best)
    if not chosen:
        raise StudyError(f"study {study.name!r} has no complete trial to rerun")
    done = {
        n: {int(r["replicate"]) for r in study._state.reruns.get(n, [])}
        for n in (t.number for t in chosen)
    }
    queue: deque[tuple[FrozenTrial, int]] = deque(
        (t, r) for r in range(seeds) for t in chosen if r not in done[t.number]
    )
    if executor is None:
        executor = study._default_executor(objective, workers, timeout)
    running: dict[int, int] = {}  # trial number -> replicate (one replicate per trial at once)
    session = study.session
    try:
        while queue or running:
            for _ in range(len(queue)):
                if len(running) >= executor.capacity:
                    break
                trial, replicate = queue[0]
                if trial.number in running:
                    queue.rotate(-1)
                    continue
                queue.popleft()
                executor.submit(_rerun_trial(study, trial, replicate).to_task())
                running[trial.number] = replicate
            if not running:
                continue
            for outcome in executor.results():
                replicate = running.pop(outcome.number)
                _record(study, outcome, replicate, session.id)
                shutil.rmtree(study._rerun_checkpoint_dir(outcome.number, replicate), True)
    finally:
        executor.close()
        with contextlib.suppress(OSError):  # gone, or a replicate's folder is left
            study._reruns_dir().rmdir()
    return summarize(study, [t.number for t in chosen])


def _rerun_trial(study: Study, trial: FrozenTrial, replicate: int) -> Trial:
    """Replicate ``replicate`` of ``trial``: its configuration and fidelity, a seed of
    its own, and an empty checkpoint folder of its own, so that it trains from the
    start (in the trial's folder it would resume from the trained state, and every
    replicate after the first would return what the first saved)."""
    folder = study._rerun_checkpoint_dir(trial.number, replicate)
    shutil.rmtree(folder, ignore_errors=True)  # left by a rerun that was interrupted
    return Trial(
        study.name,
        trial.number,
        trial.config,
        RngKey(study.seed, trial.number, rerun_purpose(replicate)),
        fidelity=trial.fidelity,
        rung=trial.rung,
        checkpoint_dir=str(folder),
    )


def _record(study: Study, outcome: TrialOutcome, replicate: int, session: str) -> None:
    from hypertrail.errors import DuplicateEventError

    key = RngKey(study.seed, outcome.number, rerun_purpose(replicate))
    data: dict[str, Any] = {
        "replicate": replicate,
        "seed": key.integer_seed(),
        "rng": key.to_json(),
        "session": session,
        "duration": outcome.duration,
        "cpu_time": outcome.cpu_time,
        "host": outcome.host,
        "pid": outcome.pid,
        "peak_memory": outcome.peak_memory,
    }
    if outcome.ok:
        data["values"] = dict(outcome.values)
        data["extras"] = dict(outcome.extras)
    else:
        data["error"] = outcome.error
    event = Event(
        RERUN_ENDED,
        study.name,
        outcome.number,
        data,
        f"rerun:{outcome.number}:{replicate}",
        time.time(),
    )
    with contextlib.suppress(DuplicateEventError):  # another process recorded it first
        study.storage.append([event])
    study.session.touch()


def as_rows(summaries: Sequence[RerunSummary]) -> list[Mapping[str, Any]]:
    """JSON-ready rows for tables and reports."""
    rows: list[Mapping[str, Any]] = []
    for s in summaries:
        interval = s.interval
        rows.append(
            {
                "trial": s.trial,
                "original": s.original,
                "reruns": s.n,
                "failed": s.failed,
                "mean": s.mean,
                "std": s.std,
                "ci95": list(interval) if interval else None,
            }
        )
    return rows

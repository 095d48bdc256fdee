"""Trials: the live handle an objective receives, and the frozen record a study keeps."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from hypertrail.seeding import PURPOSE_OBJECTIVE, PURPOSE_PROPOSE, RngKey

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FrozenTrial", "Metric", "Reporter", "Trial", "TrialState", "furthest_trained"]


class TrialState(enum.Enum):
    """Where a trial stands. Only ``RUNNING`` can change, and only once."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self is not TrialState.RUNNING


@dataclass(frozen=True)
class Metric:
    """A named objective value and whether smaller or larger is better."""

    name: str
    goal: str  # "minimize" | "maximize"

    @property
    def sign(self) -> float:
        """+1 for minimize, -1 for maximize: multiply to get a loss."""
        return 1.0 if self.goal == "minimize" else -1.0

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "goal": self.goal}


@dataclass(frozen=True)
class FrozenTrial:
    """The recorded state of one trial, as folded from the event log.

    Attributes:
        number: 0-based trial number within the study.
        state: running, complete or failed.
        config: the active parameters only.
        values: metric name -> value, for complete trials.
        parent: the trial this one was derived from, when the optimizer says so.
        reason: the optimizer's short account of why it proposed this config.
        seed: the integer seed handed to the objective.
        error: why a failed trial failed; ``traceback`` has the details.
        extras: other JSON values the objective returned besides the metrics.
        started, finished: wall-clock seconds (records only).
        cursor: the last event sequence number the optimizer had read.
        duration, cpu_time: seconds of wall and CPU time of the run that ended it.
        attempt: 0 for the first run; n after the trial was requeued n times.
        session: the session (process) that runs or ran the last attempt.
        host, pid: where the objective ran; peak_memory: its peak resident bytes.
        tags: what the optimizer recorded with the proposal (its ``extras``: a
            scheduler's fidelity and rung, the hybrid's decision), known when asked.
        reports: intermediate ``(step, value)`` pairs the objective reported.
        stopped: the step at which a scheduler told the trial to stop, if it did.
    """

    number: int
    state: TrialState
    config: Mapping[str, Any]
    values: Mapping[str, float] | None = None
    parent: int | None = None
    reason: str = ""
    seed: int = 0
    error: str | None = None
    traceback: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
    started: float = 0.0
    finished: float | None = None
    cursor: int = 0
    duration: float | None = None
    cpu_time: float | None = None
    attempt: int = 0
    session: str | None = None
    host: str | None = None
    pid: int | None = None
    peak_memory: int | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)
    reports: tuple[tuple[float, float], ...] = ()
    stopped: float | None = None

    @property
    def fidelity(self) -> float | None:
        """The fidelity a scheduler asked this trial to run at (None without one)."""
        tag = self.tags.get("fidelity")
        return float(tag["value"]) if isinstance(tag, Mapping) else None

    @property
    def fidelity_name(self) -> str | None:
        """What the fidelity counts, as the plan names it (``epochs``; None without one)."""
        tag = self.tags.get("fidelity")
        return str(tag.get("name", "fidelity")) if isinstance(tag, Mapping) else None

    @property
    def rung(self) -> int | None:
        """The scheduler's rung of this trial (0 = lowest fidelity), if any."""
        tag = self.tags.get("fidelity")
        return int(tag["rung"]) if isinstance(tag, Mapping) else None

    @property
    def value(self) -> float | None:
        """The single metric value (first metric) of a complete trial."""
        if not self.values:
            return None
        return next(iter(self.values.values()))

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state.value,
            "config": dict(self.config),
            "values": dict(self.values) if self.values is not None else None,
            "parent": self.parent,
            "reason": self.reason,
            "seed": self.seed,
            "error": self.error,
            "extras": dict(self.extras),
            "started": self.started,
            "finished": self.finished,
            "duration": self.duration,
            "cpu_time": self.cpu_time,
            "attempt": self.attempt,
            "host": self.host,
            "pid": self.pid,
            "peak_memory": self.peak_memory,
            "tags": dict(self.tags),
            "reports": [list(r) for r in self.reports],
            "stopped": self.stopped,
        }


def furthest_trained(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """Of ``trials`` (complete ones), those whose value stands for a finished
    training: not stopped early, and at the highest fidelity any of them reached, so a
    cheap rung's lucky value never passes for a trained model. A trial without a
    fidelity counts as finished. If every trial was stopped early, all compete."""
    done = list(trials)
    runs = [t for t in done if t.stopped is None] or done
    reached = max((t.fidelity for t in runs if t.fidelity is not None), default=None)
    return [t for t in runs if t.fidelity is None or t.fidelity == reached]


Reporter = Callable[[int, float, float], bool]
"""How a running trial reports: ``(trial number, step, value) -> stop now?``."""


class Trial:
    """What an objective receives: the configuration and its own seeded randomness.

    Under a scheduler (a plan's ``fidelity``), ``fidelity`` says how far to train,
    ``checkpoint_dir`` is a folder shared by a configuration's promotions (save state
    there and a promoted trial continues rather than starting over), ``report`` records
    intermediate values and ``should_stop`` says whether the scheduler wants the
    trial ended now (then return the latest value).

    Example:
        >>> def objective(trial: Trial) -> float:
        ...     x = trial.config["x"]
        ...     noise = trial.rng.normal(scale=0.01)  # reproducible per trial
        ...     return (x - 0.3) ** 2 + noise
    """

    def __init__(
        self,
        study: str,
        number: int,
        config: Mapping[str, Any],
        rng_key: RngKey,
        attempt: int = 0,
        *,
        fidelity: float | None = None,
        rung: int | None = None,
        checkpoint_dir: str | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        self.study = study
        self.number = number
        self.attempt = attempt  # 0, or how many times the trial was requeued
        self.config: Mapping[str, Any] = MappingProxyType(dict(config))
        # The objective's own stream: (study seed, trial number, "objective"), or
        # another purpose for re-evaluations (reruns with new seeds).
        purpose = PURPOSE_OBJECTIVE if rng_key.purpose == PURPOSE_PROPOSE else rng_key.purpose
        self._key = RngKey(rng_key.seed, number, purpose)
        self._rng: np.random.Generator | None = None
        self.fidelity = fidelity
        self.rung = rung
        self._checkpoint_dir = checkpoint_dir
        self._reporter = reporter
        self._stop = False
        self.reports: list[tuple[float, float]] = []

    @property
    def seed(self) -> int:
        """A 32-bit seed for the user's own training code (derived, reproducible)."""
        return self._key.integer_seed()

    @property
    def rng(self) -> np.random.Generator:
        """A numpy generator derived from (study seed, trial number)."""
        if self._rng is None:
            self._rng = self._key.generator()
        return self._rng

    @property
    def checkpoint_dir(self) -> Path:
        """A folder for this configuration's saved state, created on first use.

        Promotions of a configuration to higher fidelities share it, so training can
        resume from what the lower rung saved. Without a scheduler it is still a
        per-trial folder (beside the study's storage, or in the temporary folder).
        """
        if self._checkpoint_dir is None:
            import tempfile

            self._checkpoint_dir = str(
                Path(tempfile.gettempdir())
                / "hypertrail-checkpoints"
                / self.study
                / str(self.number)
            )
        path = Path(self._checkpoint_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def report(self, step: float, value: float) -> bool:
        """Record an intermediate value of the primary metric at ``step`` (an epoch,
        a number of samples); returns :meth:`should_stop`. Steps should increase."""
        step, value = float(step), float(value)
        self.reports.append((step, value))
        if self._reporter is not None and not self._stop:
            self._stop = bool(self._reporter(self.number, step, value))
        return self._stop

    def should_stop(self) -> bool:
        """Whether the scheduler asked this trial to stop at its latest report."""
        return self._stop

    def __getitem__(self, name: str) -> Any:
        return self.config[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.config.get(name, default)

    def to_task(self) -> dict[str, Any]:
        """JSON-ready form sent to worker processes."""
        task: dict[str, Any] = {
            "study": self.study,
            "number": self.number,
            "config": dict(self.config),
            "seed": self._key.seed,
            "purpose": self._key.purpose,
            "attempt": self.attempt,
        }
        if self.fidelity is not None:
            task.update(fidelity=self.fidelity, rung=self.rung)
        if self._checkpoint_dir is not None:
            task["checkpoint_dir"] = self._checkpoint_dir
        return task

    @classmethod
    def from_task(cls, task: Mapping[str, Any], reporter: Reporter | None = None) -> Trial:
        return cls(
            str(task["study"]),
            int(task["number"]),
            task["config"],
            RngKey(
                int(task["seed"]), int(task["number"]), str(task.get("purpose", PURPOSE_OBJECTIVE))
            ),
            int(task.get("attempt", 0)),
            fidelity=task.get("fidelity"),
            rung=task.get("rung"),
            checkpoint_dir=task.get("checkpoint_dir"),
            reporter=reporter,
        )

    def __repr__(self) -> str:
        at = f", fidelity={self.fidelity!r}" if self.fidelity is not None else ""
        return (
            f"Trial(study={self.study!r}, number={self.number}, config={dict(self.config)!r}{at})"
        )

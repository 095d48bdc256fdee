"""Executors run objectives; this module holds what they share.

An executor receives tasks (a trial as JSON-ready data) and yields outcomes. The
driver (:meth:`hypertrail.study.Study.optimize`) does all asking and telling, so
storage is written from one place per study run, whatever runs the objective.
"""

from __future__ import annotations

import math
import os
import socket
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hypertrail.errors import ObjectiveError
from hypertrail.trial import Metric, Reporter, Trial

__all__ = ["Executor", "Objective", "TrialOutcome", "normalize_values", "run_objective"]

Objective = Callable[[Trial], Any]


@dataclass(frozen=True)
class TrialOutcome:
    """What came of running one trial's objective."""

    number: int
    ok: bool
    values: Mapping[str, float] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    duration: float = 0.0
    cpu_time: float = 0.0
    lost: bool = False  # the process running it died: not the objective's verdict
    pid: int | None = None
    host: str | None = None
    peak_memory: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "ok": self.ok,
            "values": dict(self.values),
            "extras": dict(self.extras),
            "error": self.error,
            "traceback": self.traceback,
            "duration": self.duration,
            "cpu_time": self.cpu_time,
            "lost": self.lost,
            "pid": self.pid,
            "host": self.host,
            "peak_memory": self.peak_memory,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrialOutcome:
        return cls(**data)

    @classmethod
    def failure(
        cls, number: int, error: str, duration: float = 0.0, lost: bool = False
    ) -> TrialOutcome:
        return cls(number, False, error=error, duration=duration, lost=lost)


class Executor(Protocol):
    """Runs objectives somewhere: this process, local processes, a cluster."""

    @property
    def capacity(self) -> int:
        """How many trials can run at once."""
        ...

    def submit(self, task: Mapping[str, Any]) -> None:
        """Start running the trial described by ``task`` (see :meth:`Trial.to_task`)."""
        ...

    def results(self) -> Iterator[TrialOutcome]:
        """Wait until at least one submitted trial ends; yield the ended ones."""
        ...

    def close(self) -> None:
        """Stop workers; trials still running are abandoned."""
        ...


def _json_safe(value: Any) -> bool:
    import json

    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def normalize_values(
    result: Any, metrics: Sequence[Metric]
) -> tuple[dict[str, float], dict[str, Any]]:
    """Turn what an objective returned into ``(metric values, extras)``.

    Accepted: a number (one metric), a mapping holding every metric name (other
    JSON-ready keys become extras), or a sequence with one number per metric.

    Raises:
        ObjectiveError: for any other shape, a missing metric, or a non-finite value.
    """
    names = [m.name for m in metrics]
    values: dict[str, Any]
    extras: dict[str, Any] = {}
    if _is_number(result) and len(names) == 1:
        values = {names[0]: result}
    elif isinstance(result, Mapping):
        missing = [n for n in names if n not in result]
        if missing:
            raise ObjectiveError(
                f"objective returned a mapping without {', '.join(map(repr, missing))} "
                f"(keys: {', '.join(map(repr, result)) or 'none'})"
            )
        values = {n: result[n] for n in names}
        extras = {str(k): v for k, v in result.items() if k not in names}
        if not _json_safe(extras):
            raise ObjectiveError("objective returned extra values that are not JSON-ready")
    elif isinstance(result, Sequence) and not isinstance(result, str) and len(result) == len(names):
        values = dict(zip(names, result, strict=True))
    else:
        want = f"a number for {names[0]!r}" if len(names) == 1 else f"one value each for {names}"
        raise ObjectiveError(f"objective returned {_describe(result)}; expected {want}")
    out: dict[str, float] = {}
    for name, value in values.items():
        if not _is_number(value):
            raise ObjectiveError(f"metric {name!r} is {_describe(value)}, not a number")
        number = float(value)
        if not math.isfinite(number):
            raise ObjectiveError(f"metric {name!r} is {number} (not finite)")
        out[name] = number
    return out, extras


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        import numbers

        return isinstance(value, numbers.Real)
    except TypeError:  # pragma: no cover
        return False


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'…' if len(text) > 60 else ''}"


def run_objective(
    objective: Objective,
    task: Mapping[str, Any],
    metrics: Sequence[Metric],
    reporter: Reporter | None = None,
) -> TrialOutcome:
    """Run one trial in this process; never raises for the objective's faults.

    Besides the result, records where it ran (host, process) and what it cost
    (wall and CPU seconds, peak resident memory of the process during the trial).
    """
    from hypertrail.provenance.capture import peak_memory_bytes, reset_peak_memory

    trial = Trial.from_task(task, reporter)
    reset_peak_memory()
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    values: dict[str, float] = {}
    extras: dict[str, Any] = {}
    error: str | None = None
    trace: str | None = None
    try:
        result = objective(trial)
        values, extras = normalize_values(result, metrics)
    except ObjectiveError as exc:
        error, trace = str(exc), traceback.format_exc()
    except Exception as exc:
        error, trace = f"{type(exc).__name__}: {exc}", traceback.format_exc()
    return TrialOutcome(
        trial.number,
        error is None,
        values=values,
        extras=extras,
        error=error,
        traceback=trace,
        duration=time.perf_counter() - start_wall,
        cpu_time=time.process_time() - start_cpu,
        pid=os.getpid(),
        host=socket.gethostname(),
        peak_memory=peak_memory_bytes(),
    )

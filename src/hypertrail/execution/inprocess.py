"""Run objectives in the calling process, one at a time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from hypertrail.execution.base import Objective, TrialOutcome, run_objective
from hypertrail.trial import Metric, Reporter

__all__ = ["InProcessExecutor"]


class InProcessExecutor:
    """Runs each trial when results are asked for; capacity one, no timeouts.

    Example:
        >>> from hypertrail.trial import Metric, Reporter
        >>> ex = InProcessExecutor(lambda t: t.config["x"] * 2, [Metric("y", "minimize")])
        >>> ex.submit({"study": "s", "number": 0, "config": {"x": 2}, "seed": 0})
        >>> next(ex.results()).values
        {'y': 4.0}
    """

    def __init__(self, objective: Objective, metrics: Sequence[Metric]) -> None:
        self._objective = objective
        self._metrics = list(metrics)
        self._pending: list[Mapping[str, Any]] = []
        # Set by the study: where ``trial.report`` goes (and the stop decision comes from).
        self.reporter: Reporter | None = None

    @property
    def capacity(self) -> int:
        return 1

    def submit(self, task: Mapping[str, Any]) -> None:
        self._pending.append(task)

    def results(self) -> Iterator[TrialOutcome]:
        while self._pending:
            yield run_objective(self._objective, self._pending.pop(0), self._metrics, self.reporter)

    def close(self) -> None:
        self._pending.clear()

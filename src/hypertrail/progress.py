"""A rich progress bar for study runs: trials (or fidelity units) done, failures, best
so far."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hypertrail.execution.base import TrialOutcome

if TYPE_CHECKING:
    from hypertrail.study import Study
    from hypertrail.trial import FrozenTrial

__all__ = ["ProgressBar"]


class ProgressBar:
    """A study callback that draws progress on standard error.

    With ``units`` (a fidelity's name and a budget of it, as ``budget: {fidelity: N}``
    gives), the bar counts the units the study has committed instead of trials.

    Example:
        >>> # with ProgressBar(study, total=40) as bar:
        >>> #     study.optimize(f, max_trials=40, callbacks=[bar])
    """

    def __init__(
        self,
        study: Study,
        total: int | None,
        enabled: bool = True,
        units: tuple[str, float] | None = None,
    ) -> None:
        self._metric = study.metrics[0]
        history = study.history()
        self._done = len([t for t in history.trials if t.state.finished])
        self._failed = len([t for t in history.trials if t.error is not None])
        best = history.best_trained()  # under a fidelity, of the furthest trained
        self._best = history.loss(best) if best is not None else math.inf
        self._reached = best.fidelity if best is not None else None
        # Only a scheduler (or the hybrid with a fidelity) gives trials fidelities or
        # stops them; otherwise a trial's value is all the bar needs, and no read.
        optimizer = study.optimizer
        self._tiered = getattr(optimizer, "fidelity", None) is not None or callable(
            getattr(optimizer, "should_stop", None)
        )
        self._total: float | None = total
        self._units = units
        self._label = "trials"
        if units is not None:
            self._label, self._total = units
            self._spent = self._committed(history.trials)
        self._enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressBar:
        if not self._enabled:
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn(f"[bold]{self._label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TextColumn("best {task.fields[best]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._progress.__enter__()
        self._task = self._progress.add_task(
            self._label,
            total=self._total,
            completed=self._completed,
            failed=self._failed,
            best=self._best_text(),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)

    @staticmethod
    def _committed(trials: Any) -> float:
        from hypertrail.schedulers.base import fidelity_cost

        return fidelity_cost(trials)

    @property
    def _completed(self) -> float:
        """What the bar shows as done: trials, or fidelity units committed."""
        return self._spent if self._units is not None else self._done

    def _best_text(self) -> str:
        if math.isinf(self._best):
            return "-"
        return f"{self._metric.name}={self._metric.sign * self._best:.5g}"

    def _better(self, trial: FrozenTrial, value: float) -> None:
        """Fold a complete trial into the best shown, by ``History.best_trained``'s rule
        (here a trial stopped early never counts): a higher fidelity resets the best."""
        if trial.stopped is not None:
            return
        loss = self._metric.sign * value
        reached = trial.fidelity
        if reached is not None and (self._reached is None or reached > self._reached):
            self._reached, self._best = reached, loss
        elif reached is None or reached == self._reached:
            self._best = min(self._best, loss)

    def __call__(self, study: Study, outcome: TrialOutcome) -> None:
        self._done += 1
        trials = study.trials if self._units is not None or self._tiered else []
        if self._units is not None:
            self._spent = self._committed(trials)
        if outcome.ok and self._tiered:
            self._better(trials[outcome.number], outcome.values[self._metric.name])
        elif outcome.ok:
            self._best = min(self._best, self._metric.sign * outcome.values[self._metric.name])
        else:
            self._failed += 1
        if self._progress is not None:
            self._progress.update(
                self._task,
                completed=self._completed,
                failed=self._failed,
                best=self._best_text(),
            )

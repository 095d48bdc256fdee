"""The median stopping rule (Golovin et al., Google Vizier, KDD 2017).

A running trial stops at a report when the best value it has reached so far is worse
than the median of what completed trials had reached by the same step. Every
configuration comes from the wrapped optimizer, which sees the whole history, and
runs at the top fidelity (when the plan declares one). Stopping depends on which
trials had completed when the report came, so it is recorded (``trial.reported``
with ``stop`` and the reason) rather than re-derived; proposals replay as usual.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from hypertrail.history import History
from hypertrail.optimizers.base import Proposal
from hypertrail.schedulers.base import New, Promote, Scheduled
from hypertrail.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    import numpy as np

    from hypertrail.space.space import Space

__all__ = ["MedianStopping"]


@dataclass(frozen=True)
class MedianStopping(Scheduled):
    """Stop a trial whose best so far is worse than the median at the same step.

    Attributes:
        min_trials: completed trials with reports needed before any trial stops.
        warmup: no trial stops at a step below this.
    """

    name: ClassVar[str] = "median"
    revision: ClassVar[int] = 1  # its optimizer sees the whole history: no model view
    needs_fidelity: ClassVar[bool] = False
    min_trials: int = 5
    warmup: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.min_trials, bool) or not isinstance(self.min_trials, int):
            raise ValueError(f"min_trials must be an integer, got {self.min_trials!r}")
        if self.min_trials < 1:
            raise ValueError(f"min_trials must be at least 1, got {self.min_trials}")

    def decide(self, history: History) -> Promote | New:
        return New(max(len(self.levels) - 1, 0), 0, "median stopping")

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        inner = self.inner.propose(space, history, rng, 1)
        if not inner:
            return []
        proposal = inner[0]
        extras: dict[str, Any] = dict(proposal.extras)
        if self.levels:
            extras.update(self._tag(len(self.levels) - 1, 0))
        return [
            Proposal(
                proposal.config,
                reason=f"median: {self.inner.name}: {proposal.reason}",
                parent=proposal.parent,
                extras=extras,
            )
        ]

    def should_stop(self, trial: FrozenTrial, history: History) -> tuple[bool, str]:
        """Whether ``trial`` (with its latest report) should stop, and why."""
        if not trial.reports:
            return False, ""
        step = trial.reports[-1][0]
        if step < self.warmup:
            return False, ""
        sign = history.metrics[0].sign
        mine = min(sign * v for s, v in trial.reports)
        others = []
        for t in history.trials:
            if t.number == trial.number or t.state is not TrialState.COMPLETE:
                continue
            reached = [sign * v for s, v in t.reports if s <= step]
            if reached:
                others.append(min(reached))
        if len(others) < self.min_trials:
            return False, ""
        median = statistics.median(others)
        if mine > median:
            return True, (
                f"best {sign * mine:.6g} by step {step:g} is worse than the median "
                f"{sign * median:.6g} of {len(others)} completed trials by then"
            )
        return False, ""

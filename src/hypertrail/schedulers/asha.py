"""Asynchronous successive halving (ASHA; Li et al., MLSys 2020).

Every time a worker is free: promote the best configuration of the highest rung
that has one in its top ``1/eta`` not promoted yet; otherwise start a new
configuration at the lowest rung. No rung ever waits to fill, so workers never idle,
and the decision reads the history alone (replayable, resumable).
"""

from __future__ import annotations

from typing import ClassVar

from hypertrail.history import History
from hypertrail.schedulers.base import New, Promote, Scheduled, rung_trials
from hypertrail.trial import TrialState

__all__ = ["ASHA"]


class ASHA(Scheduled):
    """Asynchronous successive halving over the fidelity's rungs.

    Example:
        >>> from hypertrail import Float, Space, Study
        >>> study = Study.create("asha-doc", Space({"x": Float(0, 1)}), storage="memory",
        ...     optimizer={"name": "asha", "fidelity": {"name": "epochs", "min": 1, "max": 9}})
        >>> study.optimize(lambda t: t.config["x"] / t.fidelity, n_trials=12)
        >>> sorted({t.fidelity for t in study.trials})
        [1.0, 3.0, 9.0]
    """

    name: ClassVar[str] = "asha"

    def decide(self, history: History) -> Promote | New:
        top = len(self.levels) - 1
        for rung in range(top - 1, -1, -1):
            members = rung_trials(history, rung)
            ended = [t for t in members if t.state is not TrialState.RUNNING]
            quota = len(ended) // int(self.fid.eta)
            if quota == 0:
                continue
            ranked = sorted(ended, key=lambda t: (self.loss(history, t), t.number))
            done = self.promoted(history, rung + 1)
            for position, trial in enumerate(ranked[:quota], start=1):
                if trial.number in done or trial.state is not TrialState.COMPLETE:
                    continue
                why = self.rank_words(position, len(ended), rung)
                return Promote(trial, rung + 1, 0, why)
        return New(0, 0, "no configuration due for promotion")

"""Successive halving and Hyperband (Jamieson & Talwalkar 2016; Li et al. 2018).

A bracket starts ``n`` configurations at its lowest rung; once every trial of a rung
has ended, the best ``1/eta`` of them are promoted to the next rung, up to the top.
Successive halving runs brackets that start at the lowest rung; Hyperband cycles
through brackets that start higher with fewer configurations, hedging against a low
fidelity that misleads. When every open bracket waits for a rung to finish, the next
bracket opens, so parallel workers do not idle (the waiting brackets catch up later).
Brackets and rungs are read from the history: a resumed study continues them.
"""

from __future__ import annotations

import math
from typing import ClassVar

from hypertrail.history import History
from hypertrail.schedulers.base import New, Promote, Scheduled, rung_trials
from hypertrail.trial import TrialState

__all__ = ["Hyperband", "SuccessiveHalving"]


class SuccessiveHalving(Scheduled):
    """Synchronous successive halving: rungs promote once they are complete.

    Example:
        >>> from hypertrail import Float, Space, Study
        >>> study = Study.create("sh-doc", Space({"x": Float(0, 1)}), storage="memory",
        ...     optimizer={"name": "successive_halving",
        ...                "fidelity": {"name": "epochs", "min": 1, "max": 9}})
        >>> study.optimize(lambda t: t.config["x"] / t.fidelity, n_trials=13)
        >>> [t.rung for t in study.trials]
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2]
    """

    name: ClassVar[str] = "successive_halving"

    def bracket_start(self, bracket: int) -> int:
        """The rung a bracket starts at (successive halving: always the lowest)."""
        return 0

    def sizes(self, bracket: int) -> list[int]:
        """Configurations per rung of ``bracket``, from its first rung to the top."""
        top = len(self.levels) - 1
        start = self.bracket_start(bracket)
        s = top - start
        eta = self.fid.eta
        first = self.first_size(s)
        return [max(1, int(first / eta**i)) for i in range(s + 1)]

    def first_size(self, s: int) -> int:
        return round(self.fid.eta**s)

    def decide(self, history: History) -> Promote | New:
        brackets = 1 + max(
            (
                int(t.tags["fidelity"].get("bracket", 0))
                for t in history.trials
                if isinstance(t.tags.get("fidelity"), dict)
            ),
            default=-1,
        )
        for bracket in range(brackets):
            decision = self._in_bracket(history, bracket)
            if decision is not None:
                return decision
        start = self.bracket_start(brackets)
        return New(start, brackets, f"bracket {brackets} opens")

    def _in_bracket(self, history: History, bracket: int) -> Promote | New | None:
        start = self.bracket_start(bracket)
        sizes = self.sizes(bracket)
        eta = int(self.fid.eta)
        targets = [sizes[0]]
        for i in range(len(sizes) - 1):
            rung = start + i
            members = rung_trials(history, rung, bracket)
            ended = [t for t in members if t.state is not TrialState.RUNNING]
            if len(members) < targets[i] or len(ended) < len(members):
                targets.append(sizes[i + 1])
                continue  # this rung is not complete: nothing above it can move
            complete = [t for t in ended if t.state is TrialState.COMPLETE]
            target = min(sizes[i + 1], len(complete))
            targets.append(target)
            promoted = self.promoted(history, rung + 1) & {t.number for t in members}
            if len(promoted) >= target:
                continue
            ranked = sorted(complete, key=lambda t: (self.loss(history, t), t.number))
            for position, trial in enumerate(ranked[:target], start=1):
                if trial.number not in promoted:
                    why = self.rank_words(position, len(members), rung)
                    why += f", top {target} (1/{eta}) of bracket {bracket}"
                    return Promote(trial, rung + 1, bracket, why)
        if len(rung_trials(history, start, bracket)) < sizes[0]:
            asked = len(rung_trials(history, start, bracket))
            return New(start, bracket, f"bracket {bracket}, {asked + 1} of {sizes[0]}")
        return None


class Hyperband(SuccessiveHalving):
    """Hyperband: successive halving brackets that start at every rung in turn, the
    ones starting lower with more configurations (``ceil((s_max+1)/(s+1) * eta**s)``).
    """

    name: ClassVar[str] = "hyperband"

    def bracket_start(self, bracket: int) -> int:
        top = len(self.levels) - 1
        return bracket % (top + 1)

    def first_size(self, s: int) -> int:
        top = len(self.levels) - 1
        return math.ceil((top + 1) / (s + 1) * self.fid.eta**s)

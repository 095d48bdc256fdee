"""The optimizer conformance suite.

Every optimizer must: propose valid configurations (right active set, values in
their domains, constraints satisfied) on flat, conditional, repeated and
constrained spaces; be a pure function of (space, history, rng): the same inputs
give the same proposals, whatever the global random state; leave the history
untouched; cope with failed and running trials in the history; and explain each
proposal with a short reason.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import numpy as np

from hypertrail.history import History
from hypertrail.optimizers.base import Optimizer, Proposal
from hypertrail.space.params import Categorical, Fixed, Float, Int, Ordinal
from hypertrail.space.repeat import Repeat
from hypertrail.space.space import Space
from hypertrail.trial import FrozenTrial, Metric, TrialState

__all__ = ["OptimizerConformance", "conformance_spaces", "make_history"]

_METRICS = (Metric("loss", "minimize"),)


def conformance_spaces() -> dict[str, Space]:
    """Small spaces covering every feature an optimizer must respect."""
    return {
        "flat": Space(
            {
                "x": Float(-5.0, 5.0),
                "lr": Float(1e-5, 1e-1, log=True),
                "n": Int(1, 8),
                "kind": Categorical(["a", "b", "c"]),
                "batch": Ordinal([16, 32, 64]),
                "epochs": Fixed(3),
            }
        ),
        "conditional": Space(
            {
                "opt": Categorical(["adam", "sgd"]),
                "momentum": Float(0.0, 0.99, when="opt == 'sgd'"),
                "nesterov": Categorical([True, False], when="opt == 'sgd' and momentum > 0.5"),
                "beta": Float(0.8, 0.999, when="opt == 'adam'"),
            }
        ),
        "repeat": Space(
            {
                "n_layers": Int(1, 3),
                "layers": Repeat(
                    count="n_layers",
                    max=3,
                    item={
                        "width": Int(8, 256, log=True),
                        "act": Categorical(["relu", "gelu"]),
                        "dropout": Float(0.0, 0.5, when="act == 'relu'"),
                    },
                ),
            }
        ),
        "constrained": Space(
            {"a": Float(0.0, 1.0), "b": Float(0.0, 1.0), "k": Int(0, 4, step=2)},
            constraints=["a + b <= 1.0", "k != 2 or a < 0.5"],
        ),
        "discrete": Space(
            {
                "c": Categorical(["x", "y"]),
                "m": Int(1, 3),
                "s": Float(0.0, 1.0, step=0.5, when="c == 'y'"),
            }
        ),
    }


def _loss(config: dict[str, Any]) -> float:
    """A deterministic toy loss over any config (for building histories)."""
    total = 0.0
    for name, value in sorted(config.items()):
        if isinstance(value, bool):
            total += 0.3 if value else 0.0
        elif isinstance(value, int | float):
            total += abs(float(value) - 0.25) / (1.0 + abs(float(value)))
        else:
            total += 0.1 * (len(str(value)) % 3) + 0.01 * len(name)
    return total


def make_history(space: Space, n: int, seed: int = 0, *, with_failures: bool = True) -> History:
    """A history of ``n`` trials: mostly complete, some failed, the last one running."""
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(n):
        config = space.canonical(space.sample(rng))
        if with_failures and i % 7 == 3:
            trials.append(FrozenTrial(i, TrialState.FAILED, config, error="boom", seed=i))
        elif with_failures and i == n - 1:
            trials.append(FrozenTrial(i, TrialState.RUNNING, config, seed=i))
        else:
            trials.append(
                FrozenTrial(i, TrialState.COMPLETE, config, values={"loss": _loss(config)}, seed=i)
            )
    return History(seed=seed, metrics=_METRICS, trials=tuple(trials), cursor=2 * n)


class OptimizerConformance:
    """Subclass and implement :meth:`make_optimizer`; pytest runs the checks."""

    #: history sizes to test; an optimizer with a long startup can raise these
    history_sizes: tuple[int, ...] = (0, 1, 12, 40)

    def make_optimizer(self) -> Optimizer:
        raise NotImplementedError

    def _spaces(self) -> dict[str, Space]:
        spaces = conformance_spaces()
        optimizer = self.make_optimizer()
        out = {}
        for name, space in spaces.items():
            try:
                optimizer.check(space)
            except Exception:
                continue
            out[name] = space
        assert out, "the optimizer accepts none of the conformance spaces"
        return out

    def _propose(self, space: Space, history: History, seed: int, n: int = 1) -> list[Proposal]:
        return self.make_optimizer().propose(space, history, np.random.default_rng(seed), n)

    def test_proposals_are_valid(self) -> None:
        for name, space in self._spaces().items():
            for size in self.history_sizes:
                history = make_history(space, size, seed=size)
                for seed in range(3):
                    for proposal in self._propose(space, history, seed):
                        problems = space.problems(proposal.config)
                        assert not problems, f"{name}, {size} trials: {problems}"

    def test_several_proposals_at_once(self) -> None:
        for name, space in self._spaces().items():
            history = make_history(space, 4)  # small: a grid may be nearly used up
            proposals = self._propose(space, history, 0, n=3)
            assert 1 <= len(proposals) <= 3, name
            for proposal in proposals:
                assert not space.problems(proposal.config), name

    def test_same_inputs_same_proposals(self) -> None:
        for name, space in self._spaces().items():
            for size in self.history_sizes:
                history = make_history(space, size, seed=1)
                first = self._propose(space, history, 42)
                second = self._propose(space, history, 42)
                assert [p.config for p in first] == [p.config for p in second], name
                assert [p.reason for p in first] == [p.reason for p in second], name

    def test_global_random_state_is_not_used(self) -> None:
        for name, space in self._spaces().items():
            history = make_history(space, max(self.history_sizes), seed=2)
            random.seed(1)
            np.random.seed(1)
            first = self._propose(space, history, 7)
            random.seed(2)
            np.random.seed(2)
            second = self._propose(space, history, 7)
            assert [p.config for p in first] == [p.config for p in second], name

    def test_history_is_not_modified(self) -> None:
        for space in self._spaces().values():
            history = make_history(space, 20)
            before = copy.deepcopy(history)
            self._propose(space, history, 0, n=2)
            assert history == before

    def test_proposals_explain_themselves(self) -> None:
        for space in self._spaces().values():
            for size in self.history_sizes:
                for proposal in self._propose(space, make_history(space, size), 0):
                    assert isinstance(proposal.reason, str) and proposal.reason.strip()
                    assert proposal.parent is None or 0 <= proposal.parent < size

    def test_only_failures_in_history(self) -> None:
        for space in self._spaces().values():
            rng = np.random.default_rng(0)
            trials = tuple(
                FrozenTrial(i, TrialState.FAILED, space.canonical(space.sample(rng)), error="x")
                for i in range(10)
            )
            history = History(0, _METRICS, trials, 10)
            for proposal in self._propose(space, history, 0):
                assert not space.problems(proposal.config)

    def test_name_is_registered_string(self) -> None:
        optimizer = self.make_optimizer()
        assert isinstance(optimizer.name, str) and optimizer.name

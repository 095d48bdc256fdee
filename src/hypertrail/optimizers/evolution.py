"""Regularized (aging) evolution: tournament selection and single mutations.

After Real et al., "Regularized Evolution for Image Classifier Architecture Search"
(AAAI 2019). The population is the ``population_size`` most recent completed trials
by trial number: old members age out whatever their score, which keeps the search
from resting on one lucky evaluation. Each child comes from a tournament: draw
``sample_size`` members at random, take the best (primary metric), and mutate it.

Everything is read from the history, so the optimizer keeps no state and proposals
are a pure function of (space, history, rng). Running and failed trials are not in
the population (they have no score); a child whose configuration equals any trial
already asked (running ones included, so several workers do not evaluate the same
child) or an earlier child of the same batch is mutated again, a bounded number of
times.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from hypertrail.optimizers.base import Proposal
from hypertrail.space.params import Categorical, Domain, Int, Ordinal

if TYPE_CHECKING:
    import numpy as np

    from hypertrail.history import History
    from hypertrail.space.space import Param, Space
    from hypertrail.trial import FrozenTrial

__all__ = ["Evolution"]

_TRIES = 32  # mutations of one parent before falling back to a random configuration
_MORE_EVERY = 8  # after this many rejected children, mutate one more parameter


def _key(space: Space, config: Mapping[str, Any]) -> str:
    """An exact identity for a configuration (JSON keeps 1, 1.0 and true apart)."""
    return json.dumps(space.canonical(config))


def _mutable(param: Param) -> bool:
    return param.domain.has_dimension and param.domain.cardinality() != 1


def _reflect(u: float) -> float:
    """Fold a Gaussian step back into [0, 1] (a mirror at each end)."""
    u = math.fmod(abs(u), 2.0)
    return min(2.0 - u if u > 1.0 else u, 1.0 - 1e-12)


def _neighbour(domain: Domain, value: Any, direction: int) -> Any:
    """The next value of an ordered discrete domain in ``direction`` (or the other way)."""
    for d in (direction, -direction):
        if isinstance(domain, Int):
            candidate: Any = int(value) + d * (int(domain.step) if domain.step else 1)
            if domain.contains(candidate):
                return candidate
        else:  # evenly spaced cells of width 1/k in the unit encoding
            u = domain.to_unit(value) + d / (domain.cardinality() or 1)
            if 0.0 <= u < 1.0:
                return domain.from_unit(u)
    return value


@dataclass(frozen=True)
class Evolution:
    """Regularized evolution over mixed, conditional and repeated spaces.

    Until ``population_size`` trials have completed, proposals are random draws.
    Then each proposal mutates the winner of a tournament among the population.

    A mutation changes one active parameter, and with probability
    ``extra_mutation_prob`` one more (repeatedly, so occasionally a few):

    * continuous floats, log ints and wide ranges: a Gaussian step of
      ``mutation_scale`` in the unit encoding (``to_unit``/``from_unit``), mirrored
      at the ends; if a discrete value does not move, its neighbour instead;
    * ints, stepped floats and ordinals: the same, so small ranges move to a
      neighbour and large ones can jump;
    * categoricals: another choice, uniformly.

    Conditions are then re-applied in the space's order: a parameter made active by
    the mutation (say ``layers.2.width`` when ``n_layers`` grows) is drawn from its
    domain, one made inactive is dropped. Children that violate a constraint, or
    repeat an asked configuration, are mutated again; after a bounded number of
    tries the proposal is a random configuration and the reason says so.

    Args:
        population_size: completed trials (the most recent by number) that compete.
        sample_size: tournament size; larger is greedier.
        mutation_scale: standard deviation of numeric steps in the unit encoding.
        extra_mutation_prob: probability of mutating one more parameter (repeated).

    Example:
        >>> import numpy as np
        >>> from hypertrail import Float, Space
        >>> from hypertrail.testing.optimizers import make_history
        >>> space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
        >>> history = make_history(space, 30, with_failures=False)
        >>> proposal = Evolution(population_size=10).propose(
        ...     space, history, np.random.default_rng(0))[0]
        >>> proposal.parent is not None and proposal.reason.startswith("mutated")
        True
    """

    name: ClassVar[str] = "evolution"
    population_size: int = 20
    sample_size: int = 5
    mutation_scale: float = 0.15
    extra_mutation_prob: float = 0.2

    def __post_init__(self) -> None:
        for option in ("population_size", "sample_size"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{option} must be a positive integer, got {value!r}")
        if self.sample_size > self.population_size:
            raise ValueError(
                f"sample_size ({self.sample_size}) cannot exceed "
                f"population_size ({self.population_size})"
            )
        if not (_is_real(self.mutation_scale) and 0.0 < self.mutation_scale <= 1.0):
            raise ValueError(f"mutation_scale must be in (0, 1], got {self.mutation_scale!r}")
        if not (_is_real(self.extra_mutation_prob) and 0.0 <= self.extra_mutation_prob < 1.0):
            raise ValueError(
                f"extra_mutation_prob must be in [0, 1), got {self.extra_mutation_prob!r}"
            )

    def check(self, space: Space) -> None:
        """Evolution works on every valid space."""

    def population(self, history: History) -> list[FrozenTrial]:
        """The competing trials: the last ``population_size`` completed, by number."""
        done = sorted(history.completed(), key=lambda t: t.number)
        return done[-self.population_size :]

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        population = self.population(history)
        if len(population) < self.population_size:
            reason = f"evolution init: random ({len(population)}/{self.population_size} complete)"
            return [Proposal(space.sample(rng), reason) for _ in range(n)]
        seen = {_key(space, t.config) for t in history.trials}
        out = []
        for _ in range(n):
            proposal = self._child(space, history, population, seen, rng)
            seen.add(_key(space, proposal.config))
            out.append(proposal)
        return out

    def _child(
        self,
        space: Space,
        history: History,
        population: list[FrozenTrial],
        seen: set[str],
        rng: np.random.Generator,
    ) -> Proposal:
        picks = rng.choice(len(population), size=self.sample_size, replace=False)
        parent = min((population[int(i)] for i in picks), key=lambda t: (history.loss(t), t.number))
        for attempt in range(_TRIES):
            child, mutated = self._mutate(space, parent.config, attempt // _MORE_EVERY, rng)
            if not mutated or not space.is_feasible(child) or _key(space, child) in seen:
                continue
            activated = [name for name in child if name not in parent.config]
            reason = f"mutated {', '.join(mutated)} from #{parent.number}"
            if activated:
                reason += f" ({len(activated)} newly active)"
            return Proposal(child, reason, parent=parent.number)
        return Proposal(
            space.sample(rng),
            f"evolution: no new valid mutation of #{parent.number} in {_TRIES} tries; random",
        )

    def _mutate(
        self, space: Space, parent: Mapping[str, Any], more: int, rng: np.random.Generator
    ) -> tuple[dict[str, Any], list[str]]:
        """A child of ``parent`` and the names of the parameters that changed value."""
        candidates = [p for p in space.params if p.name in parent and _mutable(p)]
        if not candidates:
            return dict(parent), []
        count = 1 + more
        while count < len(candidates) and rng.random() < self.extra_mutation_prob:
            count += 1
        count = min(count, len(candidates))
        chosen = sorted(int(i) for i in rng.choice(len(candidates), size=count, replace=False))
        changed = {
            candidates[i].name: self._mutate_value(
                candidates[i].domain, parent[candidates[i].name], rng
            )
            for i in chosen
        }
        # Re-apply conditions in order: newly active parameters are drawn from their
        # domain, newly inactive ones dropped.
        child = space.complete({**parent, **changed}, rng)
        mutated = [
            name for name in changed if name in child and _differs(child[name], parent[name])
        ]
        return child, mutated

    def _mutate_value(self, domain: Domain, value: Any, rng: np.random.Generator) -> Any:
        if isinstance(domain, Categorical) and not isinstance(domain, Ordinal):
            here = domain.index(value)
            others = [c for i, c in enumerate(domain.choices) if i != here]
            return others[int(rng.integers(len(others)))]
        step = float(rng.normal(0.0, self.mutation_scale))
        new = domain.from_unit(_reflect(domain.to_unit(value) + step))
        if domain.cardinality() is not None and not _differs(new, value):
            new = _neighbour(domain, value, 1 if step >= 0 else -1)
        return new


def _differs(a: Any, b: Any) -> bool:
    # 1 == True in Python, but a categorical may hold both as different choices.
    return bool(a != b or isinstance(a, bool) is not isinstance(b, bool))


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

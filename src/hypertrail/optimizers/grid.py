"""Grid search over a fully discrete space, in a seeded order.

The grid is every active configuration (conditions followed, constraints
applied), enumerated once and cached; trial *k* takes entry *k* of a permutation
seeded by the study, so that a budget smaller than the grid still spreads over it.
When every entry is taken, the optimizer proposes nothing and the study stops.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from hypertrail.errors import OptimizerError
from hypertrail.optimizers.base import Proposal
from hypertrail.seeding import RngKey

if TYPE_CHECKING:
    import numpy as np

    from hypertrail.history import History
    from hypertrail.space.space import Space

__all__ = ["GridSearch"]


@dataclass(frozen=True)
class GridSearch:
    """Every combination of a discrete space, each tried once.

    Args:
        shuffle: visit the grid in a seeded random order (default) or in order.
        max_size: refuse grids larger than this many configurations.
    """

    name: ClassVar[str] = "grid"
    shuffle: bool = True
    max_size: int = 1_000_000
    _cache: dict[tuple[str, int], list[dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def check(self, space: Space) -> None:
        continuous = [p.name for p in space.params if p.domain.cardinality() is None]
        if continuous:
            raise OptimizerError(
                "grid search needs a discrete space; continuous parameters: "
                + ", ".join(continuous)
                + " (give them a step, or choose another optimizer)"
            )
        bound = space.cardinality_bound() or 0
        if bound > self.max_size:
            size = sum(
                1 for _ in zip(range(self.max_size + 1), self._enumerate(space), strict=False)
            )
            if size > self.max_size:
                raise OptimizerError(
                    f"the grid has more than {self.max_size} configurations; "
                    "raise max_size or choose another optimizer"
                )

    def _enumerate(self, space: Space) -> Iterator[dict[str, Any]]:
        params = space.params
        config: dict[str, Any] = {}

        def walk(i: int) -> Iterator[dict[str, Any]]:
            if i == len(params):
                if space.is_feasible(config):
                    yield dict(config)
                return
            param = params[i]
            if param.condition is None or param.condition.holds(config):
                for value in param.domain.values():
                    config[param.name] = value
                    yield from walk(i + 1)
                del config[param.name]
            else:
                yield from walk(i + 1)

        return walk(0)

    def grid(self, space: Space, seed: int) -> list[dict[str, Any]]:
        """The full grid in visiting order (cached per space and seed)."""
        key = (space.fingerprint, seed)
        with self._lock:
            if key not in self._cache:
                self.check(space)
                points = list(self._enumerate(space))
                if self.shuffle:
                    order = RngKey(seed, 0, "grid-order").generator().permutation(len(points))
                    points = [points[int(i)] for i in order]
                self._cache[key] = points
            return self._cache[key]

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        points = self.grid(space, history.seed)
        first = history.next_number
        return [
            Proposal(points[i], f"grid point {i + 1}/{len(points)}")
            for i in range(first, min(first + n, len(points)))
        ]

"""Scrambled Sobol search: a space-filling sequence over the unit cube.

Point *k* of one scrambled sequence per study goes to trial *k*, so parallel
workers and resumed runs get exactly the points a sequential run would. The
scramble is derived from the study seed; the sequence is a pure function of it
and is cached. Conditions are respected by decoding (inactive coordinates are
ignored); a point that violates a constraint is replaced by a random draw from the
trial's own generator, and the reason says so.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from hypertrail.optimizers.base import Proposal
from hypertrail.seeding import RngKey

if TYPE_CHECKING:
    import numpy as np

    from hypertrail.history import History
    from hypertrail.space.space import Space

__all__ = ["SobolSearch"]


@dataclass(frozen=True)
class SobolSearch:
    """Scrambled Sobol points (scipy's QMC engine), one per trial number.

    Args:
        scramble: Owen-scramble the sequence (seeded by the study seed). Without
            scrambling the first point is the corner of the cube.
    """

    name: ClassVar[str] = "sobol"
    scramble: bool = True
    _cache: dict[tuple[int, int, bool], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def check(self, space: Space) -> None:
        """Sobol works on every valid space."""

    def _points(self, seed: int, dims: int, upto: int) -> Any:
        """The first ``>= upto`` points of this study's sequence (cached, grown by doubling)."""
        from scipy.stats import qmc

        key = (seed, dims, self.scramble)
        with self._lock:
            points = self._cache.get(key)
            if points is None or len(points) < upto:
                m = max(upto - 1, 1).bit_length()
                engine = qmc.Sobol(
                    d=max(dims, 1),
                    scramble=self.scramble,
                    rng=RngKey(seed, 0, "sobol-scramble").generator(),
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    points = engine.random_base2(m)
                self._cache[key] = points
            return points

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        dims = len(space.dimensions)
        first = history.next_number
        points = self._points(history.seed, dims, first + n)
        out = []
        for index in range(first, first + n):
            config = space.decode([float(u) for u in points[index][:dims]])
            if space.is_feasible(config):
                out.append(Proposal(config, f"sobol point {index}"))
            else:
                out.append(Proposal(space.sample(rng), f"sobol point {index} infeasible; random"))
        return out

"""Random search: independent draws from the space's own distributions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from hypertrail.optimizers.base import Proposal

if TYPE_CHECKING:
    import numpy as np

    from hypertrail.history import History
    from hypertrail.space.space import Space

__all__ = ["RandomSearch"]


@dataclass(frozen=True)
class RandomSearch:
    """Uniform (or log-uniform) draws that respect conditions and constraints.

    Example:
        >>> import numpy as np
        >>> from hypertrail import Float, Space
        >>> from hypertrail.history import History
        >>> space = Space({"x": Float(0.0, 1.0)})
        >>> RandomSearch().propose(space, History(0, (), (), 0), np.random.default_rng(0))[0].reason
        'random'
    """

    name: ClassVar[str] = "random"

    def check(self, space: Space) -> None:
        """Random search works on every valid space."""

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        return [Proposal(space.sample(rng), "random") for _ in range(n)]

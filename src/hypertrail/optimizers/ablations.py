"""The two halves of a hybrid search, each alone: baselines for honest ablations.

* ``structure-only`` searches the structure with an engine (``tpe`` by default) and
  leaves the numbers at their defaults (declared, or the midpoint of the range) or,
  with ``numbers: random``, draws them at random.
* ``numeric-only`` fixes the structure at the space's defaults and searches the
  numbers with an engine (``gp`` by default).

Both use the split of :mod:`hypertrail.optimizers.split`, with the same override
options as the hybrid optimizer, so an ablation changes one thing only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from hypertrail.optimizers.base import Optimizer, Proposal
from hypertrail.optimizers.hybrid import build_engine, default_structure, propose_within
from hypertrail.optimizers.split import SplitOptions

if TYPE_CHECKING:
    import numpy as np

    from hypertrail.history import History
    from hypertrail.space.space import Space

__all__ = ["NumericOnly", "StructureOnly"]


@dataclass(frozen=True)
class StructureOnly(SplitOptions):
    """Search the structure only; numbers at their defaults or random.

    Split options as in :class:`~hypertrail.optimizers.split.SplitOptions`.

    Args:
        structure: engine over the whole space, whose structures are kept.
        numbers: ``default`` or ``random``.
    """

    name: ClassVar[str] = "structure-only"
    structure: Any = "tpe"
    numbers: str = "default"
    _engine: Optimizer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.numbers not in ("default", "random"):
            raise ValueError(f"numbers must be 'default' or 'random', got {self.numbers!r}")
        self.check_split_options()
        object.__setattr__(self, "_engine", build_engine(self.structure, "structure"))

    def check(self, space: Space) -> None:
        self.split_of(space)
        self._engine.check(space)

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        from hypertrail.optimizers.gp.optimizer import sample_within

        split = self.split_of(space)
        out = []
        for proposal in self._engine.propose(space, history, rng, n):
            structure = split.structure_of(proposal.config)
            fixed = dict(structure)
            if self.numbers == "default":
                fixed.update({name: space[name].domain.default_value() for name in split.numeric})
            config = space.complete(fixed, rng)
            if not space.is_feasible(config):
                config = sample_within(space, structure, rng)
            out.append(
                replace(
                    proposal,
                    config=space.canonical(config),
                    reason=f"structure only, numbers {self.numbers}: {proposal.reason}",
                )
            )
        return out


@dataclass(frozen=True)
class NumericOnly(SplitOptions):
    """Search the numbers only, in the structure of the space's defaults.

    Split options as in :class:`~hypertrail.optimizers.split.SplitOptions`.

    Args:
        numeric: engine for the numbers (``gp`` uses the shared acquisition search).
        n_startup: random configurations (in the fixed structure) before the GP.
    """

    name: ClassVar[str] = "numeric-only"
    numeric: Any = "gp"
    n_startup: int = 10
    _engine: Optimizer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.check_split_options()
        if self.n_startup < 1:
            raise ValueError("n_startup must be at least 1")
        object.__setattr__(self, "_engine", build_engine(self.numeric, "numeric"))

    def check(self, space: Space) -> None:
        self.split_of(space)
        self._engine.check(space)

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        from hypertrail.optimizers.gp.optimizer import (
            GPOptimizer,
            sample_within,
            single_threaded_blas,
        )

        split = self.split_of(space)
        structure = default_structure(space, split)
        label = split.describe(structure)
        engine = self._engine
        if not isinstance(engine, GPOptimizer):
            out = []
            for _ in range(n):
                p = propose_within(engine, space, split, structure, history, rng)
                out.append(replace(p, reason=f"numeric only [{label}]: {p.reason}"))
            return out
        if len(history.completed()) < self.n_startup:
            return [
                Proposal(sample_within(space, structure, rng), f"numeric only [{label}]: random")
                for _ in range(n)
            ]
        out = []
        with single_threaded_blas():
            surrogate = engine.fit(space, history)
            for _ in range(n):
                config, score = engine.maximize(space, surrogate, rng, structure)
                out.append(Proposal(config, f"numeric only [{label}]: GP logEI={score:.3g}"))
                surrogate = surrogate.believe(config)
        return out

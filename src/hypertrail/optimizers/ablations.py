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

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from hypertrail.optimizers.base import Optimizer, Proposal
from hypertrail.optimizers.hybrid import build_engine, default_structure, propose_within
from hypertrail.optimizers.split import Split

if TYPE_CHECKING:
    import numpy as np

    from hypertrail.history import History
    from hypertrail.space.space import Space

__all__ = ["NumericOnly", "StructureOnly"]


def _check_patterns(structure_params: Sequence[str], numeric_params: Sequence[str]) -> None:
    for value in (structure_params, numeric_params):
        if isinstance(value, str) or not all(isinstance(p, str) for p in value):
            raise ValueError("structure_params and numeric_params must be lists of names")


@dataclass(frozen=True)
class StructureOnly:
    """Search the structure only; numbers at their defaults or random.

    Args:
        structure: engine over the whole space, whose structures are kept.
        numbers: ``default`` or ``random``.
    """

    name: ClassVar[str] = "structure-only"
    structure: Any = "tpe"
    numbers: str = "default"
    structure_params: Sequence[str] = ()
    numeric_params: Sequence[str] = ()
    small_int: int = 8
    _engine: Optimizer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.numbers not in ("default", "random"):
            raise ValueError(f"numbers must be 'default' or 'random', got {self.numbers!r}")
        _check_patterns(self.structure_params, self.numeric_params)
        object.__setattr__(self, "_engine", build_engine(self.structure, "structure"))

    def check(self, space: Space) -> None:
        Split.of(space, self.structure_params, self.numeric_params, self.small_int)
        self._engine.check(space)

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        from hypertrail.optimizers.gp.optimizer import sample_within

        split = Split.of(space, self.structure_params, self.numeric_params, self.small_int)
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
class NumericOnly:
    """Search the numbers only, in the structure of the space's defaults.

    Args:
        numeric: engine for the numbers (``gp`` uses the shared acquisition search).
        n_startup: random configurations (in the fixed structure) before the GP.
    """

    name: ClassVar[str] = "numeric-only"
    numeric: Any = "gp"
    structure_params: Sequence[str] = ()
    numeric_params: Sequence[str] = ()
    small_int: int = 8
    n_startup: int = 10
    _engine: Optimizer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_patterns(self.structure_params, self.numeric_params)
        if self.n_startup < 1:
            raise ValueError("n_startup must be at least 1")
        object.__setattr__(self, "_engine", build_engine(self.numeric, "numeric"))

    def check(self, space: Space) -> None:
        Split.of(space, self.structure_params, self.numeric_params, self.small_int)
        self._engine.check(space)

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        from hypertrail.optimizers.gp.optimizer import (
            GPOptimizer,
            sample_within,
            single_threaded_blas,
        )

        split = Split.of(space, self.structure_params, self.numeric_params, self.small_int)
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

"""The optimizer protocol: a pure function of (space, history, rng).

Optimizers never touch storage, the clock or global randomness (DESIGN.md
invariants 3 and 4). Given the same space, the same history snapshot and a
generator in the same state, an optimizer must return the same proposals; that is
what lets :mod:`hypertrail.replay` re-derive every proposal of a study.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from hypertrail.registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from hypertrail.history import History
    from hypertrail.space.space import Space

__all__ = ["OPTIMIZERS", "Optimizer", "Proposal"]


@dataclass(frozen=True)
class Proposal:
    """A configuration to try, why, and (optionally) which trial it came from."""

    config: Mapping[str, Any]
    reason: str = ""
    parent: int | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Optimizer(Protocol):
    """What every search engine implements.

    ``propose`` returns up to ``n`` proposals; fewer (possibly none) only when the
    optimizer has nothing left to propose (a finished grid). ``check`` raises
    :class:`~hypertrail.errors.OptimizerError` when the optimizer cannot work on a
    space, so that a plan fails before any trial runs.
    """

    name: ClassVar[str]

    def check(self, space: Space) -> None: ...

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]: ...


OPTIMIZERS: Registry[Optimizer] = Registry("optimizer")
OPTIMIZERS.register("random", "hypertrail.optimizers.random:RandomSearch")
OPTIMIZERS.register("sobol", "hypertrail.optimizers.sobol:SobolSearch")
OPTIMIZERS.register("grid", "hypertrail.optimizers.grid:GridSearch")
OPTIMIZERS.register("tpe", "hypertrail.optimizers.tpe:TPE")
OPTIMIZERS.register("gp", "hypertrail.optimizers.gp:GPOptimizer")
OPTIMIZERS.register("cmaes", "hypertrail.optimizers.cmaes:CMAES")
OPTIMIZERS.register("evolution", "hypertrail.optimizers.evolution:Evolution")
OPTIMIZERS.register("hybrid", "hypertrail.optimizers.hybrid:Hybrid")
OPTIMIZERS.register("structure-only", "hypertrail.optimizers.ablations:StructureOnly")
OPTIMIZERS.register("numeric-only", "hypertrail.optimizers.ablations:NumericOnly")
# Multi-fidelity schedulers wrap an optimizer and are optimizers themselves.
OPTIMIZERS.register("asha", "hypertrail.schedulers.asha:ASHA")
OPTIMIZERS.register(
    "successive_halving", "hypertrail.schedulers.successive_halving:SuccessiveHalving"
)
OPTIMIZERS.register("hyperband", "hypertrail.schedulers.successive_halving:Hyperband")
OPTIMIZERS.register("median", "hypertrail.schedulers.median:MedianStopping")

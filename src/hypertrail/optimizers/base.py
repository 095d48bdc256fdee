"""The optimizer protocol: a pure function of (space, history, rng).

Optimizers never touch storage, the clock or global randomness (DESIGN.md
invariants 3 and 4). Given the same space, the same history snapshot and a
generator in the same state, an optimizer must return the same proposals; that is
what lets :mod:`hypertrail.replay` re-derive every proposal of a study.

An optimizer class may declare ``revision: ClassVar[int]`` (1 when it does not): the
number grows with every change that makes it propose differently for the same space,
history and generator. Each ``trial.asked`` event records the revisions of the
optimizers that proposed it (:func:`revisions`), so a replay that differs after an
upgrade says the algorithm changed rather than leaving the log under suspicion.
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

__all__ = ["OPTIMIZERS", "Optimizer", "Proposal", "revisions"]


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
OPTIMIZERS.register("multistart", "hypertrail.schedulers.multistart:MultiStart")


def revisions(spec: Any) -> dict[str, int]:
    """The revision of every registered optimizer that ``spec`` names, itself or in a
    nested spec (a scheduler's ``optimizer``, a hybrid's engines), sorted by name.

    Example:
        >>> revisions({"name": "asha", "optimizer": "random", "fidelity": {"name": "epochs"}})
        {'asha': 1, 'random': 1}
    """
    found: dict[str, int] = {}

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if value in OPTIMIZERS:
                found[value] = int(getattr(OPTIMIZERS.get(value), "revision", 1))
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(spec)
    return dict(sorted(found.items()))

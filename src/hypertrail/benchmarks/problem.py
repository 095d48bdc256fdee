"""What a benchmark problem is: a space, a loss to minimize and its optimum."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hypertrail import Space

__all__ = ["FAMILIES", "Evaluate", "Problem"]

Evaluate = Callable[[Mapping[str, Any]], float]
FAMILIES = ("mixed", "conditional", "coco", "sklearn", "nas")


@dataclass(frozen=True)
class Problem:
    """One benchmark problem.

    Attributes:
        name: unique key, used on the command line and in result files.
        family: one of :data:`FAMILIES`.
        space: the hypertrail search space; Optuna gets the same one through
            the adapter in the repository's `benchmarks/suite/adapter.py`.
        evaluate: config (active parameters only) -> loss to minimize; deterministic.
        optimum: the exact minimum, or ``None`` when it is only known empirically
            (then ``data/known_best.json`` holds the best value ever seen).
        expensive: the reference uses 200 random configurations instead of 1000.
        note: how the optimum was established, for the report.
    """

    name: str
    family: str
    space: Space
    evaluate: Evaluate
    optimum: float | None
    expensive: bool = False
    note: str = ""

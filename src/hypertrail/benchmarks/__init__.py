"""Benchmark problems with known optima, shipped with the package.

``hypertrail compare --problem NAME`` runs optimizers on them; the repository's
``benchmarks/`` suite adds heavier ones (COCO, scikit-learn tuning tasks).

Example:
    >>> from hypertrail.benchmarks import PROBLEMS, get_problem
    >>> get_problem("jenatton").optimum
    0.1
"""

from __future__ import annotations

from collections.abc import Callable

from hypertrail.benchmarks import synthetic
from hypertrail.benchmarks.problem import Problem
from hypertrail.errors import ConfigError, Issue

__all__ = ["PROBLEMS", "Problem", "get_problem"]

PROBLEMS: dict[str, Callable[[], Problem]] = {
    "mixed_branin": synthetic.mixed_branin,
    "mixed_hartmann6": synthetic.mixed_hartmann6,
    "mixed_ackley10": synthetic.mixed_ackley10,
    "jenatton": synthetic.jenatton,
}


def get_problem(name: str) -> Problem:
    """The packaged problem called ``name``.

    Raises:
        ConfigError: an unknown name, with the known ones.
    """
    try:
        return PROBLEMS[name]()
    except KeyError:
        known = ", ".join(PROBLEMS)
        raise ConfigError([Issue("problem", f"unknown problem {name!r}; known: {known}")]) from None

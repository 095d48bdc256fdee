"""Problems from COCO's ``bbob-mixint`` suite, through ``cocoex`` (``coco-experiment``).

In ``bbob-mixint`` the first 80 % of the variables are integers (cardinalities 2, 4,
8 and 16, one fifth of the variables each) and the last fifth are continuous in
[-5, 5]; ``problem.number_of_integer_variables``, ``lower_bounds`` and
``upper_bounds`` give the layout, which becomes hypertrail ``Int`` and ``Float``
parameters named ``i0, i1, ...`` and ``x<k>, ...``.

The optimum. ``cocoex`` 2.8 exposes neither the optimal value nor
``final_target_fvalue1``, but its construction fixes the value: ``bbob-mixint`` maps
the integer grid onto the bbob problem with an offset that puts the bbob optimum on a
grid point (``transform_vars_discretize.c``), then multiplies the function by a
per-function factor (``suite_bbob_mixint_scaling_factors``: 1 for f1, 1e-3 for f10,
1e-1 for f15). So the optimum is ``factor * fopt`` of the bbob problem with the same
function, instance and dimension, and ``fopt`` is the bbob problem's value at its
``_best_parameter``. :func:`verify` checks each value by search, independently of that
argument: exhaustively over the integer grid (with a bounded 1-D minimization of the
continuous variable) in dimension 5, by coordinate descent for the separable sphere in
dimension 10; each time the value is reached and ``problem.final_target_hit`` (value
within 1e-8 of the optimum) turns true. Run it with ``python -m benchmarks.suite.coco``.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hypertrail import Float, Int, Space
from hypertrail.benchmarks.problem import Problem

__all__ = ["COCO_PROBLEMS", "CocoSpec", "coco_problem", "verify"]

INSTANCE = 1


@dataclass(frozen=True)
class CocoSpec:
    function: int
    dimension: int
    scale: float  # suite_bbob_mixint_scaling_factors[function - 1]
    fopt: float  # the bbob problem's optimal value (function, instance 1, dimension)
    label: str

    @property
    def name(self) -> str:
        return f"coco_f{self.function:02d}_d{self.dimension:02d}"

    @property
    def optimum(self) -> float:
        return self.scale * self.fopt


COCO_PROBLEMS = {
    spec.name: spec
    for spec in (
        CocoSpec(1, 10, 1.0, 79.48, "sphere"),
        CocoSpec(10, 5, 1e-3, -54.94, "rotated ellipsoid"),
        CocoSpec(15, 5, 1e-1, 1000.0, "rotated Rastrigin"),
    )
}


def _cocoex_problem(spec: CocoSpec) -> tuple[Any, Any]:
    """The suite (kept alive: it owns the problem) and the problem."""
    try:
        import cocoex
    except ImportError:  # pragma: no cover - depends on the environment
        sys.exit('the COCO problems need coco-experiment: pip install -e ".[bench]"')
    options = (
        f"dimensions:{spec.dimension} instance_indices:{INSTANCE} function_indices:{spec.function}"
    )
    suite = cocoex.Suite("bbob-mixint", "", options)
    return suite, suite.get_problem(0)


class _Objective:
    """Evaluates a config on the cocoex problem, built on first use in each process."""

    def __init__(self, spec: CocoSpec, names: list[str]) -> None:
        self.spec = spec
        self.names = names
        self._problem: Any = None
        self._suite: Any = None

    def __call__(self, config: Mapping[str, Any]) -> float:
        if self._problem is None:
            self._suite, self._problem = _cocoex_problem(self.spec)
        x = np.array([float(config[n]) for n in self.names])
        return float(self._problem(x))


def coco_problem(name: str) -> Problem:
    spec = COCO_PROBLEMS[name]
    _, problem = _cocoex_problem(spec)
    k = int(problem.number_of_integer_variables)
    lower, upper = problem.lower_bounds, problem.upper_bounds
    params: dict[str, Any] = {}
    for i in range(spec.dimension):
        if i < k:
            params[f"i{i}"] = Int(int(lower[i]), int(upper[i]))
        else:
            params[f"x{i}"] = Float(float(lower[i]), float(upper[i]))
    space = Space(params, description=f"{problem.id}: {spec.label}, {k} integer variables")
    return Problem(
        name,
        "coco",
        space,
        _Objective(spec, list(params)),
        spec.optimum,
        note=f"{problem.id} ({spec.label}); optimum {spec.scale:g} × bbob fopt {spec.fopt:g}",
    )


# --- checking the optima ------------------------------------------------------------------


def _exhaustive(problem: Any) -> float:
    from scipy.optimize import minimize_scalar

    k = int(problem.number_of_integer_variables)
    if problem.dimension - k != 1:
        raise ValueError("exhaustive check needs exactly one continuous variable")
    lo, hi = problem.lower_bounds, problem.upper_bounds
    best = np.inf
    for combo in itertools.product(*(range(int(lo[i]), int(hi[i]) + 1) for i in range(k))):
        ints = np.array(combo, dtype=float)

        def f(v: float, ints: np.ndarray = ints) -> float:
            return float(problem(np.append(ints, v)))

        res = minimize_scalar(f, bounds=(lo[k], hi[k]), method="bounded", options={"xatol": 1e-10})
        best = min(best, float(res.fun))
    return best


def _coordinate_descent(problem: Any, sweeps: int = 3) -> float:
    from scipy.optimize import minimize_scalar

    k = int(problem.number_of_integer_variables)
    lo, hi = problem.lower_bounds, problem.upper_bounds
    x = np.zeros(problem.dimension)
    x[:k] = lo[:k]
    for _ in range(sweeps):
        for i in range(problem.dimension):

            def f(v: float, i: int = i) -> float:
                y = x.copy()
                y[i] = v
                return float(problem(y))

            if i < k:
                grid = range(int(lo[i]), int(hi[i]) + 1)
                x[i] = min(grid, key=f)
            else:
                x[i] = minimize_scalar(
                    f, bounds=(lo[i], hi[i]), method="bounded", options={"xatol": 1e-12}
                ).x
    return float(problem(x))


def verify() -> bool:
    ok = True
    for spec in COCO_PROBLEMS.values():
        _suite, problem = _cocoex_problem(spec)
        if problem.dimension - problem.number_of_integer_variables == 1:
            found, how = _exhaustive(problem), "exhaustive"
        elif spec.function == 1:
            found, how = _coordinate_descent(problem), "coordinate descent (separable)"
        else:
            print(f"{spec.name}: no independent check for this function and dimension")
            continue
        hit = bool(problem.final_target_hit)
        good = hit and abs(found - spec.optimum) <= 1e-8
        ok = ok and good
        print(
            f"{spec.name}: optimum {spec.optimum!r}, found {found!r} by {how}, "
            f"final target hit: {hit} -> {'ok' if good else 'MISMATCH'}"
        )
    return ok


if __name__ == "__main__":
    sys.exit(0 if verify() else 1)

"""Synthetic problems with exact optima: mixed test functions and a conditional tree.

Each function adds discrete dimensions to a classic continuous test function so that
the "right" discrete values add nothing, which keeps the optimum exact:

* ``mixed_branin``: Branin on (x, y) + a categorical + an integer; optimum 5 / (4 pi).
* ``mixed_hartmann6``: Hartmann-6 with its last two coordinates on the grid
  {0, 0.1, ..., 1}; the optimum of that discretized function was computed once
  (see :data:`HARTMANN6_GRID_OPTIMUM`).
* ``mixed_ackley10``: Ackley on 6 floats + 2 integers + 2 categoricals; optimum 0.
* ``jenatton``: the tree-structured function of Jenatton et al. (2017); optimum 0.1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from hypertrail import Categorical, Float, Int, Space
from hypertrail.benchmarks.problem import Problem

__all__ = [
    "BRANIN_OPTIMUM",
    "HARTMANN6_GRID_OPTIMUM",
    "ackley",
    "branin",
    "hartmann6",
    "hartmann6_point",
    "jenatton",
    "mixed_ackley10",
    "mixed_branin",
    "mixed_hartmann6",
]


# --- mixed Branin ---------------------------------------------------------------------

# Branin's minimum is s * t = 10 / (8 pi), reached at (-pi, 12.275), (pi, 2.275) and
# (9.42478, 2.475): there the square vanishes and cos(x) = -1.
BRANIN_OPTIMUM = 5.0 / (4.0 * math.pi)
_BRANIN_CAT = {"a": 0.0, "b": 1.0, "c": 1.0}


def branin(x: float, y: float) -> float:
    b = 5.1 / (4.0 * math.pi**2)
    c = 5.0 / math.pi
    t = 1.0 / (8.0 * math.pi)
    return (y - b * x * x + c * x - 6.0) ** 2 + 10.0 * (1.0 - t) * math.cos(x) + 10.0


def _mixed_branin(config: Mapping[str, Any]) -> float:
    return (
        branin(float(config["x"]), float(config["y"]))
        + _BRANIN_CAT[config["c"]]
        + 0.1 * abs(int(config["n"]) - 3)
    )


def mixed_branin() -> Problem:
    space = Space(
        {
            "x": Float(-5.0, 10.0),
            "y": Float(0.0, 15.0),
            "c": Categorical(["a", "b", "c"]),
            "n": Int(0, 10),
        },
        description="Branin + categorical (a: +0, b: +1, c: +1) + 0.1 * |n - 3|",
    )
    return Problem(
        "mixed_branin",
        "mixed",
        space,
        _mixed_branin,
        BRANIN_OPTIMUM,
        note="exact: Branin's minimum 5/(4π) with c = a, n = 3",
    )


# --- mixed Hartmann-6 ------------------------------------------------------------------

_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ],
    dtype=float,
)
# Minimum of Hartmann-6 with x5 = n5 / 10 and x6 = n6 / 10, n5, n6 in 0..10 (the
# continuous minimum -3.32237 sits at x5 = 0.3117, x6 = 0.6573, off that grid). It
# was found by L-BFGS-B from 20 random starts in (x1..x4) on each of the 121 grid
# points, then polished (Nelder-Mead, then L-BFGS-B with gtol 1e-14; gradient below
# 3e-7): reached at x1..x4 = (0.2034984, 0.1510060, 0.4757432, 0.2763060), n5 = 3,
# n6 = 7. The next best grid points are far worse, so the value is exact to ~1e-15.
HARTMANN6_GRID_OPTIMUM = -3.2695466049156723


def hartmann6(x: np.ndarray) -> float:
    return -float(_H6_ALPHA @ np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1)))


def hartmann6_point(config: Mapping[str, Any]) -> np.ndarray:
    """The point of the unit cube a ``mixed_hartmann6`` configuration stands for."""
    return np.array(
        [
            float(config["x1"]),
            float(config["x2"]),
            float(config["x3"]),
            float(config["x4"]),
            int(config["n5"]) / 10.0,
            int(config["n6"]) / 10.0,
        ]
    )


def _mixed_hartmann6(config: Mapping[str, Any]) -> float:
    x = hartmann6_point(config)
    return hartmann6(x)


def mixed_hartmann6() -> Problem:
    space = Space(
        {
            **{f"x{i}": Float(0.0, 1.0) for i in range(1, 5)},
            "n5": Int(0, 10),
            "n6": Int(0, 10),
        },
        description="Hartmann-6 with x5 = n5/10, x6 = n6/10",
    )
    return Problem(
        "mixed_hartmann6",
        "mixed",
        space,
        _mixed_hartmann6,
        HARTMANN6_GRID_OPTIMUM,
        note="exact for the grid: -3.2695466 at n5 = 3, n6 = 7 (multistart L-BFGS-B on all "
        "121 grid points)",
    )


# --- mixed Ackley, 10 dimensions ---------------------------------------------------------

_ACK_K1_TARGET = 4.0  # log2(16)
_ACK_C0 = {"gelu": 0.0, "relu": 0.5, "silu": 1.0, "tanh": 1.5}
_ACK_C1 = {"adam": 0.0, "rmsprop": 0.5, "sgd": 1.0}


def ackley(x: np.ndarray) -> float:
    """Ackley's function, written so that ``ackley(0)`` is exactly 0."""
    r = math.sqrt(float(np.mean(x * x)))
    return 20.0 * (1.0 - math.exp(-0.2 * r)) + (
        math.e - math.exp(float(np.mean(np.cos(2 * math.pi * x))))
    )


def _mixed_ackley10(config: Mapping[str, Any]) -> float:
    x = np.array([float(config[f"x{i}"]) for i in range(6)])
    return (
        ackley(x)
        + 0.5 * abs(int(config["k0"]) - 2)
        + 0.5 * abs(math.log2(int(config["k1"])) - _ACK_K1_TARGET)
        + _ACK_C0[config["c0"]]
        + _ACK_C1[config["c1"]]
    )


def mixed_ackley10() -> Problem:
    space = Space(
        {
            **{f"x{i}": Float(-3.0, 5.0) for i in range(6)},
            "k0": Int(0, 8),
            "k1": Int(1, 64, log=True),
            "c0": Categorical(["relu", "tanh", "gelu", "silu"]),
            "c1": Categorical(["sgd", "adam", "rmsprop"]),
        },
        description="Ackley(x0..x5) + 0.5|k0-2| + 0.5|log2 k1 - 4| + c0, c1 penalties",
    )
    return Problem(
        "mixed_ackley10",
        "mixed",
        space,
        _mixed_ackley10,
        0.0,
        note="exact: 0 at x = 0, k0 = 2, k1 = 16, c0 = gelu, c1 = adam",
    )


# --- Jenatton et al. (2017) -------------------------------------------------------------


def _jenatton(config: Mapping[str, Any]) -> float:
    if config["x1"] == 0:
        if config["x2"] == 0:
            return float(config["x4"]) ** 2 + 0.1 + float(config["r8"])
        return float(config["x5"]) ** 2 + 0.2 + float(config["r8"])
    if config["x3"] == 0:
        return float(config["x6"]) ** 2 + 0.3 + float(config["r9"])
    return float(config["x7"]) ** 2 + 0.4 + float(config["r9"])


def jenatton() -> Problem:
    """The tree-structured function of Jenatton, Archambeau, González and Seeger,
    "Bayesian optimization with tree-structured dependencies", ICML 2017."""
    space = Space(
        {
            "x1": Categorical([0, 1]),
            "x2": Categorical([0, 1], when="x1 == 0"),
            "x3": Categorical([0, 1], when="x1 == 1"),
            "x4": Float(-1.0, 1.0, when="x1 == 0 and x2 == 0"),
            "x5": Float(-1.0, 1.0, when="x1 == 0 and x2 == 1"),
            "x6": Float(-1.0, 1.0, when="x1 == 1 and x3 == 0"),
            "x7": Float(-1.0, 1.0, when="x1 == 1 and x3 == 1"),
            "r8": Float(0.0, 1.0, when="x1 == 0"),
            "r9": Float(0.0, 1.0, when="x1 == 1"),
        },
        description="Jenatton et al. (2017) tree-structured function",
    )
    return Problem(
        "jenatton",
        "conditional",
        space,
        _jenatton,
        0.1,
        note="exact: 0.1 at x1 = 0, x2 = 0, x4 = 0, r8 = 0",
    )

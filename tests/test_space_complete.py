"""Space.complete: repairing a perturbed assignment into a consistent active set."""

from __future__ import annotations

import numpy as np

from hypertrail import Categorical, Float, Int, Repeat, Space


def test_complete_follows_the_values_it_is_given() -> None:
    space = Space(
        {
            "opt": Categorical(["adam", "sgd"]),
            "momentum": Float(0.0, 0.9, when="opt == 'sgd'"),
            "n": Int(1, 3),
            "layers": Repeat(count="n", max=3, item={"w": Int(1, 8)}),
        }
    )
    rng = np.random.default_rng(0)
    base = {"opt": "adam", "n": 1, "layers.0.w": 4}
    # switching opt on activates momentum (drawn); raising n activates new copies
    grown = space.complete({**base, "opt": "sgd", "n": 3}, rng)
    assert set(grown) == {"opt", "momentum", "n", "layers.0.w", "layers.1.w", "layers.2.w"}
    assert grown["layers.0.w"] == 4 and not space.problems(grown)
    # lowering n drops copies; values outside their domain are redrawn
    shrunk = space.complete({**grown, "n": 1, "opt": "adam", "layers.0.w": 99}, rng)
    assert set(shrunk) == {"opt", "n", "layers.0.w"} and 1 <= shrunk["layers.0.w"] <= 8

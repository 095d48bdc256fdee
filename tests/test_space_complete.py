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


def test_fingerprint_counts_parameter_order() -> None:
    a = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    b = Space({"y": Float(0.0, 1.0), "x": Float(0.0, 1.0)})
    assert a.fingerprint != b.fingerprint
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    assert a.sample(rng_a) != b.sample(rng_b)  # which is why it must count


def test_yaml_exponent_without_dot_gets_a_hint(tmp_path: object) -> None:
    from pathlib import Path

    import pytest

    from hypertrail import SpaceError, load_space

    path = Path(str(tmp_path)) / "s.yaml"
    path.write_text("params:\n  lr: {type: float, low: 1e-5, high: 0.1, log: true}\n")
    with pytest.raises(SpaceError, match=r"YAML reads 1e-5 as text; write it with a dot"):
        load_space(path)

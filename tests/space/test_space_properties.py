"""Properties of sampling and the unit-cube codec on conditional, repeated and
constrained spaces: every configuration has exactly its active parameters, each in
its domain, and encoding then decoding gives the same configuration back."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypertrail.space import load_space
from hypertrail.space.space import Space

VALID = Path(__file__).resolve().parent.parent / "fixtures" / "spaces" / "valid"
FIXTURES = ["design_example.yaml", "deep_conditional.yaml", "nested_repeat.yaml", "tabular.json"]
SEEDS = st.integers(min_value=0, max_value=2**63 - 1)


@cache
def fixture_space(name: str) -> Space:
    """Each fixture is loaded once: hypothesis calls the tests many times."""
    return load_space(VALID / name)


def expected_active(space: Space, config: dict[str, Any]) -> set[str]:
    """Names whose condition holds on ``config`` itself.

    Independent of the space's own bookkeeping: with inactive parameters absent,
    a condition reads ``MISSING`` for them, so evaluating every condition against the
    finished config must select exactly the keys it has.
    """
    return {p.name for p in space.params if p.condition is None or p.condition.holds(config)}


def assert_consistent(space: Space, config: dict[str, Any]) -> None:
    """``config`` holds every active parameter, no inactive one, each in its domain."""
    active = expected_active(space, config)
    assert set(config) == active, (sorted(set(config) - active), sorted(active - set(config)))
    assert set(space.active_names(config)) == active
    for name, value in config.items():
        assert space[name].domain.contains(value), (name, value)


def assert_same_config(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal keys; discrete values equal exactly, continuous ones to rounding error."""
    assert list(actual) == list(expected)
    for name, value in expected.items():
        if isinstance(value, float):
            assert actual[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        else:
            assert actual[name] == value and type(actual[name]) is type(value), name


@pytest.mark.parametrize("name", FIXTURES)
@settings(max_examples=60, deadline=None)
@given(seed=SEEDS)
def test_sample_is_valid_and_has_exactly_the_active_params(name: str, seed: int) -> None:
    space = fixture_space(name)
    config = space.sample(np.random.default_rng(seed))
    assert space.problems(config) == []
    assert_consistent(space, config)
    assert space.is_feasible(config)
    assert list(config) == [n for n in space.names if n in config]  # space order


@pytest.mark.parametrize("name", FIXTURES)
@settings(max_examples=30, deadline=None)
@given(seed=SEEDS)
def test_sample_is_a_function_of_the_seed(name: str, seed: int) -> None:
    space = fixture_space(name)
    first = space.sample(np.random.default_rng(seed))
    assert space.sample(np.random.default_rng(seed)) == first


@st.composite
def unit_points(draw: st.DrawFn, name: str) -> list[float]:
    space = fixture_space(name)
    unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
    return draw(st.lists(unit, min_size=len(space.dimensions), max_size=len(space.dimensions)))


@pytest.mark.parametrize("name", FIXTURES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_decode_gives_consistent_configs(name: str, data: st.DataObject) -> None:
    space = fixture_space(name)
    config = space.decode(data.draw(unit_points(name)))
    # decode ignores constraints; everything else must hold.
    problems = [p for p in space.problems(config) if not p.startswith("violates constraint")]
    assert problems == []
    assert_consistent(space, config)


@pytest.mark.parametrize("name", FIXTURES)
@settings(max_examples=60, deadline=None)
@given(seed=SEEDS)
def test_decode_inverts_encode_on_sampled_configs(name: str, seed: int) -> None:
    space = fixture_space(name)
    config = space.sample(np.random.default_rng(seed))
    unit = space.encode(config)
    assert len(unit) == len(space.dimensions)
    for param, u in zip(space.dimensions, unit, strict=True):
        if param.name in config:
            assert 0.0 <= u <= 1.0, (param.name, u)
        else:
            assert math.isnan(u), param.name
    assert_same_config(space.decode(unit), config)


@pytest.mark.parametrize("name", FIXTURES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_encode_decode_is_stable_on_decoded_configs(name: str, data: st.DataObject) -> None:
    # decode(u) lands on a value; encoding and decoding that value lands on it again.
    space = fixture_space(name)
    config = space.decode(data.draw(unit_points(name)))
    assert_same_config(space.decode(space.encode(config)), config)


@pytest.mark.parametrize("name", FIXTURES)
@settings(max_examples=30, deadline=None)
@given(seed=SEEDS)
def test_complete_keeps_a_valid_config_unchanged(name: str, seed: int) -> None:
    space = fixture_space(name)
    config = space.sample(np.random.default_rng(seed))
    assert space.complete(config, np.random.default_rng(seed + 1)) == config


def test_problems_name_what_is_wrong() -> None:
    space = fixture_space("design_example.yaml")
    config: dict[str, Any] = {
        "optimizer": "adam",
        "lr": 0.001,
        "n_layers": 1,
        "layers.0.width": 64,
        "layers.0.activation": "gelu",
        "batch_size": 32,
        "epochs": 20,
    }
    assert space.problems(config) == []
    assert space.problems({**config, "momentum": 0.9}) == ["momentum: present but inactive"]
    assert space.problems({**config, "layers.1.width": 64}) == [
        "layers.1.width: present but inactive"
    ]
    missing = dict(config)
    del missing["lr"]
    assert space.problems(missing) == ["lr: missing (it is active)"]
    assert space.problems({**config, "layers.0.activation": "relu"}) == [
        "layers.0.dropout: missing (it is active)"
    ]
    assert space.problems({**config, "epochs": 21}) == ["epochs: 21 is outside its domain"]
    assert space.problems({**config, "lrr": 0.1}) == ["lrr: not a parameter of this space"]
    three = {**config, "n_layers": 3, "lr": 0.05}
    for i in (1, 2):
        three |= {f"layers.{i}.width": 32, f"layers.{i}.activation": "gelu"}
    assert space.problems(three) == ["violates constraint 'n_layers <= 2 or lr < 0.01'"]


def test_constraint_on_an_inactive_parameter_does_not_bind() -> None:
    space = fixture_space("nested_repeat.yaml")
    # stages.1 is inactive with one stage: the width-sum constraint reads 0 for it.
    config = {
        "n_stages": 1,
        "stem_width": 16,
        "stages.0.n_blocks": 1,
        "stages.0.downsample": "conv",
        "stages.0.blocks.0.width": 256,
        "stages.0.blocks.0.kind": "basic",
        "lr": 0.9,
    }
    assert space.problems(config) == []

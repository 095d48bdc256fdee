"""Packaged multi-fidelity problems: deterministic, biased below the top fidelity and
exact at it, and a real learning curve whose memo continues training."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from hypertrail.benchmarks import synthetic
from hypertrail.benchmarks.multifidelity import (
    MF_PROBLEMS,
    DigitsMLP,
    MFProblem,
    mf_branin,
    mf_hartmann6,
    mf_mlp_digits,
    remeasure_digits,
)

SYNTHETIC = [mf_branin, mf_hartmann6]

# Small networks, so that 27 epochs of each take a fraction of a second.
MLP_CONFIGS = [
    {
        "n_layers": 1,
        "layers.0.width": 16,
        "activation": "relu",
        "learning_rate_init": 3e-3,
        "alpha": 1e-4,
        "batch_size": 64,
    },
    {
        "n_layers": 2,
        "layers.0.width": 12,
        "layers.1.width": 10,
        "activation": "tanh",
        "learning_rate_init": 1e-3,
        "alpha": 1e-3,
        "batch_size": 128,
    },
    {
        "n_layers": 1,
        "layers.0.width": 24,
        "activation": "logistic",
        "learning_rate_init": 1e-2,
        "alpha": 1e-5,
        "batch_size": 128,
    },
]


def _configs(problem: MFProblem, n: int, seed: int = 0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    return [problem.space.sample(rng) for _ in range(n)]


def test_registry_and_fidelity_ranges() -> None:
    assert set(MF_PROBLEMS) == {"mf_branin", "mf_hartmann6", "mf_mlp_digits"}
    for name, factory in MF_PROBLEMS.items():
        problem = factory()
        assert problem.name == name
        assert (problem.min_fidelity, problem.max_fidelity) == (1.0, 27.0)
        assert problem.fidelity_spec() == {"name": "epochs", "min": 1, "max": 27, "eta": 3}
        config = _configs(problem, 1)[0]
        for bad in (0.5, 28.0):
            with pytest.raises(ValueError, match="fidelity"):
                problem.evaluate(config, bad)
    assert mf_mlp_digits().optimum is None


@pytest.mark.parametrize("factory", SYNTHETIC)
def test_synthetic_evaluate_is_deterministic_across_instances_and_number_types(
    factory: object,
) -> None:
    assert callable(factory)
    first, second = factory(), factory()
    for config in _configs(first, 10):
        for fidelity in (1.0, 3.0, 9.0, 27.0):
            value = first.evaluate(config, fidelity)
            assert second.evaluate(config, fidelity) == value
            assert first.evaluate(config, fidelity) == value
            # numpy scalars (as some samplers hand out) hash like Python numbers.
            as_numpy = {
                k: np.int64(v)
                if isinstance(v, int)
                else np.float64(v)
                if isinstance(v, float)
                else v
                for k, v in config.items()
            }
            assert first.evaluate(as_numpy, fidelity) == value


@pytest.mark.parametrize("factory", SYNTHETIC)
def test_bias_shrinks_with_fidelity_and_vanishes_at_the_top(factory: object) -> None:
    assert callable(factory)
    problem = factory()
    configs = _configs(problem, 50)
    top = [problem.evaluate(c, 27) for c in configs]

    def bias(fidelity: float) -> float:
        return statistics.fmean(
            abs(problem.evaluate(c, fidelity) - t) for c, t in zip(configs, top, strict=True)
        )

    assert bias(1) > bias(9) > 0.0
    assert bias(27) == 0.0


def test_top_fidelity_is_the_single_fidelity_problem() -> None:
    pairs = [(mf_branin(), synthetic.mixed_branin()), (mf_hartmann6(), synthetic.mixed_hartmann6())]
    for multi, single in pairs:
        for config in _configs(multi, 30, seed=1):
            assert multi.evaluate(config, 27) == single.evaluate(config)


def test_optima_are_attained_at_the_known_argmins() -> None:
    branin = mf_branin()
    assert branin.optimum == synthetic.BRANIN_OPTIMUM
    for x, y in [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)]:
        value = branin.evaluate({"x": x, "y": y, "c": "a", "n": 3}, 27)
        assert value == pytest.approx(synthetic.BRANIN_OPTIMUM, abs=1e-5)
    hartmann = mf_hartmann6()
    assert hartmann.optimum == synthetic.HARTMANN6_GRID_OPTIMUM
    argmin = {"x1": 0.2034984, "x2": 0.1510060, "x3": 0.4757432, "x4": 0.2763060, "n5": 3, "n6": 7}
    assert hartmann.evaluate(argmin, 27) == pytest.approx(
        synthetic.HARTMANN6_GRID_OPTIMUM, abs=1e-9
    )


def test_mlp_learns_with_epochs() -> None:
    problem = mf_mlp_digits()
    one = [problem.evaluate(c, 1) for c in MLP_CONFIGS]
    full = [problem.evaluate(c, 27) for c in MLP_CONFIGS]
    assert statistics.fmean(full) < statistics.fmean(one)
    assert all(0.0 <= v <= 1.0 for v in one + full)


def test_mlp_memo_continues_training_and_never_changes_a_value() -> None:
    config = MLP_CONFIGS[0]
    mlp = DigitsMLP()
    at_3 = mlp(config, 3)
    assert mlp.epochs_trained == 3
    at_9 = mlp(config, 9)
    assert mlp.epochs_trained == 9  # 6 more epochs, from the 3-epoch model
    assert mlp(config, 9) == at_9 and mlp.epochs_trained == 9  # answered from the memo
    at_5 = mlp(config, 5)
    assert mlp.epochs_trained == 11  # from 3, the furthest copy at or below 5
    assert mlp(config, 3) == at_3
    # Straight from scratch, a fresh instance gets the same values.
    fresh = DigitsMLP()
    assert fresh(config, 9) == at_9
    assert fresh(config, 5) == at_5
    assert fresh.epochs_trained == 9 + 5
    mlp.clear()
    assert mlp(config, 9) == at_9 and mlp.epochs_trained == 20


def test_remeasure_trains_afresh_on_splits_and_draws_the_search_never_saw() -> None:
    from hypertrail.benchmarks.multifidelity import _digits

    assert mf_mlp_digits().remeasure is remeasure_digits
    assert all(factory().remeasure is None for factory in SYNTHETIC)  # exact at the top
    # Another split holds other validation examples, as many of them.
    assert len(_digits(1)[1]) == len(_digits(0)[1])
    assert not np.array_equal(_digits(1)[1], _digits(0)[1])
    config = MLP_CONFIGS[0]
    mlp = DigitsMLP()
    searched = mlp(config, 27)
    errors = remeasure_digits(config, seeds=(1, 2))
    assert len(errors) == 2
    size = len(_digits(0)[3])
    for e in errors:
        assert 0.0 <= e < 0.5
        assert e * size == pytest.approx(round(e * size))  # a count of wrong digits
    assert remeasure_digits(config, seeds=(1, 2)) == errors  # deterministic
    # It leaves the search's own draw alone: the memo still answers the same value.
    assert mlp(config, 27) == searched and DigitsMLP()(config, 27) == searched
    for bad in [(), (0, 1)]:
        with pytest.raises(ValueError, match="exclude the search's seed 0"):
            remeasure_digits(config, seeds=bad)

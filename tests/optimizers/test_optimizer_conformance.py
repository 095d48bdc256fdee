"""Random, Sobol and grid search against the conformance suite, and their specifics."""

from __future__ import annotations

import numpy as np
import pytest

from hypertrail import Categorical, Float, Int, OptimizerError, Space, Study
from hypertrail.optimizers.base import OPTIMIZERS, Optimizer, revisions
from hypertrail.optimizers.grid import GridSearch
from hypertrail.optimizers.random import RandomSearch
from hypertrail.optimizers.sobol import SobolSearch
from hypertrail.optimizers.tpe import TPE
from hypertrail.testing import OptimizerConformance, conformance_spaces
from hypertrail.testing.optimizers import make_history


class TestRandomSearch(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        return RandomSearch()


class TestSobolSearch(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        return SobolSearch()


class TestGridSearch(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        return GridSearch()


def test_registry_names() -> None:
    assert {"random", "sobol", "grid"} <= set(OPTIMIZERS.names())
    assert OPTIMIZERS.get("sobol") is SobolSearch


def test_every_registered_optimizer_has_a_revision_and_a_spec_names_them() -> None:
    for name in OPTIMIZERS.names():
        revision = getattr(OPTIMIZERS.get(name), "revision", 1)
        assert isinstance(revision, int) and revision >= 1, name
    spec = {"name": "hyperband", "optimizer": {"name": "hybrid", "refine": "gp"}}
    assert list(revisions(spec)) == ["gp", "hybrid", "hyperband"]
    assert revisions("tpe") == {"tpe": 1}


def test_sobol_point_k_goes_to_trial_k() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    opt = SobolSearch()
    history = make_history(space, 5, seed=3, with_failures=False)
    batch = opt.propose(space, history, np.random.default_rng(0), n=3)
    one_by_one = [
        opt.propose(space, make_history(space, k, seed=3), np.random.default_rng(9), 1)[0]
        for k in (5, 6, 7)
    ]
    assert [p.config for p in batch] == [p.config for p in one_by_one]
    assert [p.reason for p in batch] == ["sobol point 5", "sobol point 6", "sobol point 7"]


def test_sobol_fills_the_space_better_than_random() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})

    def discrepancy(optimizer: Optimizer) -> float:
        from scipy.stats import qmc

        study = Study.create("d", space, optimizer=optimizer, seed=4)
        study.optimize(lambda t: 0.0, n_trials=64)
        points = np.array([[t.config["x"], t.config["y"]] for t in study.trials])
        return float(qmc.discrepancy(points))

    assert discrepancy(SobolSearch()) < discrepancy(RandomSearch())


def test_grid_visits_every_point_once_then_stops() -> None:
    space = conformance_spaces()["discrete"]
    study = Study.create("g", space, optimizer="grid", seed=1)
    study.optimize(lambda t: 0.0, n_trials=100)
    configs = [tuple(sorted(t.config.items())) for t in study.trials]
    # c=x: 3 values of m; c=y: 3 values of m x 3 values of s
    assert len(configs) == 3 + 9 == len(set(configs))


def test_grid_refuses_continuous_spaces_before_any_trial() -> None:
    space = Space({"x": Float(0.0, 1.0), "k": Int(1, 3)})
    with pytest.raises(OptimizerError, match="continuous parameters: x"):
        Study.create("g", space, optimizer="grid")


def test_grid_refuses_huge_grids() -> None:
    space = Space({f"p{i}": Categorical(list(range(10))) for i in range(8)})
    with pytest.raises(OptimizerError, match="more than"):
        GridSearch(max_size=1000).check(space)


def test_grid_order_is_seeded() -> None:
    space = conformance_spaces()["discrete"]
    a = GridSearch().grid(space, seed=1)
    b = GridSearch().grid(space, seed=2)
    assert sorted(map(str, a)) == sorted(map(str, b)) and a != b
    assert GridSearch(shuffle=False).grid(space, 1) == GridSearch(shuffle=False).grid(space, 2)


class TestTPE(OptimizerConformance):
    history_sizes = (0, 5, 12, 40)

    def make_optimizer(self) -> Optimizer:
        return TPE(n_startup=5)


class TestUnivariateTPE(OptimizerConformance):
    history_sizes = (0, 12, 40)

    def make_optimizer(self) -> Optimizer:
        return TPE(n_startup=5, multivariate=False)


def test_tpe_beats_random_on_a_smooth_function() -> None:
    # Not a benchmark (that is benchmarks/): a sanity check with a wide margin, on
    # 6 seeds, that the model is used at all.
    space = Space({"x": Float(-5.0, 5.0), "y": Float(-5.0, 5.0), "c": Categorical(["a", "b"])})

    def objective(t: object) -> float:
        c = t.config  # type: ignore[attr-defined]
        return float(c["x"] ** 2 + (c["y"] - 1) ** 2 + (0.0 if c["c"] == "b" else 3.0))

    def mean_best(optimizer: str) -> float:
        bests = []
        for seed in range(6):
            study = Study.create("t", space, optimizer=optimizer, seed=seed)
            study.optimize(objective, n_trials=60)
            value = study.best.value
            assert value is not None
            bests.append(value)
        return float(np.mean(bests))

    assert mean_best("tpe") < 0.5 * mean_best("random")


def test_tpe_options_are_checked() -> None:
    with pytest.raises(ValueError, match="gamma"):
        TPE(gamma=1.5)
    with pytest.raises(Exception, match="unknown option 'n_startups'"):
        Study.create("t", Space({"x": Float(0.0, 1.0)}), optimizer={"name": "tpe", "n_startups": 3})


def test_tpe_spreads_pending_trials() -> None:
    space = Space({"x": Float(0.0, 1.0)})
    study = Study.create("t", space, optimizer={"name": "tpe", "n_startup": 5}, seed=3)
    study.optimize(lambda t: (t.config["x"] - 0.5) ** 2, n_trials=20)
    pending = [study.ask() for _ in range(4)]  # four workers ask before anyone tells
    xs = sorted(t.config["x"] for t in pending)
    assert len(set(xs)) == 4

"""One GP across fidelities (``across_fidelities``): what it learns from cheap rungs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests import _objectives

from hypertrail import Float, Space, Study
from hypertrail.history import History
from hypertrail.optimizers.base import Optimizer
from hypertrail.replay import verify
from hypertrail.schedulers.asha import ASHA
from hypertrail.schedulers.base import Fidelity
from hypertrail.schedulers.joint import fidelity_coordinate, fit_across
from hypertrail.schedulers.successive_halving import Hyperband
from hypertrail.testing import OptimizerConformance
from hypertrail.trial import FrozenTrial, Metric, TrialState

SPACE = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
EPOCHS = {"name": "epochs", "min": 1, "max": 27, "eta": 3}


def test_on_by_default_for_gp_only_and_checked() -> None:
    assert ASHA(optimizer="gp", fidelity=EPOCHS)._joint
    assert not ASHA(optimizer="gp", fidelity=EPOCHS, across_fidelities=False)._joint
    assert not ASHA(optimizer="gp", fidelity=EPOCHS, model_based=False)._joint
    assert not ASHA(optimizer="tpe", fidelity=EPOCHS)._joint
    with pytest.raises(ValueError, match="across_fidelities needs optimizer gp"):
        ASHA(optimizer="tpe", fidelity=EPOCHS, across_fidelities=True)
    with pytest.raises(ValueError, match="true or false"):
        ASHA(optimizer="gp", fidelity=EPOCHS, across_fidelities="yes")  # type: ignore[arg-type]


def test_fidelity_coordinate_spans_the_rungs() -> None:
    fidelity = Fidelity.from_spec(EPOCHS)
    assert [round(fidelity_coordinate(v, fidelity), 6) for v in fidelity.rungs()] == [
        0.0,
        round(1 / 3, 6),
        round(2 / 3, 6),
        1.0,
    ]


def _history(bias: float) -> History:
    """Forty cheap trials (1 epoch) of a bowl at x = 0.3 shifted by ``bias``, and three
    top-fidelity trials far from the bowl's bottom."""
    trials: list[FrozenTrial] = []

    def add(x: float, y: float, rung: int, loss: float) -> None:
        tag = {"name": "epochs", "value": [1, 3, 9, 27][rung], "rung": rung, "bracket": 0}
        trials.append(
            FrozenTrial(
                len(trials),
                TrialState.COMPLETE,
                {"x": x, "y": y},
                {"loss": loss},
                tags={"fidelity": tag},
            )
        )

    for i in range(40):
        x, y = (i * 0.6180339) % 1.0, (i * 0.4142135) % 1.0
        add(x, y, 0, (x - 0.3) ** 2 + 0.1 * y + bias)
    for x in (0.8, 0.9, 0.95):
        add(x, 0.5, 3, (x - 0.3) ** 2 + 0.05)
    return History(0, (Metric("loss", "minimize"),), tuple(trials), len(trials))


def test_the_model_carries_the_cheap_rungs_shape_to_the_top() -> None:
    from hypertrail.optimizers.gp.optimizer import GPOptimizer

    fidelity = Fidelity.from_spec(EPOCHS)
    surrogate = fit_across(GPOptimizer(), SPACE, _history(bias=0.5), fidelity)
    assert surrogate is not None
    mean, _ = surrogate.gp.predict(surrogate.inputs([{"x": 0.3, "y": 0.0}, {"x": 0.9, "y": 0.5}]))
    # No top-fidelity trial is near x = 0.3, yet the model ranks it first there:
    # it learned the shape from 1-epoch trials.
    assert mean[0] < mean[1]
    rng = np.random.default_rng(0)
    config, _ = GPOptimizer().maximize(SPACE, surrogate, rng)
    assert abs(config["x"] - 0.3) < 0.15


def test_a_scheduler_proposes_from_the_joint_model_and_replays(tmp_path: Path) -> None:
    study = Study.create(
        "joint",
        SPACE,
        storage=f"sqlite:///{tmp_path / 'joint.db'}",
        seed=3,
        metrics="loss",
        optimizer={"name": "asha", "optimizer": {"name": "gp", "n_random": 64}, "fidelity": EPOCHS},
    )
    study.optimize(_objectives.learning_curve, n_trials=24, workers=2)
    reasons = [t.reason for t in study.trials]
    assert sum("GP across fidelities" in r for r in reasons) >= 5
    assert any(t.parent is not None for t in study.trials)
    report = verify(study.storage, "joint")
    assert report.ok and report.checked == 24


class TestJointASHAConformance(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        return ASHA(optimizer={"name": "gp", "n_random": 64, "n_startup": 4}, fidelity=EPOCHS)


class TestJointHyperbandConformance(OptimizerConformance):
    def make_optimizer(self) -> Optimizer:
        return Hyperband(optimizer={"name": "gp", "n_random": 64, "n_startup": 4}, fidelity=EPOCHS)

"""One GP across fidelities (``across_fidelities``): what it learns from cheap rungs."""

from __future__ import annotations

import dataclasses
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


def test_the_model_trusts_the_top_fidelity_more_than_the_noisy_cheap_rungs() -> None:
    from hypertrail.optimizers.gp.optimizer import GPOptimizer

    # 1-epoch trials scattered by noise of s.d. 0.2; the top-fidelity ones exact.
    rng = np.random.default_rng(4)
    exact = _history(bias=0.0)
    noisy = tuple(
        dataclasses.replace(t, values={"loss": t.values["loss"] + 0.2 * rng.standard_normal()})
        if t.rung == 0 and t.values
        else t
        for t in exact.trials
    )
    history = History(exact.seed, exact.metrics, noisy, exact.cursor)
    surrogate = fit_across(GPOptimizer(), SPACE, history, Fidelity.from_spec(EPOCHS))
    assert surrogate is not None
    gp = surrogate.gp
    assert gp.noise_column == surrogate.column
    assert gp.log_n2_low > gp.log_n2 + 2.0  # the model learned which values are noisy
    # So it smooths the scatter of the cheap rung instead of threading through it: its
    # means there (back in loss units) are nearer the noise-free values than the
    # observations are. (One shared noise term, fitted small for the exact top values,
    # followed the noise: 0.21 from the truth.)
    cheap = [t for t in history.trials if t.rung == 0]
    rows = np.insert(
        surrogate.features.encode_all([t.config for t in cheap]), gp.noise_column, 0.0, axis=1
    )
    mean, _ = gp.predict(rows)
    observed = np.array([history.loss(t) for t in cheap])
    truth = np.array([exact.loss(exact.trials[t.number]) for t in cheap])
    in_loss_units = np.polyval(np.polyfit(mean, observed, 1), mean)
    assert np.sqrt(np.mean((in_loss_units - truth) ** 2)) < 0.5 * 0.2


def test_the_posterior_covariance_matches_the_pointwise_variance() -> None:
    from hypertrail.optimizers.gp.optimizer import GPOptimizer

    surrogate = fit_across(GPOptimizer(), SPACE, _history(bias=0.5), Fidelity.from_spec(EPOCHS))
    assert surrogate is not None
    points = surrogate.inputs([{"x": x, "y": 0.5} for x in (0.1, 0.3, 0.31, 0.9)])
    mean, cov = surrogate.gp.posterior(points)
    pointwise_mean, var = surrogate.gp.predict(points)
    np.testing.assert_allclose(mean, pointwise_mean)
    np.testing.assert_allclose(np.diag(cov), var, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(cov, cov.T, atol=1e-12)
    # near points move together; far ones hardly
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert corr[1, 2] > 0.9 and abs(corr[0, 3]) < corr[1, 2]


def test_a_thompson_draw_goes_where_the_cheap_rungs_point_and_skips_tried_configs() -> None:
    from hypertrail.optimizers.gp.optimizer import GPOptimizer
    from hypertrail.schedulers.joint import thompson_choice

    gp = GPOptimizer()
    surrogate = fit_across(gp, SPACE, _history(bias=0.5), Fidelity.from_spec(EPOCHS))
    assert surrogate is not None
    picks = [thompson_choice(gp, SPACE, surrogate, np.random.default_rng(s)) for s in range(8)]
    assert all(p is not None for p in picks)
    configs = [p[0] for p in picks if p is not None]
    # Draws differ (a sample, not a maximum): the model is unsure at the top where no
    # top-fidelity trial is, so they spread over the 1-epoch trials' bowl, x < 0.7,
    # mostly at its low edge y = 0, and none near the three poor top-fidelity trials.
    assert len({c["x"] for c in configs}) == len(configs)
    assert all(c["x"] < 0.7 for c in configs)
    assert sum(c["y"] < 0.1 for c in configs) >= 5
    # The same generator gives the same draw: proposals replay.
    again = thompson_choice(gp, SPACE, surrogate, np.random.default_rng(0))
    assert again == picks[0]
    # A candidate already asked is never drawn again.
    first = picks[0]
    assert first is not None
    tried = dataclasses.replace(surrogate, taken=surrogate.taken | {tuple(first[0].items())})
    redraw = thompson_choice(gp, SPACE, tried, np.random.default_rng(0))
    assert redraw is not None and redraw[0] != first[0]


def test_a_thompson_draw_looks_both_near_and_far_around_the_best_trials() -> None:
    from hypertrail.optimizers.gp.optimizer import GPOptimizer
    from hypertrail.schedulers.joint import THOMPSON_STEPS, thompson_choice

    asked: list[tuple[float, ...]] = []

    class Recording(GPOptimizer):
        def candidates(self, *args: object, **kwargs: object) -> list[dict[str, object]]:
            asked.append(tuple(kwargs["steps"]))  # type: ignore[arg-type]
            return super().candidates(*args, **kwargs)  # type: ignore[arg-type]

    gp = Recording()
    surrogate = fit_across(gp, SPACE, _history(bias=0.5), Fidelity.from_spec(EPOCHS))
    assert surrogate is not None
    assert thompson_choice(gp, SPACE, surrogate, np.random.default_rng(0)) is not None
    # A draw is as precise as its nearest candidate: a fine step besides the coarse one.
    assert asked == [THOMPSON_STEPS] and min(THOMPSON_STEPS) <= 0.02 < 0.1 <= max(THOMPSON_STEPS)


def test_joint_acquisition_is_checked_and_log_ei_stays_available(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="joint_acquisition must be one of thompson, ei"):
        ASHA(optimizer="gp", fidelity=EPOCHS, joint_acquisition="ucb")
    reasons = {}
    for acquisition in ("thompson", "ei"):
        study = Study.create(
            acquisition,
            SPACE,
            storage="memory",
            seed=3,
            metrics="loss",
            optimizer={
                "name": "asha",
                "optimizer": {"name": "gp", "n_random": 64},
                "fidelity": EPOCHS,
                "joint_acquisition": acquisition,
            },
        )
        study.optimize(_objectives.learning_curve, n_trials=16)
        reasons[acquisition] = " ".join(t.reason for t in study.trials)
    assert "Thompson draw" in reasons["thompson"] and "logEI" not in reasons["thompson"]
    assert "logEI" in reasons["ei"] and "Thompson" not in reasons["ei"]


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

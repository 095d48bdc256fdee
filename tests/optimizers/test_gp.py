"""GP-BO: conformance, the model's pieces, and behaviour on small problems."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hypertrail import Categorical, Float, Int, Space, Study
from hypertrail.optimizers.base import Optimizer
from hypertrail.optimizers.gp import GPOptimizer
from hypertrail.optimizers.gp.acquisition import log_ei
from hypertrail.optimizers.gp.model import fit_gp
from hypertrail.optimizers.gp.optimizer import robust_standardize
from hypertrail.testing import OptimizerConformance


class TestGPOptimizer(OptimizerConformance):
    history_sizes = (0, 7, 20)

    def make_optimizer(self) -> Optimizer:
        return GPOptimizer(n_startup=5, n_random=64, n_starts=2, n_local_steps=3, n_neighbours=8)


def test_log_ei_matches_ei_where_ei_is_representable() -> None:
    from scipy.stats import norm

    mean = np.array([0.0, 0.5, 2.0, 5.0])
    var = np.array([1.0, 0.25, 0.5, 0.1])
    best = 0.2
    sigma = np.sqrt(var)
    z = (best - mean) / sigma
    ei = sigma * (norm.pdf(z) + z * norm.cdf(z))
    np.testing.assert_allclose(log_ei(mean, var, best), np.log(ei), rtol=1e-6)


def test_log_ei_is_finite_and_monotone_far_from_the_incumbent() -> None:
    mean = np.array([10.0, 100.0, 1e4, 1e8])
    values = log_ei(mean, np.full(4, 1e-2), 0.0)
    assert np.all(np.isfinite(values))
    assert np.all(np.diff(values) < 0)


def test_gp_interpolates_and_is_uncertain_away_from_data() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((30, 2))
    y = np.sin(6 * x[:, 0]) + x[:, 1] ** 2
    y = (y - y.mean()) / y.std()
    gp = fit_gp(x, y, n_numeric=2)
    mean, var = gp.predict(x)
    assert np.max(np.abs(mean - y)) < 0.1
    _, far_var = gp.predict(np.array([[3.0, 3.0]]))
    assert far_var[0] > 10 * np.max(var)


def test_gp_learns_that_an_irrelevant_dimension_is_irrelevant() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((40, 3))
    y = np.cos(5 * x[:, 0])
    y = (y - y.mean()) / y.std()
    gp = fit_gp(x, y, n_numeric=3)
    assert gp.log_l[1] > gp.log_l[0] + 1.0 and gp.log_l[2] > gp.log_l[0] + 1.0


def test_gp_learns_that_low_fidelities_are_noisier_than_the_top() -> None:
    # Column 1 is the fidelity coordinate z; below the top the values carry noise of
    # s.d. 0.3 (1 - z), at the top none. The noise term of each point follows z.
    rng = np.random.default_rng(2)
    x = np.column_stack([rng.random(80), rng.choice([0.0, 1 / 3, 2 / 3, 1.0], 80)])
    truth = np.sin(6 * x[:, 0])
    y = truth + 0.3 * (1 - x[:, 1]) * rng.standard_normal(80)
    shared = fit_gp(x, y, n_numeric=2)
    by_fidelity = fit_gp(x, y, n_numeric=2, noise_column=1)
    assert by_fidelity.log_n2_low > by_fidelity.log_n2 + 3.0
    assert shared.noise_column is None and shared.log_n2_low == -math.inf
    top = x[:, 1] == 1.0
    # At the top it follows the exact values more closely than one shared noise does.
    error_by_fidelity = np.abs(by_fidelity.predict(x[top])[0] - y[top]).max()
    error_shared = np.abs(shared.predict(x[top])[0] - y[top]).max()
    assert error_by_fidelity < 0.5 * error_shared
    # Conditioning on more points keeps the noise model (fantasies at low fidelity).
    extra = by_fidelity.condition_on(x[:3], y[:3])
    assert extra.noise_column == 1 and extra.log_n2_low == by_fidelity.log_n2_low


def test_gp_fit_with_a_noise_column_has_the_gradient_of_its_objective() -> None:
    # The fitted optimum is a stationary point only if the analytic gradient of the
    # extra noise parameter is right: compare the marginal likelihood nearby.
    from hypertrail.optimizers.gp import model

    rng = np.random.default_rng(3)
    x = np.column_stack([rng.random(40), rng.choice([0.0, 0.5, 1.0], 40)])
    y = np.cos(4 * x[:, 0]) + 0.2 * (1 - x[:, 1]) * rng.standard_normal(40)
    gp = fit_gp(x, y, n_numeric=2, noise_column=1)

    def penalized_nll(log_n2_low: float) -> float:
        from scipy.linalg import cho_solve, cholesky

        terms = model._sq_terms(x, x, 2)
        k, _ = model._kernel_matrix(terms, gp.log_l, gp.log_s2)
        k[np.diag_indices_from(k)] += (
            model._noise(gp.log_n2, log_n2_low, model._noise_shape(x, 1)) + 1e-8
        )
        chol = cholesky(k, lower=True)
        alpha = cho_solve((chol, True), y)
        mu, sd = model._N2_LOW_PRIOR
        return float(
            0.5 * y @ alpha + np.sum(np.log(np.diag(chol))) + (log_n2_low - mu) ** 2 / (2 * sd**2)
        )

    here = penalized_nll(gp.log_n2_low)
    assert here <= penalized_nll(gp.log_n2_low + 0.3) + 1e-6
    assert here <= penalized_nll(gp.log_n2_low - 0.3) + 1e-6


def test_robust_standardize_tames_outliers() -> None:
    y = np.array([1.0, 1.1, 0.9, 1.05, 1e9])
    z = robust_standardize(y)
    assert np.argmax(z) == 4 and np.argsort(z).tolist() == np.argsort(y).tolist()
    assert z[4] < 3  # the outlier does not squash everything else to one value
    assert np.std(z[:4]) > 0.2


def test_gp_beats_random_on_a_mixed_function() -> None:
    space = Space(
        {
            "x": Float(-5.0, 10.0),
            "y": Float(0.0, 15.0),
            "k": Categorical(["a", "b", "c"]),
            "n": Int(0, 10),
        }
    )

    def branin(t: object) -> float:
        c = t.config  # type: ignore[attr-defined]
        x, y = c["x"], c["y"]
        b, cc, tt = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
        value = (y - b * x**2 + cc * x - 6) ** 2 + 10 * (1 - tt) * math.cos(x) + 10
        return float(value + (0.0 if c["k"] == "a" else 1.0) + 0.1 * abs(c["n"] - 3))

    def mean_regret(optimizer: str) -> float:
        values = []
        for seed in range(4):
            study = Study.create("b", space, optimizer=optimizer, seed=seed)
            study.optimize(branin, n_trials=40)
            best = study.best.value
            assert best is not None
            values.append(best - 0.397887)
        return float(np.mean(values))

    assert mean_regret("gp") < 0.5 * mean_regret("random")


def test_gp_options_are_checked() -> None:
    with pytest.raises(ValueError, match="max_points"):
        GPOptimizer(max_points=3)


def test_candidates_alternate_neighbour_steps_around_the_best_trials() -> None:
    from hypertrail.history import History
    from hypertrail.trial import FrozenTrial, Metric, TrialState

    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    trials = tuple(
        FrozenTrial(i, TrialState.COMPLETE, {"x": x, "y": 0.5}, {"loss": (x - 0.5) ** 2})
        for i, x in enumerate((0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.8))
    )
    history = History(0, (Metric("loss", "minimize"),), trials, len(trials))
    gp = GPOptimizer()
    surrogate = gp.fit(space, history)
    best = [trials[i].config for i in np.argsort(surrogate.y_t, kind="stable")[:5]]

    def moves(steps: tuple[float, ...]) -> np.ndarray:
        """How far each neighbour moved from its incumbent, one row per incumbent."""
        out = gp.candidates(space, surrogate, np.random.default_rng(0), 0, 40, steps=steps)
        points = np.array([[c["x"], c["y"]] for c in out]).reshape(5, 40, 2)
        centres = np.array([[c["x"], c["y"]] for c in best])[:, None, :]
        moved: np.ndarray = np.abs(points - centres).max(axis=2)
        return moved

    coarse = moves((0.1,))
    mixed = moves((0.1, 0.02))
    # Every other neighbour takes the fine step; the rest move as before.
    assert np.median(mixed[:, 1::2]) < 0.03 < np.median(mixed[:, 0::2])
    assert np.median(coarse) > 0.05
    with pytest.raises(ValueError, match="neighbour steps must be positive"):
        gp.candidates(space, surrogate, np.random.default_rng(0), 0, 4, steps=(0.1, 0.0))

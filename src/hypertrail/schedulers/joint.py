"""One GP across fidelities: the fidelity as one more input of the model.

With ``across_fidelities: true`` a scheduler's new configurations come from a GP
fitted on every trial of every rung, each at its own fidelity coordinate
``z = log(f / min) / log(max / min)`` (0 at the lowest rung, 1 at the top), with its
own Matern length scale, as in the model-based ASHA of Klein et al. ("Model-based
asynchronous hyperparameter and neural architecture search", 2020) and the
fidelity-as-input GPs of the multi-fidelity BO literature. So the thousands of cheap
low-fidelity results shape where the next configuration goes, and the model learns
from the promoted trials how much the low fidelities can be trusted (a short length
scale in ``z`` says: little). Its noise grows below the top, ``n2 + n2_low (1 - z)``
with both fitted (:func:`~hypertrail.optimizers.gp.model.fit_gp`'s ``noise_column``):
one shared noise term blurred the exact top-fidelity values with the scatter of the
cheap ones, and on ``mf_branin`` the mean regret of ``asha`` + ``gp`` fell from 0.0045
to 0.0005 once it did not (seeds 0-9; 0.0042 to 0.0011 on seeds 10-19). The sharper
incumbent explores less: run three times longer, ``mf_hartmann6`` ends worse than
with one shared term (``docs/benchmarks.md``, B = 2700).

The next configuration is chosen at the top fidelity by one of two acquisitions
(``joint_acquisition``):

* ``thompson`` (the default): one joint draw from the posterior at the top fidelity
  over ``THOMPSON_RANDOM`` random configurations and ``THOMPSON_LOCAL`` neighbours of
  each of the 5 best trials (the GP's own candidates); its lowest untried point wins
  (Thompson sampling, as in Kandasamy et al., "Parallelised Bayesian optimisation via
  Thompson sampling", 2018). A new configuration starts at the cheapest rung, so
  spreading them where the model is unsure costs little; on the multi-fidelity
  benchmarks it more than halved ``asha`` + ``gp``'s mean regret against log EI,
  whose proposals settled in one basin on some seeds (``docs/benchmarks.md``).
  A draw is only as precise as its nearest candidate, and nothing polishes it
  afterwards (log EI's local search does), so the neighbours alternate between the
  steps of ``THOMPSON_STEPS``: with all of them at 0.1, ``asha`` + ``gp`` stopped
  short of the last digits (median regret over seeds 0-19: 0.0096 on
  ``mf_hartmann6``, 0.00017 on ``mf_branin``; with half at 0.02: 0.0008 and 0.00005).
* ``ei``: log EI, against the lowest mean the model predicts at the top for a
  configuration already tried, maximized as the GP optimizer does.

The scheduler still decides which fidelity a trial runs at (a new configuration starts
at the lowest rung of its bracket); only the choice of new configurations changes.
Like every optimizer, it is a pure function of the history: replay re-derives it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hypertrail.optimizers.gp.features import Features
from hypertrail.optimizers.gp.model import fit_gp
from hypertrail.optimizers.gp.optimizer import (
    GPOptimizer,
    Surrogate,
    kept_rows,
    robust_standardize,
    single_threaded_blas,
)
from hypertrail.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from hypertrail.history import History
    from hypertrail.schedulers.base import Fidelity
    from hypertrail.space.space import Space

__all__ = [
    "ACQUISITIONS",
    "MAX_POINTS",
    "fidelity_coordinate",
    "fit_across",
    "propose_across_fidelities",
    "thompson_choice",
]

ACQUISITIONS = ("thompson", "ei")
THOMPSON_RANDOM, THOMPSON_LOCAL = 512, 32
"""Random configurations in each Thompson draw, and neighbours of each of the 5 best trials."""
THOMPSON_STEPS = (0.1, 0.02)
"""Steps (s.d. in the unit cube) the neighbours alternate between: far enough to leave
a poor spot, near enough to find the last digits at a good one."""
_JITTER = 1e-6  # added to the diagonal of the posterior covariance before factoring

MAX_POINTS = 160
"""Observations the joint GP is fitted on, at most: every top-fidelity trial, the
best quarter, then the most recent. A multi-fidelity study has hundreds of cheap
trials; past this the fit costs more than it teaches."""


def fidelity_coordinate(value: float, fidelity: Fidelity) -> float:
    """``log(value / min) / log(max / min)``: 0 at the lowest fidelity, 1 at the top."""
    return math.log(value / fidelity.min) / math.log(fidelity.max / fidelity.min)


@dataclass(frozen=True)
class _AtTop(Surrogate):
    """A :class:`Surrogate` whose inputs gain the fidelity column, scored at the top."""

    column: int = 0

    def inputs(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.insert(self.features.encode_all(configs), self.column, 1.0, axis=1)


def _observations(
    history: History, fidelity: Fidelity, limit: int
) -> tuple[list[FrozenTrial], np.ndarray, np.ndarray]:
    """Trials with a fidelity (complete; failed at the worst loss), their losses and
    fidelity coordinates, trimmed to ``limit`` rows."""
    complete = [t for t in history.completed() if t.fidelity is not None]
    failed = [t for t in history.trials if t.state is TrialState.FAILED and t.fidelity is not None]
    losses = [history.loss(t) for t in complete]
    worst = max(losses)
    trials = complete + failed
    y = np.array(losses + [worst] * len(failed), dtype=float)
    z = np.array([fidelity_coordinate(float(t.fidelity or fidelity.min), fidelity) for t in trials])
    if len(trials) > limit:
        top = [i for i in range(len(trials)) if z[i] >= 1.0 - 1e-9]
        chosen = kept_rows(trials, y, limit, always=top)
        trials = [trials[i] for i in chosen]
        y, z = y[chosen], z[chosen]
    return trials, y, z


def fit_across(
    gp: GPOptimizer, space: Space, history: History, fidelity: Fidelity
) -> _AtTop | None:
    """The GP of every trial of every rung, ready to score configurations at the top
    fidelity; ``None`` while fewer than the GP's ``n_startup`` trials are complete."""
    if not space.dimensions:
        return None
    if sum(1 for t in history.completed() if t.fidelity is not None) < gp.n_startup:
        return None
    with single_threaded_blas():
        features = Features.of(space)
        column = len(features.numeric)
        trials, y, z = _observations(history, fidelity, MAX_POINTS)
        y_t = robust_standardize(y)
        x = np.insert(features.encode_all([t.config for t in trials]), column, z, axis=1)
        model = fit_gp(x, y_t, column + 1, noise_column=column)
        running = [t for t in history.running() if t.fidelity is not None]
        if running:
            zr = [fidelity_coordinate(float(t.fidelity or fidelity.min), fidelity) for t in running]
            xr = np.insert(features.encode_all([t.config for t in running]), column, zr, axis=1)
            model = model.condition_on(xr, model.predict(xr)[0])
        # Incumbents: each configuration tried, by the model's mean at the top fidelity.
        unique: dict[tuple[tuple[str, Any], ...], FrozenTrial] = {}
        for t in trials:
            unique.setdefault(tuple(t.config.items()), t)
        tried = list(unique.values())
        at_top = np.insert(features.encode_all([t.config for t in tried]), column, 1.0, axis=1)
        mean_top = model.predict(at_top)[0]
    taken = {tuple(t.config.items()) for t in history.trials}
    return _AtTop(features, model, float(np.min(mean_top)), tried, mean_top, taken, column=column)


def thompson_choice(
    gp: GPOptimizer,
    space: Space,
    surrogate: Surrogate,
    rng: np.random.Generator,
    n_random: int = THOMPSON_RANDOM,
    n_local: int = THOMPSON_LOCAL,
    steps: Sequence[float] = THOMPSON_STEPS,
) -> tuple[dict[str, Any], float] | None:
    """The untried candidate whose value in one joint posterior draw is lowest, and
    that value (standardized); ``None`` if every candidate was tried already.

    Candidates: :meth:`GPOptimizer.candidates` with ``n_random`` random
    configurations and ``n_local`` neighbours of each of the 5 best trials at
    the steps of ``steps`` (by default ``THOMPSON_RANDOM``, ``THOMPSON_LOCAL`` and
    ``THOMPSON_STEPS``), scored where ``surrogate`` scores (the top fidelity, for the
    joint model).
    """
    from scipy.linalg import LinAlgError, cholesky

    drawn = gp.candidates(space, surrogate, rng, n_random, n_local, steps=steps)
    candidates = [space.canonical(c) for c in drawn]
    mean, cov = surrogate.gp.posterior(surrogate.inputs(candidates))
    cov[np.diag_indices_from(cov)] += _JITTER
    try:
        factor = cholesky(cov, lower=True, check_finite=False)
    except LinAlgError:  # numerically indefinite: the symmetric square root will do
        w, u = np.linalg.eigh(cov)
        factor = u * np.sqrt(np.maximum(w, 0.0))
    draw = mean + factor @ rng.standard_normal(len(candidates))
    for i in np.argsort(draw, kind="stable"):
        if tuple(candidates[int(i)].items()) not in surrogate.taken:
            return candidates[int(i)], float(draw[int(i)])
    return None


def propose_across_fidelities(
    gp: GPOptimizer,
    space: Space,
    history: History,
    fidelity: Fidelity,
    rng: np.random.Generator,
    acquisition: str = "thompson",
) -> tuple[dict[str, Any], str] | None:
    """A new configuration, chosen at the top fidelity by ``acquisition``
    (:data:`ACQUISITIONS`), and its reason; ``None`` while the model cannot be fitted
    yet (see :func:`fit_across`)."""
    surrogate = fit_across(gp, space, history, fidelity)
    if surrogate is None:
        return None
    at = f"{fidelity.name}={fidelity.max:g}"
    with single_threaded_blas():
        drawn = thompson_choice(gp, space, surrogate, rng) if acquisition == "thompson" else None
        if drawn is not None:
            config, what = drawn[0], f"Thompson draw {drawn[1]:.3g} at {at}"
        else:
            config, score = gp.maximize(space, surrogate, rng)
            what = f"logEI={score:.3g} at {at}"
    scale = math.exp(float(surrogate.gp.log_l[surrogate.column]))
    reason = (
        f"GP across fidelities: {what} "
        f"(fit on {len(surrogate.gp.x)} trials; fidelity length scale {scale:.2g})"
    )
    return config, reason

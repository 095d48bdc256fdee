"""One GP across fidelities: the fidelity as one more input of the model.

With ``across_fidelities: true`` a scheduler's new configurations come from a GP
fitted on every trial of every rung, each at its own fidelity coordinate
``z = log(f / min) / log(max / min)`` (0 at the lowest rung, 1 at the top), with its
own Matern length scale, as in the model-based ASHA of Klein et al. ("Model-based
asynchronous hyperparameter and neural architecture search", 2020) and the
fidelity-as-input GPs of the multi-fidelity BO literature. Log EI is taken at the top
fidelity, against the lowest mean the model predicts there for a configuration
already tried. So the thousands of cheap low-fidelity results shape where the next
configuration goes, and the model learns from the promoted trials how much the low
fidelities can be trusted (a short length scale in ``z`` says: little).

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

__all__ = ["MAX_POINTS", "fidelity_coordinate", "fit_across", "propose_across_fidelities"]

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
        model = fit_gp(x, y_t, column + 1)
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


def propose_across_fidelities(
    gp: GPOptimizer,
    space: Space,
    history: History,
    fidelity: Fidelity,
    rng: np.random.Generator,
) -> tuple[dict[str, Any], str] | None:
    """A new configuration, by log EI at the top fidelity, and its reason; ``None``
    while the model cannot be fitted yet (see :func:`fit_across`)."""
    surrogate = fit_across(gp, space, history, fidelity)
    if surrogate is None:
        return None
    with single_threaded_blas():
        config, score = gp.maximize(space, surrogate, rng)
    scale = math.exp(float(surrogate.gp.log_l[surrogate.column]))
    reason = (
        f"GP across fidelities: logEI={score:.3g} at {fidelity.name}={fidelity.max:g} "
        f"(fit on {len(surrogate.gp.x)} trials; fidelity length scale {scale:.2g})"
    )
    return config, reason

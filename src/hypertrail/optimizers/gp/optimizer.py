"""GP-BO: a Gaussian process on mixed inputs, log EI, a mixed-space acquisition search.

One proposal:

1. Until ``n_startup`` trials are complete, points of the study's scrambled Sobol
   sequence.
2. Observations: complete trials by their primary loss, failed trials at the worst
   loss seen (a failure region is a bad region). Losses are robustly standardized
   (median and IQR, upper tail compressed by a log) so one diverged run does not
   flatten the model. Beyond ``max_points`` observations, the best quarter and the
   most recent rest are kept, so cost stays bounded as a study grows.
3. A GP fitted by MAP (:mod:`.model`); running trials enter as fantasies at the
   model's mean (kriging believer), so parallel workers are sent elsewhere.
4. log EI maximized over the mixed space: many random configurations plus
   neighbours of the best trials, then local searches from the best few, whose
   moves perturb numeric coordinates with shrinking steps and switch categorical
   or integer values to neighbours. Every candidate is a valid configuration (its
   active set follows its own values; constraints are checked).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hypertrail.optimizers._encoding import EncodingCache
from hypertrail.optimizers.base import Proposal
from hypertrail.optimizers.gp.acquisition import log_ei
from hypertrail.optimizers.gp.features import Features
from hypertrail.optimizers.gp.model import GaussianProcess, fit_gp
from hypertrail.optimizers.sobol import SobolSearch
from hypertrail.space.params import Categorical, Ordinal
from hypertrail.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from hypertrail.history import History
    from hypertrail.space.space import Space

__all__ = [
    "GPOptimizer",
    "Surrogate",
    "kept_rows",
    "robust_standardize",
    "sample_within",
    "single_threaded_blas",
]


def robust_standardize(y: np.ndarray) -> np.ndarray:
    """Centre on the median, scale by the IQR, compress the upper tail, standardize.

    The order of values is kept; only distances in the bad tail shrink.
    """
    med = float(np.median(y))
    q75, q25 = np.percentile(y, [75, 25])
    scale = float(q75 - q25) / 1.349
    if not scale > 0:
        scale = float(np.std(y)) or 1.0
    z = (y - med) / scale
    # Past 2 robust s.d., a double log: a run that diverged by 10^9 lands near 5.
    z = np.where(z > 2.0, 2.0 + np.log1p(np.log1p(np.maximum(z - 2.0, 0.0))), z)
    std = float(np.std(z))
    out: np.ndarray = (z - float(np.mean(z))) / (std if std > 0 else 1.0)
    return out


def kept_rows(
    trials: Sequence[FrozenTrial], y: np.ndarray, limit: int, always: Iterable[int] = ()
) -> list[int]:
    """Which of ``limit`` observations a GP keeps when there are more: ``always``,
    the best quarter, then the most recent; in their original order."""
    keep = set(always) | set(np.argsort(y, kind="stable")[: limit // 4].tolist())
    rest = sorted((i for i in range(len(trials)) if i not in keep), key=lambda i: trials[i].number)
    return sorted(keep | set(rest[max(len(rest) - (limit - len(keep)), 0) :]))


_CONTROLLER: Any = None


def single_threaded_blas() -> Any:
    """A context limiting BLAS to one thread (the controller is built once)."""
    global _CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


@dataclass(frozen=True)
class GPOptimizer:
    """Gaussian-process Bayesian optimization with log expected improvement.

    Args:
        n_startup: complete trials taken from a Sobol sequence before the model.
        n_random: random configurations scored per acquisition search.
        n_starts: local searches started from the best-scored configurations.
        n_local_steps: rounds of each local search.
        n_neighbours: neighbours tried per round.
        max_points: observations the GP is fitted on, at most.
    """

    name: ClassVar[str] = "gp"
    revision: ClassVar[int] = 1
    """Raised when proposals change, here or in the joint model (``schedulers/joint.py``)."""
    n_startup: int = 10
    n_random: int = 512
    n_starts: int = 5
    n_local_steps: int = 8
    n_neighbours: int = 24
    max_points: int = 300
    _sobol: SobolSearch = field(default_factory=SobolSearch, init=False, repr=False, compare=False)
    _cache: EncodingCache = field(
        default_factory=EncodingCache, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for name in ("n_startup", "n_random", "n_starts", "n_local_steps", "n_neighbours"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_points < 10:
            raise ValueError("max_points must be at least 10")

    def check(self, space: Space) -> None:
        """GP-BO works on every valid space."""

    # --- data ------------------------------------------------------------------------

    def _encode(
        self, space: Space, features: Features, trials: Sequence[FrozenTrial]
    ) -> np.ndarray:
        return self._cache.rows(space.fingerprint, trials, features.encode, features.width)

    def _observations(self, history: History) -> tuple[list[FrozenTrial], np.ndarray]:
        complete = history.completed()
        losses = [history.loss(t) for t in complete]
        worst = max(losses)
        failed = [t for t in history.trials if t.state is TrialState.FAILED]
        trials = complete + failed
        y = np.array(losses + [worst] * len(failed), dtype=float)
        if len(trials) > self.max_points:
            chosen = kept_rows(trials, y, self.max_points)
            trials = [trials[i] for i in chosen]
            y = y[chosen]
        return trials, y

    # --- proposing -------------------------------------------------------------------

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        completed = history.completed()
        if len(completed) < self.n_startup or not space.dimensions:
            return [
                Proposal(p.config, f"GP startup: {p.reason}")
                for p in self._sobol.propose(space, history, rng, n)
            ]
        # The matrices are small (a few hundred rows): BLAS threads only add
        # synchronization, and on a busy machine their spinning costs 10-100x.
        with single_threaded_blas():
            return self._propose_with_model(space, history, rng, n)

    def _propose_with_model(
        self, space: Space, history: History, rng: np.random.Generator, n: int
    ) -> list[Proposal]:
        surrogate = self.fit(space, history)
        out = []
        for _ in range(n):
            config, score = self.maximize(space, surrogate, rng)
            out.append(Proposal(config, f"GP logEI={score:.3g}"))
            surrogate = surrogate.believe(config)
        return out

    def fit(self, space: Space, history: History) -> Surrogate:
        """The GP of ``history`` (complete and failed trials), with running trials as
        fantasies at its mean. Needs at least one complete trial."""
        features = Features.of(space)
        trials, y = self._observations(history)
        y_t = robust_standardize(y)
        x = self._encode(space, features, trials)
        gp = fit_gp(x, y_t, len(features.numeric))
        running = history.running()
        if running:
            xp = self._encode(space, features, running)
            gp = gp.condition_on(xp, gp.predict(xp)[0])
        taken = {tuple(t.config.items()) for t in history.trials}
        return Surrogate(features, gp, float(np.min(y_t)), trials, y_t, taken)

    def maximize(
        self,
        space: Space,
        surrogate: Surrogate,
        rng: np.random.Generator,
        frozen: Mapping[str, Any] | None = None,
        effort: float = 1.0,
    ) -> tuple[dict[str, Any], float]:
        """The configuration of highest log EI, and its score.

        ``frozen`` pins parameters (a structure): candidates keep those values and
        only the other active parameters move; incumbents of other structures lend
        their free values as starting points. ``effort`` scales the number of
        random candidates (a hybrid search splits one acquisition over several
        structures).
        """
        pinned = frozenset(frozen or ())
        score = surrogate.score
        n_random = max(16, int(self.n_random * effort))
        candidates = self.candidates(space, surrogate, rng, n_random, 16, frozen)
        scores = score(candidates)
        order = np.argsort(-scores, kind="stable")
        best_config, best_score = candidates[int(order[0])], float(scores[order[0]])
        for start in order[: self.n_starts]:
            current, current_score = candidates[int(start)], float(scores[start])
            step = 0.2
            for _ in range(self.n_local_steps):
                moves = [
                    self._neighbour(space, current, rng, step, pinned)
                    for _ in range(self.n_neighbours)
                ]
                move_scores = score(moves)
                j = int(np.argmax(move_scores))
                if move_scores[j] > current_score:
                    current, current_score = moves[j], float(move_scores[j])
                else:
                    step *= 0.5
            if current_score > best_score:
                best_config, best_score = current, current_score
        if not math.isfinite(best_score):  # everything scored is already taken
            fresh = space.sample(rng) if frozen is None else sample_within(space, frozen, rng)
            return fresh, best_score
        return space.canonical(best_config), best_score

    def candidates(
        self,
        space: Space,
        surrogate: Surrogate,
        rng: np.random.Generator,
        n_random: int,
        n_local: int,
        frozen: Mapping[str, Any] | None = None,
        steps: Sequence[float] = (0.1,),
    ) -> list[dict[str, Any]]:
        """Where an acquisition looks first: ``n_random`` random configurations, then
        ``n_local`` neighbours of each of the 5 best trials, the k-th a step of
        ``steps[k % len(steps)]`` (the s.d. of a move in the unit cube) away; with
        ``frozen``, all keep its values (a structure)."""
        if not steps or any(not step > 0 for step in steps):
            raise ValueError(f"neighbour steps must be positive, got {tuple(steps)!r}")
        pinned = frozenset(frozen or ())
        if frozen is None:
            out = [space.sample(rng) for _ in range(n_random)]
        else:
            out = [sample_within(space, frozen, rng) for _ in range(n_random)]
        for i in np.argsort(surrogate.y_t, kind="stable")[:5]:
            incumbent = dict(surrogate.trials[int(i)].config)
            if frozen is not None:
                incumbent = space.complete({**incumbent, **frozen}, rng)
            out.extend(
                self._neighbour(space, incumbent, rng, steps[k % len(steps)], pinned)
                for k in range(n_local)
            )
        return out

    @staticmethod
    def _neighbour(
        space: Space,
        config: dict[str, Any],
        rng: np.random.Generator,
        step: float,
        pinned: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        active = [p for p in space.dimensions if p.name in config and p.name not in pinned]
        if not active:
            return space.sample(rng)
        for _ in range(10):
            values = dict(config)
            if rng.random() < 0.5:
                chosen = active  # a small step in every numeric direction
                switch_discrete = False
            else:
                k = min(len(active), 1 + int(rng.binomial(2, 0.3)))
                chosen = [active[int(i)] for i in rng.choice(len(active), size=k, replace=False)]
                switch_discrete = True
            for param in chosen:
                domain = param.domain
                old = values[param.name]
                if isinstance(domain, Categorical) and not isinstance(domain, Ordinal):
                    if switch_discrete and len(domain.choices) > 1:
                        others = [c for c in domain.choices if c != old]
                        values[param.name] = others[int(rng.integers(len(others)))]
                    continue
                u = domain.to_unit(old) + float(rng.normal(0.0, step))
                new = domain.from_unit(min(max(u, 0.0), 1.0 - 1e-12))
                if switch_discrete and new == old and domain.cardinality() is not None:
                    values_list = domain.values()
                    i = values_list.index(old) if old in values_list else 0
                    i = min(max(i + (1 if rng.random() < 0.5 else -1), 0), len(values_list) - 1)
                    new = values_list[i]
                values[param.name] = new
            candidate = space.complete(values, rng, trusted=True)
            if space.is_feasible(candidate):
                return candidate
        return dict(config)


@dataclass(frozen=True)
class Surrogate:
    """A fitted GP and what its acquisition needs: the incumbents and the configs taken."""

    features: Features
    gp: GaussianProcess
    best: float
    trials: list[FrozenTrial]
    y_t: np.ndarray
    taken: set[tuple[tuple[str, Any], ...]]

    def inputs(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The GP's input rows for ``configs`` (a subclass may add columns)."""
        return self.features.encode_all(configs)

    def score(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """log EI of each configuration; -inf for one already asked."""
        mean, var = self.gp.predict(self.inputs(configs))
        values = log_ei(mean, var, self.best)
        for i, c in enumerate(configs):
            if tuple(c.items()) in self.taken:
                values[i] = -np.inf
        return values

    def believe(self, config: Mapping[str, Any]) -> Surrogate:
        """The surrogate with ``config`` pending at the model's mean (kriging believer)."""
        xc = self.inputs([config])
        gp = self.gp.condition_on(xc, self.gp.predict(xc)[0])
        return replace(self, gp=gp, taken=self.taken | {tuple(config.items())})


def sample_within(
    space: Space, frozen: Mapping[str, Any], rng: np.random.Generator, tries: int = 20
) -> dict[str, Any]:
    """A random configuration keeping ``frozen``'s values (its structure), feasible
    when one is found in ``tries`` draws."""
    config = space.complete(frozen, rng)
    for _ in range(tries - 1):
        if space.is_feasible(config):
            break
        config = space.complete(frozen, rng)
    return config

"""CMA-ES (with margin for integers) over the numeric parameters of a space.

CMA-ES is a sequential, stateful algorithm; an :class:`~hypertrail.optimizers.Optimizer`
must be a pure function of ``(space, history, rng)`` (DESIGN.md invariants 3 and 4).
So the state is never kept: it is *rebuilt from the history* on every call.

* **Generations by trial number.** Trial *n* belongs to generation ``n // popsize``.
  A generation is complete when all its trials have finished.
* **Replay.** A fresh ``cmaes.CMA`` (or ``cmaes.CMAwM`` when the space has discrete
  numeric dimensions) is told every complete generation in order, up to the first
  incomplete one: ``tell([(x, loss), ...])`` with ``x`` the encoding of the
  configuration that was actually evaluated. The library's own ``ask()`` (and its
  internal random state) is never used.
* **Sampling.** Proposals are drawn from the replayed distribution
  ``N(mean, sigma^2 C)`` with the generator handed to :meth:`CMAES.propose`. When
  earlier generations are still running, the proposal comes from the latest
  distribution that can be rebuilt; CMA-ES then learns from samples drawn from an
  older distribution, which it tolerates.
* **Cache.** Replayed states are memoized with the exact trial records they were
  built from (number, state, config, values) and everything else they depend on
  (space, seed, popsize, primary metric). A call reuses the longest cached state
  whose records open its history and tells only the generations completed since,
  so a study of a thousand trials does not replay from scratch on every ask. A hit
  returns the very state a replay would build: the cache never changes a result.

**Encoding.** Continuous floats (linear or log) are one coordinate in [0, 1]. A
discrete domain with ``k`` evenly spaced values (ints, stepped floats, ordinals) has
cells of width ``1/k``; CMA-ES with margin gets ``steps = 1/k`` and bounds at the
first and last cell centres, which is exactly where ``domain.to_unit`` puts values.
Log-scaled ints have uneven cells: they are searched as continuous coordinates on
their log scale and rounded when decoded (no margin for them, but see below).

**What is told for coordinates the config does not pin down.** The history keeps
the evaluated value, not the continuous point CMA-ES sampled. For a discrete
coordinate CMAwM learns from that latent point; its margin correction stretches the
encoding (``x_enc = m + A (x - m)``, ``A`` up to hundreds), so telling the value's
cell centre instead feeds CMA-ES steps ``A`` times too large and the distribution
diverges (it did, to NaN, in tests with categorical noise). The latent is therefore
imputed: drawn from the distribution's marginal, truncated to the interval that
encodes to the evaluated value. Log-scaled ints get the same treatment within their
integer's cell, so their variance does not collapse onto one integer either.

A numeric parameter that was inactive in a trial did not affect its loss; it is
imputed from the untruncated marginal (as if sampled and then ignored) rather than
told at a fixed default, which would pull the mean there and collapse that
coordinate's variance. Each imputation uses a generator derived from (study seed,
trial number) and the state current when its generation is told, so the replay
stays a pure function of the history.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hypertrail.errors import OptimizerError
from hypertrail.optimizers.base import Proposal
from hypertrail.seeding import RngKey
from hypertrail.space.params import Categorical, Int, Ordinal
from hypertrail.trial import TrialState

if TYPE_CHECKING:
    from hypertrail.history import History
    from hypertrail.space.space import Param, Space
    from hypertrail.trial import FrozenTrial, Metric

__all__ = ["CMAES"]

_RESAMPLE = 100  # draws until the continuous coordinates fall in [0, 1] (then clip)
_FEASIBLE_TRIES = 100  # draws until the constraints hold (then a random config)
_CACHE_SIZE = 32
_STARTS = ("center", "default")
_EIGEN_EPS = 1e-8  # as cmaes: floor for negative eigenvalues from round-off
_PURPOSE_IMPUTE = "cmaes-impute"


def _modelled(param: Param) -> bool:
    """Whether CMA-ES searches this dimension (numeric and not constant)."""
    domain = param.domain
    plain_categorical = isinstance(domain, Categorical) and not isinstance(domain, Ordinal)
    return not plain_categorical and domain.cardinality() != 1


def _evenly_discrete(param: Param) -> bool:
    """Discrete with cells of equal width in the unit encoding (CMAwM can step it)."""
    domain = param.domain
    if domain.cardinality() is None:
        return False
    return not (isinstance(domain, Int) and domain.log)


@dataclass(frozen=True)
class _Layout:
    """Which of the space's dimensions CMA-ES models, and how they are encoded."""

    dims: tuple[Param, ...]  # every searched dimension of the space, in order
    modelled: tuple[int, ...]  # indices into dims of the CMA-ES coordinates
    discrete: np.ndarray  # per CMA-ES coordinate: stepped by CMAwM
    cells: np.ndarray  # per CMA-ES coordinate: number of values (0 if continuous)
    defaults: np.ndarray  # per CMA-ES coordinate: unit position of the default value

    @classmethod
    def of(cls, space: Space) -> _Layout:
        dims = space.dimensions
        modelled = tuple(i for i, p in enumerate(dims) if _modelled(p))
        params = [dims[i] for i in modelled]
        discrete = np.array([_evenly_discrete(p) for p in params], dtype=bool)
        cells = np.array(
            [p.domain.cardinality() if d else 0 for p, d in zip(params, discrete, strict=True)],
            dtype=float,
        )
        defaults = np.array([p.domain.to_unit(p.domain.default_value()) for p in params])
        return cls(dims, modelled, discrete, cells, defaults)

    @property
    def params(self) -> list[Param]:
        return [self.dims[i] for i in self.modelled]

    def bounds(self) -> np.ndarray:
        half = np.where(self.discrete, 0.5 / np.maximum(self.cells, 1.0), 0.0)
        return np.column_stack([half, 1.0 - half])


@dataclass(frozen=True)
class _Gaussian:
    """The search distribution N(mean, sigma^2 C) of a replayed CMA-ES state."""

    mean: np.ndarray
    sigma: float
    bd: np.ndarray  # B diag(D): bd @ z ~ N(0, C) for z ~ N(0, I)
    margin_scale: np.ndarray  # CMAwM's A (ones where there is no margin correction)

    @property
    def std(self) -> np.ndarray:
        """Marginal standard deviation of each coordinate."""
        out: np.ndarray = self.sigma * np.sqrt(np.sum(self.bd**2, axis=1))
        return out

    @property
    def spread(self) -> float:
        """The typical standard deviation of one coordinate in the unit cube.

        CMA-ES splits the scale between ``sigma`` and ``C``; only their product says how
        far proposals reach, so reasons report this rather than ``sigma`` alone.
        """
        return float(math.sqrt(float(np.mean(self.std**2))))


def _gaussian(engine: Any) -> _Gaussian:
    """Read the distribution out of a ``cmaes.CMA`` or ``cmaes.CMAwM`` without changing it.

    cmaes only exposes ``mean`` publicly and samples with its own ``RandomState``; to
    sample with the trial's generator we read its private ``_sigma`` and ``_C`` (and, for
    CMAwM, the inner ``_cma`` and the margin scaling ``_A``). This is the only place
    that touches private attributes (stable from cmaes 0.11 to 0.13). The eigen
    decomposition mirrors ``CMA._eigen_decomposition`` but is not written back, so a
    cached state is never mutated by sampling.
    """
    inner = getattr(engine, "_cma", engine)
    cov = np.asarray(inner._C, dtype=float)
    cov = (cov + cov.T) / 2
    eigenvalues, basis = np.linalg.eigh(cov)
    scales = np.sqrt(np.where(eigenvalues < 0, _EIGEN_EPS, eigenvalues))
    mean = np.array(engine.mean, dtype=float)
    margin = getattr(engine, "_A", None)
    margin_scale = np.ones_like(mean) if margin is None else np.array(margin, dtype=float)
    return _Gaussian(mean, float(inner._sigma), basis * scales, margin_scale)


def _clone(engine: Any) -> Any:
    """An exact deep copy of a cmaes engine, bypassing its pickling hooks.

    ``copy.deepcopy`` would go through ``CMA.__getstate__``, which stores ``C`` as one
    triangle (re-symmetrizing it in the last bits) and replaces the seeded generator
    with an entropy-seeded one; a state continued from such a copy drifts from a
    replay from scratch, and then the cache would change results.
    """
    clone = object.__new__(type(engine))
    for name, value in vars(engine).items():
        nested = type(value).__module__.split(".")[0] == "cmaes"
        setattr(clone, name, _clone(value) if nested else copy.deepcopy(value))
    return clone


def _truncated_normal(
    mean: float, std: float, low: float, high: float, rng: np.random.Generator
) -> float:
    """A draw from N(mean, std^2) restricted to [low, high], by inverting the CDF.

    The interval is mirrored into the lower tail, where the CDF keeps its precision;
    when even there it holds no representable mass, the end nearest the mean is used.
    """
    from scipy.special import ndtr, ndtri

    u = float(rng.random())
    if std <= 0.0:
        return min(max(mean, low), high)
    a, b = (low - mean) / std, (high - mean) / std
    flip = a > 0.0
    if flip:
        a, b = -b, -a
    pa, pb = float(ndtr(a)), float(ndtr(b))
    if not pb > pa:
        z = b  # all of [a, b] is far in the lower tail; b is the end nearest the mean
    else:
        z = float(ndtri(pa + u * (pb - pa)))
        z = min(max(z, a), b)
    return mean + std * (-z if flip else z)


@dataclass(frozen=True)
class _Entry:
    """A cached replay: the exact trial records it was told, and the engine after them.

    ``context`` holds everything else the state depends on: space fingerprint, study
    seed, population size and the primary metric (which orients the losses).
    """

    context: tuple[str, int, int, tuple[Metric, ...]]
    trials: tuple[FrozenTrial, ...]
    engine: Any


def _tagged(config: Mapping[str, Any]) -> list[tuple[str, type, Any]]:
    # 1 == True in Python, but an ordinal may hold both; compare types too.
    return [(k, type(v), v) for k, v in config.items()]


def _is_prefix(told: tuple[FrozenTrial, ...], trials: tuple[FrozenTrial, ...]) -> bool:
    """Whether ``told`` are the first trials of ``trials``, record for record.

    Snapshots of one study share their unchanged trial objects, so identity settles
    almost every comparison; otherwise number, state, values and config must match
    exactly (stricter than needed; a miss only costs a replay).
    """
    if len(told) > len(trials):
        return False
    for a, b in zip(told, trials, strict=False):
        if a is b:
            continue
        if (
            a.number != b.number
            or a.state is not b.state
            or a.values != b.values
            or _tagged(a.config) != _tagged(b.config)
        ):
            return False
    return True


@dataclass(frozen=True)
class _Replay:
    """A replayed engine and how far into the history it got."""

    engine: Any
    generations: int  # complete generations consumed (told or skipped)


@dataclass(frozen=True)
class CMAES:
    """CMA-ES, with margin for integer and other discrete numeric parameters.

    Uses ``cmaes.CMAwM`` when the space has ints, stepped floats or ordinals and
    ``cmaes.CMA`` otherwise, rebuilding its state from the history on every call (see
    the module docstring), so proposals are a pure function of (space, history, rng).

    Categorical parameters are not modelled by CMA-ES. They are taken from the best
    completed trial, each replaced by a uniformly random choice with probability
    ``categorical_explore`` (and random while no trial has completed, or when the
    best trial did not have the parameter). CMA-ES then sees the categorical choice
    as noise on its objective; for searches where categoricals matter most, prefer
    ``tpe``. Every numeric parameter always has a CMA-ES coordinate; the decoded
    proposal drops whatever its own values make inactive.

    Failed trials are told with the worst loss of their generation's completed
    trials (ranked after all of them); a generation in which every trial failed
    teaches nothing and is skipped, leaving the distribution as it was.

    Reasons read ``"CMA-ES gen 4 (sigma=0.012)"``: the generation of the proposed
    trial and the typical standard deviation of one coordinate in the unit cube
    (CMA-ES's ``sigma`` times the root mean of ``diag(C)``), plus how many earlier
    generations were still running when it was proposed.

    Args:
        popsize: trials per generation (at least 4); default ``4 + floor(3 ln d)``
            for ``d`` modelled dimensions, as in CMA-ES.
        sigma0: initial step size in the unit cube.
        start: initial mean: ``"center"`` of the unit cube or the space's
            ``"default"`` values (declared defaults, else the middle of each range).
        categorical_explore: probability that a categorical is drawn at random
            instead of copied from the best trial.
        margin: CMAwM's margin (probability floor of leaving an integer's cell);
            default ``1 / (d * popsize)``.

    Example:
        >>> import numpy as np
        >>> from hypertrail import Float, Int, Space
        >>> from hypertrail.history import History
        >>> space = Space({"x": Float(0.0, 1.0), "k": Int(1, 5)})
        >>> CMAES().propose(space, History(0, (), (), 0), np.random.default_rng(0))[0].reason
        'CMA-ES gen 0 (sigma=0.2)'
    """

    name: ClassVar[str] = "cmaes"
    popsize: int | None = None
    sigma0: float = 0.2
    start: str = "center"
    categorical_explore: float = 0.1
    margin: float | None = None
    _cache: list[_Entry] = field(default_factory=list, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.popsize is not None and (
            isinstance(self.popsize, bool) or not isinstance(self.popsize, int) or self.popsize < 4
        ):
            # Below 4, CMA-ES recombines a single parent and its rank-mu rate is zero.
            raise ValueError(f"popsize must be an integer of at least 4, got {self.popsize!r}")
        if not (_is_real(self.sigma0) and 0.0 < self.sigma0 <= 1.0):
            raise ValueError(f"sigma0 must be in (0, 1] (the unit cube), got {self.sigma0!r}")
        if self.start not in _STARTS:
            raise ValueError(f"start must be one of {', '.join(_STARTS)}, got {self.start!r}")
        if not (_is_real(self.categorical_explore) and 0.0 <= self.categorical_explore <= 1.0):
            raise ValueError(
                f"categorical_explore must be in [0, 1], got {self.categorical_explore!r}"
            )
        if self.margin is not None and not (_is_real(self.margin) and 0.0 < self.margin < 0.5):
            raise ValueError(f"margin must be in (0, 0.5), got {self.margin!r}")

    def check(self, space: Space) -> None:
        """CMA-ES needs at least one numeric parameter to search."""
        if not _Layout.of(space).modelled:
            raise OptimizerError(
                "CMA-ES needs at least one numeric (float, int or ordinal) parameter; "
                "this space has only categorical or fixed ones (use tpe or random)"
            )

    def population_size(self, space: Space) -> int:
        """Trials per generation for ``space``."""
        if self.popsize is not None:
            return self.popsize
        d = len(_Layout.of(space).modelled)
        return 4 + math.floor(3 * math.log(max(d, 1)))

    # --- replay ----------------------------------------------------------------------

    def _new_engine(self, layout: _Layout, popsize: int, seed: int) -> Any:
        import cmaes

        bounds = layout.bounds()
        if self.start == "default":
            mean = np.clip(layout.defaults, bounds[:, 0], bounds[:, 1])
        else:
            mean = np.full(len(layout.modelled), 0.5)
        # The library's generator is never used (we sample ourselves); it is seeded
        # from the study anyway so that nothing in the object depends on entropy.
        seed = RngKey(seed, 0, "cmaes").integer_seed()
        if layout.discrete.any():
            steps = np.where(layout.discrete, 1.0 / np.maximum(layout.cells, 1.0), 0.0)
            return cmaes.CMAwM(
                mean=mean,
                sigma=self.sigma0,
                bounds=bounds,
                steps=steps,
                seed=seed,
                population_size=popsize,
                margin=self.margin,
            )
        return cmaes.CMA(
            mean=mean, sigma=self.sigma0, bounds=bounds, seed=seed, population_size=popsize
        )

    @staticmethod
    def _told_point(
        layout: _Layout, config: Mapping[str, Any], gauss: _Gaussian, rng: np.random.Generator
    ) -> np.ndarray:
        """The point CMA-ES is told for ``config``; see "what is told" in the module doc."""
        std = gauss.std
        x = np.empty(len(layout.modelled))
        for j, param in enumerate(layout.params):
            m, s = float(gauss.mean[j]), float(std[j])
            if param.name not in config:
                low, high = (-math.inf, math.inf) if layout.discrete[j] else (0.0, 1.0)
                x[j] = _truncated_normal(m, s, low, high, rng)
            elif layout.discrete[j]:
                k = int(layout.cells[j])
                cell = min(int(param.domain.to_unit(config[param.name]) * k), k - 1)
                a = float(gauss.margin_scale[j])  # sampled x encodes as m + a (x - m)
                low = -math.inf if cell == 0 else m + (cell / k - m) / a
                high = math.inf if cell == k - 1 else m + ((cell + 1) / k - m) / a
                x[j] = _truncated_normal(m, s, low, high, rng)
            elif isinstance(param.domain, Int):  # log scale: integer v owns [v - 0.5, v + 0.5)
                value = int(config[param.name])
                low, high = param.domain.to_unit(value - 0.5), param.domain.to_unit(value + 0.5)
                x[j] = _truncated_normal(m, s, low, high, rng)
            else:
                x[j] = param.domain.to_unit(config[param.name])
        return x

    def _solutions(
        self, block: Sequence[FrozenTrial], layout: _Layout, history: History, engine: Any
    ) -> list[tuple[np.ndarray, float]]:
        """What one complete generation tells CMA-ES: ``(x, loss)`` per trial.

        Failed trials get the worst loss of the generation's completed trials; they
        come last, and the library's sort is stable, so they rank after a completed
        trial with that same loss. Empty when every trial failed (nothing to learn).
        """
        done = [t for t in block if t.state is TrialState.COMPLETE]
        if not done:
            return []
        gauss = _gaussian(engine)
        losses = [history.loss(t) for t in done]
        worst = max(losses)
        failed = [t for t in block if t.state is not TrialState.COMPLETE]
        ranked = [*zip(done, losses, strict=True), *((t, worst) for t in failed)]
        return [
            (
                self._told_point(
                    layout,
                    t.config,
                    gauss,
                    RngKey(history.seed, t.number, _PURPOSE_IMPUTE).generator(),
                ),
                loss,
            )
            for t, loss in ranked
        ]

    def _replay(self, space: Space, layout: _Layout, history: History, popsize: int) -> _Replay:
        """The engine told every complete generation up to the first incomplete one."""
        context = (space.fingerprint, history.seed, popsize, history.metrics[:1])
        trials = history.trials
        with self._lock:
            base: _Entry | None = None
            for entry in sorted(self._cache, key=lambda e: -len(e.trials)):
                if entry.context == context and _is_prefix(entry.trials, trials):
                    base = entry
                    self._cache.remove(entry)
                    self._cache.append(entry)  # most recently used last
                    break
            told = len(base.trials) if base is not None else 0
            end = told
            while end + popsize <= len(trials) and all(
                t.state is not TrialState.RUNNING for t in trials[end : end + popsize]
            ):
                end += popsize
            if base is not None and end == told:
                return _Replay(base.engine, told // popsize)  # read-only from here on
            engine = (
                _clone(base.engine)
                if base is not None
                else self._new_engine(layout, popsize, history.seed)
            )
            for start in range(told, end, popsize):
                block = trials[start : start + popsize]
                solutions = self._solutions(block, layout, history, engine)
                if solutions:
                    engine.tell(solutions)
            self._cache.append(_Entry(context, tuple(trials[:end]), engine))
            del self._cache[:-_CACHE_SIZE]
            return _Replay(engine, end // popsize)

    # --- proposing -------------------------------------------------------------------

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        layout = _Layout.of(space)
        if not layout.modelled:
            return [Proposal(space.sample(rng), "CMA-ES: nothing numeric to search; random")]
        popsize = self.population_size(space)
        replay = self._replay(space, layout, history, popsize)
        gauss = _gaussian(replay.engine)
        if not (np.isfinite(gauss.sigma) and np.all(np.isfinite(gauss.mean))):
            # Not seen with the imputation above, but a numerically broken state must
            # not become an invalid proposal.
            reason = "CMA-ES state is not finite; random"
            return [Proposal(space.sample(rng), reason) for _ in range(n)]
        spread = gauss.spread
        best = history.best()
        anchor = best.config if best is not None else {}
        out = []
        for number in range(history.next_number, history.next_number + n):
            generation = number // popsize
            behind = generation - replay.generations
            pending = f", {behind} earlier gen{'s' if behind > 1 else ''} pending" if behind else ""
            reason = f"CMA-ES gen {generation} (sigma={spread:.3g}{pending})"
            for _ in range(_FEASIBLE_TRIES):
                config = space.decode(self._sample(layout, gauss, anchor, rng))
                if space.is_feasible(config):
                    out.append(Proposal(config, reason))
                    break
            else:
                out.append(Proposal(space.sample(rng), f"{reason}: samples infeasible; random"))
        return out

    def _sample(
        self,
        layout: _Layout,
        gauss: _Gaussian,
        anchor: Mapping[str, Any],
        rng: np.random.Generator,
    ) -> list[float]:
        """One point of the unit cube: CMA-ES coordinates plus categorical choices."""
        continuous = ~layout.discrete
        for _ in range(_RESAMPLE):
            x = gauss.mean + gauss.sigma * (gauss.bd @ rng.standard_normal(len(gauss.mean)))
            if np.all((x[continuous] >= 0.0) & (x[continuous] <= 1.0)):
                break
        else:
            x = np.where(continuous, np.clip(x, 0.0, 1.0), x)
        # CMAwM's encoding of the discrete coordinates: stretch by A around the mean;
        # the domain's from_unit then picks the cell, i.e. the nearest value.
        x = np.where(layout.discrete, gauss.mean + gauss.margin_scale * (x - gauss.mean), x)
        unit = [0.5] * len(layout.dims)  # constant dimensions decode to their one value
        for j, i in enumerate(layout.modelled):
            unit[i] = float(min(max(x[j], 0.0), 1.0))
        modelled = set(layout.modelled)
        for i, param in enumerate(layout.dims):
            if i in modelled or param.domain.cardinality() == 1:
                continue
            explore = rng.random() < self.categorical_explore
            value = anchor.get(param.name)
            if explore or param.name not in anchor or not param.domain.contains(value):
                value = param.domain.sample(rng)
            unit[i] = param.domain.to_unit(value)
        return unit


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

"""TPE: tree-structured Parzen estimators for mixed and conditional spaces.

Completed trials are split by loss into a small "good" group and the rest; failed
trials and (as a constant liar) running ones join the rest, so that a failure
region and the points other workers are evaluating are avoided. Each group becomes
a kernel density over the unit-cube encoding of the space; candidates are drawn
from the good density and the one with the largest ``log l(x) - log g(x)`` wins.

Conditional parameters need no special case: a kernel factor is applied only on
dimensions active in both the candidate and the observation; where the candidate
has a dimension the observation lacks, the factor is the uniform prior density, so
the observation neither helps nor hurts there. Sampling from the good density walks
the space in its topological order, so a sampled candidate always has exactly the
active set its own values imply.

``multivariate=True`` (default) uses joint kernels (one component per observation
across all dimensions); ``False`` uses a product of per-dimension densities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hypertrail.optimizers._encoding import EncodingCache
from hypertrail.optimizers.base import Proposal
from hypertrail.space.params import Categorical, Ordinal
from hypertrail.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from hypertrail.history import History
    from hypertrail.space.space import Param, Space

__all__ = ["TPE"]

_LOG_EPS = -700.0
_SIGMA0 = 0.2  # kernel width on the unit interval before shrinking with n
_CAT_SMOOTHING = 0.2  # mass a categorical kernel spreads over the other choices


def _is_categorical(param: Param) -> bool:
    return isinstance(param.domain, Categorical) and not isinstance(param.domain, Ordinal)


@dataclass(frozen=True)
class _Layout:
    """How each searched dimension is encoded: unit coordinate or category index."""

    params: tuple[Param, ...]
    categorical: np.ndarray  # bool per dimension
    sizes: np.ndarray  # number of categories (1 for numeric dimensions)

    @classmethod
    def of(cls, space: Space) -> _Layout:
        params = space.dimensions
        categorical = np.array([_is_categorical(p) for p in params], dtype=bool)
        sizes = np.array(
            [p.domain.cardinality() if c else 1 for p, c in zip(params, categorical, strict=True)],
            dtype=float,
        )
        return cls(params, categorical, sizes)

    def encode(self, config: dict[str, Any] | Any) -> np.ndarray:
        row = np.full(len(self.params), np.nan)
        for i, param in enumerate(self.params):
            if param.name in config:
                value = config[param.name]
                domain = param.domain
                if self.categorical[i]:
                    assert isinstance(domain, Categorical)
                    row[i] = domain.index(value)
                else:
                    row[i] = domain.to_unit(value)
        return row


def _log_norm_cdf_interval(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """log of the normal mass on [0, 1] (truncation normalizer)."""
    from scipy.special import ndtr

    mass = ndtr((1.0 - mu) / sigma) - ndtr((0.0 - mu) / sigma)
    out: np.ndarray = np.log(np.maximum(mass, 1e-300))
    return out


@dataclass
class _Density:
    """A weighted mixture of kernels over observations, plus a uniform prior."""

    rows: np.ndarray  # (n, d), NaN where inactive
    sigma: np.ndarray  # (d,) kernel widths for numeric dimensions
    layout: _Layout
    prior_weight: float

    def __post_init__(self) -> None:
        cat = self.layout.categorical
        self._num = self.rows[:, ~cat]
        self._cat = self.rows[:, cat]
        self._sigma_num = self.sigma[~cat]
        self._k = self.layout.sizes[cat]
        # Per observation and numeric dimension: log of the kernel's normalizer
        # (Gaussian constant and the mass it keeps inside [0, 1]).
        self._log_norm = np.log(self._sigma_num * math.sqrt(2 * math.pi)) + _log_norm_cdf_interval(
            np.nan_to_num(self._num), self._sigma_num
        )

    def _factors(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per point, observation and dimension: log kernel factor (m, n, d_num), (m, n, d_cat).

        A factor is 0 where the point lacks the dimension; where only the
        observation lacks it, the factor is the uniform prior's log density
        (0 for numeric dimensions on [0, 1], -log k for a categorical).
        """
        cat = self.layout.categorical
        xn = points[:, ~cat][:, None, :]
        z = (xn - self._num[None, :, :]) / self._sigma_num
        # NaN exactly where the point or the observation lacks the dimension: both 0.
        num = np.nan_to_num(-0.5 * z * z - self._log_norm[None, :, :], nan=0.0)
        xc = points[:, cat][:, None, :]
        oc = self._cat[None, :, :]
        lam = _CAT_SMOOTHING
        k = self._k
        with np.errstate(invalid="ignore"):
            log_cat = np.where(xc == oc, np.log(1 - lam + lam / k), np.log(lam / k))
        log_cat = np.where(np.isnan(oc), -np.log(k), log_cat)
        log_cat = np.where(np.isnan(xc), 0.0, log_cat)
        return num, log_cat

    def log_pdf(self, points: np.ndarray, joint: bool) -> np.ndarray:
        """log density of each point (m, d); inactive dims of a point are skipped."""
        cat = self.layout.categorical
        num, log_cat = self._factors(points)
        n = self.rows.shape[0]
        x_active = ~np.isnan(points)
        log_prior = np.where(cat, -np.log(self.layout.sizes), 0.0)
        prior_point = np.where(x_active, log_prior, 0.0)  # (m, d)
        if joint:
            comp = num.sum(axis=2) + log_cat.sum(axis=2) + math.log(1.0 / (n + self.prior_weight))
            prior = prior_point.sum(axis=1) + math.log(self.prior_weight / (n + self.prior_weight))
            return _logsumexp(np.concatenate([comp, prior[:, None]], axis=1), axis=1)
        # Product of per-dimension mixtures; each uses the observations active there.
        factor = np.empty((points.shape[0], n, len(cat)))
        factor[:, :, ~cat] = num
        factor[:, :, cat] = log_cat
        o_active = ~np.isnan(self.rows)[None, :, :]
        counts = o_active.sum(axis=1)[0]  # (d,)
        masked = np.where(o_active, factor, _LOG_EPS * 4)
        denom = np.log(counts + self.prior_weight)
        per_dim = np.logaddexp(
            _logsumexp(masked, axis=1) - denom,
            prior_point + np.log(self.prior_weight) - denom,
        )
        total: np.ndarray = np.where(x_active, per_dim, 0.0).sum(axis=1)
        return total


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out: np.ndarray = np.log(np.sum(np.exp(a - top), axis=axis)) + np.squeeze(top, axis=axis)
    return out


@dataclass(frozen=True)
class TPE:
    """Tree-structured Parzen estimator over mixed, conditional spaces.

    Args:
        n_startup: completed trials drawn at random before the model is used.
        n_candidates: candidates drawn from the good density per proposal.
        gamma: fraction of completed trials in the good group (at most ``max_good``).
        max_good: cap on the size of the good group.
        multivariate: joint kernels (True) or a product of 1-D densities (False).
        prior_weight: weight of the uniform prior component in each density.
        constant_liar: count running trials as bad, so parallel workers spread out.
    """

    name: ClassVar[str] = "tpe"
    n_startup: int = 10
    n_candidates: int = 24
    gamma: float = 0.1
    max_good: int = 25
    multivariate: bool = True
    prior_weight: float = 1.0
    constant_liar: bool = True
    _cache: EncodingCache = field(
        default_factory=EncodingCache, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.n_startup < 1 or self.n_candidates < 1 or self.max_good < 1:
            raise ValueError("n_startup, n_candidates and max_good must be at least 1")
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma}")
        if self.prior_weight <= 0:
            raise ValueError("prior_weight must be positive")

    def check(self, space: Space) -> None:
        """TPE works on every valid space."""

    # --- data ------------------------------------------------------------------------

    def _rows(self, space: Space, layout: _Layout, trials: list[FrozenTrial]) -> np.ndarray:
        return self._cache.rows(space.fingerprint, trials, layout.encode, len(layout.params))

    def _split(self, history: History) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
        complete = sorted(history.completed(), key=lambda t: (history.loss(t), t.number))
        n_good = min(math.ceil(self.gamma * len(complete)), self.max_good)
        n_good = max(n_good, 1)
        good = complete[:n_good]
        bad = complete[n_good:] + [t for t in history.trials if t.state is TrialState.FAILED]
        if self.constant_liar:
            bad += history.running()
        return good, bad

    def _sigma(self, n: int, d: int) -> np.ndarray:
        width = (
            _SIGMA0 * max(n, 1) ** (-1.0 / (d + 4))
            if self.multivariate
            else (_SIGMA0 * max(n, 1) ** (-1.0 / 5))
        )
        return np.full(d, max(width, 0.005))

    # --- proposing -------------------------------------------------------------------

    def propose(
        self, space: Space, history: History, rng: np.random.Generator, n: int = 1
    ) -> list[Proposal]:
        completed = history.completed()
        if len(completed) < self.n_startup or not space.dimensions:
            reason = f"TPE startup: random ({len(completed)}/{self.n_startup})"
            return [Proposal(space.sample(rng), reason) for _ in range(n)]
        layout = _Layout.of(space)
        good, bad = self._split(history)
        d = len(layout.params)
        good_density = _Density(
            self._rows(space, layout, good), self._sigma(len(good), d), layout, self.prior_weight
        )
        bad_density = _Density(
            self._rows(space, layout, bad), self._sigma(len(bad), d), layout, self.prior_weight
        )
        out = []
        for _ in range(n):
            candidates = [
                self._sample(space, layout, good_density, rng) for _ in range(self.n_candidates)
            ]
            points = np.vstack([layout.encode(c) for c in candidates])
            score = good_density.log_pdf(points, self.multivariate) - bad_density.log_pdf(
                points, self.multivariate
            )
            best = int(np.argmax(score))
            out.append(Proposal(candidates[best], f"TPE log l/g={score[best]:.3g}"))
        return out

    def _sample(
        self, space: Space, layout: _Layout, good: _Density, rng: np.random.Generator
    ) -> dict[str, Any]:
        n = good.rows.shape[0]
        index = {p.name: i for i, p in enumerate(layout.params)}
        for _ in range(100):
            total = n + self.prior_weight
            # One component for the whole candidate (joint), or one per dimension.
            component = int(rng.choice(n + 1, p=[*([1 / total] * n), self.prior_weight / total]))
            config: dict[str, Any] = {}
            for param in space.params:
                if param.condition is not None and not param.condition.holds(config):
                    continue
                i = index.get(param.name)
                if i is None:  # fixed
                    config[param.name] = param.domain.default_value()
                    continue
                j = component
                if not self.multivariate:
                    j = int(rng.choice(n + 1, p=[*([1 / total] * n), self.prior_weight / total]))
                center = good.rows[j, i] if j < n else math.nan
                config[param.name] = self._draw(param, layout, i, center, good.sigma[i], rng)
            if space.is_feasible(config):
                return config
        return space.sample(rng)

    @staticmethod
    def _draw(
        param: Param, layout: _Layout, i: int, center: float, sigma: float, rng: np.random.Generator
    ) -> Any:
        domain = param.domain
        if math.isnan(center):
            return domain.sample(rng)
        if layout.categorical[i]:
            assert isinstance(domain, Categorical)
            k = len(domain.choices)
            if rng.random() < _CAT_SMOOTHING * (k - 1) / k:
                others = [c for c in range(k) if c != int(center)]
                return domain.choices[others[int(rng.integers(len(others)))]]
            return domain.choices[int(center)]
        for _ in range(64):  # truncated normal by rejection; the mass on [0,1] is large
            u = rng.normal(center, sigma)
            if 0.0 <= u < 1.0:
                return domain.from_unit(float(u))
        return domain.from_unit(float(min(max(center, 0.0), 1.0 - 1e-12)))

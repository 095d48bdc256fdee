"""Parameter importance of a finished study: fANOVA, a quick estimate, local sensitivity.

Pure functions over a space, its trials and a metric; nothing here reads storage.

:func:`importance` answers "which parameters decide the loss, over the whole space?"
It fits random forests to the completed trials and decomposes their predictions with
functional ANOVA (Hutter, Hoos and Leyton-Brown, ICML 2014): a parameter's *share* is
the part of the loss variance that its main effect, the forest's prediction averaged
over every other parameter, explains. The ``quick`` method is a cheap stand-in for
huge studies or installs without scikit-learn. :func:`sensitivity` answers the local
question: around the best configuration, how much does each parameter still matter?

Conditional parameters are rated on the trials where they are active. Parameters are
grouped by the set of trials in which they are active; each group gets its own forest,
fitted on its trials, and reports its own members. A conditional parameter's share is
therefore a share of the loss variance *among the trials where it is active*, so
shares of parameters from different groups do not add up to one together. Every
forest sees every parameter that is active in some of its trials; where one is
inactive, its value is drawn uniformly (seeded), which is what "it has no effect
there" means under the uniform measure the decomposition integrates over. Interactions
come only from the all-trials forest, and only pair parameters active in every trial.

scikit-learn is imported only inside the functions that fit forests; importing this
module costs numpy alone.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hypertrail.space.params import Categorical
from hypertrail.trial import FrozenTrial, Metric, TrialState

if TYPE_CHECKING:
    from hypertrail.space.space import Param, Space

__all__ = [
    "IMPORTANCE_SCHEMA_VERSION",
    "ImportanceResult",
    "Interaction",
    "ParamImportance",
    "Sensitivity",
    "importance",
    "sensitivity",
]

IMPORTANCE_SCHEMA_VERSION = 1
METHODS = ("auto", "fanova", "quick")
# Below this many trials a forest or a correlation says nothing worth printing.
MIN_TRIALS = 5
# Leaves of at least two trials: a forest that isolates single trials fits their
# noise, and that noise then shows up as importance of irrelevant parameters.
_MIN_SAMPLES_LEAF = 2
# A subsample keeps this fraction of its budget for the best trials, so the region
# that matters most to the user is always in the fit; the rest is drawn at random.
_BEST_FRACTION = 0.25
# Inactive parameters get a code outside [0, 1] in the sensitivity forest, so a tree
# can split "inactive" from every active value.
_INACTIVE = -1.0
_GRID_POINTS = 11
# Discrete numeric domains with at most this many values are swept value by value.
_MAX_DISCRETE_GRID = 32
_QUICK_BINS = 10


@dataclass(frozen=True)
class ParamImportance:
    """How much one parameter's main effect explains of the loss variance.

    Attributes:
        name: the parameter's flat name.
        share: main-effect share of the loss variance, in [0, 1]. For a conditional
            parameter, the variance is that of the trials where it is active.
        std: spread of the share across the forest's trees (0 for ``quick``).
        trials: how many trials it was computed on (those where it is active).
        conditional: True when the parameter was inactive in some analysed trial.

    Example:
        >>> ParamImportance("lr", 0.62, 0.05, 120, False).share
        0.62
    """

    name: str
    share: float
    std: float
    trials: int
    conditional: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "share": self.share,
            "std": self.std,
            "trials": self.trials,
            "conditional": self.conditional,
        }


@dataclass(frozen=True)
class Interaction:
    """The share of the loss variance that two parameters explain only together.

    It is the variance of the pair's joint marginal minus both main effects, so a
    loss that is a sum of one-parameter terms has no interaction at all.

    Example:
        >>> Interaction("lr", "batch_size", 0.08).share
        0.08
    """

    a: str
    b: str
    share: float

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "share": self.share}


@dataclass(frozen=True)
class ImportanceResult:
    """Importance of every rated parameter of a study, with the caveats that apply.

    Attributes:
        method: ``"fanova"`` or ``"quick"`` (what actually ran, never ``"auto"``).
        params: sorted by share, descending, then by name.
        interactions: pairs of always-active parameters, sorted by share, descending.
        n_trials: how many complete trials were analysed (after any subsampling).
        note: human-readable caveats, ``"; "``-separated; empty when there are none.

    Example:
        >>> result = ImportanceResult("quick", (), (), 3, "too few trials")
        >>> ImportanceResult.from_json(result.to_json()) == result
        True
    """

    method: str
    params: tuple[ParamImportance, ...]
    interactions: tuple[Interaction, ...]
    n_trials: int
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": IMPORTANCE_SCHEMA_VERSION,
            "method": self.method,
            "params": [p.to_json() for p in self.params],
            "interactions": [i.to_json() for i in self.interactions],
            "n_trials": self.n_trials,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportanceResult:
        """The result :meth:`to_json` wrote.

        Raises:
            ValueError: for a schema version this code does not know.
        """
        version = data.get("schema_version")
        if version != IMPORTANCE_SCHEMA_VERSION:
            raise ValueError(f"unknown importance schema_version {version!r}")
        return cls(
            method=str(data["method"]),
            params=tuple(
                ParamImportance(
                    str(p["name"]),
                    float(p["share"]),
                    float(p["std"]),
                    int(p["trials"]),
                    bool(p["conditional"]),
                )
                for p in data["params"]
            ),
            interactions=tuple(
                Interaction(str(i["a"]), str(i["b"]), float(i["share"]))
                for i in data["interactions"]
            ),
            n_trials=int(data["n_trials"]),
            note=str(data["note"]),
        )


@dataclass(frozen=True)
class Sensitivity:
    """The forest's predicted metric along one parameter, all others held at a config.

    Attributes:
        name: the parameter's flat name.
        values: the grid of this parameter's values (all values of a categorical or
            small discrete domain; otherwise 11 points spanning its range in its own
            scale, geometric for log ranges).
        predicted: the predicted metric value (not the loss: a maximized metric is
            reported as is) at each grid value.
        delta: the largest predicted worsening of the metric over the grid relative
            to the prediction at the config itself; >= 0, in the metric's units.

    Example:
        >>> s = Sensitivity("x", [0.0, 1.0], [0.2, 0.9], 0.7)
        >>> s.delta
        0.7
    """

    name: str
    values: list[Any]
    predicted: list[float]
    delta: float

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "values": list(self.values),
            "predicted": list(self.predicted),
            "delta": self.delta,
        }


# --- data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    """Usable trials as arrays: unit-cube features (NaN when inactive) and the loss."""

    x: np.ndarray  # (n, d)
    loss: np.ndarray  # (n,)
    skipped: int  # complete trials left out: metric missing or not finite, bad config


def _usable(space: Space, trials: Sequence[FrozenTrial], metric: Metric) -> _Data:
    rows: list[list[float]] = []
    losses: list[float] = []
    skipped = 0
    for trial in trials:
        if trial.state is not TrialState.COMPLETE or not trial.values:
            continue
        value = trial.values.get(metric.name)
        if value is None or not math.isfinite(value):
            skipped += 1
            continue
        try:
            row = space.encode(trial.config)
        except (ValueError, TypeError):  # a value outside its domain: not this space's
            skipped += 1
            continue
        rows.append(row)
        losses.append(metric.sign * float(value))
    d = len(space.dimensions)
    x = np.array(rows, dtype=float).reshape(len(rows), d)
    return _Data(x, np.array(losses, dtype=float), skipped)


def _subsample(loss: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """Indices of at most ``budget`` trials: the best ones, then a seeded random draw."""
    order = np.argsort(loss, kind="stable")
    n_best = max(1, int(budget * _BEST_FRACTION))
    best = order[:n_best]
    rest = np.sort(order[n_best:])
    drawn = np.random.default_rng(seed).choice(rest, size=budget - n_best, replace=False)
    chosen: np.ndarray = np.sort(np.concatenate([best, drawn]))
    return chosen


def _groups(active: np.ndarray) -> list[tuple[np.ndarray, list[int]]]:
    """Dimensions grouped by the trials they are active in: ``(trial mask, dims)``.

    Groups come in the order of their first dimension, so results never depend on
    hashing or set iteration.
    """
    out: list[tuple[np.ndarray, list[int]]] = []
    index: dict[bytes, int] = {}
    for j in range(active.shape[1]):
        key = np.packbits(active[:, j]).tobytes()
        if key in index:
            out[index[key]][1].append(j)
        else:
            index[key] = len(out)
            out.append((active[:, j], [j]))
    return out


def _sklearn_available() -> bool:
    # find_spec instead of try/except ImportError: a broken install must fail loudly,
    # only a missing one selects the fallback.
    return importlib.util.find_spec("sklearn") is not None


# --- forests and their functional ANOVA ----------------------------------------------


def _forest(x: np.ndarray, y: np.ndarray, n_trees: int, seed: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(
        n_estimators=n_trees,
        min_samples_leaf=_MIN_SAMPLES_LEAF,
        max_features=1.0,
        bootstrap=True,
        random_state=seed,
        n_jobs=1,
    )
    forest.fit(x, y)
    return forest


@dataclass(frozen=True)
class _Tree:
    """One fitted tree as leaves: boxes in [0, 1]^d with their predicted loss."""

    lo: np.ndarray  # (leaves, d) lower corners
    hi: np.ndarray  # (leaves, d) upper corners
    value: np.ndarray  # (leaves,)
    cuts: tuple[np.ndarray, ...]  # per feature: 0, the tree's thresholds on it, 1
    mean: float
    variance: float


def _tree(estimator: Any, d: int) -> _Tree:
    """The leaves of a fitted sklearn tree, walked level by level with numpy."""
    t = estimator.tree_
    left = np.asarray(t.children_left)
    right = np.asarray(t.children_right)
    feature = np.asarray(t.feature)
    threshold = np.clip(np.asarray(t.threshold, dtype=float), 0.0, 1.0)
    value = np.asarray(t.value, dtype=float).reshape(t.node_count, -1)[:, 0]
    lo = np.zeros((t.node_count, d))
    hi = np.ones((t.node_count, d))
    frontier = np.array([0])
    while frontier.size:
        inner = frontier[left[frontier] >= 0]
        if not inner.size:
            break
        lc, rc, f, th = left[inner], right[inner], feature[inner], threshold[inner]
        lo[lc] = lo[inner]
        hi[lc] = hi[inner]
        lo[rc] = lo[inner]
        hi[rc] = hi[inner]
        hi[lc, f] = np.minimum(hi[lc, f], th)
        lo[rc, f] = np.maximum(lo[rc, f], th)
        frontier = np.concatenate([lc, rc])
    leaf = left < 0
    splits = ~leaf
    cuts = tuple(
        np.unique(np.concatenate([[0.0, 1.0], threshold[splits & (feature == j)]]))
        for j in range(d)
    )
    lo, hi, v = lo[leaf], hi[leaf], value[leaf]
    volume = np.prod(hi - lo, axis=1)
    mean = float(volume @ v)
    variance = float(volume @ (v - mean) ** 2)
    return _Tree(lo, hi, v, cuts, mean, variance)


def _widths_without(tree: _Tree, drop: Sequence[int]) -> np.ndarray:
    """Per leaf, the product of its widths on every feature except ``drop``."""
    widths = tree.hi - tree.lo
    keep = np.ones(widths.shape[1], dtype=bool)
    keep[list(drop)] = False
    out: np.ndarray = np.prod(widths[:, keep], axis=1)
    return out


def _main_variance(tree: _Tree, j: int) -> float:
    """Variance of the tree's marginal prediction along feature ``j`` alone.

    Each leaf spans a run of cells between consecutive cuts; adding its weighted value
    at the run's start and subtracting it at its end, then a running sum, gives the
    marginal of every cell in one pass (a difference array).
    """
    cuts = tree.cuts[j]
    k = len(cuts) - 1
    weight = tree.value * _widths_without(tree, [j])
    start = np.searchsorted(cuts, tree.lo[:, j])
    end = np.searchsorted(cuts, tree.hi[:, j])
    diff = np.bincount(start, weight, k + 1) - np.bincount(end, weight, k + 1)
    marginal = np.cumsum(diff)[:k]
    return float(np.diff(cuts) @ (marginal - tree.mean) ** 2)


def _pair_variance(tree: _Tree, j: int, e: int) -> float:
    """Variance of the tree's joint marginal over features ``j`` and ``e``."""
    cj, ce = tree.cuts[j], tree.cuts[e]
    kj, ke = len(cj) - 1, len(ce) - 1
    weight = tree.value * _widths_without(tree, [j, e])
    sj = np.searchsorted(cj, tree.lo[:, j])
    ej = np.searchsorted(cj, tree.hi[:, j])
    se = np.searchsorted(ce, tree.lo[:, e])
    ee = np.searchsorted(ce, tree.hi[:, e])
    size = (kj + 1) * (ke + 1)
    stride = ke + 1
    diff = (
        np.bincount(sj * stride + se, weight, size)
        - np.bincount(ej * stride + se, weight, size)
        - np.bincount(sj * stride + ee, weight, size)
        + np.bincount(ej * stride + ee, weight, size)
    ).reshape(kj + 1, ke + 1)
    marginal = np.cumsum(np.cumsum(diff, axis=0), axis=1)[:kj, :ke]
    area = np.outer(np.diff(cj), np.diff(ce))
    return float(np.sum(area * (marginal - tree.mean) ** 2))


@dataclass(frozen=True)
class _Fanova:
    """Per-tree shares of one forest: main effects and pairwise interactions."""

    main: dict[int, np.ndarray]  # feature -> share per tree with variance
    pairs: dict[tuple[int, int], np.ndarray]
    trees: int  # trees with a nonzero variance


def _fanova(
    x: np.ndarray,
    y: np.ndarray,
    features: Sequence[int],
    rated: Sequence[int],
    pairs: int,
    n_trees: int,
    seed: int,
) -> _Fanova:
    """Fit one forest on ``x[:, features]`` and decompose it.

    ``rated`` (a subset of ``features``) are the dimensions whose main effects are
    wanted; interactions are computed among the ``pairs`` most important of them.
    """
    local = {dim: i for i, dim in enumerate(features)}
    forest = _forest(x[:, list(features)], y, n_trees, seed)
    trees = [_tree(est, len(features)) for est in forest.estimators_]
    trees = [t for t in trees if t.variance > 0.0]
    main: dict[int, np.ndarray] = {}
    cache: dict[int, np.ndarray] = {}
    for dim in rated:
        v = np.array([_main_variance(t, local[dim]) for t in trees])
        cache[dim] = v
        main[dim] = np.clip(v / np.array([t.variance for t in trees]), 0.0, 1.0)
    pair_shares: dict[tuple[int, int], np.ndarray] = {}
    if pairs >= 2 and trees:
        top = sorted(rated, key=lambda dim: (-float(main[dim].mean()), dim))[:pairs]
        top.sort()
        total = np.array([t.variance for t in trees])
        for i, a in enumerate(top):
            for b in top[i + 1 :]:
                joint = np.array([_pair_variance(t, local[a], local[b]) for t in trees])
                pure = np.maximum(joint - cache[a] - cache[b], 0.0)
                pair_shares[(a, b)] = np.clip(pure / total, 0.0, 1.0)
    return _Fanova(main, pair_shares, len(trees))


# --- the two methods ----------------------------------------------------------------


def _run_fanova(
    space: Space,
    x: np.ndarray,
    y: np.ndarray,
    n_trees: int,
    seed: int,
    pairs: int,
    notes: list[str],
) -> tuple[list[ParamImportance], list[Interaction]]:
    dims = space.dimensions
    n = len(y)
    active = ~np.isnan(x)
    # An inactive parameter has no effect, so any value serves; drawing it uniformly
    # makes the data match the uniform measure the decomposition integrates over.
    # Leaving such columns out instead lets a forest explain the variance they
    # carry with the parameters it still has, which shows up as false importance
    # and false interactions of those.
    filled = np.where(active, x, np.random.default_rng(seed).random(x.shape))
    params: list[ParamImportance] = []
    interactions: list[Interaction] = []
    skipped: list[str] = []
    flat: list[str] = []
    for mask, members in _groups(active):
        size = int(mask.sum())
        if size < MIN_TRIALS:
            skipped.extend(dims[j].name for j in members)
            continue
        rows = np.flatnonzero(mask)
        features = [j for j in range(len(dims)) if active[rows, j].any()]
        everywhere = size == n
        result = _fanova(
            filled[rows],
            y[rows],
            features,
            members,
            pairs if everywhere else 0,
            n_trees,
            seed,
        )
        if result.trees == 0 and float(np.ptp(y)) > 0.0:
            flat.extend(dims[j].name for j in members)
        for j in members:
            shares = result.main[j]
            share = float(shares.mean()) if shares.size else 0.0
            std = float(shares.std()) if shares.size else 0.0
            params.append(ParamImportance(dims[j].name, share, std, size, not everywhere))
        for (a, b), shares in result.pairs.items():
            interactions.append(Interaction(dims[a].name, dims[b].name, float(shares.mean())))
    if skipped:
        notes.append(f"not rated, active in fewer than {MIN_TRIALS} trials: {', '.join(skipped)}")
    if flat:
        notes.append(f"the forest predicts a constant loss for {', '.join(flat)}: shares are 0")
    if any(p.conditional for p in params) or skipped:
        notes.append(
            "conditional parameters are rated on the trials where they are active, as "
            "shares of the loss variance among those trials"
            + ("; interactions pair always-active parameters only" if pairs >= 2 else "")
        )
    return params, interactions


def _adjusted_eta2(codes: np.ndarray, y: np.ndarray) -> float:
    """Correlation ratio of ``y`` grouped by ``codes``, corrected for its bias.

    Plain eta^2 grows with the number of groups even for noise; this is epsilon^2,
    (SS_between - (k - 1) MS_within) / SS_total, clipped at 0.
    """
    _, inverse = np.unique(codes, return_inverse=True)
    k = int(inverse.max()) + 1
    n = len(y)
    total = float(np.sum((y - y.mean()) ** 2))
    if k < 2 or n <= k or total <= 0.0:
        return 0.0
    counts = np.bincount(inverse, minlength=k)
    means = np.bincount(inverse, y, minlength=k) / counts
    between = float(counts @ (means - y.mean()) ** 2)
    within = total - between
    return max(0.0, (between - (k - 1) * within / (n - k)) / total)


def _quick_codes(param: Param, u: np.ndarray) -> np.ndarray:
    """Groups for the correlation ratio: values of a choice, quantile bins of a number."""
    if isinstance(param.domain, Categorical) or len(np.unique(u)) <= _QUICK_BINS:
        return u
    bins = min(_QUICK_BINS, max(2, len(u) // MIN_TRIALS))
    edges = np.quantile(u, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    codes: np.ndarray = np.searchsorted(edges, u, side="right")
    return codes


def _run_quick(
    space: Space, x: np.ndarray, y: np.ndarray, notes: list[str]
) -> list[ParamImportance]:
    n = len(y)
    raw: list[tuple[str, float, int]] = []
    skipped: list[str] = []
    for j, param in enumerate(space.dimensions):
        rows = ~np.isnan(x[:, j])
        size = int(rows.sum())
        if size < MIN_TRIALS:
            skipped.append(param.name)
            continue
        raw.append((param.name, _adjusted_eta2(_quick_codes(param, x[rows, j]), y[rows]), size))
    total = sum(score for _, score, _ in raw)
    scale = 1.0 / total if total > 0.0 else 0.0
    if skipped:
        notes.append(f"not rated, active in fewer than {MIN_TRIALS} trials: {', '.join(skipped)}")
    notes.append(
        "quick method: bias-corrected correlation ratio of the loss by each parameter's "
        "value (numbers in quantile bins), normalized to sum to 1; no interactions"
    )
    return [ParamImportance(name, s * scale, 0.0, size, size < n) for name, s, size in raw]


def importance(
    space: Space,
    trials: Sequence[FrozenTrial],
    metric: Metric,
    *,
    method: str = "auto",
    max_trials: int = 2000,
    n_trees: int = 64,
    seed: int = 0,
    pairs: int = 8,
) -> ImportanceResult:
    """How much each searched parameter matters to ``metric`` over the whole space.

    Args:
        space: the study's space; its searched parameters are rated.
        trials: the study's trials; only complete ones with a finite value of
            ``metric`` count.
        metric: the metric to explain; its sign turns it into a loss.
        method: ``"fanova"`` (random forests, functional ANOVA), ``"quick"``
            (correlation ratios, no interactions) or ``"auto"`` (fanova when
            scikit-learn is installed, else quick, with a note).
        max_trials: fanova on a larger study uses this many trials: the best quarter
            of this budget, the rest drawn at random with ``seed``.
        n_trees: trees per forest.
        seed: seeds the forests and the subsample; equal inputs, equal results.
        pairs: interactions are computed among this many of the most important
            always-active parameters (0 for none).

    Returns:
        The shares, with caveats in ``note``. Fewer than 5 usable trials give no
        shares and a note, not an error.

    Raises:
        ValueError: for an unknown method or a nonsensical budget.
        ImportError: for ``method="fanova"`` without scikit-learn.

    Example:
        >>> import numpy as np
        >>> from hypertrail import Float, FrozenTrial, Metric, Space, TrialState
        >>> space = Space({"x": Float(0, 1), "y": Float(0, 1)})
        >>> rng = np.random.default_rng(0)
        >>> configs = [space.sample(rng) for _ in range(50)]
        >>> trials = [FrozenTrial(i, TrialState.COMPLETE, c, {"loss": c["x"]})
        ...           for i, c in enumerate(configs)]
        >>> result = importance(space, trials, Metric("loss", "minimize"), method="quick")
        >>> result.params[0].name
        'x'
    """
    if method not in METHODS:
        raise ValueError(f"unknown importance method {method!r}; use one of {', '.join(METHODS)}")
    if max_trials < MIN_TRIALS:
        raise ValueError(f"max_trials must be at least {MIN_TRIALS}, got {max_trials}")
    if n_trees < 1:
        raise ValueError(f"n_trees must be at least 1, got {n_trees}")
    if pairs < 0:
        raise ValueError(f"pairs must be 0 or more, got {pairs}")
    notes: list[str] = []
    if method == "auto":
        method = "fanova" if _sklearn_available() else "quick"
        if method == "quick":
            notes.append("scikit-learn is not installed: used the quick method instead of fanova")
    elif method == "fanova" and not _sklearn_available():
        raise ImportError("importance method 'fanova' needs scikit-learn: pip install scikit-learn")
    data = _usable(space, trials, metric)
    if data.skipped:
        notes.append(
            f"left out {data.skipped} complete trials without a finite {metric.name!r} "
            "or with a config outside the space"
        )
    x, y = data.x, data.loss
    if len(y) < MIN_TRIALS:
        notes.append(
            f"only {len(y)} usable complete trials; importance needs at least {MIN_TRIALS}"
        )
        return ImportanceResult(method, (), (), len(y), "; ".join(notes))
    if method == "fanova" and len(y) > max_trials:
        keep = _subsample(y, max_trials, seed)
        notes.append(
            f"subsampled {max_trials} of {len(y)} trials: the best "
            f"{max(1, int(max_trials * _BEST_FRACTION))} and a random draw (seed {seed})"
        )
        x, y = x[keep], y[keep]
    if float(np.ptp(y)) == 0.0:
        notes.append("the loss is the same in every trial: every share is 0")
    interactions: list[Interaction] = []
    if method == "fanova":
        params, interactions = _run_fanova(space, x, y, n_trees, seed, pairs, notes)
    else:
        params = _run_quick(space, x, y, notes)
    params.sort(key=lambda p: (-p.share, p.name))
    interactions.sort(key=lambda i: (-i.share, i.a, i.b))
    return ImportanceResult(method, tuple(params), tuple(interactions), len(y), "; ".join(notes))


# --- local sensitivity ----------------------------------------------------------------


def _grid(param: Param) -> list[Any]:
    domain = param.domain
    card = domain.cardinality()
    if isinstance(domain, Categorical) or (card is not None and card <= _MAX_DISCRETE_GRID):
        return domain.values()
    out: list[Any] = []
    for u in np.linspace(0.0, 1.0, _GRID_POINTS):
        value = domain.from_unit(float(u))
        if value not in out:  # a discrete range can map two points to one value
            out.append(value)
    return out


def sensitivity(
    space: Space,
    trials: Sequence[FrozenTrial],
    metric: Metric,
    config: Mapping[str, Any],
    *,
    n_trees: int = 64,
    seed: int = 0,
) -> list[Sensitivity]:
    """How the predicted metric changes when one parameter of ``config`` moves.

    A random forest fitted on the completed trials predicts the metric at ``config``
    with one active searched parameter swept over its grid and the others fixed.
    Moving a parameter can switch others on or off; the swept configuration is then
    completed by :meth:`Space.complete` with a generator seeded by ``seed``, so the
    newly active parameters get the same values at every grid point.

    Args:
        space: the study's space.
        trials: the study's trials; complete ones with a finite ``metric`` are used.
        metric: the metric to predict.
        config: the configuration to perturb, normally the best trial's.
        n_trees: trees in the forest.
        seed: seeds the forest and the completion of swept configurations.

    Returns:
        One entry per active searched parameter of ``config``, by ``delta``,
        descending, then name. Empty without scikit-learn or with fewer than 5
        usable trials.
    """
    if not _sklearn_available():
        return []
    data = _usable(space, trials, metric)
    if len(data.loss) < MIN_TRIALS:
        return []
    forest = _forest(np.nan_to_num(data.x, nan=_INACTIVE), data.loss, n_trees, seed)

    def predict(configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        rows = np.nan_to_num(np.array([space.encode(c) for c in configs]), nan=_INACTIVE)
        out: np.ndarray = forest.predict(rows)
        return out

    # The config's own active set: inactive leftovers dropped, missing values drawn.
    config = space.complete(config, np.random.default_rng(seed))
    base = float(predict([config])[0])
    out: list[Sensitivity] = []
    for param in space.dimensions:
        if param.name not in config:
            continue
        values = _grid(param)
        swept = [
            space.complete({**config, param.name: v}, np.random.default_rng(seed)) for v in values
        ]
        loss = predict(swept)
        delta = max(0.0, float(np.max(loss)) - base)
        # loss = sign * metric and sign is +1 or -1, so sign * loss is the metric.
        predicted = [float(metric.sign * v) for v in loss]
        out.append(Sensitivity(param.name, values, predicted, delta))
    out.sort(key=lambda s: (-s.delta, s.name))
    return out

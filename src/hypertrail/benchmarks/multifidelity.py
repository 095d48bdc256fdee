"""Multi-fidelity benchmark problems: a loss at any fidelity, exact at the top one.

A multi-fidelity problem answers ``evaluate(config, fidelity)``: the loss of a
configuration trained (or approximated) up to ``fidelity`` units, from
``min_fidelity`` to ``max_fidelity``. Schedulers (ASHA, Hyperband) spend most of
their budget at low fidelities and are judged on what they find at the top one, so
a problem needs low fidelities that are cheaper, informative and biased, as real
learning curves are.

* ``mf_branin``: ``mixed_branin``'s space with the multi-fidelity Branin of
  Kandasamy et al., "Multi-fidelity Bayesian optimisation with continuous
  approximations" (BOCA, ICML 2017): at ``z = fidelity / max``,
  ``b = 5.1/(4π²) - 0.01(1-z)``, ``c = 5/π - 0.1(1-z)``, ``t = 1/(8π) + 0.05(1-z)``.
* ``mf_hartmann6``: ``mixed_hartmann6``'s space with BOCA's Hartmann bias: every
  ``α_i`` becomes ``α_i - 0.1(1-z)``.
* ``mf_mlp_digits``: a real learning curve. A scikit-learn ``MLPClassifier`` is
  trained epoch by epoch (``partial_fit``) on the bundled digits; the loss is the
  validation error after ``fidelity`` epochs (1 to 27).

The synthetic problems add pseudo-noise of standard deviation ``noise * (1 - z)``:
a normal deviate computed from a hash of the configuration's values and the
fidelity, so ``evaluate`` stays a deterministic function (no generator, no global
state), the same in every process and for every library that proposes the config.
At the top fidelity the bias and the noise vanish and the value equals the
single-fidelity problem's, whose optimum is exact.

Example:
    >>> problem = MF_PROBLEMS["mf_branin"]()
    >>> config = {"x": 3.14159265, "y": 2.275, "c": "a", "n": 3}
    >>> round(problem.evaluate(config, problem.max_fidelity), 4)
    0.3979
    >>> problem.evaluate(config, 1) == problem.evaluate(config, 1)
    True
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import numbers
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from hypertrail import Categorical, Float, Int, Ordinal, Repeat, Space
from hypertrail.benchmarks import synthetic

if TYPE_CHECKING:
    from hypertrail.trial import Trial

__all__ = [
    "MF_PROBLEMS",
    "SLEEP_PER_UNIT",
    "DigitsMLP",
    "MFEvaluate",
    "MFProblem",
    "branin_mf",
    "config_key",
    "hartmann6_mf",
    "mf_branin",
    "mf_hartmann6",
    "mf_mlp_digits",
    "pseudo_normal",
    "remeasure_digits",
    "sleeping_branin",
]

MFEvaluate = Callable[[Mapping[str, Any], float], float]
"""``(config, fidelity) -> loss to minimize``; deterministic."""


@dataclass(frozen=True)
class MFProblem:
    """One multi-fidelity problem.

    Attributes:
        name: unique key (``--problems`` of the benchmark).
        space: the search space (the fidelity is not a parameter of it).
        evaluate: ``(config, fidelity) -> loss``; deterministic; at
            ``max_fidelity`` it is the loss the problem is judged on.
        min_fidelity, max_fidelity: the range of fidelities, in the units a
            scheduler's ``fidelity`` spec counts (epochs here).
        optimum: the exact minimum at ``max_fidelity``, or ``None`` when it is only
            known empirically (the benchmark then uses the best value seen).
        note: how the optimum was established, for the report.
        eta: the reduction factor the benchmark gives schedulers.
        fidelity_name: what a fidelity unit is.
        reference_size: random configurations whose loss at the top fidelity sets
            the reference of the normalized regret.
        remeasure: ``config -> losses`` at the top fidelity with randomness the
            search never saw, for a problem whose top value is one noisy draw
            (``None`` where it is exact).

    Example:
        >>> p = mf_hartmann6()
        >>> p.fidelity_spec()
        {'name': 'epochs', 'min': 1, 'max': 27, 'eta': 3}
    """

    name: str
    space: Space
    evaluate: MFEvaluate
    min_fidelity: float
    max_fidelity: float
    optimum: float | None
    note: str = ""
    eta: float = 3.0
    fidelity_name: str = "epochs"
    reference_size: int = 200
    remeasure: Callable[[Mapping[str, Any]], list[float]] | None = None

    def fidelity_spec(self) -> dict[str, Any]:
        """The ``fidelity`` mapping of a scheduler's optimizer spec."""

        def number(v: float) -> int | float:
            return int(v) if float(v).is_integer() else float(v)

        return {
            "name": self.fidelity_name,
            "min": number(self.min_fidelity),
            "max": number(self.max_fidelity),
            "eta": number(self.eta),
        }


# --- deterministic pseudo-noise ---------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON value that does not depend on which library produced it (numpy or
    Python numbers, an int-valued float stays a float)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def config_key(config: Mapping[str, Any]) -> str:
    """A canonical text of a configuration: names sorted, values as plain JSON."""
    return json.dumps(
        [[str(k), _plain(v)] for k, v in sorted(config.items())],
        separators=(",", ":"),
        allow_nan=False,
    )


_NORMAL = NormalDist()


def pseudo_normal(config: Mapping[str, Any], fidelity: float, salt: str = "") -> float:
    """A standard normal deviate that is a fixed function of (config, fidelity).

    The 64-bit BLAKE2b hash of the canonical configuration and the fidelity gives a
    uniform number strictly inside (0, 1), mapped through the normal quantile.
    """
    text = f"{salt}|{config_key(config)}|{float(fidelity)!r}"
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    uniform = (int.from_bytes(digest, "big") + 0.5) / 2.0**64
    return _NORMAL.inv_cdf(uniform)


def _gap(problem: str, fidelity: float, low: float, high: float) -> float:
    """``1 - z`` for ``z = fidelity / high``, after checking the fidelity's range."""
    if not low <= float(fidelity) <= high:
        raise ValueError(f"{problem}: fidelity {fidelity!r} is outside [{low:g}, {high:g}]")
    return 1.0 - float(fidelity) / high


# --- mf_branin --------------------------------------------------------------------------

MF_MIN, MF_MAX = 1.0, 27.0
BRANIN_NOISE = 2.0
HARTMANN_NOISE = 0.1
_BRANIN_CAT = {"a": 0.0, "b": 1.0, "c": 1.0}  # as in synthetic.mixed_branin


def branin_mf(x: float, y: float, gap: float) -> float:
    """BOCA's multi-fidelity Branin at ``gap = 1 - z``; Branin itself at gap 0."""
    b = 5.1 / (4.0 * math.pi**2) - 0.01 * gap
    c = 5.0 / math.pi - 0.1 * gap
    t = 1.0 / (8.0 * math.pi) + 0.05 * gap
    return (y - b * x * x + c * x - 6.0) ** 2 + 10.0 * (1.0 - t) * math.cos(x) + 10.0


def _mf_branin(config: Mapping[str, Any], fidelity: float) -> float:
    gap = _gap("mf_branin", fidelity, MF_MIN, MF_MAX)
    value = (
        branin_mf(float(config["x"]), float(config["y"]), gap)
        + _BRANIN_CAT[config["c"]]
        + 0.1 * abs(int(config["n"]) - 3)
    )
    if gap > 0.0:
        value += BRANIN_NOISE * gap * pseudo_normal(config, fidelity, "mf_branin")
    return value


def mf_branin() -> MFProblem:
    """Multi-fidelity ``mixed_branin`` (BOCA bias, noise s.d. 2 (1 - z))."""
    return MFProblem(
        "mf_branin",
        synthetic.mixed_branin().space,
        _mf_branin,
        MF_MIN,
        MF_MAX,
        synthetic.BRANIN_OPTIMUM,
        note="exact at epochs = 27 (mixed_branin's 5/(4π)); below: BOCA bias + noise "
        f"s.d. {BRANIN_NOISE:g}(1 - z)",
    )


# --- mf_hartmann6 -----------------------------------------------------------------------


def hartmann6_mf(x: np.ndarray, gap: float) -> float:
    """Hartmann-6 with BOCA's lowered weights ``α_i - 0.1 gap``."""
    alpha = synthetic._H6_ALPHA - 0.1 * gap
    return -float(alpha @ np.exp(-np.sum(synthetic._H6_A * (x - synthetic._H6_P) ** 2, axis=1)))


def _mf_hartmann6(config: Mapping[str, Any], fidelity: float) -> float:
    gap = _gap("mf_hartmann6", fidelity, MF_MIN, MF_MAX)
    x = synthetic.hartmann6_point(config)
    value = hartmann6_mf(x, gap)
    if gap > 0.0:
        value += HARTMANN_NOISE * gap * pseudo_normal(config, fidelity, "mf_hartmann6")
    return value


def mf_hartmann6() -> MFProblem:
    """Multi-fidelity ``mixed_hartmann6`` (BOCA bias, noise s.d. 0.1 (1 - z))."""
    return MFProblem(
        "mf_hartmann6",
        synthetic.mixed_hartmann6().space,
        _mf_hartmann6,
        MF_MIN,
        MF_MAX,
        synthetic.HARTMANN6_GRID_OPTIMUM,
        note="exact at epochs = 27 (mixed_hartmann6's grid optimum); below: BOCA bias + "
        f"noise s.d. {HARTMANN_NOISE:g}(1 - z)",
    )


# --- mf_mlp_digits ----------------------------------------------------------------------

MLP_MAX_EPOCHS = 27
MLP_SEED = 0
CHANCE_ERROR = 0.9  # ten balanced classes: the error of a network that diverged


@lru_cache(maxsize=8)
def _digits(split: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardized digits, split 75/25 (stratified, ``random_state=split``); split 0
    is the one ``examples/mlp_digits`` and the search use. Computed once per process
    and split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.25, random_state=split, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_val), y_train, y_val


@dataclass
class _Snapshot:
    model: Any  # an MLPClassifier after some epochs; never trained further in place
    error: float
    diverged: bool
    nbytes: int


class DigitsMLP:
    """``(config, epochs) -> validation error`` of an MLP trained epoch by epoch,
    continuing from the furthest trained copy of the same configuration.

    The network is initialized with ``random_state=0``; epoch *k* visits the training
    set in an order drawn from ``(0, k)`` alone. So a model trained 3 epochs and then
    6 more is the model trained 9 epochs at once, and the memo changes the time an
    evaluation takes, never its value. Snapshots are kept per ``(config, epochs)`` in
    least-recently-used order up to ``max_bytes`` of weights and optimizer state.

    Attributes:
        epochs_trained: epochs of ``partial_fit`` run by this instance (what the memo
            saves is visible here, without timing anything).
        evaluations: calls answered.

    Example:
        >>> mlp = DigitsMLP()  # doctest: +SKIP
        >>> config = {"n_layers": 1, "layers.0.width": 32, "activation": "relu",
        ...     "learning_rate_init": 0.01, "alpha": 1e-4, "batch_size": 64}
        >>> mlp(config, 3) > mlp(config, 9)  # doctest: +SKIP
        True
        >>> mlp.epochs_trained  # doctest: +SKIP
        9
    """

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self.epochs_trained = 0
        self.evaluations = 0
        self.seconds = 0.0
        self._memo: OrderedDict[tuple[str, int], _Snapshot] = OrderedDict()
        self._bytes = 0

    def __call__(self, config: Mapping[str, Any], fidelity: float) -> float:
        epochs = round(float(fidelity))
        if epochs != float(fidelity) or not 1 <= epochs <= MLP_MAX_EPOCHS:
            raise ValueError(
                f"mf_mlp_digits: fidelity must be a whole number of epochs in "
                f"[1, {MLP_MAX_EPOCHS}], got {fidelity!r}"
            )
        self.evaluations += 1
        key = config_key(config)
        hit = self._memo.get((key, epochs))
        if hit is not None:
            self._memo.move_to_end((key, epochs))
            return hit.error
        start = time.perf_counter()
        done, base = 0, None
        for e in range(epochs - 1, 0, -1):
            base = self._memo.get((key, e))
            if base is not None:
                self._memo.move_to_end((key, e))
                done = e
                break
        if base is not None and base.diverged:
            snapshot = _Snapshot(base.model, base.error, True, 0)
        else:
            model = copy.deepcopy(base.model) if base is not None else _new_model(config)
            snapshot = self._train(model, done, epochs)
        self._store((key, epochs), snapshot)
        self.seconds += time.perf_counter() - start
        return snapshot.error

    def clear(self) -> None:
        """Forget every snapshot (the counters stay)."""
        self._memo.clear()
        self._bytes = 0

    def _train(self, model: Any, done: int, epochs: int) -> _Snapshot:
        snapshot = _train_digits(model, done, epochs, MLP_SEED)
        self.epochs_trained += epochs - done
        return snapshot

    def _store(self, key: tuple[str, int], snapshot: _Snapshot) -> None:
        self._memo[key] = snapshot
        self._bytes += snapshot.nbytes
        while self._bytes > self.max_bytes and len(self._memo) > 1:
            _, old = self._memo.popitem(last=False)
            self._bytes -= old.nbytes


def _train_digits(model: Any, done: int, epochs: int, seed: int) -> _Snapshot:
    """Train ``model`` from epoch ``done`` to ``epochs`` on split ``seed`` of the
    digits, epoch *k* in the order drawn from ``(seed, k)``; its validation error."""
    x_train, x_val, y_train, y_val = _digits(seed)
    classes = np.arange(10)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for epoch in range(done + 1, epochs + 1):
                order = np.random.default_rng([seed, epoch]).permutation(len(y_train))
                model.partial_fit(x_train[order], y_train[order], classes=classes)
            finite = all(np.isfinite(w).all() for w in model.coefs_)
            error = 1.0 - float(model.score(x_val, y_val)) if finite else CHANCE_ERROR
    except (ValueError, FloatingPointError):
        # scikit-learn refuses to go on once the weights are no longer finite.
        return _Snapshot(model, CHANCE_ERROR, True, 0)
    nbytes = 3 * sum(w.nbytes for w in (*model.coefs_, *model.intercepts_))
    return _Snapshot(model, error, not finite, nbytes)


REMEASURE_SEEDS = (1, 2, 3, 4, 5)


def remeasure_digits(
    config: Mapping[str, Any], seeds: Sequence[int] = REMEASURE_SEEDS
) -> list[float]:
    """The validation error of ``config`` trained for 27 epochs from scratch on other
    splits, initializations and epoch orders: one per seed *s*, each with the split
    ``random_state=s``, the network's ``random_state=s`` and epoch orders from
    ``(s, k)``. The search only ever sees seed 0 (:class:`DigitsMLP`), so its best
    value is partly the luck of that one draw; these are draws it never saw.

    Example:
        >>> config = {"n_layers": 1, "layers.0.width": 32, "activation": "relu",
        ...     "learning_rate_init": 0.01, "alpha": 1e-4, "batch_size": 64}
        >>> errors = remeasure_digits(config, seeds=(1, 2))  # doctest: +SKIP
        >>> len(errors), all(0.0 <= e < 0.1 for e in errors)  # doctest: +SKIP
        (2, True)
    """
    if not seeds or any(int(s) == MLP_SEED for s in seeds):
        raise ValueError(
            f"remeasure_digits: seeds must be non-empty and exclude the search's seed "
            f"{MLP_SEED}, got {list(seeds)!r}"
        )
    return [
        _train_digits(_new_model(config, int(s)), 0, MLP_MAX_EPOCHS, int(s)).error for s in seeds
    ]


def hidden_layers(config: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(int(config[f"layers.{i}.width"]) for i in range(int(config["n_layers"])))


def _new_model(config: Mapping[str, Any], seed: int = MLP_SEED) -> Any:
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=hidden_layers(config),
        activation=str(config["activation"]),
        solver="adam",
        learning_rate_init=float(config["learning_rate_init"]),
        alpha=float(config["alpha"]),
        batch_size=int(config["batch_size"]),
        shuffle=False,  # the order of each epoch is drawn in _train_digits
        random_state=seed,
    )


def mf_mlp_digits() -> MFProblem:
    """An MLP on the digits, fidelity = epochs (1-27), loss = validation error.

    Every call of this factory gets its own memo of trained models.
    """
    space = Space(
        {
            "n_layers": Int(1, 2),
            "layers": Repeat(count="n_layers", max=2, item={"width": Int(8, 256, log=True)}),
            "activation": Categorical(["relu", "tanh", "logistic"]),
            "learning_rate_init": Float(1e-4, 1e-1, log=True),
            "alpha": Float(1e-6, 1e-1, log=True),
            "batch_size": Ordinal([16, 32, 64, 128]),
        },
        description="MLPClassifier (adam) on load_digits, validation error after N epochs",
    )
    return MFProblem(
        "mf_mlp_digits",
        space,
        DigitsMLP(),
        1.0,
        float(MLP_MAX_EPOCHS),
        None,
        note="empirical: the lowest error at 27 epochs seen in the benchmark run "
        "(any method, any seed, or the reference sample)",
        reference_size=50,
        remeasure=remeasure_digits,
    )


# --- an objective for measuring scheduler throughput ------------------------------------

SLEEP_PER_UNIT = 0.01  # seconds per fidelity unit


def sleeping_branin(trial: Trial, sleep_per_unit: float = SLEEP_PER_UNIT) -> float:
    """``mf_branin`` at the trial's fidelity, after sleeping ``sleep_per_unit`` seconds
    (10 ms) per fidelity unit: a stand-in for training whose duration follows the
    fidelity, importable by worker processes (for measuring how busy a scheduler keeps
    its workers; ``functools.partial`` sets another sleep)."""
    fidelity = float(trial.fidelity if trial.fidelity is not None else MF_MAX)
    time.sleep(sleep_per_unit * fidelity)
    return _mf_branin(trial.config, fidelity)


MF_PROBLEMS: dict[str, Callable[[], MFProblem]] = {
    "mf_branin": mf_branin,
    "mf_hartmann6": mf_hartmann6,
    "mf_mlp_digits": mf_mlp_digits,
}

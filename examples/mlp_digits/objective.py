"""Objectives of the mlp_digits example: validation error of a scikit-learn MLP.

The data are scikit-learn's bundled 8x8 digits (no download). The split is fixed
(``random_state=0``) so every trial is judged on the same validation set; the
network's own initialization and shuffling use the trial's seed, so a trial can be
re-run exactly.

``evaluate`` (plan.yaml) trains each network for ``EPOCHS`` epochs. ``train_epochs``
(plan-asha.yaml, multi-fidelity) trains it epoch by epoch up to ``trial.fidelity``,
saving the network in ``trial.checkpoint_dir`` after every epoch, so a configuration
promoted to more epochs continues where its lower rung stopped. The checkpoints are
written with skops (no pickle: loading refuses any type not listed in ``TRUSTED``).
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hypertrail import Trial

EPOCHS = 40
"""Epochs of every training in plan.yaml (plan-asha.yaml's fidelity decides its own)."""
CLASSES = np.arange(10)
TRUSTED = [
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
]
"""The types a checkpoint may hold beyond those skops trusts by default."""


@lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_val), y_train, y_val


def hidden_layers(config: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(config[f"layers.{i}.width"]) for i in range(int(config["n_layers"])))


def network(config: dict[str, Any], seed: int, epochs: int = EPOCHS) -> Any:
    """The untrained ``MLPClassifier`` of ``config``, initialized and shuffled from ``seed``."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=hidden_layers(config),
        activation=config["activation"],
        solver=config["solver"],
        momentum=config.get("momentum", 0.9),
        learning_rate_init=config["learning_rate_init"],
        alpha=config["alpha"],
        batch_size=config["batch_size"],
        max_iter=epochs,
        random_state=seed,
    )


def _val_error(model: Any) -> float:
    _, x_val, _, y_val = _data()
    return 1.0 - float(model.score(x_val, y_val))


def _scores(model: Any) -> dict[str, float]:
    x_train, _, y_train, _ = _data()
    return {
        "val_error": _val_error(model),
        "train_error": 1.0 - float(model.score(x_train, y_train)),
        "n_weights": float(sum(w.size for w in model.coefs_)),
    }


def evaluate(trial: Trial) -> dict[str, float]:
    from sklearn.exceptions import ConvergenceWarning

    x_train, _, y_train, _ = _data()
    model = network(dict(trial.config), trial.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    return _scores(model)


def _latest(folder: Path) -> tuple[Path | None, int]:
    """The newest checkpoint in ``folder`` (``epoch-<k>.skops``) and its epoch ``k``."""
    saved = [(int(p.stem.split("-")[1]), p) for p in folder.glob("epoch-*.skops")]
    if not saved:
        return None, 0
    epoch, path = max(saved)
    return path, epoch


def _save(model: Any, folder: Path, epoch: int) -> None:
    """Write ``epoch-<epoch>.skops`` whole (a temporary file renamed), then drop older ones."""
    import skops.io as sio

    target = folder / f"epoch-{epoch}.skops"
    partial = target.with_suffix(".partial")
    sio.dump(model, partial)
    os.replace(partial, target)
    for old in folder.glob("epoch-*.skops"):
        if old != target:
            old.unlink(missing_ok=True)


def train_epochs(trial: Trial) -> dict[str, float]:
    """Train to ``trial.fidelity`` epochs, from the checkpoint of a lower rung if there
    is one; each epoch's validation error is reported, and training ends early when
    the scheduler says so (``median`` stopping)."""
    import skops.io as sio

    x_train, _, y_train, _ = _data()
    target = int(trial.fidelity or EPOCHS)
    folder = trial.checkpoint_dir
    path, start = _latest(folder)
    if path is None:
        model = network(dict(trial.config), trial.seed)
    else:
        model = sio.load(path, trusted=TRUSTED)
    done = start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and overflow warnings of a diverging run
        for epoch in range(start + 1, target + 1):
            model.partial_fit(x_train, y_train, classes=CLASSES)
            done = epoch
            _save(model, folder, epoch)
            if trial.report(epoch, _val_error(model)):
                break
        if not all(np.isfinite(w).all() for w in model.coefs_):
            raise FloatingPointError(f"the network diverged by epoch {done}")
    return {**_scores(model), "epochs": float(done), "resumed_from": float(start)}

"""Objective of the mlp_digits example: validation error of a scikit-learn MLP.

The data are scikit-learn's bundled 8x8 digits (no download). The split is fixed
(``random_state=0``) so every trial is judged on the same validation set; the
network's own initialization and shuffling use the trial's seed, so a trial can be
re-run exactly.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import numpy as np

from hypertrail import Trial


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


def evaluate(trial: Trial) -> dict[str, float]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    config = dict(trial.config)
    x_train, x_val, y_train, y_val = _data()
    model = MLPClassifier(
        hidden_layer_sizes=hidden_layers(config),
        activation=config["activation"],
        solver=config["solver"],
        momentum=config.get("momentum", 0.9),
        learning_rate_init=config["learning_rate_init"],
        alpha=config["alpha"],
        batch_size=config["batch_size"],
        max_iter=config["epochs"],
        random_state=trial.seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    n_weights = sum(w.size for w in model.coefs_)
    return {
        "val_error": 1.0 - float(model.score(x_val, y_val)),
        "train_error": 1.0 - float(model.score(x_train, y_train)),
        "n_weights": float(n_weights),
    }

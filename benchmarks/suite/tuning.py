"""Tuning tasks on bundled data (no download), in the style of Bayesmark.

The loss is ``1 - mean accuracy`` over a fixed 3-fold stratified split
(``random_state=0``); models with randomness are seeded with 0, so a configuration
always gets the same loss. The optimum is not known: the best value ever seen is kept
in ``data/known_best.json`` (see :mod:`benchmarks.suite.reference`).

``mlp_digits`` is the objective of ``examples/mlp_digits`` on its own space, with the
fixed ``epochs`` lowered to :data:`MLP_EPOCHS` so one evaluation takes about 0.3 s, and
the network seeded with 0 instead of the trial's seed.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import numpy as np

from hypertrail import Categorical, Fixed, Float, Int, Space, Trial, load_space
from hypertrail.benchmarks.problem import Problem

__all__ = ["MLP_EPOCHS", "gb_wine", "mlp_digits", "svc_breast_cancer"]

ROOT = Path(__file__).resolve().parents[2]
MLP_EXAMPLE = ROOT / "examples" / "mlp_digits"
MLP_EPOCHS = 5


@cache
def _dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}[name]
    x, y = loader(return_X_y=True)
    return np.asarray(x), np.asarray(y)


def _cv_error(model: Any, dataset: str) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x, y = _dataset(dataset)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of extreme configurations
        scores = cross_val_score(model, x, y, cv=folds)
    return 1.0 - float(np.mean(scores))


# --- SVC on breast cancer -------------------------------------------------------------------


def _svc(config: Mapping[str, Any]) -> float:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    model = SVC(
        C=float(config["C"]),
        kernel=str(config["kernel"]),
        gamma=float(config.get("gamma", 1.0)),  # unused by the linear kernel
        degree=int(config.get("degree", 3)),  # used by the polynomial kernel only
    )
    return _cv_error(make_pipeline(StandardScaler(), model), "breast_cancer")


def svc_breast_cancer() -> Problem:
    space = Space(
        {
            "kernel": Categorical(["linear", "rbf", "poly", "sigmoid"]),
            "C": Float(1e-3, 1e3, log=True),
            "gamma": Float(1e-5, 1e1, log=True, when="kernel != 'linear'"),
            "degree": Int(2, 5, when="kernel == 'poly'"),
        },
        description="StandardScaler + SVC on load_breast_cancer, 1 - 3-fold CV accuracy",
    )
    return Problem(
        "svc_breast_cancer",
        "sklearn",
        space,
        _svc,
        None,
        expensive=True,
        note="best known value (data/known_best.json)",
    )


# --- gradient boosting on wine ----------------------------------------------------------------


def _gb(config: Mapping[str, Any]) -> float:
    from sklearn.ensemble import GradientBoostingClassifier

    features = config["max_features"]
    model = GradientBoostingClassifier(
        n_estimators=int(config["n_estimators"]),
        learning_rate=float(config["learning_rate"]),
        max_depth=int(config["max_depth"]),
        min_samples_split=int(config["min_samples_split"]),
        max_features=None if features == "all" else features,
        subsample=float(config["subsample"]),
        random_state=0,
    )
    return _cv_error(model, "wine")


def gb_wine() -> Problem:
    space = Space(
        {
            "n_estimators": Int(5, 40),
            "learning_rate": Float(1e-3, 1.0, log=True),
            "max_depth": Int(1, 5),
            "min_samples_split": Int(2, 20),
            "max_features": Categorical(["sqrt", "log2", "all"]),
            "subsample": Float(0.5, 1.0),
        },
        description="GradientBoostingClassifier on load_wine, 1 - 3-fold CV accuracy",
    )
    return Problem(
        "gb_wine",
        "sklearn",
        space,
        _gb,
        None,
        expensive=True,
        note="best known value (data/known_best.json)",
    )


# --- the mlp_digits example --------------------------------------------------------------------


@lru_cache(maxsize=1)
def _mlp_module() -> ModuleType:
    """``examples/mlp_digits/objective.py``, loaded by path (``examples`` is no package)."""
    path = MLP_EXAMPLE / "objective.py"
    spec = importlib.util.spec_from_file_location("hypertrail_example_mlp_digits", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class _FixedSeedTrial:
    """The two attributes the example objective reads from a :class:`Trial`."""

    config: Mapping[str, Any]
    seed: int = 0


def _mlp(config: Mapping[str, Any]) -> float:
    evaluate = _mlp_module().evaluate
    metrics = evaluate(cast(Trial, _FixedSeedTrial(dict(config))))
    return float(metrics["val_error"])


def mlp_digits() -> Problem:
    example = load_space(MLP_EXAMPLE / "space.yaml")
    declared = dict(example.declared)
    declared["epochs"] = Fixed(MLP_EPOCHS)
    space = Space(declared, example.constraint_sources, description=example.description)
    return Problem(
        "mlp_digits",
        "nas",
        space,
        _mlp,
        None,
        expensive=True,
        note=f"examples/mlp_digits with epochs = {MLP_EPOCHS}; best known value",
    )

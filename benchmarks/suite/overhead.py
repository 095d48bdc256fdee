"""Milliseconds per ask + tell as a study grows: hypertrail against Optuna.

Both libraries work on the same 10-parameter mixed space (the one of
``benchmarks/throughput.py``: 4 floats of which 2 log-scaled, 3 integers, 2
categoricals, 1 ordinal), in memory, with a no-op objective, sequentially. The two
studies of a pair advance in lockstep (trial *i* of hypertrail, then trial *i* of
Optuna), so they share the machine's state at every count. Timed per trial: ask +
tell for hypertrail (``Study.ask`` proposes); ask + the define-by-run suggestions +
tell for Optuna (its samplers propose inside the suggestions). The figure at count
*c* is the mean over the 10 trials ending at *c* (trials c-9 .. c). Before that, each
library runs 15 untimed trials in a throwaway study (imports, first fits).
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.common import MIXED_SPACE
from benchmarks.suite.adapter import suggest_config
from benchmarks.suite.runners import OPTUNA_SAMPLERS

from hypertrail import Study

__all__ = ["OVERHEAD_PAIRS", "SPACE", "WINDOW", "measure_pair"]

WINDOW = 10
WARMUP = 15  # untimed trials per library in a throwaway study before measuring
SPACE = MIXED_SPACE
# (hypertrail optimizer, Optuna sampler, which counts: "full" list or "gp" list)
OVERHEAD_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("tpe", "optuna-tpe", "full"),
    ("gp", "optuna-gp", "gp"),
    ("random", "optuna-random", "full"),
)


def _noop(config: Mapping[str, Any]) -> float:
    return float(config["dropout"]) + float(config["layers"]) + float(config["lr"])


def _run_untimed(hypertrail_name: str, optuna_key: str, trials: int, seed: int) -> None:
    """Warm-up: imports, first model fits and caches are not what is measured."""
    import optuna

    with Study.create("warmup", SPACE, seed=seed, optimizer=hypertrail_name) as study:
        study.optimize(lambda t: _noop(t.config), n_trials=trials)
    theirs = optuna.create_study(sampler=OPTUNA_SAMPLERS[optuna_key][0](seed))
    theirs.optimize(lambda t: _noop(suggest_config(t, SPACE)[0]), n_trials=trials)


def measure_pair(
    hypertrail_name: str, optuna_key: str, counts: Sequence[int], seed: int = 0
) -> dict[str, Any]:
    """Per-count milliseconds of both libraries, measured in lockstep (run in a worker)."""
    import optuna

    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    total = max(counts)
    _run_untimed(hypertrail_name, optuna_key, WARMUP, seed + 1)
    ours = Study.create("overhead", SPACE, storage="memory", seed=seed, optimizer=hypertrail_name)
    theirs = optuna.create_study(sampler=OPTUNA_SAMPLERS[optuna_key][0](seed))
    ours_ms: list[float] = []
    theirs_ms: list[float] = []
    for _ in range(total):
        start = time.perf_counter()
        trial = ours.ask()
        ours.tell(trial, _noop(trial.config))
        ours_ms.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        otrial = theirs.ask()
        config, _ = suggest_config(otrial, SPACE)
        theirs.tell(otrial, _noop(config))
        theirs_ms.append(1000 * (time.perf_counter() - start))
    ours.close()
    rows = []
    for count in sorted(counts):
        window = slice(max(count - WINDOW, 0), count)
        a = statistics.fmean(ours_ms[window])
        b = statistics.fmean(theirs_ms[window])
        rows.append({"count": count, "hypertrail_ms": a, "optuna_ms": b, "ratio": a / b})
    return {
        "kind": "overhead",
        "hypertrail": hypertrail_name,
        "optuna": optuna_key,
        "seed": seed,
        "window": WINDOW,
        "rows": rows,
        "hypertrail_total_s": sum(ours_ms) / 1000,
        "optuna_total_s": sum(theirs_ms) / 1000,
    }

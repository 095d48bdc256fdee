"""Module-level objectives for tests (worker processes import them by name)."""

from __future__ import annotations

import math
import os
import time
from typing import Any

from hypertrail import Trial


def quadratic(trial: Trial) -> float:
    return float((trial.config["x"] - 0.3) ** 2)


def seeded(trial: Trial) -> dict[str, Any]:
    """Returns what the trial saw, to check seeds and rngs across processes."""
    return {"value": float(trial.rng.random()), "seed": trial.seed, "pid": os.getpid()}


def raises_on_odd(trial: Trial) -> float:
    if trial.number % 2 == 1:
        raise ValueError(f"odd trial {trial.number}")
    return 1.0


def returns_nan(trial: Trial) -> float:
    return math.nan


def wrong_shape(trial: Trial) -> Any:
    return "not a number"


def sleeps(trial: Trial) -> float:
    if trial.number == 0:
        time.sleep(30.0)
    return 1.0


def dies(trial: Trial) -> float:
    if trial.number == 0:
        os._exit(3)
    return 2.0


def noop(trial: Trial) -> float:
    return 0.0


def short_sleep(trial: Trial) -> float:
    time.sleep(0.05)
    return 0.0


def interrupts_at_three(trial: Trial) -> float:
    if trial.number == 3:
        raise KeyboardInterrupt
    return 0.0


def dies_on_first_attempt(trial: Trial) -> float:
    """Kills its worker process the first time trial 1 runs, as an OOM kill would."""
    if trial.number == 1 and trial.attempt == 0:
        os.kill(os.getpid(), 9)
    return float(trial.config["x"])


def allocates(trial: Trial) -> float:
    """Holds about 64 MiB for a moment."""
    block = bytearray(64 * 2**20)
    block[::4096] = b"x" * len(block[::4096])
    return float(len(block) > 0)


def jittered(trial: Trial) -> float:
    """Takes a clock-dependent 0-20 ms, so completion order varies between runs."""
    time.sleep((time.perf_counter_ns() % 20_000_000) / 1e9)
    return float((trial.config["x"] - 0.4) ** 2 + 0.1 * trial.config["k"])


def learning_curve(trial: Trial) -> dict[str, Any]:
    """A loss that falls with the fidelity (epochs), reported per epoch; it continues
    from the checkpoint a lower rung of the same configuration saved."""
    x = trial.config["x"]
    state = trial.checkpoint_dir / "state.txt"
    start = int(state.read_text()) if state.exists() else 0
    epochs = int(trial.fidelity or 10)
    loss = math.inf
    for epoch in range(start + 1, epochs + 1):
        loss = (x - 0.3) ** 2 + 1.0 / epoch
        if trial.report(epoch, loss):
            break
        state.write_text(str(epoch))
    return {"loss": loss, "resumed_from": start, "fidelity_seen": trial.fidelity}


def curve_dies_on_first_attempt(trial: Trial) -> dict[str, Any]:
    """``learning_curve``, but the worker is killed (SIGKILL) the first time trial 4
    runs, after it reported and saved a checkpoint."""
    if trial.number == 4 and trial.attempt == 0:
        trial.report(1, 1.0)
        os.kill(os.getpid(), 9)
    return learning_curve(trial)

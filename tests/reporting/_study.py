"""A real study to report on: a SQLite file with every kind of record a report shows.

Two metrics (a trade-off), a hybrid optimizer (recorded allocation decisions,
transplanted parents), failing trials, a trial lost with its session and re-queued,
reruns of the best configuration, and a plan lock.
"""

from __future__ import annotations

import math
from pathlib import Path

from hypertrail import Categorical, Float, Int, Space, Study
from hypertrail.reruns import rerun
from hypertrail.trial import Trial

SPACE = Space(
    {
        "optimizer": Categorical(["adam", "sgd"]),
        "lr": Float(1e-4, 1e-1, log=True),
        "momentum": Float(0.0, 0.99, when="optimizer == 'sgd'"),
        "depth": Int(1, 4),
        "junk": Float(0.0, 1.0),
    }
)
TRIALS = 36


def objective(trial: Trial) -> dict[str, float]:
    c = trial.config
    if c["lr"] > 0.08:
        raise RuntimeError("diverged: loss is nan")
    error = (math.log10(c["lr"]) + 2.5) ** 2 + 0.1 * c["depth"]
    error += 0.5 if c["optimizer"] == "adam" else (c["momentum"] - 0.9) ** 2
    return {"error": error + 0.01 * trial.rng.random(), "latency": 1.0 * c["depth"] + 0.2 * c["lr"]}


def make_study(folder: Path, name: str = "report-demo", trials: int = TRIALS) -> str:
    """Create the study in ``folder/NAME.db``; return its storage URL."""
    url = f"sqlite:///{folder / (name + '.db')}"
    metrics = {"error": "minimize", "latency": "minimize"}
    first = Study.create(name, SPACE, storage=url, seed=3, optimizer="hybrid", metrics=metrics)
    first.optimize(objective, n_trials=trials - 6)
    lost = first.ask()  # its process "dies": the session ends with the trial running
    assert lost.number == trials - 6
    first.close()
    second = Study.load(name, url)
    second.optimize(objective, n_trials=5)  # takes the lost trial over first, then 5 more
    rerun(second, objective, best=1, seeds=3)
    second.close()
    return url
